# Sharpness curves (supplementary Fig. 4): mean sorted cosine similarity of
# prototypes to classifier rows, against rank, one curve per backbone.
#   gnuplot -e "files='a/sharpness.tsv b/sharpness.tsv'; titles='a b'; out='sharpness.png'" sharpness.gp
# Input: lt-compat --sharpness (rank, mean_cosine, with a header line).
if (!exists("titles")) titles = files
set terminal pngcairo size 800,520 enhanced font "sans,11"
set output out
set title "Prototype / classifier similarity by rank (supp. Fig. 4)"
set xlabel "rank of classifier row (by cosine similarity to the prototype)"
set ylabel "mean cosine similarity"
set key top right
set grid
set datafile separator "\t"
# a log rank axis for many classes (ImageNet-LT: 1000), a plain one for few
stats word(files, 1) skip 1 using 1 nooutput
if (STATS_records > 30) { set logscale x } else { set xtics 1 }
plot for [i=1:words(files)] word(files, i) skip 1 using 1:2 with linespoints pt 7 ps 0.6 lw 2 title word(titles, i)
