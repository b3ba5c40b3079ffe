# k sweep: accuracy per shot group of w^h(k) against k.
#   gnuplot -e "data='ksweep.tsv'; out='ksweep.png'; name='sqrt-scratch'" ksweep.gp
# Input: lt-eval --format tsv --names <k values> (name=k, many, medium, few, total).
if (!exists("name")) name = ""
set terminal pngcairo size 800,520 enhanced font "sans,11"
set output out
set title sprintf("Accuracy of w^h(k) against k %s", name eq "" ? "" : "(".name.")")
set xlabel "k (source classes: more than k training samples)"
set ylabel "test accuracy (%)"
set key outside right top
set grid
set datafile separator "\t"
set datafile missing "nan"
set xtics rotate by -45
plot data skip 1 using 0:2:xtic(1) with linespoints pt 7 lw 2 title "many", \
     ''   skip 1 using 0:3 with linespoints pt 5 lw 2 title "medium", \
     ''   skip 1 using 0:4 with linespoints pt 9 lw 2 title "few", \
     ''   skip 1 using 0:5 with linespoints pt 13 lw 3 dt 2 lc rgb "black" title "total"
