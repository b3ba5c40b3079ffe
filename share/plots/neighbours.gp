# Attention neighbours (supplementary Fig. 3): WordNet Leacock-Chodorow
# similarity of each class's top attention neighbours, by rank, one line per class.
#   gnuplot -e "data='neighbours.tsv'; out='neighbours.png'; name='sqrt-scratch'" neighbours.gp
# Input: lt-wordnet output (class_id, rank, neighbour_id, score, [class_name,
# neighbour_name,] class_wnid, neighbour_wnid, lch), or lt-compat's table
# without the WordNet columns.
if (!exists("name")) name = ""
set terminal pngcairo size 900,560 enhanced font "sans,11"
set output out
set xlabel "neighbour rank by attention weight (k = 0)"
set key outside right top noenhanced
set grid
set datafile separator "\t"
set datafile missing "nan"
set xtics 1
# the query classes, in file order
ids = ""
stats data skip 1 using (ids = (strstrt(" ".ids." ", " ".strcol(1)." ") ? ids : ids." ".strcol(1)), 0) nooutput
hdr = system(sprintf("head -1 '%s'", data))
has_names = strstrt(hdr, "class_name") > 0
lch_col = words(hdr)
# Classes without WordNet ids (Places-LT's scene names) have lch nan, and a
# table of classes without names has no lch column: the attention weights
# are drawn instead.
has_lch = word(hdr, words(hdr)) eq "lch"
with_lch = has_lch && int(system(sprintf("awk -F'\t' 'NR > 1 && $NF != \"nan\"' '%s' | wc -l", data))) > 0
y_col = with_lch ? lch_col : 4
set title sprintf("Top attention neighbours%s %s", with_lch ? " and their WordNet similarity" : "", \
                  name eq "" ? "" : "(".name.")")
set ylabel (with_lch ? "Leacock-Chodorow similarity to the class" : "attention weight")
label_of(id) = has_names ? system(sprintf("awk -F'\\t' 'NR>1 && $1==\"%s\" {print $5; exit}' '%s'", id, data)) : id
plot for [i=1:words(ids)] data skip 1 using (strcol(1) eq word(ids, i) ? $2 : NaN):(column(y_col)) \
     with linespoints pt 7 lw 2 title label_of(word(ids, i))
