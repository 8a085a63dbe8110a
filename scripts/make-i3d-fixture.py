#!/usr/bin/python3
"""Makes test/fixtures/i3d/: a tiny TorchScript detector with the calling contract of StyleGAN-V's
i3d_torchscript.pt (forward(x, rescale, resize, return_features) on [N, 3, T, H, W]; features
before the softmax when return_features), the features of fixed clips after the field's FVD
preprocessing (short side to 224, bilinear without corner alignment, centre crop, [0, 1] to
[-1, 1]), and the Fréchet distance of sets a and b, all in float64 here.

Like the real file, the detector scales 0-255 inputs to [-1, 1] itself when rescale is true and
resizes to 224x224 itself when resize is true; the FVD code passes both false after its own
preprocessing, so a caller that passes rescale=True gets other features (resize is the
identity on 224x224 input, here as there). Run with Debian's
python3-torch (apt-get install python3-torch):

    /usr/bin/python3 scripts/make-i3d-fixture.py test/fixtures/i3d
"""
import json
import math
import os
import sys

import torch
import torch.nn.functional as F

OUT = sys.argv[1] if len(sys.argv) > 1 else 'test/fixtures/i3d'
os.makedirs(OUT, exist_ok=True)
torch.manual_seed(2018)
FEATURES = 6


class TinyI3D(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv3d(3, 8, kernel_size=(3, 7, 7), stride=(1, 4, 4), padding=(1, 3, 3))
        self.conv2 = torch.nn.Conv3d(8, 12, kernel_size=3, stride=2, padding=1)
        self.proj = torch.nn.Linear(12, FEATURES)
        self.logits = torch.nn.Linear(FEATURES, 10)

    def forward(self, x: torch.Tensor, rescale: bool = False, resize: bool = False, return_features: bool = False) -> torch.Tensor:
        if rescale:
            x = x / 127.5 - 1
        if resize:
            x = F.interpolate(x, size=(x.shape[2], 224, 224), mode='trilinear', align_corners=False)
        h = torch.relu(self.conv1(x))
        h = torch.relu(self.conv2(h))
        # sin makes a clip's features depend on more than a mean colour
        features = torch.sin(self.proj(h.mean(dim=[2, 3, 4])) * 10) * 3
        if return_features:
            return features
        return torch.softmax(self.logits(features), dim=1)


def clip(k, frames, width, height):
    """Clip k as uint8 [T, H, W, 3]: an integer pattern (the test makes the same bytes)."""
    t = torch.arange(frames).view(-1, 1, 1, 1)
    y = torch.arange(height).view(1, -1, 1, 1)
    x = torch.arange(width).view(1, 1, -1, 1)
    c = torch.arange(3).view(1, 1, 1, -1)
    pattern = (x * x * 3 + y * y * 5 + x * y * (k + 1) + t * 17 * (k + 2) + c * 60 + k * 31) % 256
    return (pattern * (k % 4 + 1) // 4 + (k % 3) * 20).to(torch.uint8)  # brightness and offset vary with k


def preprocess(video):
    """uint8 [T, H, W, 3] -> float64 [3, T, 224, 224] in [-1, 1], as the field's FVD code prepares a clip."""
    v = video.permute(3, 0, 1, 2).double() / 255  # C T H W
    _, _, h, w = v.shape
    scale = 224 / min(h, w)
    size = (224, math.ceil(w * scale)) if h < w else (math.ceil(h * scale), 224)
    v = F.interpolate(v, size=size, mode='bilinear', align_corners=False)
    _, _, h, w = v.shape
    top, left = (h - 224) // 2, (w - 224) // 2
    v = v[:, :, top:top + 224, left:left + 224]
    return (v - 0.5) * 2


def frechet(a, b):
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = torch.cov(a.T), torch.cov(b.T)
    values, vectors = torch.linalg.eigh(cov_a)
    root_a = vectors @ torch.diag(values.clamp(min=0).sqrt()) @ vectors.T
    middle = torch.linalg.eigvalsh(root_a @ cov_b @ root_a).clamp(min=0).sqrt().sum()
    return float((mu_a - mu_b).square().sum() + cov_a.trace() + cov_b.trace() - 2 * middle)


model = TinyI3D().eval()
scripted = torch.jit.script(model)
scripted.save(os.path.join(OUT, 'i3d_tiny_torchscript.pt'))
model64 = TinyI3D().double().eval()
model64.load_state_dict(model.state_dict())

# sets a and b: 5 clips each, 64x48 (wider than high); set c: 3 clips 40x56 (higher than wide); 9 frames each
SETS = {'a': dict(width=64, height=48, clips=range(0, 5)), 'b': dict(width=64, height=48, clips=range(5, 10)), 'c': dict(width=40, height=56, clips=range(10, 13))}
FRAMES = 9
expected = {'frames': FRAMES, 'sets': {}}
features = {}
with torch.no_grad():
    for name, s in SETS.items():
        rows = [model64(preprocess(clip(k, FRAMES, s['width'], s['height'])).unsqueeze(0), rescale=False, resize=False, return_features=True)[0] for k in s['clips']]
        features[name] = torch.stack(rows)
        expected['sets'][name] = {'width': s['width'], 'height': s['height'], 'clips': list(s['clips']), 'features': features[name].tolist()}
    expected['fvd'] = frechet(features['a'], features['b'])
with open(os.path.join(OUT, 'expected.json'), 'w') as f:
    json.dump(expected, f, indent=1)
    f.write('\n')
print(f"FVD of the fixture's sets: {expected['fvd']:.6f}")
