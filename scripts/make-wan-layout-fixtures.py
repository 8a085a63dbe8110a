#!/usr/bin/python3
"""Makes test/fixtures/wan_layouts/: the tiny test transformer (test/fixtures/tiny_model/transformer)
in the layouts other tools write, so the loader can be tested against them:

- original/: the Wan-AI release's layout: WanModel's config.json (dim, num_heads, in_dim, ...)
  and the original key names (blocks.N.self_attn.q.weight, blocks.N.norm3 for the cross-attention
  norm, blocks.N.modulation, head.head, head.modulation, time_embedding.0, time_projection.1,
  text_embedding.0, ffn.0 / ffn.2), in two shards with a safetensors index, as the release ships;
- comfy/: the same keys under ComfyUI's `model.diffusion_model.` prefix in one file;
- comfy_fp8/: that file with every matrix quantised to float8 e4m3fn with a per-tensor
  `.scale_weight` (scale = max|w| / 448) and a `scaled_fp8` marker, as ComfyUI's scaled fp8
  files are, and expected.safetensors: the dequantised weights (diffusers names), float32.

The names follow the original WanModel's modules (Wan2.1/2.2 wan/modules/model.py). The tensors
are the tiny model's, bit for bit. Run with Debian's python3-torch (no safetensors package
needed: the format is written by hand):

    /usr/bin/python3 scripts/make-wan-layout-fixtures.py test/fixtures/wan_layouts
"""
import json
import os
import re
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import read_safetensors, write_safetensors  # noqa: E402
from fp8_scaled import scaled_fp8_file  # noqa: E402

SRC = 'test/fixtures/tiny_model/transformer'
OUT = sys.argv[1] if len(sys.argv) > 1 else 'test/fixtures/wan_layouts'
ATTENTION = {'to_q': 'q', 'to_k': 'k', 'to_v': 'v', 'to_out.0': 'o', 'norm_q': 'norm_q', 'norm_k': 'norm_k'}
TOP = {
    'condition_embedder.time_embedder.linear_1': 'time_embedding.0',
    'condition_embedder.time_embedder.linear_2': 'time_embedding.2',
    'condition_embedder.time_proj': 'time_projection.1',
    'condition_embedder.text_embedder.linear_1': 'text_embedding.0',
    'condition_embedder.text_embedder.linear_2': 'text_embedding.2',
    'proj_out': 'head.head',
    'patch_embedding': 'patch_embedding',
}


def original_name(name):
    """The original WanModel's name of a diffusers WanTransformer3DModel parameter."""
    if name == 'scale_shift_table':
        return 'head.modulation'
    m = re.fullmatch(r'blocks\.(\d+)\.(.+)', name)
    if not m:
        module, param = name.rsplit('.', 1)
        return f'{TOP[module]}.{param}'
    block, rest = m.groups()
    if rest == 'scale_shift_table':
        return f'blocks.{block}.modulation'
    a = re.fullmatch(r'attn([12])\.(.+)\.(weight|bias)', rest)
    if a:
        kind = 'self_attn' if a.group(1) == '1' else 'cross_attn'
        return f'blocks.{block}.{kind}.{ATTENTION[a.group(2)]}.{a.group(3)}'
    norm = re.fullmatch(r'norm2\.(weight|bias)', rest)  # diffusers' norm2 is the original's norm3
    if norm:
        return f'blocks.{block}.norm3.{norm.group(1)}'
    ffn = {'ffn.net.0.proj': 'ffn.0', 'ffn.net.2': 'ffn.2'}
    module, param = rest.rsplit('.', 1)
    return f'blocks.{block}.{ffn[module]}.{param}'


tensors = read_safetensors(os.path.join(SRC, 'diffusion_pytorch_model.safetensors'))
with open(os.path.join(SRC, 'config.json')) as f:
    config = json.load(f)
original = {original_name(k): v for k, v in tensors.items()}
assert len(original) == len(tensors)

dim = config['num_attention_heads'] * config['attention_head_dim']
wan_config = {
    '_class_name': 'WanModel', '_diffusers_version': '0.33.0', 'model_type': 'ti2v', 'dim': dim,
    'num_heads': config['num_attention_heads'], 'in_dim': config['in_channels'], 'out_dim': config['out_channels'],
    'ffn_dim': config['ffn_dim'], 'freq_dim': config['freq_dim'], 'num_layers': config['num_layers'], 'eps': config['eps'],
    'text_len': 512,
    # the tiny model's sizes that the real release leaves to the code's defaults (4096, 1024)
    'text_dim': config['text_dim'], 'rope_max_seq_len': config['rope_max_seq_len'],
}

os.makedirs(os.path.join(OUT, 'original'), exist_ok=True)
with open(os.path.join(OUT, 'original', 'config.json'), 'w') as f:
    json.dump(wan_config, f, indent=2)
keys = sorted(original)
shards = [keys[: len(keys) // 2], keys[len(keys) // 2:]]
weight_map = {}
for i, part in enumerate(shards):
    name = f'diffusion_pytorch_model-{i + 1:05d}-of-{len(shards):05d}.safetensors'
    write_safetensors(os.path.join(OUT, 'original', name), {k: original[k] for k in part})
    weight_map.update({k: name for k in part})
with open(os.path.join(OUT, 'original', 'diffusion_pytorch_model.safetensors.index.json'), 'w') as f:
    json.dump({'metadata': {'total_size': sum(t.numel() * t.element_size() for t in original.values())}, 'weight_map': weight_map}, f, indent=2)

os.makedirs(os.path.join(OUT, 'comfy'), exist_ok=True)
with open(os.path.join(OUT, 'comfy', 'config.json'), 'w') as f:
    json.dump(wan_config, f, indent=2)
write_safetensors(os.path.join(OUT, 'comfy', 'diffusion_pytorch_model.safetensors'), {f'model.diffusion_model.{k}': original[k] for k in keys})
print(f'wrote {OUT}/original ({len(keys)} tensors, 2 shards) and {OUT}/comfy')

quantised, file_dtypes, dequantised = scaled_fp8_file({k: original[k] for k in keys}, 'model.diffusion_model.')
expected = {next(k for k in tensors if original_name(k) == key): value for key, value in dequantised.items()}
os.makedirs(os.path.join(OUT, 'comfy_fp8'), exist_ok=True)
with open(os.path.join(OUT, 'comfy_fp8', 'config.json'), 'w') as f:
    json.dump(wan_config, f, indent=2)
write_safetensors(os.path.join(OUT, 'comfy_fp8', 'diffusion_pytorch_model.safetensors'), quantised, file_dtypes)
write_safetensors(os.path.join(OUT, 'comfy_fp8', 'expected.safetensors'), expected)
print(f'wrote {OUT}/comfy_fp8 ({len(file_dtypes) - 1} float8 matrices)')
