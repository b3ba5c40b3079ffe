#!/usr/bin/python3
"""Check that lt's backbones compute torchvision's features.

For each architecture, builds the torchvision model from a fixed seed (no
downloads), gives its BatchNorm layers non-trivial affine parameters and
running statistics, exports the state dict to HDF5 in the --init format
(one dataset per key, named with its dots, at the root), and saves a batch of
preprocessed images with torchvision's pooled features (eval mode). Then runs
the C++ side, the doctest case "models: features equal torchvision's" of
unit_learn, which loads the weights into lt::models, checks the key order
and the load report, and compares the features (max abs difference <= 1e-4).

Needs Debian's python3-torch, python3-torchvision and python3-h5py.

    tests/torchvision/check_features.py --unit-tests build/tests/unit_learn
"""
import argparse
import os
import subprocess
import sys
import tempfile

import h5py
import torch
import torchvision.models as tvm

ARCHS = {"resnet18": tvm.resnet18, "resnet50": tvm.resnet50, "resnext50_32x4d": tvm.resnext50_32x4d}


def randomized_model(arch, seed):
    """torchvision's init, then BatchNorm layers that are not the identity:
    random affine parameters and running statistics measured on random images
    (so a buffer loaded wrongly changes the features)."""
    torch.manual_seed(seed)
    model = ARCHS[arch]()
    batch_norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    with torch.no_grad():
        for bn in batch_norms:
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.normal_(0.0, 0.1)
            bn.momentum = None  # cumulative average over the calibration batches
        model.train()
        for _ in range(2):
            model(torch.randn(8, 3, 224, 224))
    model.eval()
    return model


def write_files(arch, seed, batch, folder):
    model = randomized_model(arch, seed)
    weights_path = os.path.join(folder, f"{arch}-weights.h5")
    reference_path = os.path.join(folder, f"{arch}-reference.h5")
    # Exactly the export documented for --init.
    with h5py.File(weights_path, "w") as f:
        for k, v in model.state_dict().items():
            f[k] = v.numpy()
    images = torch.randn(batch, 3, 224, 224)
    keys = [k for k in model.state_dict() if not k.startswith("fc.")]
    model.fc = torch.nn.Identity()
    with torch.no_grad():
        features = model(images)
    with h5py.File(reference_path, "w") as f:
        f.attrs["arch"] = arch
        f["images"] = images.numpy()
        f["features"] = features.numpy()
        f.create_dataset("keys", data=keys, dtype=h5py.string_dtype())
    return weights_path, reference_path, features


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--unit-tests", required=True, help="path of the unit_learn test binary")
    parser.add_argument("--archs", default="resnet18,resnet50", help="comma-separated, of: " + ", ".join(ARCHS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--keep", metavar="DIR", help="write the HDF5 files here and keep them")
    args = parser.parse_args()

    folder = args.keep or tempfile.mkdtemp(prefix="lt-torchvision-")
    os.makedirs(folder, exist_ok=True)
    failed = []
    for arch in args.archs.split(","):
        weights, reference, features = write_files(arch, args.seed, args.batch, folder)
        env = dict(os.environ, LT_TORCHVISION_WEIGHTS=weights, LT_TORCHVISION_REFERENCE=reference)
        run = subprocess.run([args.unit_tests, "--no-skip", "--test-case=models: features equal torchvision's"],
                             env=env, capture_output=True, text=True)
        line = next((l for l in run.stdout.splitlines() if l.startswith(arch + ":")), "(no result line)")
        status = "ok" if run.returncode == 0 else "FAILED"
        print(f"{status} {line} [torchvision |features| max {features.abs().max().item():.3g}]")
        if run.returncode != 0:
            failed.append(arch)
            sys.stdout.write(run.stdout + run.stderr)
    if not args.keep:
        for name in os.listdir(folder):
            os.remove(os.path.join(folder, name))
        os.rmdir(folder)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
