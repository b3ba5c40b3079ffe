#!/usr/bin/env bash
# Makefile.pipeline's training rules when a setting changes, with stand-ins
# for lt-data and lt-train (a BUILD folder of two small scripts that write
# what they were asked for and behave like lt-train --resume: a checkpoint at
# --epochs or beyond is left as it is, a shorter one is continued). A changed
# EPOCHS, TRAIN_OPTIONS or DATA_SEED retrains from scratch, lower or higher,
# whatever the checkpoint holds; a changed SimCLR pretraining retrains the
# backbones initialised from it; an interrupted run of the same settings
# resumes; an unchanged study has nothing to do; make -n plans the retraining
# and writes nothing. Seconds.
set -u
: "${LT_SRC:=$(cd "$(dirname "$0")/../.." && pwd)}"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/lt-test.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

mkdir -p "$WORK/stand-in/bin"
cat >"$WORK/stand-in/bin/lt-data" <<'SH'
#!/usr/bin/env bash
# lt-data fashion-mnist -o DIR --seed S --unlabelled N: the four lists, naming the seed
while [ $# -gt 0 ]; do case $1 in -o) out=$2; shift ;; --seed) seed=$2; shift ;; esac; shift; done
mkdir -p "$out"
for f in train val test unlabelled; do echo "img.png 0 data-seed=$seed" >"$out/$f.txt"; done
echo "class0" >"$out/classes.txt"
SH
cat >"$WORK/stand-in/bin/lt-train" <<'SH'
#!/usr/bin/env bash
# The checkpoint holds "epochs=E <how>"; --resume continues it (or keeps it at E >= --epochs).
args="$*"
while [ $# -gt 0 ]; do
  case $1 in -o) out=$2; shift ;; --epochs) epochs=$2; shift ;; --train-list) list=$2; shift ;; --resume) resume=1 ;; esac
  shift
done
echo "lt-train $args" >>"${out%/*}/calls.txt"
if [ -n "${resume:-}" ] && [ -e "$out" ]; then
  done_epochs=$(sed 's/epochs=\([0-9]*\).*/\1/' "$out")
  if [ "$done_epochs" -ge "$epochs" ]; then echo "already trained for $done_epochs epochs; nothing to do" >&2; exit 0; fi
  echo "epochs=$epochs resumed from $done_epochs" >"$out"
else
  echo "epochs=$epochs from scratch, $(grep -o 'data-seed=[0-9]*' "$list")" >"$out"
fi
SH
chmod +x "$WORK/stand-in/bin/"*

cd "$WORK"
MK=(make --no-print-directory -f "$LT_SRC/Makefile.pipeline" BUILD="$WORK/stand-in" THREADS=1 SEEDS=0)
R=results/fashion-mnist-lt
M=$R/sqrt-scratch/seed0/model.h5
SM=$R/sqrt-simclr/seed0/model.h5
P=$R/simclr/seed0/model.h5
model() { cat "$1" 2>/dev/null || echo "(no model)"; }
train() { "${MK[@]}" "$@" >>"$WORK/make.out" 2>&1 || { tail -n 5 "$WORK/make.out"; fail "make $*"; }; }

train "$M" EPOCHS=2
[ "$(model $M)" = "epochs=2 from scratch, data-seed=0" ] || fail "EPOCHS=2: $(model $M)"
"${MK[@]}" -q "$M" EPOCHS=2 || fail "an unchanged model has work to do"

# A lower EPOCHS: retrained from scratch, not the 2-epoch checkpoint kept.
"${MK[@]}" -n "$M" EPOCHS=1 >"$WORK/dry.out" 2>&1
grep -q "lt-train .*--epochs 1 " "$WORK/dry.out" || fail "make -n EPOCHS=1 plans no training: $(cat "$WORK/dry.out")"
[ "$(model $M)" = "epochs=2 from scratch, data-seed=0" ] || fail "make -n changed the model"
grep -q "EPOCHS=2" $R/settings/train.txt || fail "make -n changed the settings file"
train "$M" EPOCHS=1
[ "$(model $M)" = "epochs=1 from scratch, data-seed=0" ] || fail "EPOCHS 2 -> 1: $(model $M)"
# A higher one: from scratch too (continuing would follow another schedule).
train "$M" EPOCHS=3
[ "$(model $M)" = "epochs=3 from scratch, data-seed=0" ] || fail "EPOCHS 1 -> 3: $(model $M)"
# The same settings after an interruption: the checkpoint is resumed.
rm "$M"
echo "epochs=1 interrupted" >$R/sqrt-scratch/seed0/checkpoint.h5
train "$M" EPOCHS=3
[ "$(model $M)" = "epochs=3 resumed from 1" ] || fail "an interrupted run was not resumed: $(model $M)"
# Other options, other data: retrained.
train "$M" EPOCHS=3 TRAIN_OPTIONS="--lr 0.2"
[ "$(model $M)" = "epochs=3 from scratch, data-seed=0" ] && tail -n 1 $R/sqrt-scratch/seed0/calls.txt | grep -q -- "--lr 0.2" ||
  fail "TRAIN_OPTIONS: $(model $M)"
train "$M" EPOCHS=3 TRAIN_OPTIONS="--lr 0.2" DATA_SEED=1
[ "$(model $M)" = "epochs=3 from scratch, data-seed=1" ] || fail "DATA_SEED=1: $(model $M)"

# SimCLR: a longer pretraining retrains it and the backbone initialised from it.
train "$M" "$SM" EPOCHS=2 SIMCLR_EPOCHS=1
trainings=$(wc -l <$R/sqrt-scratch/seed0/calls.txt)
[ "$(model $P)" = "epochs=1 from scratch, data-seed=0" ] && [ "$(model $SM)" = "epochs=2 from scratch, data-seed=0" ] ||
  fail "sqrt-simclr: $(model $P); $(model $SM)"
"${MK[@]}" -q "$SM" EPOCHS=2 SIMCLR_EPOCHS=1 || fail "an unchanged SimCLR backbone has work to do"
train "$M" "$SM" EPOCHS=2 SIMCLR_EPOCHS=2
[ "$(model $P)" = "epochs=2 from scratch, data-seed=0" ] || fail "SIMCLR_EPOCHS 1 -> 2: $(model $P)"
[ "$(model $SM)" = "epochs=2 from scratch, data-seed=0" ] && [ "$(wc -l <$R/sqrt-simclr/seed0/calls.txt)" = 2 ] ||
  fail "sqrt-simclr after a new pretraining: $(model $SM), $(wc -l <$R/sqrt-simclr/seed0/calls.txt) trainings"
# ... and leaves sqrt-scratch alone, as do other backbones.
[ "$(wc -l <$R/sqrt-scratch/seed0/calls.txt)" = "$trainings" ] || fail "a new SimCLR pretraining retrained sqrt-scratch"
"${MK[@]}" -q "$M" EPOCHS=2 SIMCLR_EPOCHS=2 BACKBONES="sqrt-scratch instance-simclr" INIT_simclr=/elsewhere.h5 ||
  fail "other backbones retrain sqrt-scratch"

[ $failures -eq 0 ] || exit 1
echo "ok: training settings"
