"""What a user would run instead of lt-train on the default recipe
(fashion-mnist-lt): the whole training list decoded once into memory, then a
plain PyTorch loop with the same computation as lt-train's recipe: a
CIFAR-style ResNet-20 at 28 px with torchvision-style projection shortcuts,
a cosine classifier with a learnable scale, square-root sampling, pad-4 random
crop and horizontal flip done on the batch tensor, ImageNet normalisation,
SGD with momentum 0.9 and weight decay 5e-4, a linear warm-up then cosine
decay per step, the last incomplete batch dropped.

  python3 bench/train-peer.py --list LIST --root DIR --threads T [--epochs E] [--batch-size B]
      [--channels-last]

Prints one line per epoch, "epoch E loss L images_per_s R", the rate over the
epoch's steps as lt-train's --log computes it (train_images_per_s).
"""
import argparse
import math
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image


def conv3x3(cin, cout, stride=1):
    return nn.Conv2d(cin, cout, 3, stride, 1, bias=False)


class Block(nn.Module):
    def __init__(self, cin, planes, stride):
        super().__init__()
        self.conv1, self.bn1 = conv3x3(cin, planes, stride), nn.BatchNorm2d(planes)
        self.conv2, self.bn2 = conv3x3(planes, planes), nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or cin != planes:
            self.downsample = nn.Sequential(nn.Conv2d(cin, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)), inplace=True)
        out = self.bn2(self.conv2(out))
        out += x if self.downsample is None else self.downsample(x)
        return F.relu(out, inplace=True)


class ResNet20(nn.Module):
    def __init__(self, classes):
        super().__init__()
        self.conv1, self.bn1 = conv3x3(3, 16), nn.BatchNorm2d(16)
        layers, cin = [], 16
        for planes, stride in ((16, 1), (32, 2), (64, 2)):
            layers.append(nn.Sequential(*[Block(cin if i == 0 else planes, planes, stride if i == 0 else 1)
                                          for i in range(3)]))
            cin = planes
        self.layer1, self.layer2, self.layer3 = layers
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        bound = 1 / math.sqrt(64)
        self.weight = nn.Parameter(torch.empty(classes, 64).uniform_(-bound, bound))
        self.scale = nn.Parameter(torch.tensor(16.0))

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)), inplace=True)
        x = self.layer3(self.layer2(self.layer1(x)))
        features = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.scale * F.normalize(features) @ F.normalize(self.weight).t()


def load(list_path, root):
    with open(list_path) as f:
        items = [line.rsplit(None, 1) for line in f if line.strip()]
    images = np.stack([np.asarray(Image.open(f"{root}/{path}").convert("RGB")) for path, _ in items])
    return torch.from_numpy(images).permute(0, 3, 1, 2).contiguous(), torch.tensor([int(l) for _, l in items])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--list", required=True)
    parser.add_argument("--root", required=True)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--warmup-epochs", type=float, default=1)
    parser.add_argument("--channels-last", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    images, labels = load(args.list, args.root)
    classes = sorted(set(labels.tolist()))
    row = torch.full((max(classes) + 1,), -1, dtype=torch.long)
    row[classes] = torch.arange(len(classes))
    targets_all = row[labels]
    counts = torch.bincount(targets_all).double()
    per_image = (counts.sqrt() / counts.sqrt().sum() / counts)[targets_all]  # sqrt sampling
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)

    model = ResNet20(len(classes))
    memory_format = torch.channels_last if args.channels_last else torch.contiguous_format
    model = model.to(memory_format=memory_format)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, weight_decay=5e-4)
    n, batch = len(labels), args.batch_size
    steps = n // batch
    total, warmup = args.epochs * steps, round(args.warmup_epochs * steps)
    step = 0
    offsets = torch.arange(28)
    for epoch in range(args.epochs):
        started = time.perf_counter()
        order = torch.multinomial(per_image, n, replacement=True)
        loss_sum = 0.0
        for s in range(steps):
            index = order[s * batch:(s + 1) * batch]
            x = F.pad(images[index].float().div_(255), (4, 4, 4, 4))
            top, left = torch.randint(0, 9, (batch,)), torch.randint(0, 9, (batch,))
            rows = (top[:, None] + offsets)[:, None, :, None].expand(batch, 3, 28, 36)
            cols = (left[:, None] + offsets)[:, None, None, :].expand(batch, 3, 28, 28)
            x = x.gather(2, rows).gather(3, cols)
            flip = torch.rand(batch) < 0.5
            x = torch.where(flip[:, None, None, None], x.flip(3), x)
            x = ((x - mean) / std).contiguous(memory_format=memory_format)
            lr = (args.lr * (step + 1) / warmup if step < warmup
                  else args.lr * 0.5 * (1 + math.cos(math.pi * (step - warmup) / (total - warmup))))
            for group in optimizer.param_groups:
                group["lr"] = lr
            loss = F.cross_entropy(model(x), targets_all[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            loss_sum += loss.item()
            step += 1
        seconds = time.perf_counter() - started
        print(f"epoch {epoch + 1} loss {loss_sum / steps:.4f} images_per_s {steps * batch / seconds:.1f}", flush=True)


if __name__ == "__main__":
    main()
