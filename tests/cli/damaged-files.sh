#!/usr/bin/env bash
# Files damaged after lt wrote them are refused, never silently used
# (docs/format.md, Checksums): a changed byte in a dataset's data (its
# Fletcher-32 checksum), in an attribute's value (the object header's
# checksum) and in the superblock each give one error line naming the
# damage, exit 1 and no output. The damage is placed with h5py's view of
# where each object lies, and the untouched file must read: a test of the
# damage, not of the file. Outputs to stdout carry the same checksums.
source "$(dirname "$0")/../lib/cli.sh"
PY=/usr/bin/python3
G=$WORK/gen
"$PY" "$LT_SRC/tests/ref/gen.py" data "$G" >/dev/null || fail "gen.py data"

section "lt writes every dataset with a checksum, in the HDF5 1.8 format"
expect_ok lt-protos "$G/train.h5" -o "$WORK/protos.h5"
expect_ok lt-attend --classifier "$G/clf.h5" --protos "$WORK/protos.h5" -k 5 -o "$WORK/clf.h5"
"$PY" - "$WORK/protos.h5" "$WORK/clf.h5" <<'PY' || fail "a dataset without a checksum"
import sys, h5py
for path in sys.argv[1:]:
    with h5py.File(path, "r") as f:
        assert f.id.get_create_plist().get_userblock() == 0
        def check(name, obj):
            if isinstance(obj, h5py.Dataset) and obj.shape and obj.dtype.kind != "O":
                assert obj.fletcher32, f"{path}:{name} has no checksum"
                obj[()]  # h5py verifies it
        f.visititems(check)
PY

# damage.py FILE WHAT OUT: OUT is FILE with one byte changed in WHAT: a
# dataset name (its first chunk's data), "@name" (an attribute's value in the
# root object header, found by its bytes) or "superblock" (the end-of-file
# address). Prints nothing; fails if the place cannot be found.
cat >"$WORK/damage.py" <<'PY'
import sys, h5py, numpy as np
path, what, out = sys.argv[1:]
data = bytearray(open(path, "rb").read())
with h5py.File(path, "r") as f:
    if what == "superblock":
        offset = 28  # version 2: signature, version, sizes, flags, base and extension addresses
    elif what.startswith("@"):
        value = np.array(f.attrs[what[1:]]).tobytes()
        offset = data.find(value)
        assert offset > 0 and data.find(value, offset + 1) < 0, "attribute value not found once"
    else:
        offset = f[what].id.get_chunk_info(0).byte_offset + 5
data[offset] ^= 0x10
open(out, "wb").write(data)
PY
damage() { "$PY" "$WORK/damage.py" "$@" || fail "cannot damage $1 ($2)"; }
DAMAGED="checksum does not match \(the file is damaged\)"

section "a changed byte of a dataset's data"
damage "$WORK/protos.h5" prototypes "$WORK/protos-data.h5"
expect_fail 1 "protos-data.h5:/prototypes: its $DAMAGED" "$WORK/merged.h5" -- \
    lt-protos --merge "$WORK/protos-data.h5" -o "$WORK/merged.h5"
expect_fail 1 "$DAMAGED" "$WORK/wh.h5" -- \
    lt-attend --classifier "$G/clf.h5" --protos "$WORK/protos-data.h5" -k 5 -o "$WORK/wh.h5"
damage "$WORK/clf.h5" weights "$WORK/clf-data.h5"
expect_fail 1 "clf-data.h5:/weights: its $DAMAGED" -- lt-eval "$G/test.h5" "$WORK/clf-data.h5"

section "--hdf5-errors adds the HDF5 library's own error stack to the one error line"
# Without the flag the stack is silenced (the expect_fail above: one line).
status=0
lt-eval --hdf5-errors "$G/test.h5" "$WORK/clf-data.h5" >/dev/null 2>"$WORK/stack.err" || status=$?
[[ $status == 1 ]] || fail "--hdf5-errors: exit $status, not 1"
grep -q "^HDF5-DIAG: Error detected in HDF5" "$WORK/stack.err" || fail "--hdf5-errors printed no HDF5 stack"
[[ $(grep -cE "^lt-eval: error: .*clf-data.h5:/weights: its $DAMAGED" "$WORK/stack.err") == 1 ]] ||
    fail "--hdf5-errors: not one lt error line"

section "a changed byte of an attribute (the classifier's scale)"
damage "$WORK/clf.h5" @scale "$WORK/clf-scale.h5"
expect_fail 1 "$DAMAGED" -- lt-eval "$G/test.h5" "$WORK/clf-scale.h5"
expect_fail 1 "$DAMAGED" -- lt-info "$WORK/clf-scale.h5"

section "a changed byte of the superblock"
damage "$WORK/protos.h5" superblock "$WORK/protos-super.h5"
expect_fail 1 "cannot read .*protos-super.h5: its $DAMAGED" -- lt-info "$WORK/protos-super.h5"
rc=0; lt-info - <"$WORK/protos-super.h5" 2>"$WORK/err" || rc=$?
expect_equal "$rc" 1 "exit status of lt-info - on a damaged superblock"
expect_lines "$WORK/err" 1
expect_grep "^lt-info: error: (<stdin>: )?cannot read standard input: its $DAMAGED" "$WORK/err"

section "the untouched files read, from a file and through a pipe"
expect_ok lt-protos --merge "$WORK/protos.h5" -o "$WORK/merged.h5"
expect_ok lt-eval "$G/test.h5" "$WORK/clf.h5"
lt-protos "$G/train.h5" -o - | lt-info - >"$WORK/info.txt" || fail "lt-protos -o - | lt-info -"
expect_grep "filters: \[fletcher32\]" "$WORK/info.txt"
lt-adjust --classifier "$G/clf.h5" -p 1 -o - >"$WORK/stdout.h5" || fail "lt-adjust -o -"
"$PY" -c "import h5py, sys; f = h5py.File(sys.argv[1], 'r'); assert f['weights'].fletcher32; f['weights'][()]" \
    "$WORK/stdout.h5" || fail "h5py cannot read the stdout file, or it has no checksum"
echo "ok"
