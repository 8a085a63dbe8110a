#!/usr/bin/python3
"""Makes test/fixtures/lora_formats/: the release-shaped test LoRA
(test/fixtures/ckpt/release_shaped.expected.safetensors, diffusers/PEFT names, rank 4) in the
formats other Wan tools write:

- kohya.safetensors (kohya-ss / musubi-tuner): lora_unet_blocks_0_self_attn_q.lora_down.weight,
  .lora_up.weight and .alpha (2: the update scaled by 2/4), original module names with '_';
- comfy.safetensors (ComfyUI): diffusion_model.blocks.0.self_attn.q.lora_A.weight, .lora_B.weight
  and .alpha (8: scaled by 8/4).

Run with Debian's python3-torch:  /usr/bin/python3 scripts/make-lora-format-fixtures.py test/fixtures/lora_formats
"""
import os
import re
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import read_safetensors, write_safetensors  # noqa: E402

OUT = sys.argv[1] if len(sys.argv) > 1 else 'test/fixtures/lora_formats'
os.makedirs(OUT, exist_ok=True)
lora = read_safetensors('test/fixtures/ckpt/release_shaped.expected.safetensors')
MODULES = {'attn1.to_q': 'self_attn.q', 'attn1.to_k': 'self_attn.k', 'attn1.to_v': 'self_attn.v', 'attn1.to_out.0': 'self_attn.o',
           'attn2.to_q': 'cross_attn.q', 'attn2.to_k': 'cross_attn.k', 'attn2.to_v': 'cross_attn.v', 'attn2.to_out.0': 'cross_attn.o',
           'ffn.net.0.proj': 'ffn.0', 'ffn.net.2': 'ffn.2'}
kohya, comfy = {}, {}
for key, t in lora.items():
    block, module, part = re.fullmatch(r'blocks\.(\d+)\.(.+)\.(lora_A|lora_B)\.default\.weight', key).groups()
    original = f'blocks.{block}.{MODULES[module]}'
    kohya[f"lora_unet_{original.replace('.', '_')}.{'lora_down' if part == 'lora_A' else 'lora_up'}.weight"] = t
    kohya[f"lora_unet_{original.replace('.', '_')}.alpha"] = torch.tensor(2.0)
    comfy[f'diffusion_model.{original}.{part}.weight'] = t
    comfy[f'diffusion_model.{original}.alpha'] = torch.tensor(8.0)
write_safetensors(os.path.join(OUT, 'kohya.safetensors'), kohya)
write_safetensors(os.path.join(OUT, 'comfy.safetensors'), comfy)
print(f'wrote {OUT}: {len(kohya)} kohya keys, {len(comfy)} ComfyUI keys')
