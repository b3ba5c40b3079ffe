#!/usr/bin/env bash
# scripts/report.py's protocol on crafted TSVs: select picks the value with
# the highest val total (ties: the smallest value) and reports ITS test
# accuracy, with the test set's best value only as the oracle row, even
# where val and test disagree; aggregate gives the mean and sample sd of
# every numeric column of any per-seed TSV, keyed by its text columns, and
# refuses files whose rows differ; differences of one backbone's classifiers
# are paired over the seeds, of two backbones unpaired. Seconds.
set -u
: "${LT_SRC:=$(cd "$(dirname "$0")/../.." && pwd)}"
REPORT=$LT_SRC/scripts/report.py
WORK=$(mktemp -d "${TMPDIR:-/tmp}/lt-test.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
tsv() { printf '%s\n' "$@" | tr ' ' '\t'; }

# val: k=10 and k=20 tie at the best total (71.5); test: k=100 is best.
tsv "name many medium few total" "0 80 60 20 65.0" "5 79 62 30 70.1" "10 78 64 35 71.5" "20 77 65 36 71.5" \
    "100 70 70 40 69.0" >"$WORK/val.tsv"
tsv "name many medium few total" "0 81 61 21 66.0" "5 80 63 31 70.0" "10 79 63 34 70.5" "20 78 66 37 71.0" \
    "100 72 71 45 73.9" >"$WORK/test.tsv"
python3 "$REPORT" select --param k "$WORK/val.tsv" "$WORK/test.tsv" >"$WORK/selection.tsv" || fail "select"
expected=$(tsv "row k val_total many medium few total" "chosen 10 71.5 79 63 34 70.5" "oracle 100 69 72 71 45 73.9")
[ "$(cat "$WORK/selection.tsv")" = "$expected" ] || fail "select: got
$(cat "$WORK/selection.tsv")
expected
$expected"
# The same files in another row order: the same choice.
(head -n 1 "$WORK/val.tsv"; tail -n +2 "$WORK/val.tsv" | tac) >"$WORK/val-reversed.tsv"
[ "$(python3 "$REPORT" select --param k "$WORK/val-reversed.tsv" "$WORK/test.tsv" | sed -n 2p | cut -f2)" = 10 ] ||
    fail "select depends on the row order"

# The baselines' values: a tie goes to the smaller value, in any order of the list.
tsv "name many medium few total" "tau0 1 1 1 60" "tau0.5 1 1 1 65" "tau1 1 1 1 65" "la0 1 1 1 50" "la1 1 1 1 55" \
    >"$WORK/baselines-val.tsv"
(cat "$WORK/baselines-val.tsv"; tsv "joint 1 1 1 1" "ncm 1 1 1 1" "crt 1 1 1 1" "lws 1 1 1 1") >"$WORK/baselines-test.tsv"
for ps in "0 0.5 1" "1 0.5 0"; do
  python3 "$REPORT" baselines --val "$WORK/baselines-val.tsv" --test "$WORK/baselines-test.tsv" --ps "$ps" --ts "0 1" \
    >"$WORK/baselines.tsv" || fail "baselines --ps \"$ps\""
  [ "$(awk -F'\t' '$1 == "tau-norm" {print $3}' "$WORK/baselines.tsv")" = 0.5 ] ||
    fail "baselines --ps \"$ps\": the tie of 0.5 and 1 goes to $(awk -F'\t' '$1 == "tau-norm" {print $3}' "$WORK/baselines.tsv")"
done

# The markdown of Table 4 labels the rows.
tsv "name many medium few total" "cosine 90 80 20 70" "prototypes 85 85 40 72" >"$WORK/table4.tsv"
python3 "$REPORT" table4 --ks "0 20 100" --selection "$WORK/selection.tsv" "$WORK/table4.tsv" >"$WORK/table4.md" ||
    fail "table4 --selection"
grep -q "| w^h(k=10), chosen on val | 79.0 | 63.0 | 34.0 | 70.5 |" "$WORK/table4.md" || fail "table4.md: the chosen row"
grep -q "| oracle: w^h(k=100), best on test (not a result) |" "$WORK/table4.md" || fail "table4.md: the oracle row"

# The paper's columns name its setting: data set, initialisation, sampler;
# where it is not the backbone's, they say so.
python3 "$REPORT" table4 --backbone sqrt-simclr "$WORK/table4.tsv" >"$WORK/simclr.md" || fail "table4 sqrt-simclr"
grep -q "paper ImageNet-LT, RX50 from scratch (not simclr), square-root sampling (Table 1) (m/m/f/t)" \
    "$WORK/simclr.md" || fail "sqrt-simclr's ImageNet-LT column: $(head -1 "$WORK/simclr.md")"
grep -q "paper Places-LT, R101 from ImageNet SimCLR weights, square-root sampling (supp. Table 4)" "$WORK/simclr.md" ||
    fail "sqrt-simclr's Places-LT column: $(head -1 "$WORK/simclr.md")"
python3 "$REPORT" table4 --backbone instance-scratch "$WORK/table4.tsv" | head -1 |
    grep -q "RX50 from scratch, uniform sampling (supp. Table 2) .*R101 from supervised ImageNet weights (not scratch)" ||
    fail "instance-scratch's columns"
tsv "name many medium few total" "p2w 1 1 1 1" >"$WORK/ablation.tsv"
python3 "$REPORT" ablation "$WORK/ablation.tsv" >"$WORK/ablation.md" || fail "ablation"
grep -q "paper ImageNet-LT, RX50 from scratch, square-root sampling (supp. Table 1)" "$WORK/ablation.md" &&
    grep -q "63.2 / 52.1 / 36.9 / 54.2" "$WORK/ablation.md" || fail "ablation's paper column: $(cat "$WORK/ablation.md")"
# An ensemble of other k than the paper's (0, 20, 100) gets none of its numbers.
python3 "$REPORT" ablation --ks "0 20" "$WORK/ablation.tsv" | grep -q "54.2" && fail "ablation of KS=0 20: the paper's numbers"
tsv "name many medium few total" "cosine 90 80 20 70" "ensemble-wh 85 85 40 72" >"$WORK/table4-ks.tsv"
python3 "$REPORT" table4 --ks "0 20" "$WORK/table4-ks.tsv" | grep -q "54.2" && fail "table4 of KS=0 20: the paper's ensemble"

# Aggregation: 3 seeds, a text key column besides the first, a nan.
tsv "prototypes evaluated_on many total" "train test 10 50" "val test 20 60" >"$WORK/s0.tsv"
tsv "prototypes evaluated_on many total" "train test 12 56" "val test nan 66" >"$WORK/s1.tsv"
tsv "prototypes evaluated_on many total" "train test 14 59" "val test 24 63" >"$WORK/s2.tsv"
python3 "$REPORT" aggregate "$WORK/s0.tsv" "$WORK/s1.tsv" "$WORK/s2.tsv" >"$WORK/mean.tsv" || fail "aggregate"
# train row: many 10, 12, 14 -> 12 ± 2; total 50, 56, 59 -> 55 ± sqrt(21); val many: the two numbers.
python3 - "$WORK/mean.tsv" <<'PY' || fail "aggregate: wrong mean or sd"
import csv, math, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
assert list(rows[0]) == ["prototypes", "evaluated_on", "many", "total", "many_sd", "total_sd", "seeds"], list(rows[0])
t, v = rows
assert (t["prototypes"], t["evaluated_on"], t["seeds"]) == ("train", "test", "3")
assert float(t["many"]) == 12 and abs(float(t["many_sd"]) - 2) < 1e-9
assert abs(float(t["total"]) - 55) < 1e-9 and abs(float(t["total_sd"]) - math.sqrt(21)) < 1e-9
assert float(v["many"]) == 22 and abs(float(v["many_sd"]) - math.sqrt(8)) < 1e-9, v
PY
# One seed: the means, empty sd.
python3 "$REPORT" aggregate "$WORK/s0.tsv" | sed -n 2p | grep -qP '^train\ttest\t10\t50\t\t\t1$' || fail "aggregate of one seed"
tsv "prototypes evaluated_on many total" "train test 10 50" >"$WORK/short.tsv"
python3 "$REPORT" aggregate "$WORK/s0.tsv" "$WORK/short.tsv" >/dev/null 2>&1 && fail "aggregate of files with other rows"

# Differences beyond the spread: paired over the seeds within a backbone.
# Prototypes beat the cosine classifier by 4.91, 5.26, 5.46 (mean 5.21, sd
# 0.28): beyond, though the two rows' sds add up to more than 5.2; w^h(20)
# by 1, -1, 0.5: within. Across backbones (separate trainings): unpaired,
# beyond when the means differ by more than sd + sd.
P=$WORK/paired
add() { awk -v a="$1" -v b="$2" 'BEGIN {print a + b}'; }
for s in 0 1 2; do
  mkdir -p "$P/a/seed$s" "$P/b/seed$s"
  pick() { echo "$1" | cut -d' ' -f$((s + 1)); }
  cos=$(pick "60.0 66.0 63.0")
  tsv "name many medium few total" "prototypes 1 1 1 $(add "$cos" "$(pick "4.91 5.26 5.46")")" "cosine 1 1 1 $cos" \
      "wh20 1 1 1 $(add "$cos" "$(pick "1 -1 0.5")")" "ensemble-wh 1 1 1 $(add "$cos" 4)" >"$P/a/seed$s/table4.tsv"
  tsv "name many medium few total" "cosine 1 1 1 50" "ensemble-wh 1 1 1 $(add 50 "$s")" >"$P/b/seed$s/table4.tsv"
done
for b in a b; do python3 "$REPORT" aggregate "$P/$b"/seed*/table4.tsv >"$P/$b/table4.tsv" || fail "aggregate $b"; done
python3 "$REPORT" summary --results "$P" --backbones "a b" --seeds "0 1 2" --ks "0 20" >"$WORK/summary.txt" ||
    fail "summary"
grep -q "^- a, .*paired over the seeds: Prototypes +5.2 ± 0.3; w^h(20) +0.2 ± 1.0 (within the spread);" \
    "$WORK/summary.txt" || fail "paired differences: $(grep "^- a" "$WORK/summary.txt")"
grep -q "^- ensemble(w^h), b against a (unpaired): -16.0$" "$WORK/summary.txt" ||
    fail "unpaired difference: $(grep "^- ensemble" "$WORK/summary.txt")"
cp -r "$P/a" "$P/sqrt-simclr"
python3 "$REPORT" summary --results "$P" --backbones sqrt-simclr --seeds "0 1 2" --ks "0 20 100" >"$WORK/summary-paper.txt" ||
    fail "summary of sqrt-simclr"
grep -q "paper total\*$" "$WORK/summary-paper.txt" &&
    grep -q "^\* paper ImageNet-LT, RX50 from scratch (not simclr), square-root sampling (Table 1); on another data set" \
    "$WORK/summary-paper.txt" || fail "the summary's paper column has no caveat: $(cat "$WORK/summary-paper.txt")"
python3 "$REPORT" summary --results "$P" --backbones a --seeds 0 --ks "0 20" >"$WORK/summary-1.txt"
grep -q "One seed: no spread" "$WORK/summary-1.txt" ||
    fail "one seed: no spread to compare with"

[ $failures -eq 0 ] || exit 1
echo "ok: selection on val, aggregation over seeds"
