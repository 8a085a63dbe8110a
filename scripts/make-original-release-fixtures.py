#!/usr/bin/python3
"""Makes test/fixtures/original_release/: the tiny test model's VAE and text encoder in the files
the original Wan-AI release and ComfyUI ship, so the loaders can be tested against them:

- Wan2.2_VAE.pth: torch.save of the VAE's state dict under the original module names (Wan2.2's
  wan/modules/vae2_2.py: encoder.conv1, encoder.downsamples.S.downsamples.I.residual.N (the
  stage's residual blocks, then its resampler last), encoder.middle.{0,1,2}, encoder.head.{0,2},
  conv1/conv2 for the quant convs, decoder.upsamples.S.upsamples.I, ...);
- models_t5_umt5-xxl-enc-bf16.pth: torch.save of the text encoder under Wan's T5Encoder names
  (wan/modules/t5.py: token_embedding, blocks.N.{norm1, attn.q/k/v/o, pos_embedding.embedding,
  norm2, ffn.gate.0, ffn.fc1, ffn.fc2}, norm); float32 like the tiny model (the release's is bf16);
- google/umt5-xxl/tokenizer.json: the tiny model's tokenizer, where the release keeps its own;
- wan2.2_vae.safetensors: ComfyUI's single VAE file (the original names, one safetensors);
- umt5_fp8_e4m3fn_scaled.safetensors: ComfyUI's scaled fp8 text encoder (transformers' names,
  every matrix float8 e4m3fn with a per-tensor scale_weight, a scaled_fp8 marker), and
  umt5_fp8_expected.safetensors: its dequantised weights, float32.

The tests put these beside test/fixtures/wan_layouts/original (the transformer in the release's
layout) to make the release's folder. Run with Debian's python3-torch:

    /usr/bin/python3 scripts/make-original-release-fixtures.py test/fixtures/original_release
"""
import os
import re
import shutil
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import read_safetensors, write_safetensors  # noqa: E402
from fp8_scaled import scaled_fp8_file  # noqa: E402

TINY = 'test/fixtures/tiny_model'
OUT = sys.argv[1] if len(sys.argv) > 1 else 'test/fixtures/original_release'
RESIDUAL = {'norm1.gamma': 'residual.0.gamma', 'conv1.weight': 'residual.2.weight', 'conv1.bias': 'residual.2.bias',
            'norm2.gamma': 'residual.3.gamma', 'conv2.weight': 'residual.6.weight', 'conv2.bias': 'residual.6.bias',
            'conv_shortcut.weight': 'shortcut.weight', 'conv_shortcut.bias': 'shortcut.bias'}


def original_vae_names(keys):
    """diffusers AutoencoderKLWan name -> the original WanVAE_ (vae2_2.py) name."""
    resnets = {}  # (coder, stage) -> number of residual blocks: the resampler's index in the stage's Sequential
    for k in keys:
        m = re.match(r'(encoder\.down_blocks|decoder\.up_blocks)\.(\d+)\.resnets\.(\d+)\.', k)
        if m:
            resnets[(m.group(1), m.group(2))] = max(resnets.get((m.group(1), m.group(2)), 0), int(m.group(3)) + 1)
    names = {}
    for k in keys:
        if k.startswith('quant_conv.'):
            names[k] = 'conv1.' + k.split('.', 1)[1]
        elif k.startswith('post_quant_conv.'):
            names[k] = 'conv2.' + k.split('.', 1)[1]
        else:
            coder, rest = k.split('.', 1)
            if rest.startswith('conv_in.'):
                new = 'conv1.' + rest.split('.', 1)[1]
            elif rest == 'norm_out.gamma':
                new = 'head.0.gamma'
            elif rest.startswith('conv_out.'):
                new = 'head.2.' + rest.split('.', 1)[1]
            elif rest.startswith('mid_block.attentions.0.'):
                new = 'middle.1.' + rest[len('mid_block.attentions.0.'):]
            elif rest.startswith('mid_block.resnets.'):
                i, part = re.match(r'mid_block\.resnets\.(\d)\.(.+)', rest).groups()
                new = f'middle.{0 if i == "0" else 2}.{RESIDUAL[part]}'
            else:
                blocks, lst, sampler = ('down_blocks', 'downsamples', 'downsampler') if coder == 'encoder' else ('up_blocks', 'upsamples', 'upsampler')
                m = re.match(rf'{blocks}\.(\d+)\.resnets\.(\d+)\.(.+)', rest)
                if m:
                    new = f'{lst}.{m.group(1)}.{lst}.{m.group(2)}.{RESIDUAL[m.group(3)]}'
                else:
                    s, part = re.match(rf'{blocks}\.(\d+)\.{sampler}\.(.+)', rest).groups()
                    new = f'{lst}.{s}.{lst}.{resnets[(coder + "." + blocks, s)]}.{part}'
            names[k] = f'{coder}.{new}'
    assert len(set(names.values())) == len(names)
    return names


T5_BLOCK = {'layer.0.layer_norm.weight': 'norm1.weight', 'layer.0.SelfAttention.q.weight': 'attn.q.weight',
            'layer.0.SelfAttention.k.weight': 'attn.k.weight', 'layer.0.SelfAttention.v.weight': 'attn.v.weight',
            'layer.0.SelfAttention.o.weight': 'attn.o.weight',
            'layer.0.SelfAttention.relative_attention_bias.weight': 'pos_embedding.embedding.weight',
            'layer.1.layer_norm.weight': 'norm2.weight', 'layer.1.DenseReluDense.wi_0.weight': 'ffn.gate.0.weight',
            'layer.1.DenseReluDense.wi_1.weight': 'ffn.fc1.weight', 'layer.1.DenseReluDense.wo.weight': 'ffn.fc2.weight'}


def original_t5_name(k):
    """transformers UMT5EncoderModel name -> Wan's T5Encoder name (None for the tied embed_tokens copy)."""
    if k == 'shared.weight':
        return 'token_embedding.weight'
    if k == 'encoder.embed_tokens.weight':
        return None
    if k == 'encoder.final_layer_norm.weight':
        return 'norm.weight'
    n, part = re.match(r'encoder\.block\.(\d+)\.(.+)', k).groups()
    return f'blocks.{n}.{T5_BLOCK[part]}'


os.makedirs(os.path.join(OUT, 'google', 'umt5-xxl'), exist_ok=True)
vae = read_safetensors(os.path.join(TINY, 'vae', 'diffusion_pytorch_model.safetensors'))
names = original_vae_names(list(vae))
original_vae = {names[k]: v.clone() for k, v in vae.items()}
torch.save(original_vae, os.path.join(OUT, 'Wan2.2_VAE.pth'))
write_safetensors(os.path.join(OUT, 'wan2.2_vae.safetensors'), original_vae)

t5 = read_safetensors(os.path.join(TINY, 'text_encoder', 'model.safetensors'))
original_t5 = {original_t5_name(k): v.clone() for k, v in t5.items() if original_t5_name(k)}
torch.save(original_t5, os.path.join(OUT, 'models_t5_umt5-xxl-enc-bf16.pth'))
shutil.copy(os.path.join(TINY, 'tokenizer', 'tokenizer.json'), os.path.join(OUT, 'google', 'umt5-xxl', 'tokenizer.json'))

encoder = {k: v for k, v in t5.items() if k != 'encoder.embed_tokens.weight'}
quantised, file_dtypes, expected = scaled_fp8_file(encoder)
write_safetensors(os.path.join(OUT, 'umt5_fp8_e4m3fn_scaled.safetensors'), quantised, file_dtypes)
write_safetensors(os.path.join(OUT, 'umt5_fp8_expected.safetensors'), expected)
print(f'wrote {OUT}: VAE {len(original_vae)} tensors, text encoder {len(original_t5)}, fp8 {len(file_dtypes) - 1} matrices')
