#!/usr/bin/env python3
"""Export a torchvision model's state dict to lt's --init format (docs/design.md):
one HDF5 dataset per state-dict key, named by the key with its dots
(/conv1.weight, /layer1.0.bn1.running_mean, ...). lt-train --init and
lt-extract --arch A --init read it; torchvision's fc.* head is ignored.

  export_torchvision.py --arch resnet50 -o resnet50.h5                 # random weights
  export_torchvision.py --arch resnet152 --pretrained -o r152.h5       # downloads ImageNet weights
  export_torchvision.py --arch resnet101 --state-dict simclr.pth -o r101-simclr.h5

--state-dict loads a checkpoint (a state dict, or a dict holding one under
"state_dict" or "model"; "module." and "backbone." prefixes are removed).
Needs torch, torchvision and h5py (Debian: python3-torchvision python3-h5py).
"""

import argparse
import sys

import h5py
import torch
import torchvision


def export(state_dict, path):
    # The whole format: for k, v in m.state_dict().items(): f[k] = v.numpy()
    with h5py.File(path, "w") as f:
        for key, value in state_dict.items():
            f[key] = value.detach().cpu().numpy()


def load_checkpoint(path):
    state = torch.load(path, map_location="cpu")
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    cleaned = {}
    for key, value in state.items():
        for prefix in ("module.", "backbone.", "encoder."):
            if key.startswith(prefix):
                key = key[len(prefix):]
        cleaned[key] = value
    return cleaned


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch", default="resnet50", help="a torchvision.models constructor (resnet50, resnext50_32x4d, ...)")
    ap.add_argument("--pretrained", action="store_true", help="torchvision's ImageNet weights (downloads them)")
    ap.add_argument("--state-dict", help="a .pth checkpoint to export instead")
    ap.add_argument("--seed", type=int, default=0, help="for random weights")
    ap.add_argument("-o", "--output", required=True)
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    if a.state_dict:
        state = load_checkpoint(a.state_dict)
    else:
        constructor = getattr(torchvision.models, a.arch)
        model = constructor(weights="DEFAULT") if a.pretrained else constructor(weights=None)
        state = model.state_dict()
    export(state, a.output)
    print("%s: %d tensors" % (a.output, len(state)), file=sys.stderr)


if __name__ == "__main__":
    main()
