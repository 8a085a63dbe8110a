# The layers of bench/small_step.ts in plain PyTorch, on the same libtorch (Debian's python3-torch
# 1.13, which libtorch-dev is part of): Wan blocks of the bundled small model (dim 256, 4 heads,
# 6 layers, FFN 1024, q/k RMS-norm across heads, RoPE, cross-attention to 16 text tokens,
# AdaLN modulation), batch 32 of 176 tokens, float32, 2 threads. Not a test and not the model
# (random weights): what the same work costs without our engine in between.
#   python3 bench/small_step_pytorch.py [--batch 32] [--runs 3] [--profile]
import argparse
import json
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

parser = argparse.ArgumentParser()
parser.add_argument('--batch', type=int, default=32)
parser.add_argument('--runs', type=int, default=3)
parser.add_argument('--profile', action='store_true', help='also print torch.profiler\'s table of one step')
args = parser.parse_args()
torch.set_num_threads(2)
torch.manual_seed(0)
DIM, HEADS, LAYERS, FFN, TOKENS, TARGET, TEXT = 256, 4, 6, 1024, 176, 80, 16


class RMSNorm(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * self.weight


def rotate(x, cos, sin):
    x1, x2 = x[..., 0::2], x[..., 1::2]
    return torch.stack([x1 * cos - x2 * sin, x1 * sin + x2 * cos], -1).flatten(-2)


class Attention(nn.Module):
    def __init__(self):
        super().__init__()
        self.to_q, self.to_k, self.to_v, self.to_out = (nn.Linear(DIM, DIM) for _ in range(4))
        self.norm_q, self.norm_k = RMSNorm(DIM), RMSNorm(DIM)

    def forward(self, x, context=None, rope=None):
        source = x if context is None else context
        q, k, v = self.norm_q(self.to_q(x)), self.norm_k(self.to_k(source)), self.to_v(source)
        q, k, v = (t.unflatten(2, (HEADS, -1)) for t in (q, k, v))
        if rope is not None:
            q, k = rotate(q, *rope), rotate(k, *rope)
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))
        out = torch.softmax(q @ k.transpose(-1, -2) / (DIM // HEADS) ** 0.5, -1) @ v
        return self.to_out(out.transpose(1, 2).flatten(2))


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.attn1, self.attn2 = Attention(), Attention()
        self.norm2 = nn.LayerNorm(DIM)
        self.ffn_in, self.ffn_out = nn.Linear(DIM, FFN), nn.Linear(FFN, DIM)
        self.scale_shift_table = nn.Parameter(torch.randn(1, 6, DIM) / DIM ** 0.5)

    def forward(self, x, text, timestep_proj, rope):
        shift, scale, gate, c_shift, c_scale, c_gate = (self.scale_shift_table + timestep_proj).chunk(6, 1)
        x = x + self.attn1(F.layer_norm(x, (DIM,)) * (1 + scale) + shift, None, rope) * gate
        x = x + self.attn2(self.norm2(x), text)
        h = F.layer_norm(x, (DIM,)) * (1 + c_scale) + c_shift
        return x + self.ffn_out(F.gelu(self.ffn_in(h), approximate='tanh')) * c_gate


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.patch_embedding = nn.Conv3d(16, DIM, (1, 2, 2), (1, 2, 2))
        self.time_embedder = nn.Sequential(nn.Linear(64, DIM), nn.SiLU(), nn.Linear(DIM, DIM))
        self.time_proj = nn.Linear(DIM, 6 * DIM)
        self.text_embedder = nn.Sequential(nn.Linear(8, DIM), nn.GELU(approximate='tanh'), nn.Linear(DIM, DIM))
        self.blocks = nn.ModuleList(Block() for _ in range(LAYERS))
        self.proj_out = nn.Linear(DIM, 64)

    def forward(self, latents, timestep_freqs, text, rope):
        x = self.patch_embedding(latents).flatten(2).transpose(1, 2)
        temb = self.time_embedder(timestep_freqs)
        timestep_proj = self.time_proj(F.silu(temb)).unflatten(1, (6, DIM))
        text = self.text_embedder(text)
        for block in self.blocks:
            x = block(x, text, timestep_proj, rope)
        return self.proj_out(F.layer_norm(x[:, -TARGET:], (DIM,)) * (1 + temb[:, None]))


model = Model()
B = args.batch
latents, freqs, text = torch.randn(B, 16, 11, 8, 8), torch.randn(B, 64), torch.randn(B, TEXT, 8)
angles = torch.rand(TOKENS, 1, DIM // HEADS // 2) * 6.28
rope = (angles.cos(), angles.sin())
velocity = torch.randn(B, TARGET, 64)


def forward():
    with torch.no_grad():
        model(latents, freqs, text, rope)


def step():
    F.mse_loss(model(latents, freqs, text, rope), velocity).backward()
    model.zero_grad(set_to_none=True)


def median_seconds(fn):
    fn()
    times = []
    for _ in range(args.runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


print(json.dumps({'batch': B, 'torch': torch.__version__, 'forward_s': round(median_seconds(forward), 3), 'forward_backward_s': round(median_seconds(step), 3)}))
if args.profile:
    with torch.profiler.profile() as profile:
        step()
    print(profile.key_averages().table(sort_by='self_cpu_time_total', row_limit=12))
