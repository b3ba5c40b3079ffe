#!/usr/bin/env bash
# What a run may write, and values it refuses (docs/design.md, "CLI
# contract"): no output replaces a file the run reads (whatever the path's
# spelling: a symbolic link, ./), two outputs of one run are never one file,
# an empty output path is refused,
# a list value repeated under another spelling (1 and 01) is refused; a
# cosine classifier's scale must be > 0; a rebalancing that overflows float32
# a --final classifier that does not fit and a class id beyond 64 bits are
# refused with their reason.
source "$(dirname "$0")/../lib/cli.sh"
PY=/usr/bin/python3
"$PY" -c 'import numpy, h5py' 2>/dev/null || { echo "SKIP: no python3-numpy/python3-h5py"; exit 77; }
D="$WORK/d"
"$PY" "$LT_SRC/tests/ref/gen.py" data "$D" >/dev/null
lt-protos "$D/train.h5" -o "$WORK/protos.h5"

# refused_in_place STATUS PATTERN FILE -- COMMAND: COMMAND fails and FILE,
# an input it was told to overwrite, is byte for byte what it was.
refused_in_place() {
    local status=$1 pattern=$2 file=$3
    shift 4
    cp "$file" "$WORK/before"
    expect_fail "$status" "$pattern" -- "$@"
    cmp -s "$file" "$WORK/before" || fail "$file was changed by: $*"
}

section "an output that is an input is refused, and the input kept"
cp "$D/train.h5" "$WORK/train.h5"
cp "$D/test.h5" "$WORK/test.h5"
refused_in_place 2 "train.h5 is an input of this run" "$WORK/train.h5" -- \
    lt-protos "$WORK/train.h5" -o "$WORK/train.h5"
refused_in_place 2 "is an input of this run" "$WORK/test.h5" -- \
    lt-eval "$WORK/test.h5" "$D/clf.h5" --predictions "$WORK/test.h5"
refused_in_place 2 "is an input of this run" "$WORK/test.h5" -- \
    lt-eval "$WORK/test.h5" "$D/clf.h5" --per-class "$WORK/test.h5"
# by the file, not the path: another spelling, a symbolic link
refused_in_place 2 "is an input of this run" "$WORK/train.h5" -- \
    lt-protos "$WORK/train.h5" -o "$WORK/./train.h5"
ln -s "$WORK/train.h5" "$WORK/link.h5"
refused_in_place 2 "is an input of this run" "$WORK/train.h5" -- \
    lt-protos "$WORK/link.h5" -o "$WORK/train.h5"
cp "$D/clf.h5" "$WORK/clf.h5"
refused_in_place 2 "is an input of this run" "$WORK/clf.h5" -- \
    lt-attend --classifier "$WORK/clf.h5" --protos "$WORK/protos.h5" -k 5 -o "$WORK/clf.h5"
refused_in_place 2 "is an input of this run" "$WORK/clf.h5" -- \
    lt-adjust --classifier "$WORK/clf.h5" -p 1 -o "$WORK/clf.h5"
# an input of an input file: lt-eval reads the prior of --counts
refused_in_place 2 "is an input of this run" "$WORK/train.h5" -- \
    lt-eval "$D/test.h5" "$D/clf.h5" --counts "$WORK/train.h5" --confusion "$WORK/train.h5"
# the output beside the input is fine
expect_ok lt-protos "$WORK/train.h5" -o "$WORK/train-protos.h5"

section "two outputs of one run are never one file"
expect_fail 2 "--predictions and --per-class name the same file" "$WORK/both.h5" -- \
    lt-eval "$D/test.h5" "$D/clf.h5" --predictions "$WORK/both.h5" --per-class "$WORK/both.h5"
expect_fail 2 "--predictions and --confusion name the same file" "$WORK/both.h5" -- \
    lt-eval "$D/test.h5" "$D/clf.h5" --predictions "$WORK/both.h5" --confusion "$WORK/./both.h5"
expect_ok lt-eval "$D/test.h5" "$D/clf.h5" --predictions "$WORK/p.h5" --per-class "$WORK/p.tsv" --confusion "$WORK/c.h5"

section "an empty output path is a usage error naming the option, in every tool"
# empty_output OPTION COMMAND...: COMMAND gives OPTION an empty path
empty_output() {
    local option=$1
    shift
    expect_fail 2 "^$(basename "$1"): error: $option: the path is empty" -- "$@"
}
C=$D/clf.h5 P=$WORK/protos.h5
empty_output --output lt-protos "$D/train.h5" -o ""
empty_output --output lt-attend --classifier "$C" --protos "$P" -o ""
empty_output --output lt-ensemble "$C" "$C" -o ""
empty_output --output lt-adjust --classifier "$C" -p 1 --output ""
empty_output --output lt-retrain "$D/train.h5" --classifier "$C" -o ""
empty_output --output lt-extract --model "$WORK/m.h5" --list "$WORK/l.txt" --root "$WORK" -o ""
empty_output --output lt-train --train-list "$WORK/l.txt" --root "$WORK" -o ""
empty_output --log lt-train --train-list "$WORK/l.txt" --root "$WORK" -o "$WORK/m.h5" --log ""
for option in --predictions --per-class --confusion; do
    empty_output "$option" lt-eval "$D/test.h5" "$C" "$option" ""
done
empty_output --output lt-data fashion-mnist -o ""
empty_output --output lt-data subsample "$WORK/l.txt" -o ""
empty_output --val-output lt-data subsample "$WORK/l.txt" -o "$WORK/s.txt" --val-per-class 1 --val-output ""
empty_output --output lt-data folder "$WORK" -o ""
empty_output --class-names-output lt-data folder "$WORK" -o "$WORK/f.txt" --class-names-output ""
empty_output --output lt-data check "$WORK/l.txt" --root "$WORK" -o ""

section "an input read from standard input is protected too"
cp "$D/test.h5" "$WORK/stdin.h5"
cp "$WORK/stdin.h5" "$WORK/before"
_lt_run lt-eval - "$D/clf.h5" --predictions "$WORK/stdin.h5" <"$WORK/stdin.h5"
[[ $LT_STATUS -eq 2 ]] && grep -q "stdin.h5 is an input of this run" "$LT_STDERR" ||
    { _lt_show lt-eval - "$D/clf.h5" --predictions "$WORK/stdin.h5"; fail "an output replaced standard input's file"; }
cmp -s "$WORK/stdin.h5" "$WORK/before" || fail "standard input's file was changed"

section "a write that fails half-way (a full disk): one line naming why, nothing left"
# A file size limit, with SIGXFSZ ignored, makes write() fail as a full disk
# does; HDF5's own clean-up at exit used to crash on the half-closed file.
mkdir -p "$WORK/limited"
seq -f "class %g $(printf 'x%.0s' {1..400})" 0 999 >"$WORK/long-names.txt"
(
    trap '' XFSZ
    ulimit -f 8
    expect_fail 1 "cannot write .*p.h5: File too large" "$WORK/limited/p.h5" -- \
        lt-protos "$D/train.h5" -o "$WORK/limited/p.h5"
    expect_fail 1 "cannot write .*File too large" "$WORK/limited/w0.h5" "$WORK/limited/w5.h5" -- \
        lt-attend --classifier "$D/clf.h5" --protos "$WORK/protos.h5" -k 0,5 -o "$WORK/limited/w{k}.h5"
    expect_fail 1 "cannot write .*pc.tsv.*File too large" "$WORK/limited/pc.tsv" -- \
        lt-eval "$D/test.h5" "$D/clf.h5" --per-class "$WORK/limited/pc.tsv" --class-names "$WORK/long-names.txt"
    expect_fail 1 "cannot write .*pred.h5: File too large" "$WORK/limited/pred.h5" "$WORK/limited/pc.tsv" -- \
        lt-eval "$D/test.h5" "$D/clf.h5" --predictions "$WORK/limited/pred.h5" --per-class "$WORK/limited/pc.tsv" \
        --class-names "$WORK/long-names.txt"
) || exit 1
[[ -z $(ls -A "$WORK/limited") ]] || fail "left by failed writes: $(ls -A "$WORK/limited")"

section "an output that is a link, a FIFO or a device"
# A link is followed (it stays a link); a FIFO or device is written as it is,
# never replaced by a file. (Fixed provenance: the outputs compare byte for byte.)
export LT_PROVENANCE=fixed
expect_ok lt-protos "$D/train.h5" -o "$WORK/train-protos.h5"
ln -s real-protos.h5 "$WORK/linked.h5"
expect_ok lt-protos "$D/train.h5" -o "$WORK/linked.h5"
[[ -L $WORK/linked.h5 ]] || fail "the link was replaced by a file"
cmp -s "$WORK/real-protos.h5" "$WORK/train-protos.h5" || fail "the link's target is not the output"
ln -s real.tsv "$WORK/linked.tsv"
expect_ok lt-eval "$D/test.h5" "$D/clf.h5" --per-class "$WORK/linked.tsv"
[[ -L $WORK/linked.tsv && -s $WORK/real.tsv ]] || fail "--per-class through a link"
mkfifo "$WORK/fifo"
cat "$WORK/fifo" >"$WORK/from-fifo.h5" &
expect_ok lt-protos "$D/train.h5" -o "$WORK/fifo"
wait
[[ -p $WORK/fifo ]] || fail "the FIFO was replaced by a file"
cmp -s "$WORK/from-fifo.h5" "$WORK/train-protos.h5" || fail "the FIFO did not carry the output"
if [[ -c /dev/null ]]; then
    expect_ok lt-protos "$D/train.h5" -o /dev/null
    expect_ok lt-eval "$D/test.h5" "$D/clf.h5" --per-class /dev/null --predictions /dev/null
    [[ -c /dev/null ]] || fail "/dev/null was replaced"
fi
expect_ok lt-protos "$D/train.h5" -o /dev/stdout
cmp -s "$LT_STDOUT" "$WORK/train-protos.h5" || fail "-o /dev/stdout differs from -o FILE"

section "a long file name: its temporary is shortened, not refused"
long=$(printf 'n%.0s' {1..250}).h5
expect_ok lt-protos "$D/train.h5" -o "$WORK/$long"
cmp -s "$WORK/$long" "$WORK/train-protos.h5" || fail "the long-named output differs"

section "a list value given twice under two spellings"
A=(lt-attend --classifier "$D/clf.h5" --protos "$WORK/protos.h5")
expect_fail 2 "-k: 1 is given twice \(as 1 and 01\)" "$WORK/w1.h5" -- "${A[@]}" -k 1,01 -o "$WORK/w{k}.h5"
expect_fail 2 "--tau: 1 is given twice" "$WORK/t1.h5" -- "${A[@]}" --tau 1,1.0 -o "$WORK/t{tau}.h5"
expect_fail 2 "--logit-adjust: 0.5 is given twice" "$WORK/la0.5.h5" -- \
    lt-adjust --classifier "$D/clf.h5" -T 0.5,.5 -o "$WORK/la{t}.h5"
expect_ok "${A[@]}" -k 1,10 -o "$WORK/w{k}.h5"

section "a cosine classifier's scale must be > 0"
for scale in 0 -3; do
    cp "$D/clf.h5" "$WORK/scale$scale.h5"
    "$PY" -c 'import h5py, sys; h5py.File(sys.argv[1], "a").attrs["scale"] = float(sys.argv[2])' \
        "$WORK/scale$scale.h5" "$scale"
    expect_fail 1 "scale must be > 0 \(got $scale\)" "$WORK/p$scale.h5" -- \
        lt-eval "$D/test.h5" "$WORK/scale$scale.h5" --predictions "$WORK/p$scale.h5" --top-k 2
    expect_fail 1 "scale must be > 0" "$WORK/e$scale.h5" -- lt-ensemble "$WORK/scale$scale.h5" "$D/clf.h5" -o "$WORK/e$scale.h5"
done

section "lt-adjust: a value that overflows float32 is named"
expect_fail 1 "--logit-adjust 1e\+308: the bias of class [0-9]+ overflows float32" "$WORK/big.h5" -- \
    lt-adjust --classifier "$D/clf.h5" -T 1e308 -o "$WORK/big.h5"
expect_fail 1 "--tau-norm 1e\+308: the scale of class [0-9]+ (overflows|underflows) float32" "$WORK/big.h5" -- \
    lt-adjust --classifier "$D/clf.h5" -p 1e308 -o "$WORK/big.h5"
# A linear classifier has no scale: its rows of norm 2 become rows of zeros.
"$PY" - "$WORK/linear-norm2.h5" <<'EOF'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "w") as f:
    f.attrs.update(lt_schema="lt-h5", lt_schema_version=1, lt_type="classifier", kind="linear")
    f["weights"] = 2 * np.eye(3, 4, dtype=np.float32)
    f["bias"], f["class_ids"], f["class_counts"] = np.zeros(3, np.float32), np.arange(3), np.array([9, 3, 1])
EOF
expect_fail 1 "--tau-norm 2000: the weights of class 0 underflow float32 to 0" "$WORK/big.h5" -- \
    lt-adjust --classifier "$WORK/linear-norm2.h5" -p 2000 -o "$WORK/big.h5"
expect_ok lt-adjust -q --classifier "$WORK/linear-norm2.h5" -p 100 -o "$WORK/small.h5"

section "lt-eval --names: no tab"
expect_fail 2 "--names: a name may not hold a tab" -- lt-eval "$D/test.h5" "$D/clf.h5" --names "$(printf 'a\tb')"

section "lt-project: a --final of another dimension; a neighbour without a prototype"
cp "$D/clf.h5" "$WORK/wide.h5"
"$PY" - "$WORK/wide.h5" <<'EOF'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "a") as f:
    w = f["weights"][()]
    del f["weights"]
    f["weights"] = np.hstack([w, w[:, :1]])
EOF
P=(lt-project --features "$D/test.h5" --classifier "$D/clf.h5" --protos "$WORK/protos.h5")
expect_fail 1 "dimension mismatch: features [0-9]+, --final [0-9]+" -- "${P[@]}" --final "$WORK/wide.h5"
# prototypes of one class only: its neighbours have none
class=$("$PY" -c 'import h5py, sys; print(h5py.File(sys.argv[1])["class_ids"][0])' "$WORK/protos.h5")
lt-protos "$D/train.h5" -o "$WORK/one.h5"
"$PY" - "$WORK/one.h5" <<'EOF'
import sys, h5py
with h5py.File(sys.argv[1], "a") as f:
    for name in ("prototypes", "class_ids", "counts"):
        value = f[name][:1]
        del f[name]
        f[name] = value
EOF
P=(lt-project --features "$D/test.h5" --classifier "$D/clf.h5" --protos "$WORK/one.h5" --class "$class")
expect_fail 1 "a neighbour of class $class, has a classifier row but no prototype" -- "${P[@]}" --final "$D/clf.h5"
expect_fail 1 "a neighbour of class $class, has a classifier row but no prototype" -- "${P[@]}"
section "lt-wordnet: a class id beyond 64 bits is named"
printf 'class_id\tneighbour_id\n99999999999999999999\t1\n' >"$WORK/huge-id.tsv"
printf 'a\nb\n' >"$WORK/names.txt"
expect_fail 1 "huge-id.tsv:2: class id '99999999999999999999' is not a number of at most 18 digits" -- \
    lt-wordnet "$WORK/huge-id.tsv" --class-names "$WORK/names.txt"
expect_fail 1 "--class-ids: class 1 has no row in .*huge-id.tsv" -- \
    lt-wordnet "$WORK/huge-id.tsv" --class-names "$WORK/names.txt" --class-ids 1
echo "ok"
