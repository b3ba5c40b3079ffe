"""Synthetic inputs of the image benchmarks: N JPEGs of ImageNet's typical
size (500 x 375), smooth noise with grain (so they compress like photos), in
WORK/images, listed in WORK/list.txt with labels i % CLASSES, and for each
ARCH torchvision's initial weights (seed 0) in lt's --init layout,
WORK/ARCH.h5 (one dataset per state-dict key).

  python3 bench/jpegs.py WORK N CLASSES [ARCH ...]
"""
import os
import sys

import h5py
import numpy as np
from PIL import Image, ImageFilter


def main():
    work, n, classes, archs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
    rng = np.random.default_rng(0)
    os.makedirs(f"{work}/images", exist_ok=True)
    with open(f"{work}/list.txt", "w") as f:
        for i in range(n):
            coarse = Image.fromarray(rng.integers(0, 256, (47, 63, 3), dtype=np.uint8))
            image = np.asarray(coarse.resize((500, 375), Image.BICUBIC).filter(ImageFilter.GaussianBlur(1)), int)
            image = np.clip(image + rng.integers(-20, 20, image.shape), 0, 255).astype(np.uint8)
            Image.fromarray(image).save(f"{work}/images/{i:05d}.jpg", quality=90)
            f.write(f"images/{i:05d}.jpg {i % classes}\n")
    if archs:
        import torch
        import torchvision
        for arch in archs:
            torch.manual_seed(0)
            with h5py.File(f"{work}/{arch}.h5", "w") as f:
                for key, value in getattr(torchvision.models, arch)(weights=None).state_dict().items():
                    f[key] = value.numpy()


if __name__ == "__main__":
    main()
