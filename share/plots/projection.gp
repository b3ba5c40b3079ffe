# 2-D view of knowledge transfer (supplementary Fig. 1): validation samples of
# a few-shot class and its top attention neighbours, with their prototypes,
# learned classifier rows and final classifier rows (PCA of unit vectors).
#   gnuplot -e "data='projection.tsv'; out='projection.png'; name='sqrt-scratch'" projection.gp
# Input: lt-project (kind, slot, class_id, class_name, group, count, x, y).
if (!exists("name")) name = ""
set terminal pngcairo size 900,700 enhanced font "sans,11"
set output out
set title sprintf("Knowledge transfer, PCA of unit vectors %s", name eq "" ? "" : "(".name.")")
set key below noenhanced
set grid
set size ratio -1
set datafile separator "\t"
set xlabel "PC 1"
set ylabel "PC 2"
array C[3] = ["#d62728", "#9467bd", "#2ca02c"]
cls(s) = system(sprintf("awk -F'\\t' '!/^#/ && $2==\"%d\" {print $4\" (\"$5\", n=\"$6\")\"; exit}' '%s'", s, data))
sel(kind, s) = (strcol(1) eq kind && int(column(2)) == s) ? 1 : 0
plot for [s=0:2] data skip 1 using (sel("sample", s) ? $7 : NaN):8 with points pt 7 ps 0.7 lc rgb C[s+1] \
       title cls(s), \
     for [s=0:2] data skip 1 using (sel("prototype", s) ? $7 : NaN):8 with points pt 9 ps 2.6 lw 2 \
       lc rgb C[s+1] notitle, \
     for [s=0:2] data skip 1 using (sel("classifier", s) ? $7 : NaN):8 with points pt 5 ps 2.2 \
       lc rgb C[s+1] notitle, \
     for [s=0:2] data skip 1 using (sel("final", s) ? $7 : NaN):8 with points pt 3 ps 3 lw 3 \
       lc rgb C[s+1] notitle, \
     NaN with points pt 9 ps 2 lc rgb "black" title "prototype", \
     NaN with points pt 5 ps 2 lc rgb "black" title "classifier", \
     NaN with points pt 3 ps 2 lw 3 lc rgb "black" title "final classifier"
