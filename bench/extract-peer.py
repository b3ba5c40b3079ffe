"""What a user would run instead of lt-extract: torchvision's ResNet in eval
mode over a DataLoader with the standard eval transform (Resize(256),
CenterCrop(224), ToTensor, Normalize), features of the pooled layer.

  python3 bench/extract-peer.py --list LIST --root DIR --weights W.h5 \
      --arch resnet50 --threads T --workers T --batch-size B [--out feats.npy]
      [--device cuda [--amp bf16|fp16] [--channels-last]]

W.h5 holds a state dict in lt's --init layout (one dataset per key). Prints
"images N seconds S images_per_s R" for the loop over the batches (model
loading and the first worker start-up excluded, as lt-extract's own figure).
On cuda it does what PyTorch's performance guide asks: pinned batches
copied without blocking, cuDNN autotuning, autocast under --amp (features
returned as float32).
"""
import argparse
import time

import h5py
import numpy as np
import torch
import torchvision
from torchvision import transforms

from listdata import ListDataset


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--list", required=True)
    parser.add_argument("--root", required=True)
    parser.add_argument("--weights", required=True)
    parser.add_argument("--arch", default="resnet50")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--amp", choices=("off", "bf16", "fp16"), default="off")
    parser.add_argument("--out")
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.backends.cudnn.benchmark = device.type == "cuda"

    torch.set_num_threads(args.threads)
    model = getattr(torchvision.models, args.arch)(weights=None)
    with h5py.File(args.weights, "r") as f:
        state = {k: torch.as_tensor(np.asarray(f[k][()])) for k in f if not k.startswith("fc.")}
    model.load_state_dict(state, strict=False)
    model.fc = torch.nn.Identity()
    model.eval().to(device)
    if args.channels_last:
        model = model.to(memory_format=torch.channels_last)
    transform = transforms.Compose([
        transforms.Resize(256), transforms.CenterCrop(224), transforms.ToTensor(),
        transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    loader = torch.utils.data.DataLoader(ListDataset(args.list, args.root, transform), batch_size=args.batch_size,
                                         num_workers=args.workers, shuffle=False,
                                         pin_memory=device.type == "cuda")
    amp = dict(enabled=args.amp != "off", device_type=device.type,
               dtype=torch.float16 if args.amp == "fp16" else torch.bfloat16)
    features, images = [], 0
    with torch.no_grad():
        iterator = iter(loader)
        started = time.perf_counter()
        for batch, _ in iterator:
            batch = batch.to(device, non_blocking=True)
            if args.channels_last:
                batch = batch.contiguous(memory_format=torch.channels_last)
            with torch.autocast(**amp):
                features.append(model(batch).float().cpu().numpy())
            images += batch.shape[0]
    seconds = time.perf_counter() - started
    print(f"images {images} seconds {seconds:.3f} images_per_s {images / seconds:.3f}")
    if args.out:
        np.save(args.out, np.concatenate(features))


if __name__ == "__main__":
    main()
