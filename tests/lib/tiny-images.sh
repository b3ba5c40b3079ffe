# A tiny Fashion-MNIST-LT-like data set for the lt-train and lt-extract tests,
# made by lt-data fashion-mnist from generated IDX files (so the images take
# the same path as the real data set). Class c is a bright centred square of
# side 4 + 2c on a noisy background: a network learns it in a few steps.
#
#   source "$LT_SRC/tests/lib/tiny-images.sh"
#   make_tiny_images DIR N_MAX N_MIN VAL_PER_CLASS N_TEST
#       DIR/{train,val,test}.txt, classes.txt and the PNGs under DIR
#
# Needs /usr/bin/python3 (Debian's; the h5py checks of the tests use it too).

make_tiny_images() {
    local folder=$1 n_max=$2 n_min=$3 val=$4 n_test=$5
    /usr/bin/python3 - "$folder/idx" $((n_max * 12 + val * 10)) "$n_test" <<'PY'
import gzip, os, random, struct, sys
folder, n_train, n_test = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
os.makedirs(folder, exist_ok=True)
rng = random.Random(7)
def image(label):
    side = 4 + 2 * label
    low = (28 - side) // 2
    return bytes(255 if low <= r < low + side and low <= c < low + side else rng.randrange(60)
                 for r in range(28) for c in range(28))
def write(prefix, n):
    labels = [i % 10 for i in range(n)]
    with gzip.open(os.path.join(folder, prefix + "-images-idx3-ubyte.gz"), "wb") as f:
        f.write(struct.pack(">iiii", 0x803, n, 28, 28) + b"".join(image(l) for l in labels))
    with gzip.open(os.path.join(folder, prefix + "-labels-idx1-ubyte.gz"), "wb") as f:
        f.write(struct.pack(">ii", 0x801, n) + bytes(labels))
write("train", n_train)
write("t10k", n_test)
PY
    lt-data fashion-mnist -q -o "$folder" --source "$folder/idx" --n-max "$n_max" --n-min "$n_min" \
        --val-per-class "$val" --seed 3
}
