#!/usr/bin/python3
"""Check that lt decodes and preprocesses images as torchvision does.

Writes images of many kinds with PIL (JPEG: colour, grey, CMYK, with an EXIF
orientation; PNG: RGB at odd sizes, grey, palette with and without
transparency, grey+alpha, RGBA, 1 x 1, long thin strips; BMP, PPM, TIFF,
WebP), and for each the input tensor of torchvision's eval pipeline:
pil_loader (Image.open(...).convert("RGB")), Resize(s), CenterCrop(size),
ToTensor, Normalize(ImageNet mean, std), at the sizes of lt's presets
(imagenet 224: s = 256; small 32: s = 32; imagenet 64: s = 73). Then runs
the C++ side, the doctest case "eval transform equals torchvision's" of
unit_image, which must give the same floats (max abs difference <= 1e-6).

16-bit grey PNGs are left out: PIL clips their values to 255 where lt keeps
the high byte (docs/design.md).

Needs Debian's python3-torchvision (and with it python3-pil, python3-numpy).

    tests/torchvision/check_preprocessing.py --unit-tests build/tests/unit_image
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import torchvision.transforms as T
from PIL import Image

SETTINGS = [("imagenet", 224, 256), ("small", 32, 32), ("imagenet", 64, 73)]


def write_images(folder):
    rng = np.random.default_rng(0)

    def noise(h, w, c=3):
        return rng.integers(0, 256, (h, w, c) if c else (h, w), dtype=np.uint8)

    def smooth(h, w):
        y, x = np.mgrid[0:h, 0:w]
        return np.stack([x * 255 // max(w - 1, 1), y * 255 // max(h - 1, 1), (x + y) * 7 % 256], -1).astype(np.uint8)

    def path(name):
        return os.path.join(folder, name)

    Image.fromarray(smooth(375, 500)).save(path("colour.jpg"), quality=90)
    Image.fromarray(smooth(300, 400)).convert("L").save(path("grey.jpg"))
    Image.fromarray(smooth(400, 300)).convert("CMYK").save(path("cmyk.jpg"), quality=95)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90": PIL's loader, like lt, ignores it
    Image.fromarray(smooth(200, 300)).save(path("exif-rotated.jpg"), exif=exif.tobytes(), quality=95)
    Image.fromarray(noise(333, 517)).save(path("wide.png"))
    Image.fromarray(noise(517, 333)).save(path("tall.png"))
    Image.fromarray(noise(257, 255)).save(path("odd.png"))
    Image.fromarray(noise(240, 320, 0)).save(path("grey.png"))
    Image.fromarray(noise(250, 260, 0)).convert("P").save(path("palette.png"))
    Image.fromarray(noise(250, 260)).convert("P", palette=Image.ADAPTIVE).save(path("palette-trns.png"), transparency=0)
    Image.fromarray(noise(230, 260, 0)).convert("LA").save(path("grey-alpha.png"))
    Image.fromarray(noise(300, 301, 4), "RGBA").save(path("rgba.png"))
    Image.fromarray(noise(1, 1)).save(path("one-pixel.png"))
    Image.fromarray(noise(10, 7)).save(path("tiny.png"))
    Image.fromarray(noise(5, 20000)).save(path("strip.png"))
    Image.fromarray(noise(2999, 9)).save(path("tall-strip.png"))
    Image.fromarray(noise(300, 300)).save(path("image.bmp"))
    Image.fromarray(noise(100, 120)).save(path("image.ppm"))
    Image.fromarray(noise(90, 120)).save(path("image.tif"))
    Image.fromarray(noise(90, 120)).save(path("image.webp"), lossless=True)
    return sorted(os.listdir(folder))


def reference(image_path, size, side):
    transform = T.Compose([T.Resize(side), T.CenterCrop(size), T.ToTensor(),
                           T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    with open(image_path, "rb") as f:
        return transform(Image.open(f).convert("RGB")).numpy()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--unit-tests", required=True, help="path of the unit_image test binary")
    parser.add_argument("--keep", metavar="DIR", help="write the files here and keep them")
    args = parser.parse_args()

    folder = args.keep or tempfile.mkdtemp(prefix="lt-preprocessing-")
    images = os.path.join(folder, "images")
    os.makedirs(images, exist_ok=True)
    names = write_images(images)
    # One line per case: "<image> <preset> <size> <reference.f32>".
    with open(os.path.join(folder, "cases.txt"), "w") as cases:
        for name in names:
            for preset, size, side in SETTINGS:
                out = os.path.join(folder, f"{name}.{preset}{size}.f32")
                reference(os.path.join(images, name), size, side).astype("<f4").tofile(out)
                cases.write(f"{os.path.join(images, name)} {preset} {size} {out}\n")
    env = dict(os.environ, LT_TORCHVISION_PREPROCESSING=os.path.join(folder, "cases.txt"))
    run = subprocess.run([args.unit_tests, "--no-skip", "--test-case=eval transform equals torchvision's"],
                         env=env, capture_output=True, text=True)
    sys.stdout.write(run.stdout if run.returncode == 0 else run.stdout + run.stderr)
    if not args.keep:
        shutil.rmtree(folder)
    return run.returncode


if __name__ == "__main__":
    sys.exit(main())
