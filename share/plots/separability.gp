# Class separability (paper Sec. 4.4, supplementary Fig. 2): nearest-prototype
# accuracy per group, prototypes from train / val, evaluated on train / test.
#   gnuplot -e "data='separability.tsv'; out='separability.png'; name='sqrt-scratch'" separability.gp
# Input: scripts/report.py separability (prototypes, evaluated_on, candidates,
# many, medium, few, total); rows with candidates=all are plotted.
if (!exists("name")) name = ""
set terminal pngcairo size 800,520 enhanced font "sans,11"
set output out
set title sprintf("Prototype accuracy per group %s", name eq "" ? "" : "(".name.")")
set ylabel "accuracy (%)"
set yrange [0:105]
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set key below
set grid ytics
set datafile separator "\t"
set datafile missing "nan"
sel(p, on, col) = (strcol(1) eq p && strcol(2) eq on && strcol(3) eq "all") ? column(col) : NaN
# One cluster per group, one bar per (prototypes, evaluated on): the values
# are picked with stats and written to an inline table, groups as rows.
array G[3] = ["many", "medium", "few"]
array V[12]
do for [g=1:3] {
  stats data skip 1 using (sel("train", "train", 3+g)) nooutput; V[(g-1)*4+1] = STATS_max
  stats data skip 1 using (sel("train", "test", 3+g)) nooutput;  V[(g-1)*4+2] = STATS_max
  stats data skip 1 using (sel("val", "train", 3+g)) nooutput;   V[(g-1)*4+3] = STATS_max
  stats data skip 1 using (sel("val", "test", 3+g)) nooutput;    V[(g-1)*4+4] = STATS_max
}
set print $B
do for [g=1:3] { print sprintf("%s\t%g\t%g\t%g\t%g", G[g], V[(g-1)*4+1], V[(g-1)*4+2], V[(g-1)*4+3], V[(g-1)*4+4]) }
unset print
plot $B using 2:xtic(1) title "train prototypes, on train", \
     ''  using 3 title "train prototypes, on test", \
     ''  using 4 title "val prototypes, on train", \
     ''  using 5 title "val prototypes, on test"
