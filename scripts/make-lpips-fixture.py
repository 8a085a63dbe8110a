#!/usr/bin/python3
"""Makes test/fixtures/lpips/: LPIPS networks in the layout of the real files, at tiny width, and
the distances the LPIPS formula gives on fixed image pairs, computed here in float64 PyTorch.

The real files: torchvision's backbones (alexnet-owt-7be5be79.pth, vgg16-397923af.pth: keys
features.N.weight / features.N.bias, plus classifier.* that LPIPS does not use, saved by old torch
in the legacy format) and the LPIPS heads (lpips/weights/v0.1/alex.pth, vgg.pth: keys
linK.model.1.weight of shape [1, C, 1, 1]). Here the convolutions keep their indices, kernels,
strides and paddings and only the channel counts shrink; one file of each kind is written in each
of torch.save's two formats. Run with Debian's python3-torch (apt-get install python3-torch):

    /usr/bin/python3 scripts/make-lpips-fixture.py test/fixtures/lpips
"""
import json
import os
import sys

import torch
import torch.nn.functional as F

OUT = sys.argv[1] if len(sys.argv) > 1 else 'test/fixtures/lpips'
os.makedirs(OUT, exist_ok=True)
torch.manual_seed(20181)

# LPIPS's ScalingLayer constants (inputs in [-1, 1]).
SHIFT = torch.tensor([-.030, -.088, -.188], dtype=torch.float64).view(1, 3, 1, 1)
SCALE = torch.tensor([.458, .448, .450], dtype=torch.float64).view(1, 3, 1, 1)

# (index in `features`, out channels, kernel, stride, padding); 'P' is a max pool, 'T' a tap after the ReLU before it.
ALEX = [(0, 8, 11, 4, 2), 'T', ('P', 3, 2), (3, 12, 5, 1, 2), 'T', ('P', 3, 2), (6, 16, 3, 1, 1), 'T', (8, 12, 3, 1, 1), 'T', (10, 12, 3, 1, 1), 'T']
VGG = [(0, 4, 3, 1, 1), (2, 4, 3, 1, 1), 'T', ('P', 2, 2), (5, 6, 3, 1, 1), (7, 6, 3, 1, 1), 'T', ('P', 2, 2),
       (10, 8, 3, 1, 1), (12, 8, 3, 1, 1), (14, 8, 3, 1, 1), 'T', ('P', 2, 2),
       (17, 8, 3, 1, 1), (19, 8, 3, 1, 1), (21, 8, 3, 1, 1), 'T', ('P', 2, 2),
       (24, 6, 3, 1, 1), (26, 6, 3, 1, 1), (28, 6, 3, 1, 1), 'T']


def make(layers):
    backbone, taps, channels = {}, [], 3
    for layer in layers:
        if isinstance(layer, tuple) and layer[0] != 'P':
            index, out, kernel, _, _ = layer
            backbone[f'features.{index}.weight'] = torch.randn(out, channels, kernel, kernel) * (2.0 / (channels * kernel * kernel)) ** 0.5
            backbone[f'features.{index}.bias'] = torch.randn(out) * 0.1
            channels = out
        elif layer == 'T':
            taps.append(channels)
    backbone['classifier.1.weight'] = torch.randn(5, 7)  # the classifier LPIPS ignores
    heads = {f'lin{k}.model.1.weight': torch.rand(1, c, 1, 1) for k, c in enumerate(taps)}
    return backbone, heads


def lpips(layers, backbone, heads, a, b):
    """The LPIPS formula (Zhang et al. 2018, lpips v0.1) in float64, for uint8 [N, H, W, 3] images."""
    def features(img):
        x = (img.permute(0, 3, 1, 2).double() / 127.5 - 1 - SHIFT) / SCALE
        out = []
        for layer in layers:
            if layer == 'T':
                out.append(x)
            elif layer[0] == 'P':
                x = F.max_pool2d(x, layer[1], layer[2])
            else:
                index, _, _, stride, padding = layer
                x = F.relu(F.conv2d(x, backbone[f'features.{index}.weight'].double(), backbone[f'features.{index}.bias'].double(), stride, padding))
        return out
    total = 0
    for k, (fa, fb) in enumerate(zip(features(a), features(b))):
        na = fa / (fa.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
        nb = fb / (fb.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
        total = total + F.conv2d((na - nb) ** 2, heads[f'lin{k}.model.1.weight'].double()).mean(dim=(2, 3)).flatten()
    return total.tolist()


# Image pairs: smooth random pictures and a perturbed copy of each, 64x64 and 48x40.
def picture(n, h, w):
    low = torch.rand(n, 3, h // 8, w // 8)
    return (F.interpolate(low, size=(h, w), mode='bilinear', align_corners=False) * 255).round().clamp(0, 255).permute(0, 2, 3, 1).to(torch.uint8)


pairs = []
for (h, w) in [(64, 64), (40, 48)]:
    a = picture(3, h, w)
    b = (a.double() + torch.randn(a.shape) * 12).round().clamp(0, 255).to(torch.uint8)
    b[1] = torch.roll(a[1], shifts=2, dims=1)  # the second pair: a 2-pixel shift
    pairs.append((h, w, a, b))

expected = {'pairs': []}
with open(os.path.join(OUT, 'images.bin'), 'wb') as f:
    offset = 0
    for h, w, a, b in pairs:
        f.write(a.numpy().tobytes())
        f.write(b.numpy().tobytes())
        expected['pairs'].append({'height': h, 'width': w, 'count': a.shape[0], 'offset': offset})
        offset += 2 * a.numel()

for name, layers, formats in [('alex', ALEX, (False, True)), ('vgg', VGG, (True, False))]:
    backbone, heads = make(layers)
    torch.save(backbone, os.path.join(OUT, f'{name}_backbone.pth'), _use_new_zipfile_serialization=formats[0])
    torch.save(heads, os.path.join(OUT, f'{name}_heads.pth'), _use_new_zipfile_serialization=formats[1])
    expected[name] = [lpips(layers, backbone, heads, a, b) for _, _, a, b in pairs]

with open(os.path.join(OUT, 'expected.json'), 'w') as f:
    json.dump(expected, f, indent=1)
    f.write('\n')
print('wrote', OUT)
