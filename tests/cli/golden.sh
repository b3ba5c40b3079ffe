#!/usr/bin/env bash
# Golden outputs: one or more runs of every tool on fixed inputs, compared
# with tests/golden/<case>.txt: the exit status, stdout and stderr (every
# line: an unexpected warning fails too) and each output file as text
# (tests/lib/h5_golden.py; provenance fixed with LT_PROVENANCE=fixed).
# Volatile text is masked: times, rates, memory sizes, the build's commit;
# numbers printed with five or more decimals are shown with 4 significant
# digits (the last bits of a sum depend on the BLAS kernel), and two such
# numbers within a relative 1e-3 count as equal (a rounding boundary that
# another CPU's kernel crosses: tests/lib/golden_numbers.py).
#
#   bash tests/cli/golden.sh                      # compare
#   LT_GOLDEN_UPDATE=1 bash tests/cli/golden.sh   # rewrite tests/golden/
#
# A change of output shows as a diff of the golden file; review it and
# commit the rewritten file with the change that caused it.
source "$(dirname "$0")/../lib/cli.sh"
source "$LT_SRC/tests/lib/tiny-images.sh"

GOLDEN=$LT_SRC/tests/golden
UPDATE=${LT_GOLDEN_UPDATE:-0}
export LT_PROVENANCE=fixed
cd "$WORK"

mask() {
    sed -E -e "s#$WORK/?##g" \
        -e 's/commit [0-9a-f]{7,}/commit <commit>/g' \
        -e 's/[0-9]+(\.[0-9]+)? ?(images|rows|samples|it)\/s/<rate> \2\/s/g' \
        -e 's/[0-9]+(\.[0-9]+)? ?(KiB|MiB|GiB|kB|MB|GB)\b/<size> \2/g' \
        -e 's/\b[0-9]+(\.[0-9]+)? ?(s|ms|min)\b/<time>/g' \
        -e 's/ETA [0-9:]+/ETA <time>/g' |
        perl -pe 's/(-?[0-9]+\.[0-9]{5,}(?:e[-+]?[0-9]+)?)/sprintf("%.4g", $1)/ge'
}

failed=()
seen=()

# golden NAME [OUTPUT | ~OUTPUT]... -- COMMAND...
#   runs COMMAND in the work folder and compares what it did with
#   tests/golden/NAME.txt; each OUTPUT file is printed whole, ~OUTPUT without
#   its float values (network weights, extracted features).
golden() {
    local name=$1 outputs=()
    shift
    while [[ $1 != -- ]]; do outputs+=("$1"); shift; done
    shift
    seen+=("$name")
    local status=0
    "$@" >"$WORK/.out" 2>"$WORK/.err" </dev/null || status=$?
    {
        echo "\$ $*"
        echo "exit $status"
        echo "--- stdout"
        mask <"$WORK/.out"
        echo "--- stderr"
        mask <"$WORK/.err"
        local output file flags
        for output in "${outputs[@]}"; do
            file=${output#\~}
            flags=()
            [[ $output == \~* ]] && flags=(--structure)
            echo "--- file $file"
            if [[ -f $file ]]; then
                /usr/bin/python3 "$LT_SRC/tests/lib/h5_golden.py" "${flags[@]}" "$file" 2>&1 || echo "(not HDF5)"
            else
                echo "(missing)"
            fi
        done
    } >"$WORK/.got"
    if [[ $UPDATE == 1 ]]; then
        cp "$WORK/.got" "$GOLDEN/$name.txt"
    elif [[ ! -f $GOLDEN/$name.txt ]]; then
        echo "FAIL: $name: no tests/golden/$name.txt (LT_GOLDEN_UPDATE=1 writes it)" >&2
        failed+=("$name")
    elif ! diff -u "$GOLDEN/$name.txt" "$WORK/.got" >"$WORK/.diff" &&
        ! /usr/bin/python3 "$LT_SRC/tests/lib/golden_numbers.py" "$GOLDEN/$name.txt" "$WORK/.got"; then
        echo "FAIL: $name differs from tests/golden/$name.txt:" >&2
        head -n 60 "$WORK/.diff" >&2
        failed+=("$name")
    fi
}

section "inputs: generated features (tests/ref/gen.py), tiny images (lt-data)"
/usr/bin/python3 "$LT_SRC/tests/ref/gen.py" data g >/dev/null || fail "gen.py"
make_tiny_images img 24 3 2 20
NET=(--arch resnet20 --preset small --image-size 16 --threads 1 --workers 1)

section "lt-data"
golden data-subsample -- lt-data subsample img/train.txt -o sub.txt --n-max 6 --n-min 2 --seed 1
golden data-subsample-list -- cat sub.txt
head -c 120 "img/$(head -n 1 img/test.txt | cut -d' ' -f1)" >img/cut.png
{ head -n 3 img/test.txt; echo "no/such.png 1"; echo "cut.png 2"; } >broken.txt
golden data-check-bad -- lt-data check broken.txt --root img --threads 1 -o good.txt
golden data-check-good -- cat good.txt
golden data-usage -- lt-data subsample img/train.txt -o sub2.txt --n-max 0

section "lt-train, lt-extract (structure only: weights depend on the kernels)"
golden train ~model.h5 -- lt-train -q --train-list img/train.txt --root img -o model.h5 "${NET[@]}" \
    --batch-size 16 --lr 0.05 --epochs 1
golden train-usage -- lt-train --train-list img/train.txt --root img -o m2.h5 --epochs 0
golden extract ~feats.h5 -- lt-extract -q --model model.h5 --list img/test.txt --root img -o feats.h5 --threads 1 --workers 1
golden extract-missing -- lt-extract --model no-such.h5 --list img/test.txt --root img -o f2.h5

section "lt-protos, lt-attend, lt-ensemble"
golden protos protos.h5 -- lt-protos g/train.h5 -o protos.h5
golden protos-bad -- lt-protos g/clf.h5 -o p2.h5
golden attend wh0.h5 wh5.h5 -- lt-attend --classifier g/model.h5 --protos protos.h5 -k 0,5 -o 'wh{k}.h5'
golden attend-usage -- lt-attend --classifier g/model.h5 --protos protos.h5 -k 0,5 -o wh.h5
golden ensemble ensemble.h5 -- lt-ensemble wh0.h5 wh5.h5 -o ensemble.h5

section "lt-eval: every format"
for format in table tsv csv json markdown; do
    golden "eval-$format" -- lt-eval g/test.h5 g/clf.h5 wh5.h5 ensemble.h5 --format "$format"
done
golden eval-predictions predictions.h5 -- lt-eval g/test.h5 wh5.h5 --predictions predictions.h5
golden eval-old-classes -- lt-eval g/test.h5 g/clf_old.h5
golden eval-bad -- lt-eval g/test.h5 g/train.h5

golden eval-per-class -- lt-eval g/test.h5 wh5.h5 --per-class per-class.tsv --top5 --format tsv
golden eval-per-class-tsv -- cat per-class.tsv
golden eval-top-k predictions-k.h5 -- lt-eval g/test.h5 wh5.h5 --predictions predictions-k.h5 --top-k 3

section "lt-adjust, lt-retrain"
golden adjust tau0.5.h5 -- lt-adjust --classifier g/model.h5 -p 0.5 -o tau0.5.h5
golden adjust-logit la1.h5 -- lt-adjust --classifier g/model.h5 -T 1 -o la1.h5
golden adjust-eval -- lt-eval g/test.h5 g/model.h5 tau0.5.h5 la1.h5
golden adjust-ensemble -- lt-adjust --classifier ensemble.h5 -p 1 -o bad.h5
golden retrain ~crt.h5 -- lt-retrain g/train.h5 --classifier g/model.h5 --method crt --epochs 2 --threads 1 -o crt.h5
golden retrain-usage -- lt-retrain g/train.h5 --classifier g/model.h5 --method nope -o lws.h5

section "lt-compat, lt-project, lt-wordnet"
golden compat-mismatch -- lt-compat --classifier g/model.h5 --protos protos.h5 --mismatch
golden compat-sharpness -- lt-compat --classifier g/model.h5 --protos protos.h5 --sharpness
golden compat-neighbours -- lt-compat --classifier g/model.h5 --protos protos.h5 --neighbours 3 --class-names g/classes.txt
golden project -- lt-project --features g/test.h5 --classifier g/model.h5 --protos protos.h5 --final wh5.h5
golden wordnet-pair -- lt-wordnet --pair dog.n.01 cat.n.01
golden wordnet-unknown -- lt-wordnet --pair dog.n.01 no_such_word.n.01

section "lt-info"
golden info -- lt-info protos.h5 ensemble.h5
golden info-json -- lt-info --json wh5.h5
golden info-broken -- lt-info broken.txt

section "every golden file belongs to a case"
for file in "$GOLDEN"/*.txt; do
    name=$(basename "$file" .txt)
    [[ " ${seen[*]} " == *" $name "* ]] || { echo "FAIL: tests/golden/$name.txt has no case" >&2; failed+=("$name"); }
done

if [[ $UPDATE == 1 ]]; then
    echo "rewrote ${#seen[@]} golden files in tests/golden/"
elif ((${#failed[@]})); then
    fail "${#failed[@]} of ${#seen[@]} golden cases differ: ${failed[*]}"
else
    echo "golden: ${#seen[@]} cases match"
fi
