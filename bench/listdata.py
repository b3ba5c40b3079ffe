"""The list-file data set of the PyTorch peers: OLTR-style lines
"<relative path> <label>", images decoded with Pillow as RGB."""
import torch
from PIL import Image


class ListDataset(torch.utils.data.Dataset):
    def __init__(self, list_path, root, transform):
        with open(list_path) as f:
            self.items = [line.rsplit(None, 1) for line in f if line.strip()]
        self.root, self.transform = root, transform

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        path, label = self.items[i]
        with open(f"{self.root}/{path}", "rb") as f:
            image = Image.open(f).convert("RGB")
        return self.transform(image), int(label)
