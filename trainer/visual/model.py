"""The phantom localizer: a small U-Net-style CNN with a lesion heatmap head and an
image-level confidence head (probability that a lesion is present).

Input: 1×1×128×128 grayscale, normalized (x/255 − 0.5)/0.5. Outputs: `heatmap`
1×1×64×64 (per-cell lesion probability) and `prob` 1×1.
"""
import torch
from torch import nn
import torch.nn.functional as F


def block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
    )


class Localizer(nn.Module):
    def __init__(self, w: int = 16):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, w, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True))  # 64
        self.e1 = block(w, w * 2)          # 64
        self.e2 = block(w * 2, w * 3)      # 32
        self.e3 = block(w * 3, w * 4)      # 16
        self.e4 = block(w * 4, w * 4)      # 8
        self.d3 = block(w * 8, w * 4)      # 16
        self.d2 = block(w * 7, w * 3)      # 32
        self.d1 = block(w * 5, w * 2)      # 64
        self.head = nn.Conv2d(w * 2, 1, 1)
        self.cls = nn.Linear(w * 8 + 1, 1)

    def forward(self, x: torch.Tensor):
        s = self.stem(x)
        e1 = self.e1(s)
        e2 = self.e2(F.max_pool2d(e1, 2))
        e3 = self.e3(F.max_pool2d(e2, 2))
        e4 = self.e4(F.max_pool2d(e3, 2))
        d3 = self.d3(torch.cat([F.interpolate(e4, scale_factor=2.0, mode='nearest'), e3], 1))
        d2 = self.d2(torch.cat([F.interpolate(d3, scale_factor=2.0, mode='nearest'), e2], 1))
        d1 = self.d1(torch.cat([F.interpolate(d2, scale_factor=2.0, mode='nearest'), e1], 1))
        logits = self.head(d1)
        pooled = torch.cat([e4.mean(dim=(2, 3)), e4.amax(dim=(2, 3)), logits.amax(dim=(2, 3))], 1)
        cls_logit = self.cls(pooled)
        return logits, cls_logit


class Exported(nn.Module):
    """What goes into the ONNX file: probabilities, not logits."""

    def __init__(self, m: Localizer):
        super().__init__()
        self.m = m

    def forward(self, image: torch.Tensor):
        logits, cls_logit = self.m(image)
        return torch.sigmoid(logits), torch.sigmoid(cls_logit)
