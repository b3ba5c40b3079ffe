"""What a user would run instead of lt-train at ImageNet scale: a
torchvision ResNet (resnet50, resnext50_32x4d) with its linear classifier
trained from a list of images over a DataLoader with lt's imagenet train
transform (RandomResizedCrop(224), RandomHorizontalFlip, ColorJitter(0.4,
0.4, 0.4), ToTensor, Normalize), instance sampling, SGD with momentum 0.9 and
weight decay 5e-4, cosine decay per step, the last incomplete batch dropped:
lt-train --head linear --sampler instance --loss ce --preset imagenet.
On cuda as PyTorch's performance guide has it: pinned batches copied
without blocking, cuDNN autotuning, channels_last, and under --amp
torch.autocast with a GradScaler for fp16.

  python3 bench/train-imagenet-peer.py --list LIST --root DIR --arch resnet50 --device cuda \\
      --workers W --batch-size B --epochs E [--amp bf16|fp16]

Prints one line per epoch, "epoch E loss L images_per_s R" (lt-train's
--log train_images_per_s is measured the same way).
"""
import argparse
import math
import time

import torch
import torch.nn.functional as F
import torchvision
from torchvision import transforms

from listdata import ListDataset


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--list", required=True)
    parser.add_argument("--root", required=True)
    parser.add_argument("--arch", default="resnet50")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--amp", choices=("off", "bf16", "fp16"), default="off")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--lr", type=float, default=0.2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    device = torch.device(args.device)
    cuda = device.type == "cuda"
    torch.backends.cudnn.benchmark = cuda

    transform = transforms.Compose([
        transforms.RandomResizedCrop(224), transforms.RandomHorizontalFlip(),
        transforms.ColorJitter(0.4, 0.4, 0.4), transforms.ToTensor(),
        transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    dataset = ListDataset(args.list, args.root, transform)
    classes = max(int(label) for _, label in dataset.items) + 1
    loader = torch.utils.data.DataLoader(dataset, batch_size=args.batch_size, shuffle=True, drop_last=True,
                                         num_workers=args.workers, pin_memory=cuda, persistent_workers=True)
    memory_format = torch.channels_last if cuda else torch.contiguous_format
    model = getattr(torchvision.models, args.arch)(weights=None, num_classes=classes)
    model = model.to(device, memory_format=memory_format).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, weight_decay=5e-4)
    scaler = torch.cuda.amp.GradScaler(enabled=args.amp == "fp16")
    amp = dict(enabled=args.amp != "off", device_type=device.type,
               dtype=torch.float16 if args.amp == "fp16" else torch.bfloat16)
    steps = len(loader)
    total, step = args.epochs * steps, 0
    for epoch in range(args.epochs):
        started = time.perf_counter()
        loss_sum = 0.0
        for images, labels in loader:
            images = images.to(device, non_blocking=True).contiguous(memory_format=memory_format)
            labels = labels.to(device, non_blocking=True)
            for group in optimizer.param_groups:
                group["lr"] = args.lr * 0.5 * (1 + math.cos(math.pi * step / total))
            with torch.autocast(**amp):
                logits = model(images)
            loss = F.cross_entropy(logits.float(), labels)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            loss_sum += loss.item()
            step += 1
        seconds = time.perf_counter() - started
        print(f"epoch {epoch + 1} loss {loss_sum / steps:.4f} images_per_s {steps * args.batch_size / seconds:.1f}",
              flush=True)


if __name__ == "__main__":
    main()
