# lt-data: data sets built from IDX files (a synthetic one, and Debian's
# Fashion-MNIST when installed), subsampling, ImageFolder listing, image
# checks, and bad input: exit 1 (2 for usage), one error line, no output left.
source "$(dirname "$0")/../lib/cli.sh"

# Sorted per-class counts of a list: "1280 691 ...".
counts_of() { awk '{print $NF}' "$1" | sort -n | uniq -c | awk '{print $1}' | sort -rn | tr '\n' ' ' | sed 's/ $//'; }
# The exponential profile computed independently: floor(n_max * r^(i/(C-1))).
profile() { awk -v n="$1" -v r="$2" -v c="$3" 'BEGIN { for (i = 0; i < c; i++) printf "%s%d", (i ? " " : ""), int(n * r ^ (i / (c - 1)) + 1e-9) }'; }
byte() { printf "\\x$(printf %02x "$1")"; }
# An IDX header for unsigned bytes: idx_header DIM...
idx_header() {
    printf '\x00\x00\x08'; byte $#
    local d
    for d in "$@"; do byte $((d >> 24 & 255)); byte $((d >> 16 & 255)); byte $((d >> 8 & 255)); byte $((d & 255)); done
}
# A Fashion-MNIST-like source: N_TRAIN and N_TEST images, label = index % 10.
make_idx_source() {
    local folder=$1 n_train=$2 n_test=$3 i
    mkdir -p "$folder"
    { idx_header "$n_train" 28 28; head -c $((n_train * 784)) /dev/urandom; } | gzip >"$folder/train-images-idx3-ubyte.gz"
    { idx_header "$n_train"; for ((i = 0; i < n_train; i++)); do byte $((i % 10)); done; } | gzip >"$folder/train-labels-idx1-ubyte.gz"
    { idx_header "$n_test" 28 28; head -c $((n_test * 784)) /dev/urandom; } >"$folder/t10k-images-idx3-ubyte"
    { idx_header "$n_test"; for ((i = 0; i < n_test; i++)); do byte $((i % 10)); done; } >"$folder/t10k-labels-idx1-ubyte"
}

section "fashion-mnist on a synthetic source of 400 + 30 images"
make_idx_source "$WORK/idx" 400 30
expect_logged lt-data fashion-mnist -o "$WORK/syn" --source "$WORK/idx" --n-max 20 --n-min 2 --val-per-class 5 --seed 1
expect_grep '^lt-data: train: [0-9]+ images in 10 classes' "$LT_STDERR"
expect_equal "$(counts_of "$WORK/syn/train.txt")" "$(profile 20 0.1 10)" "synthetic train counts"
expect_equal "$(counts_of "$WORK/syn/val.txt")" "5 5 5 5 5 5 5 5 5 5" "synthetic val counts"
expect_lines "$WORK/syn/test.txt" 30
expect_lines "$WORK/syn/classes.txt" 10
# The WordNet map in share/ names the same classes, in label order.
expect_equal "$(cut -d' ' -f2- "$LT_SRC/share/classes/fashion-mnist-wordnet.txt")" "$(cat "$WORK/syn/classes.txt")" \
    "class names of share/classes/fashion-mnist-wordnet.txt"
[[ -z $(sort "$WORK/syn/train.txt" "$WORK/syn/val.txt" | uniq -d) ]] || fail "val shares images with train"
while read -r path label; do
    [[ -f $WORK/syn/$path ]] || fail "listed image $path missing"
done < <(cat "$WORK/syn/train.txt" "$WORK/syn/val.txt" "$WORK/syn/test.txt")

section "same seed, same data set (lists and PNG bytes); another seed, another"
expect_ok lt-data fashion-mnist -q -o "$WORK/syn2" --source "$WORK/idx" --n-max 20 --n-min 2 --val-per-class 5 --seed 1
diff -r "$WORK/syn" "$WORK/syn2" >/dev/null || fail "two runs with --seed 1 differ"
expect_ok lt-data fashion-mnist -q -o "$WORK/syn3" --source "$WORK/idx" --n-max 20 --n-min 2 --val-per-class 5 --seed 2
! cmp -s "$WORK/syn/train.txt" "$WORK/syn3/train.txt" || fail "--seed 2 gives the same train list as --seed 1"

section "check decodes every image; subsample counts, stdin and stdout"
expect_logged lt-data check "$WORK/syn/test.txt" --root "$WORK/syn"
expect_grep 'all 30 images decode; image sides from 28 to 28' "$LT_STDERR"
for ((i = 0; i < 400; i++)); do echo "images/$i.png $((i % 10))"; done >"$WORK/balanced.txt"
expect_ok lt-data subsample "$WORK/balanced.txt" -q -o "$WORK/sub.txt" --n-max 10 --imbalance 5 \
    --val-per-class 1 --val-output "$WORK/subval.txt" --seed 4
expect_equal "$(counts_of "$WORK/sub.txt")" "$(profile 10 0.2 10)" "subsample counts"
expect_lines "$WORK/subval.txt" 10
# Label order (CIFAR-LT convention): label 0 keeps the most images.
expect_equal "$(grep -c ' 0$' "$WORK/sub.txt")" 10 "images of label 0"
expect_ok lt-data subsample - -q -o - --n-max 4 --n-min 1 <"$WORK/balanced.txt"
expect_equal "$(counts_of "$LT_STDOUT")" "$(profile 4 0.25 10)" "subsample from stdin to stdout"

section "CRLF list files and paths with spaces"
mkdir -p "$WORK/odd/with space"
cp "$WORK/syn/$(head -1 "$WORK/syn/test.txt" | cut -d' ' -f1)" "$WORK/odd/with space/a b.png"
cp "$WORK/syn/$(sed -n 2p "$WORK/syn/test.txt" | cut -d' ' -f1)" "$WORK/odd/c.png"
printf 'with space/a b.png 3\r\n\r\nc.png\t1\r\n' >"$WORK/odd/crlf.txt"
expect_ok lt-data check -q "$WORK/odd/crlf.txt" --root "$WORK/odd"
expect_ok lt-data subsample -q "$WORK/odd/crlf.txt" -o "$WORK/odd/out.txt" --n-max 1 --n-min 1
# The subset keeps the order of the source list.
expect_equal "$(cat "$WORK/odd/out.txt")" "$(printf 'with space/a b.png 3\nc.png 1')" "CRLF list subsampled"

section "folder: an ImageFolder tree, sorted class names are the labels"
mkdir -p "$WORK/tree/root/emu/nested" "$WORK/tree/root/cat" "$WORK/tree/root/dog food" "$WORK/tree/out"
cp "$WORK/odd/c.png" "$WORK/tree/root/emu/nested/e1.PNG"
cp "$WORK/odd/c.png" "$WORK/tree/root/cat/b.png"
cp "$WORK/odd/c.png" "$WORK/tree/root/cat/a.png"
cp "$WORK/odd/c.png" "$WORK/tree/root/dog food/x y.png"
echo "not an image" >"$WORK/tree/root/cat/notes.txt"
expect_ok lt-data folder -q "$WORK/tree/root" -o "$WORK/tree/out/list.txt"
expect_equal "$(cat "$WORK/tree/out/list.txt")" "$(printf 'cat/a.png 0\ncat/b.png 0\ndog food/x y.png 1\nemu/nested/e1.PNG 2')" "folder list"
expect_equal "$(cat "$WORK/tree/out/classes.txt")" "$(printf 'cat\ndog food\nemu')" "folder classes.txt"
expect_ok lt-data check -q "$WORK/tree/out/list.txt" --root "$WORK/tree/root"
# the same list with CRLF line ends, tabs and blank lines: paths keep their
# spaces (the label is the last field)
printf 'cat/a.png\t0\r\n\r\ndog food/x y.png   1\r\n' >"$WORK/tree/out/crlf.txt"
expect_ok lt-data check -q "$WORK/tree/out/crlf.txt" --root "$WORK/tree/root"

section "folder: hidden folders and files (.ipynb_checkpoints, ._x.png) are skipped with one warning"
mkdir -p "$WORK/tree/root/.ipynb_checkpoints" "$WORK/tree/root/cat/.ipynb_checkpoints"
cp "$WORK/odd/c.png" "$WORK/tree/root/.ipynb_checkpoints/x.png"
cp "$WORK/odd/c.png" "$WORK/tree/root/cat/.ipynb_checkpoints/a-checkpoint.png"
printf 'macOS resource fork' >"$WORK/tree/root/cat/._a.png"
expect_logged lt-data folder "$WORK/tree/root" -o "$WORK/tree/out/hidden.txt" --class-names-output "$WORK/tree/out/hidden-classes.txt"
expect_equal "$(cat "$WORK/tree/out/hidden.txt")" "$(cat "$WORK/tree/out/list.txt")" "list with hidden entries present"
expect_equal "$(cat "$WORK/tree/out/hidden-classes.txt")" "$(printf 'cat\ndog food\nemu')" "classes with a hidden folder present"
expect_equal "$(grep -c warning "$LT_STDERR")" 1 "warnings about hidden entries"
expect_grep "^lt-data: warning: skipped 3 hidden folders and files \(names starting with '\.'\): \.ipynb_checkpoints, cat/\._a\.png, cat/\.ipynb_checkpoints$" "$LT_STDERR"
rm -rf "$WORK/tree/root/.ipynb_checkpoints" "$WORK/tree/root/cat/.ipynb_checkpoints" "$WORK/tree/root/cat/._a.png"

section "folder: torchvision's order (classes by bytes, whatever the locale; images by folder, then name); broken links warned"
O=$WORK/order/root
mkdir -p "$O/B" "$O/a/sub" "$O/a/sub-x" "$O/e" "$O/É"
for image in B/1.png a/b.png a/a.png a/sub/y.png a/sub-x/z.png a/sub.png e/1.png É/1.png; do cp "$WORK/odd/c.png" "$O/$image"; done
ln -s missing.png "$O/e/gone.png"
LC_ALL=$(locale -a 2>/dev/null | grep -m1 -i '^en_US\.utf-\?8$' || echo C.UTF-8) \
    expect_logged lt-data folder "$O" -o "$WORK/order/list.txt"
expect_equal "$(cat "$WORK/order/classes.txt")" "$(printf 'B\na\ne\nÉ')" "class folders in byte order"
expect_equal "$(cat "$WORK/order/list.txt")" \
    "$(printf 'B/1.png 0\na/a.png 1\na/b.png 1\na/sub.png 1\na/sub/y.png 1\na/sub-x/z.png 1\ne/1.png 2\nÉ/1.png 3')" \
    "images by folder, then by name"
expect_grep "^lt-data: warning: skipped 1 symbolic link to nothing: e/gone\.png$" "$LT_STDERR"

section "lists: comment lines, blank lines; a path alone is checked, but subsampling needs labels"
printf '# a comment, then a blank line\n\nc.png 1\n   # indented\nwith space/a b.png 3\n' >"$WORK/odd/comments.txt"
expect_ok lt-data subsample -q "$WORK/odd/comments.txt" -o "$WORK/odd/out.txt" --n-max 1 --n-min 1
expect_equal "$(cat "$WORK/odd/out.txt")" "$(printf 'c.png 1\nwith space/a b.png 3')" "subsampled list with comments"
printf 'c.png 1\nc.png\n' >"$WORK/odd/pathonly.txt"
expect_logged lt-data check "$WORK/odd/pathonly.txt" --root "$WORK/odd"
expect_grep 'all 2 images decode \(1 of them unlabelled\)' "$LT_STDERR"
expect_fail 1 "pathonly.txt line 2: 'c.png' has no label \(hint: .*lt-extract" "$WORK/out.txt" -- \
    lt-data subsample "$WORK/odd/pathonly.txt" -o "$WORK/out.txt" --n-max 1 --n-min 1

section "check: every bad line on stdout with its reason, exit 1, -o writes the good lines"
J=$LT_SRC/tests/data/photo.jpg
M=$WORK/mixed
mkdir -p "$M"
cp "$J" "$M/good.jpg"
cp "$J" "$M/good2.jpg"
head -c $(($(stat -c %s "$J") / 2)) "$J" >"$M/half.jpg"
head -c $(($(stat -c %s "$J") - 2)) "$J" >"$M/no-end.jpg"
cp "$WORK/odd/c.png" "$M/good.png"
cp "$WORK/odd/c.png" "$M/unlabelled.png"
head -c 100 "$WORK/odd/c.png" >"$M/cut.png"
printf 'garbage, not an image' >"$M/junk.png"
: >"$M/empty.png"
printf '# ten images, six of them bad\ngood.jpg 0\nhalf.jpg 1\n\ngood.png 2\ncut.png 3\nmissing.png 4\njunk.png 5\nempty.png 6\nno-end.jpg 7\nunlabelled.png\ngood2.jpg 9\n' >"$M/list.txt"
expect_fail 1 "^lt-data: error: 6 of the 10 images of .*list.txt cannot be used \(their lines are on standard output\) \(hint: -o GOOD.txt" -- \
    lt-data check "$M/list.txt" --root "$M" --workers 3
printf '%s\t%s\t%s\n' 3 half.jpg "cannot decode: broken JPEG: Premature end of JPEG file" \
    6 cut.png "cannot decode: broken PNG: the file ends early (truncated?)" \
    7 missing.png "cannot read: No such file or directory" \
    8 junk.png "cannot decode: not a readable image file" \
    9 empty.png "cannot decode: the file is empty" \
    10 no-end.jpg "cannot decode: broken JPEG: Premature end of JPEG file" >"$WORK/expected-report.tsv"
cmp -s "$LT_STDOUT" "$WORK/expected-report.tsv" || { diff "$LT_STDOUT" "$WORK/expected-report.tsv"; fail "check report"; }
expect_fail 1 "6 of the 10 images .* cannot be used .*; the other 4 lines are in .*good.txt$" -- \
    lt-data check -q "$M/list.txt" --root "$M" -o "$M/good.txt"
cmp -s "$LT_STDOUT" "$WORK/expected-report.tsv" || fail "check report with -o and -q"
expect_equal "$(cat "$M/good.txt")" "$(printf 'good.jpg 0\ngood.png 2\nunlabelled.png\ngood2.jpg 9')" "the good lines"
expect_logged lt-data check "$M/good.txt" --root "$M"
expect_grep 'all 4 images decode \(1 of them unlabelled\); image sides from 28 to 48 pixels' "$LT_STDERR"
expect_fail 2 "-o - is not possible" -- lt-data check "$M/list.txt" --root "$M" -o -
printf 'half.jpg 1\n' >"$M/all-bad.txt"
expect_fail 1 "none of the 1 images .* can be used; .*nothing.txt was not written" "$M/nothing.txt" -- \
    lt-data check "$M/all-bad.txt" --root "$M" -o "$M/nothing.txt"

section "bad input: exit 1, one error line, no output left"
printf 'c.png 1\nmissing.png 2\n' >"$WORK/odd/missing.txt"
expect_fail 1 "1 of the 2 images of .*missing.txt cannot be used" -- lt-data check "$WORK/odd/missing.txt" --root "$WORK/odd"
expect_equal "$(cat "$LT_STDOUT")" "$(printf '2\tmissing.png\tcannot read: No such file or directory')" "report of a missing image"
printf '\n\r\n' >"$WORK/empty.txt"
expect_fail 1 "has no entries" "$WORK/out.txt" -- lt-data subsample "$WORK/empty.txt" -o "$WORK/out.txt" --n-max 5 --n-min 1
printf 'a.png 1\nb.png 2\nc.png two\n' >"$WORK/word.txt"
expect_fail 1 "word.txt line 3: label 'two' is not an integer" "$WORK/out.txt" -- \
    lt-data subsample "$WORK/word.txt" -o "$WORK/out.txt" --n-max 5 --n-min 1
printf 'a.png 1\njust-a-path.png\n' >"$WORK/nolabel.txt"
expect_fail 1 "nolabel.txt line 2: 'just-a-path.png' has no label" "$WORK/out.txt" -- \
    lt-data subsample "$WORK/nolabel.txt" -o "$WORK/out.txt" --n-max 1 --n-min 1
printf 'a.png 99999999999\n' >"$WORK/huge.txt"
expect_fail 1 "huge.txt line 1: label 99999999999 is too large" -- lt-data check "$WORK/huge.txt" --root "$WORK"
printf 'a.png -1\n' >"$WORK/negative.txt"
expect_fail 1 "line 1: label -1 is negative" "$WORK/out.txt" -- lt-data check "$WORK/negative.txt" --root "$WORK"
expect_fail 1 "class 0 has 3 images; the profile asks for 50" "$WORK/out.txt" "$WORK/val.txt" -- \
    lt-data subsample "$WORK/syn/test.txt" -o "$WORK/out.txt" --n-max 50 --n-min 1 --val-per-class 1 --val-output "$WORK/val.txt"
expect_fail 1 "cannot write" -- lt-data subsample "$WORK/syn/test.txt" -o "$WORK/no/such/folder/out.txt" --n-max 2 --n-min 1
mkdir -p "$WORK/tree/root/empty class"
expect_fail 1 "empty class' has no image files" "$WORK/tree/out/list2.txt" -- lt-data folder "$WORK/tree/root" -o "$WORK/tree/out/list2.txt"
rmdir "$WORK/tree/root/empty class"

section "a failed run leaves an existing output as it was"
echo "previous" >"$WORK/kept.txt"
expect_fail 1 "not an integer" -- lt-data subsample "$WORK/word.txt" -o "$WORK/kept.txt" --n-max 5 --n-min 1
expect_equal "$(cat "$WORK/kept.txt")" previous "output after a failed run"

section "broken IDX sources"
mkdir -p "$WORK/broken"
cp "$WORK/idx/"* "$WORK/broken/"
head -c 5000 "$WORK/idx/train-images-idx3-ubyte.gz" >"$WORK/broken/train-images-idx3-ubyte.gz"
expect_fail 1 "train-images-idx3-ubyte.gz" "$WORK/fm-broken/train.txt" -- \
    lt-data fashion-mnist -o "$WORK/fm-broken" --source "$WORK/broken" --n-max 20 --n-min 2
head -c 100 "$WORK/idx/t10k-images-idx3-ubyte" >"$WORK/broken/t10k-images-idx3-ubyte"
cp "$WORK/idx/train-images-idx3-ubyte.gz" "$WORK/broken/"
expect_fail 1 "t10k-images-idx3-ubyte': IDX dimensions 30x28x28 need 23520 bytes of data, the file has 84" -- \
    lt-data fashion-mnist -o "$WORK/fm-broken" --source "$WORK/broken" --n-max 20 --n-min 2
expect_fail 1 "cannot find .*nowhere/train-images-idx3-ubyte.gz" -- lt-data fashion-mnist -o "$WORK/fm-none" --source "$WORK/nowhere"

section "a directory where an image should be; outputs all or none; a list is not its own output"
mkdir -p "$M/folder.png"
printf 'good.jpg 0\nfolder.png 1\n' >"$M/dir.txt"
for workers in 1 2; do
    expect_fail 1 "1 of the 2 images of .*dir.txt cannot be used" -- lt-data check "$M/dir.txt" --root "$M" --workers $workers
    expect_equal "$(cat "$LT_STDOUT")" "$(printf '2\tfolder.png\tcannot read: is a directory')" "report of a directory"
done
expect_fail 2 "--unlabelled 100000 is more than the [0-9]+ unused training images" "$WORK/too-many" -- \
    lt-data fashion-mnist -o "$WORK/too-many" --source "$WORK/idx" --n-max 5 --n-min 1 --unlabelled 100000
expect_fail 1 "cannot write .*no-such-folder/s.txt" "$WORK/val-left.txt" -- \
    lt-data subsample "$WORK/syn/train.txt" -o "$WORK/no-such-folder/s.txt" --n-max 2 --n-min 1 \
    --val-per-class 1 --val-output "$WORK/val-left.txt"
expect_fail 1 "cannot write .*no-such-folder/l.txt" "$WORK/classes-left.txt" -- \
    lt-data folder "$WORK/tree/root" -o "$WORK/no-such-folder/l.txt" --class-names-output "$WORK/classes-left.txt"
cp "$WORK/syn/train.txt" "$WORK/own.txt"
expect_fail 2 "own.txt is an input of this run" -- lt-data subsample "$WORK/own.txt" -o "$WORK/own.txt" --n-max 2 --n-min 1
cmp -s "$WORK/own.txt" "$WORK/syn/train.txt" || fail "subsample changed its input list"
expect_fail 2 "--output and --val-output cannot both be written to stdout" -- \
    lt-data subsample "$WORK/syn/train.txt" -o - --n-max 2 --n-min 1 --val-per-class 1 --val-output -
[ ! -s "$LT_STDOUT" ] || fail "subsample wrote to stdout before refusing two stdout outputs"
# Refused before any image is decoded: the missing image is never reported.
printf 'missing.png 0\n' >"$WORK/own-check.txt"
expect_fail 2 "own-check.txt is an input of this run" -- \
    lt-data check "$WORK/own-check.txt" --root "$WORK" -o "$WORK/own-check.txt"
[ ! -s "$LT_STDOUT" ] || fail "check decoded the images before refusing its output"

section "a rerun without --unlabelled removes the earlier run's unlabelled.txt"
expect_ok lt-data fashion-mnist -q -o "$WORK/rerun" --source "$WORK/idx" --n-max 5 --n-min 1 --unlabelled 3
expect_lines "$WORK/rerun/unlabelled.txt" 3
expect_logged lt-data fashion-mnist -o "$WORK/rerun" --source "$WORK/idx" --n-max 5 --n-min 1 --seed 7
expect_grep "removed an earlier run's .*rerun/unlabelled.txt" "$LT_STDERR"
[[ ! -e $WORK/rerun/unlabelled.txt ]] || fail "a stale unlabelled.txt was left"
mkdir -p "$WORK/loop/a"
cp "$WORK/odd/c.png" "$WORK/loop/a/c.png"
ln -s .. "$WORK/loop/a/up"
expect_fail 1 "is a symbolic link back to a folder already listed \(a loop\)" "$WORK/loop.txt" -- \
    lt-data folder "$WORK/loop" -o "$WORK/loop.txt"

section "lists naming an image twice: one warning (subsample, check) naming the lines"
printf 'c.png 1\nwith space/a b.png 3\n./c.png 1\n' >"$WORK/odd/twice.txt"
expect_logged lt-data subsample "$WORK/odd/twice.txt" -o "$WORK/odd/twice-out.txt" --n-max 1 --n-min 1
expect_grep "^lt-data: warning: 1 line of .*twice\.txt names an image listed before \(line 3 repeats line 1\): an image may be drawn twice" "$LT_STDERR"
expect_logged lt-data check "$WORK/odd/twice.txt" --root "$WORK/odd"
expect_grep "^lt-data: warning: 1 line of .*twice\.txt names an image listed before \(line 3 repeats line 1\)" "$LT_STDERR"

section "usage errors: exit 2, one line"
expect_fail 2 "give --n-min or --imbalance" "$WORK/out.txt" -- lt-data subsample "$WORK/syn/train.txt" -o "$WORK/out.txt" --n-max 5
expect_fail 2 "n_max / n_min" "$WORK/out.txt" -- lt-data subsample "$WORK/syn/train.txt" -o "$WORK/out.txt" --n-max 5 --imbalance 0.5
expect_fail 2 "--output is required" -- lt-data subsample "$WORK/syn/train.txt" --n-max 5 --n-min 1
expect_fail 2 "subcommand" -- lt-data
expect_fail 2 "not expected: shuffle" -- lt-data shuffle
expect_ok lt-data --help
expect_grep '^Examples:' "$LT_STDOUT"

section "Fashion-MNIST-LT from Debian's dataset-fashion-mnist"
if [[ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]]; then
    echo "SKIP: /usr/share/datasets/fashion-mnist is not installed"
    exit 0
fi
expect_logged lt-data fashion-mnist -o "$WORK/fm" --seed 0
expect_grep 'train: 2773 images in 10 classes: 5 many \(n > 100\), 2 medium, 3 few \(n < 20\)' "$LT_STDERR"
expect_equal "$(counts_of "$WORK/fm/train.txt")" "1280 691 373 201 108 58 31 17 9 5" "Fashion-MNIST-LT train counts"
expect_equal "$(profile 1280 "$(awk 'BEGIN { print 5 / 1280 }')" 10)" "1280 691 373 201 108 58 31 17 9 5" "the profile itself"
expect_equal "$(counts_of "$WORK/fm/val.txt")" "$(printf '20 %.0s' {1..10} | sed 's/ $//')" "val counts"
expect_equal "$(counts_of "$WORK/fm/test.txt")" "$(printf '1000 %.0s' {1..10} | sed 's/ $//')" "test counts"
expect_equal "$(head -1 "$WORK/fm/classes.txt"),$(tail -1 "$WORK/fm/classes.txt")" "T-shirt/top,Ankle boot" "class names"
[[ -z $(sort "$WORK/fm/train.txt" "$WORK/fm/val.txt" | uniq -d) ]] || fail "val shares images with train"
# Labels are not sorted by frequency: the permutation is seeded.
[[ $(grep -c ' 0$' "$WORK/fm/train.txt") -ne 1280 || $(grep -c ' 9$' "$WORK/fm/train.txt") -ne 5 ]] ||
    fail "the label permutation is the identity"
expect_ok lt-data check -q "$WORK/fm/train.txt" --root "$WORK/fm"
expect_ok lt-data fashion-mnist -q -o "$WORK/fm-again" --seed 0
cmp -s "$WORK/fm/train.txt" "$WORK/fm-again/train.txt" && cmp -s "$WORK/fm/val.txt" "$WORK/fm-again/val.txt" ||
    fail "two runs with --seed 0 give different lists"
echo "all lt-data checks passed"
