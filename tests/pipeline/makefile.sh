#!/usr/bin/env bash
# Makefile.pipeline on tiny generated features (tests/ref/gen.py), with
# FEATURES_FROM in place of training and extraction: every output the study
# lists must appear; a second run does nothing; a removed intermediate is
# remade with its dependents only; a failing rule leaves no target and a log
# headed by its command, start time and exit code; make -n shows the whole
# pipeline of the default data set and of ImageNet-LT; two seeds aggregate
# into mean and sd; the k chosen on val. Under a minute.
set -u
. "$(dirname "$0")/../ref/env.sh" lt-protos lt-attend lt-ensemble lt-eval lt-compat lt-wordnet lt-project lt-adjust \
  lt-retrain
command -v gnuplot >/dev/null || { echo "SKIP: gnuplot is missing (apt-get install gnuplot-nox)"; exit 77; }
[ -f /usr/share/wordnet/data.noun ] || { echo "SKIP: WordNet data missing (apt-get install wordnet-base)"; exit 77; }

failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
MK=(make --no-print-directory -f "$LT_SRC/Makefile.pipeline" BUILD="$LT_BUILD" THREADS=1)

# Two "backbones" over generated features: model, train, val, test.
"$PY" "$REF/gen.py" data "$WORK/gen" >/dev/null || { echo "FAIL: gen.py"; exit 1; }
F=$WORK/given
for b in sqrt-scratch instance-scratch; do
  mkdir -p "$F/$b"
  ln -s "$WORK/gen/model.h5" "$F/$b/model.h5"
  ln -s "$WORK/gen/train.h5" "$F/$b/train.h5"
  ln -s "$WORK/gen/test.h5" "$F/$b/val.h5"
  ln -s "$WORK/gen/test.h5" "$F/$b/test.h5"
done
cp "$WORK/gen/classes.txt" "$F/classes.txt"
# The generated names get real WordNet noun synsets, one each.
cut -d' ' -f1 "$WORK/gen/meta.txt" | while read -r id; do sed -n "$((id + 1))p" "$WORK/gen/classes.txt"; done >"$WORK/names"
grep -E '^[0-9]{8} ' /usr/share/wordnet/data.noun | awk 'NR % 997 == 1 {print "n" $1}' |
  head -n "$(wc -l <"$WORK/names")" | paste -d' ' - "$WORK/names" >"$WORK/wordnet-map.txt"

cd "$WORK"
VARS=(DATASET=tiny FEATURES_FROM="$F" WORDNET_MAP="$WORK/wordnet-map.txt" SWEEP_KS="0 5 20 100"
      BACKBONES="sqrt-scratch instance-scratch" SEEDS=0)
start=$(date +%s)
if ! "${MK[@]}" -j2 study "${VARS[@]}" >"$WORK/make.out" 2>&1; then
  tail -n 30 "$WORK/make.out"
  echo "FAIL: make study"
  exit 1
fi
echo "study: $(( $(date +%s) - start ))s"
[ -s "$WORK/make.out" ] && grep -q "lt-attend" "$WORK/make.out" || fail "make did not echo the commands"

R=results/tiny
for f in REPORT.md config.txt table4.tsv ablation.tsv separability.tsv mismatch.tsv sharpness.png; do
  [ -s "$R/$f" ] || fail "missing $R/$f"
done
for b in sqrt-scratch instance-scratch; do
  # the aggregates over the seeds, and the files of seed 0
  for f in table4.tsv table4.md ablation.tsv ablation.md sharpness.tsv separability.tsv separability.png \
           ksweep.tsv ksweep.png selection.tsv baselines.tsv baselines.md; do
    [ -s "$R/$b/$f" ] || fail "missing $R/$b/$f"
  done
  for f in table4.tsv mismatch.tsv sharpness.tsv separability.tsv neighbours-all.tsv neighbours.tsv neighbours.png \
           ksweep.tsv ksweep-val.tsv selection.tsv projection.tsv projection.png protos.h5 protos-val.h5 \
           clf/ensemble-wh.h5 clf/ensemble-whc.h5; do
    [ -s "$R/$b/seed0/$f" ] || fail "missing $R/$b/seed0/$f"
  done
  for png in separability ksweep seed0/neighbours seed0/projection; do
    [ "$(head -c 4 "$R/$b/$png.png" | tail -c 3)" = PNG ] || fail "$R/$b/$png.png is not a PNG"
  done
done
B=$R/sqrt-scratch
S0=$B/seed0
# Table 4: 7 rows, 3 classifiers from the terms, 2 of w^h(k), 2 ensembles
[ "$(tail -n +2 "$B/table4.tsv" | cut -f1 | paste -sd' ')" = \
  "prototypes cosine cosine+prototypes wh20 wh100 ensemble-whc ensemble-wh" ] || fail "table4.tsv rows: $(cut -f1 "$B/table4.tsv" | paste -sd' ')"
grep -q "ensemble(w^h(0), w^h(20), w^h(100))" "$B/table4.md" || fail "table4.md lacks the ensemble row"
grep -q "63.2 / 52.1 / 36.9 / 54.2" "$B/table4.md" || fail "table4.md lacks the paper's ImageNet-LT numbers"
[ "$(tail -n +2 "$B/ablation.tsv" | cut -f1 | paste -sd' ')" = "p2w w2p w2w p2p" ] || fail "ablation rows"
# The p2w row of the ablation is the ensemble of Table 4.
[ "$(sed -n 2p "$B/ablation.tsv" | cut -f2-)" = "$(tail -n 1 "$B/table4.tsv" | cut -f2-)" ] ||
  fail "ablation p2w differs from Table 4's ensemble"
[ "$(tail -n +2 "$B/ksweep.tsv" | cut -f1 | paste -sd' ')" = "0 5 20 100" ] || fail "ksweep rows"
[ "$(tail -n +2 "$B/separability.tsv" | wc -l)" = 8 ] || fail "separability: 8 rows expected"
head -1 "$S0/neighbours.tsv" | grep -q "lch$" || fail "neighbours.tsv has no lch column"
n_classes=$(tail -n +2 "$S0/neighbours.tsv" | cut -f1 | sort -u | wc -l)
[ "$n_classes" = 5 ] || fail "neighbours of $n_classes classes, 5 expected"
[ "$(tail -n +2 "$S0/neighbours.tsv" | wc -l)" = 50 ] || fail "neighbours.tsv: 50 rows expected"
tail -n +2 "$S0/neighbours.tsv" | awk -F'\t' '$NF == "nan" {bad = 1} END {exit bad}' || fail "nan LCH in neighbours.tsv"
grep -q "^final" "$S0/projection.tsv" || fail "projection.tsv has no final classifier rows"
[ "$(grep -c "^prototype" "$S0/projection.tsv")" = 3 ] || fail "projection: 3 classes expected"
[ "$(sed -n 2p "$R/mismatch.tsv" | cut -f1)" = sqrt-scratch ] || fail "mismatch.tsv"
# Baselines: six rows; tau-norm's P and logit adjustment's T are the val-best values.
[ "$(tail -n +2 "$S0/baselines.tsv" | cut -f1 | paste -sd' ')" = "joint NCM tau-norm logit-adjust cRT LWS" ] ||
  fail "baselines.tsv rows: $(cut -f1 "$S0/baselines.tsv" | paste -sd' ')"
for prefix in tau la; do
  best=$(awk -F'\t' -v p="$prefix" 'NR > 1 && index($1, p) == 1 && substr($1, length(p) + 1) ~ /^[0-9.]+$/ &&
         (best == "" || $NF + 0 > top) { best = substr($1, length(p) + 1); top = $NF + 0 } END { print best }' "$S0/baselines/val.tsv")
  method=$([ $prefix = tau ] && echo tau-norm || echo logit-adjust)
  chosen=$(awk -F'\t' -v m="$method" '$1 == m { print $3 "/" $4 }' "$S0/baselines.tsv")
  [ "$chosen" = "$best/chosen on val" ] || fail "$method: chose $chosen, the val-best value is $best"
  test_row=$(awk -F'\t' -v n="$prefix$best" '$1 == n' "$S0/baselines/test.tsv" | cut -f2-)
  [ "$(awk -F'\t' -v m="$method" '$1 == m' "$S0/baselines.tsv" | cut -f6-)" = "$test_row" ] ||
    fail "$method: baselines.tsv does not give the test accuracy of the chosen value"
done
grep -q "joint 44.4, NCM 47.3, cRT 49.6, tau-norm 49.4, LWS 49.9" "$B/baselines.md" ||
  fail "baselines.md lacks classifier-balancing's numbers"
grep -q "the method: ensemble of w^h(k)" "$B/baselines.md" || fail "baselines.md lacks the method's row"
grep -q "^## Rebalancing baselines" "$R/REPORT.md" || fail "REPORT.md lacks the baselines"
grep -q "chosen on val" "$R/REPORT.md" || fail "REPORT.md does not say the values were chosen on val"
grep -q "^## Attention roles" "$R/REPORT.md" || fail "REPORT.md lacks the ablation"
grep -q "sqrt-scratch/seed0/projection.png" "$R/REPORT.md" || fail "REPORT.md lacks the 2-D view"
# Selection on val: here val is the test set, so the chosen k is the oracle's.
[ "$(cut -f1 "$S0/selection.tsv" | paste -sd' ')" = "row chosen oracle" ] || fail "selection.tsv rows"
[ "$(sed -n 2p "$S0/selection.tsv" | cut -f2)" = "$(sed -n 3p "$S0/selection.tsv" | cut -f2)" ] ||
  fail "val = test, yet the chosen k is not the oracle's"
grep -q "chosen on val" "$R/REPORT.md" || fail "REPORT.md does not say what was chosen on val"
grep -q "oracle" "$R/REPORT.md" || fail "REPORT.md lacks the oracle row"
grep -q "One seed: no spread" "$R/REPORT.md" || fail "REPORT.md with one seed should say there is no spread"
# Same seed, same classes in every backbone.
[ "$(cut -f1 "$S0/neighbours.tsv" | sort -u)" = "$(cut -f1 "$R/instance-scratch/seed0/neighbours.tsv" | sort -u)" ] ||
  fail "the backbones show different neighbour classes"

# FEATURES_FROM without classes.txt: classes named by their ids, the same
# neighbour classes without an lch column, a note in REPORT.md.
F2=$WORK/given-unnamed
mkdir -p "$F2" && ln -s "$F/sqrt-scratch" "$F2/sqrt-scratch"
VARS2=(DATASET=unnamed FEATURES_FROM="$F2" SWEEP_KS="0 20" BACKBONES=sqrt-scratch SEEDS=0)
if ! "${MK[@]}" -j2 study "${VARS2[@]}" >"$WORK/make-unnamed.out" 2>&1; then
  tail -n 20 "$WORK/make-unnamed.out"
  fail "make study without classes.txt"
else
  U=results/unnamed
  grep -q "lt-wordnet" "$WORK/make-unnamed.out" && fail "lt-wordnet ran without class names"
  [ "$(head -1 "$U/sqrt-scratch/seed0/neighbours.tsv")" = "$(printf 'class_id\trank\tneighbour_id\tscore')" ] ||
    fail "neighbours.tsv without classes.txt: header $(head -1 "$U/sqrt-scratch/seed0/neighbours.tsv")"
  [ "$(cut -f1 "$U/sqrt-scratch/seed0/neighbours.tsv" | sort -u)" = "$(cut -f1 "$S0/neighbours.tsv" | sort -u)" ] ||
    fail "other neighbour classes without classes.txt"
  [ "$(tail -n +2 "$U/sqrt-scratch/seed0/neighbours.tsv" | wc -l)" = 50 ] || fail "neighbours.tsv without classes.txt: 50 rows expected"
  [ "$(head -c 4 "$U/sqrt-scratch/seed0/neighbours.png" | tail -c 3)" = PNG ] || fail "no neighbours.png without classes.txt"
  grep -q "has no classes.txt, so classes are named by their ids" "$U/REPORT.md" || fail "REPORT.md lacks the note"
  grep -q "has no classes.txt" "$R/REPORT.md" && fail "REPORT.md with classes.txt has the note"
fi

# Logs: command, start time, exit code.
L=$R/logs/sqrt-scratch/seed0/table4.tsv.log
[ "$(sed -n 1p "$L" | cut -c1-19)" = "# command: lt-eval " ] || fail "log header: $(sed -n 1p "$L")"
sed -n 2p "$L" | grep -qE '^# started: 20[0-9]{2}-' || fail "log start time: $(sed -n 2p "$L")"
sed -n 3p "$L" | grep -q '^# exit: 0 ' || fail "log exit code: $(sed -n 3p "$L")"

# Up to date: nothing to do. A removed intermediate: it and its dependents only.
"${MK[@]}" -q study "${VARS[@]}" || fail "a second run has work to do"
rm "$S0/clf/wh20.h5"
"${MK[@]}" -n study "${VARS[@]}" >"$WORK/dry.out" 2>&1
grep -q "lt-attend .*-k 20 .*clf/wh20.h5" "$WORK/dry.out" || fail "wh20.h5 is not remade"
grep -q "lt-protos" "$WORK/dry.out" && fail "the prototypes would be remade too"
grep -q "logs/instance-scratch/" "$WORK/dry.out" && fail "the other backbone would be remade too"
"${MK[@]}" study "${VARS[@]}" >/dev/null 2>&1 || fail "resuming after removing wh20.h5"
[ -s "$S0/clf/wh20.h5" ] || fail "wh20.h5 not remade"
# The k sweep's classifiers come from one lt-attend call: one removed, that call is made again.
rm "$S0/ksweep/wh5.h5"
"${MK[@]}" -n study "${VARS[@]}" >"$WORK/dry-sweep.out" 2>&1
[ "$(grep -c "lt-attend " "$WORK/dry-sweep.out")" = 1 ] && grep -q -- "-k 0,5,20,100 .*ksweep/wh{k}.h5" "$WORK/dry-sweep.out" ||
  fail "the k sweep is not remade by one lt-attend call: $(grep lt-attend "$WORK/dry-sweep.out")"
"${MK[@]}" study "${VARS[@]}" >/dev/null 2>&1 || fail "resuming after removing ksweep/wh5.h5"
[ -s "$S0/ksweep/wh5.h5" ] || fail "ksweep/wh5.h5 not remade"

# A failing rule: exit status, no target, the log's exit code.
bad=$S0/clf/wh100000.h5
if "${MK[@]}" "$bad" "${VARS[@]}" >"$WORK/bad.out" 2>&1; then fail "k=100000 succeeded"; fi
[ -e "$bad" ] && fail "a failed rule left $bad"
sed -n 3p "$R/logs/sqrt-scratch/seed0/clf/wh100000.h5.log" | grep -q '^# exit: 1 ' || fail "failed log: $(sed -n 3p "$R/logs/sqrt-scratch/seed0/clf/wh100000.h5.log")"
grep -q "FAILED (exit 1)" "$WORK/bad.out" || fail "no failure note on the terminal"

# A changed setting remakes what was made with it, and only that; config.txt
# and REPORT.md then state the settings the files were made with.
"${MK[@]}" -n study "${VARS[@]}" TAU=5 >"$WORK/dry-tau.out" 2>&1
grep -q -- "lt-attend .*-k 20 --tau 5 .*clf/wh20.h5" "$WORK/dry-tau.out" || fail "TAU=5 does not remake w^h(20)"
grep -q -- "lt-compat .*--neighbours .*--tau 5" "$WORK/dry-tau.out" || fail "TAU=5 does not remake the neighbours"
grep -q -- "--tau 10" "$WORK/dry-tau.out" && fail "TAU=5 plans --tau 10"
grep -q "lt-protos\|lt-adjust\|lt-retrain" "$WORK/dry-tau.out" && fail "TAU=5 remakes the prototypes or the baselines"
"${MK[@]}" -n study "${VARS[@]}" SWEEP_KS="0 20 100" >"$WORK/dry-sweep-ks.out" 2>&1
grep -q -- "lt-attend .*-k 0,20,100 .*ksweep/wh{k}.h5" "$WORK/dry-sweep-ks.out" || fail "SWEEP_KS does not remake the sweep"
grep -q "clf/" "$WORK/dry-sweep-ks.out" && fail "SWEEP_KS remakes Table 4's classifiers"
"${MK[@]}" -n study "${VARS[@]}" TAU_NORM_PS="0 1" >"$WORK/dry-ps.out" 2>&1
grep -q -- "lt-adjust .* -p 0,1 " "$WORK/dry-ps.out" || fail "TAU_NORM_PS does not remake tau-normalisation"
grep -q "lt-attend" "$WORK/dry-ps.out" && fail "TAU_NORM_PS remakes lt-attend's classifiers"
if ! "${MK[@]}" study "${VARS[@]}" KS="0 20" BACKBONES=sqrt-scratch TAU=5 >"$WORK/make-ks.out" 2>&1; then
  tail -n 20 "$WORK/make-ks.out"
  fail "make study KS=\"0 20\" BACKBONES=sqrt-scratch TAU=5"
fi
[ "$(tail -n +2 "$B/table4.tsv" | cut -f1 | paste -sd' ')" = "prototypes cosine cosine+prototypes wh20 ensemble-whc ensemble-wh" ] ||
  fail "KS=\"0 20\": table4.tsv rows $(tail -n +2 "$B/table4.tsv" | cut -f1 | paste -sd' ')"
sed -n 1p "$R/logs/sqrt-scratch/seed0/clf/ensemble-wh.h5.log" | grep -q "lt-ensemble [^ ]*/wh0.h5 [^ ]*/wh20.h5 -o" ||
  fail "KS=\"0 20\": ensemble-wh.h5 not remade of w^h(0) and w^h(20): $(sed -n 1p "$R/logs/sqrt-scratch/seed0/clf/ensemble-wh.h5.log")"
[ "$(tail -n +2 "$R/table4.tsv" | cut -f1 | sort -u)" = sqrt-scratch ] || fail "BACKBONES=sqrt-scratch: table4.tsv keeps other backbones"
grep -qx "KS=0 20" "$R/config.txt" && grep -qx "BACKBONES=sqrt-scratch" "$R/config.txt" && grep -qx "KS=0 20" "$R/REPORT.md" ||
  fail "config.txt or REPORT.md do not state KS=\"0 20\" BACKBONES=sqrt-scratch"
grep -q "w^h(100)" "$R/REPORT.md" && fail "REPORT.md of KS=\"0 20\" names w^h(100)"
"${MK[@]}" -q study "${VARS[@]}" KS="0 20" BACKBONES=sqrt-scratch TAU=5 || fail "KS=\"0 20\": a second run has work to do"
grep -qx "TAU=5" "$R/config.txt" && grep -q "k = 0, τ = 5)" "$R/REPORT.md" || fail "config.txt or REPORT.md do not state TAU=5"

# Two seeds: per-seed folders of FEATURES_FROM (two generated data sets),
# aggregated into mean and sd (sample sd) per number; REPORT.md shows mean ± sd.
"$PY" "$REF/gen.py" data "$WORK/gen2" --seed 2 >/dev/null || fail "gen.py --seed 2"
F3=$WORK/given-seeds
for s in 0 1; do
  g=$([ $s = 0 ] && echo gen || echo gen2)
  mkdir -p "$F3/sqrt-scratch/seed$s"
  for f in model train test; do ln -s "$WORK/$g/$f.h5" "$F3/sqrt-scratch/seed$s/$f.h5"; done
  ln -s "$WORK/$g/test.h5" "$F3/sqrt-scratch/seed$s/val.h5"
done
cp "$WORK/gen/classes.txt" "$F3/classes.txt"
if ! "${MK[@]}" -j2 study DATASET=seeds FEATURES_FROM="$F3" WORDNET_MAP="$WORK/wordnet-map.txt" SWEEP_KS="0 20" \
     BACKBONES=sqrt-scratch SEEDS="0 1" >"$WORK/make-seeds.out" 2>&1; then
  tail -n 20 "$WORK/make-seeds.out"
  fail "make study SEEDS=\"0 1\""
else
  Q=results/seeds/sqrt-scratch
  "$PY" - "$Q/table4.tsv" "$Q/seed0/table4.tsv" "$Q/seed1/table4.tsv" "$Q/sharpness.tsv" "$Q/seed0/sharpness.tsv" \
      "$Q/seed1/sharpness.tsv" <<'PY' || fail "two seeds: the aggregates are not the mean and sd of the seeds"
import csv, sys, statistics
def rows(path):
    return list(csv.DictReader(open(path), delimiter="\t"))
for agg, a, b in (sys.argv[1:4], sys.argv[4:7]):
    key = rows(a)[0] and list(rows(a)[0])[0]
    for r, x, y in zip(rows(agg), rows(a), rows(b)):
        assert r[key] == x[key] == y[key] and r["seeds"] == "2", (r, x)
        for c in x:
            if c == key:
                continue
            v = [float(x[c]), float(y[c])]
            assert abs(float(r[c]) - statistics.mean(v)) < 1e-6, (c, r[c], v)
            assert abs(float(r[c + "_sd"]) - statistics.stdev(v)) < 1e-6, (c, r[c + "_sd"], v)
PY
  grep -q "± " results/seeds/REPORT.md || fail "REPORT.md with two seeds shows no mean ± sd"
  grep -q "One seed" results/seeds/REPORT.md && fail "REPORT.md with two seeds says one seed"
  [ "$(sed -n 2p results/seeds/mismatch.tsv | cut -f4 | tr ',' '\n' | wc -l)" = 2 ] || fail "mismatch.tsv: two seeds' counts"
  [ "$(tail -n +2 "$Q/selection.tsv" | wc -l)" = 2 ] || fail "the selection is not aggregated"
  # Back to one seed: the aggregates are of that seed alone.
  "${MK[@]}" study DATASET=seeds FEATURES_FROM="$F3" WORDNET_MAP="$WORK/wordnet-map.txt" SWEEP_KS="0 20" \
    BACKBONES=sqrt-scratch SEEDS=0 >"$WORK/make-seed0.out" 2>&1 || fail "make study SEEDS=0 after SEEDS=\"0 1\""
  [ "$(awk -F'\t' 'NR == 1 {for (i = 1; i <= NF; i++) if ($i == "seeds") c = i} NR > 1 {print $c}' "$Q/table4.tsv" | sort -u)" = 1 ] ||
    fail "SEEDS=0 after SEEDS=\"0 1\": table4.tsv is not of one seed"
  paste "$Q/table4.tsv" "$Q/seed0/table4.tsv" | awk -F'\t' -v n="$(head -1 "$Q/table4.tsv" | awk -F'\t' '{print NF}')" \
    'NR > 1 && ($1 != $(n + 1) || ($5 - $(n + 5)) ^ 2 > 1e-12) {bad = 1} END {exit bad}' ||
    fail "SEEDS=0 after SEEDS=\"0 1\": table4.tsv's totals are not seed 0's"
  grep -q "One seed" results/seeds/REPORT.md || fail "REPORT.md of SEEDS=0 after SEEDS=\"0 1\" does not say one seed"
  [ "$(sed -n 2p results/seeds/mismatch.tsv | cut -f4)" = "$(head -1 "$Q/seed0/mismatch.tsv" | cut -f2)" ] ||
    fail "mismatch.tsv of SEEDS=0 is not seed 0's"
fi

# make -n shows the pipeline of the default data set: data, training, extraction, analyses.
mkdir "$WORK/dry" && cd "$WORK/dry"
"${MK[@]}" -n study >"$WORK/dry-default.out" 2>&1 || fail "make -n study (default data set)"
for tool in "lt-data fashion-mnist" "--unlabelled 4000" "lt-train --config fashion-mnist-lt" "lt-extract --model" lt-protos \
            "lt-attend" lt-ensemble lt-eval "lt-compat" lt-wordnet lt-project gnuplot "report.py report" \
            "lt-train .*--loss simclr --train-list data/fashion-mnist-lt/unlabelled.txt" \
            "lt-train .*--sampler sqrt --loss balanced-softmax" "--sampler instance --loss ce --epochs 10 " "report.py select --param k" "report.py aggregate" \
            "lt-adjust --classifier" "lt-retrain .* --method crt" "lt-retrain .* --method lws" \
            "--init results/fashion-mnist-lt/simclr/seed2/model.h5 .*--seed 2" \
            "sqrt-scratch-balanced/seed2/checkpoint.h5" "instance-simclr/seed1/checkpoint.h5"; do
  grep -q -- "$tool" "$WORK/dry-default.out" || fail "make -n does not show $tool"
done
[ -e data ] || [ -e results ] && fail "make -n wrote files"
# NPROC: a launcher of NPROC processes on each training and extraction rule, THREADS shared out.
make --no-print-directory -f "$LT_SRC/Makefile.pipeline" BUILD="$LT_BUILD" -n study NPROC=2 CORES=4 \
  >"$WORK/dry-nproc.out" 2>&1 || fail "make -n study NPROC=2"
for tool in lt-train lt-extract; do
  [ "$(grep -c -- "-- [^ ]*\(torchrun\|lt-launch\) .*--nproc_per_node 2 .*$tool .*--threads 2" "$WORK/dry-nproc.out")" -ge 1 ] ||
    fail "NPROC=2: $tool is not started by a launcher of 2 processes with 2 threads each"
done
grep -q -- "-- lt-protos" "$WORK/dry-nproc.out" || fail "NPROC=2: lt-protos should run alone"
"${MK[@]}" -n study LAUNCH="srun --ntasks 8" >"$WORK/dry-launch.out" 2>&1 || fail "make -n study LAUNCH=srun"
[ "$(grep -c -- "-- srun --ntasks 8 lt-\(train\|extract\) " "$WORK/dry-launch.out")" -ge 8 ] &&
  ! grep -- "-- [^ ]*lt-\(train\|extract\) " "$WORK/dry-launch.out" | grep -vq "srun --ntasks 8 lt-" ||
  fail "LAUNCH: not every training and extraction rule is started by srun"
# ... and of ImageNet-LT, given its list files.
mkdir -p inet && for s in train val test; do
  printf 'train/n01440764/a.JPEG 0\ntrain/n01443537/b.JPEG 1\n' >"inet/ImageNet_LT_$s.txt"
  printf '/a/airfield/1.jpg 0\n/b/bakery/shop/2.jpg 1\n' >"inet/Places_LT_$s.txt"
done
"${MK[@]}" -n study DATASET=imagenet-lt DATA_ROOT=inet BACKBONES="sqrt-scratch instance-scratch" \
  >"$WORK/dry-inet.out" 2>&1 || fail "make -n study DATASET=imagenet-lt: $(tail -n 3 "$WORK/dry-inet.out")"
grep -q "lt-train --config imagenet-lt-resnext50 .*--sampler instance" "$WORK/dry-inet.out" ||
  fail "imagenet-lt: no instance-sampling training"
grep -q "classes-from-list.awk inet/ImageNet_LT_train.txt" "$WORK/dry-inet.out" || fail "imagenet-lt: classes.txt"
"${MK[@]}" -n study DATASET=places-lt DATA_ROOT=inet BACKBONES=sqrt-supervised >"$WORK/dry-places.out" 2>&1 &&
  fail "places-lt without INIT_supervised should stop"
grep -q "INIT_supervised" "$WORK/dry-places.out" || fail "places-lt: no hint about INIT_supervised"

[ $failures -eq 0 ] || exit 1
echo "ok: Makefile.pipeline ($(( $(date +%s) - start ))s)"
