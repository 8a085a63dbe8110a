#!/usr/bin/python3
"""Writes test/fixtures/ckpt/: PyTorch Lightning-shaped checkpoints made by PyTorch itself, for the
restricted unpickler's tests (so the tests need no Python).

- release_shaped.ckpt: like the release's LoRA checkpoints: {'state_dict': {'lora': PEFT-named
  tensors}}, an object of a custom class (a stand-in for OmegaConf's DictConfig) in
  'hyper_parameters', optimiser state, loop counters; one LoRA tensor is a transposed
  (non-contiguous) view and one is bfloat16. Shapes fit test/fixtures/tiny_model's transformer
  (2 blocks, dim 24, ffn 32), rank 4.
- release_shaped.expected.safetensors: the same LoRA tensors, contiguous, written by hand.
- malicious_*.ckpt: pickles that would run os.system / builtins.eval / subprocess.Popen (via
  REDUCE), nested in containers and in hyper_parameters, or as the top-level object.
- truncated_pickle.ckpt: a valid archive whose data.pkl is cut short.

Run with Debian's python3-torch (apt-get install python3-torch): /usr/bin/python3 scripts/make-ckpt-fixtures.py [out-dir]
"""
import json
import os
import subprocess
import sys
import types
import zipfile
from collections import OrderedDict

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import write_safetensors  # noqa: E402

OUT = sys.argv[1] if len(sys.argv) > 1 else "test/fixtures/ckpt"
MARKER = "/tmp/worldwander-unpickler-marker"
os.makedirs(OUT, exist_ok=True)

# A class that pickles under OmegaConf's real module path, as Lightning's hyper_parameters do.
omegaconf = types.ModuleType("omegaconf")
dictconfig = types.ModuleType("omegaconf.dictconfig")
sys.modules["omegaconf"] = omegaconf
sys.modules["omegaconf.dictconfig"] = dictconfig


class DictConfig:
    def __init__(self, content):
        self._content = content

    def __getstate__(self):
        return {"_content": self._content, "_metadata": {"flags": None}}


DictConfig.__module__ = "omegaconf.dictconfig"
dictconfig.DictConfig = DictConfig

generator = torch.Generator().manual_seed(1234)
DIM, FFN, RANK = 24, 32, 4
lora = OrderedDict()
for block in range(2):
    for attn in ("attn1", "attn2"):
        for proj in ("to_q", "to_k", "to_v", "to_out.0"):
            lora[f"blocks.{block}.{attn}.{proj}.lora_A.default.weight"] = torch.randn(RANK, DIM, generator=generator)
            lora[f"blocks.{block}.{attn}.{proj}.lora_B.default.weight"] = torch.randn(DIM, RANK, generator=generator) * 0.1
    lora[f"blocks.{block}.ffn.net.0.proj.lora_A.default.weight"] = torch.randn(RANK, DIM, generator=generator)
    lora[f"blocks.{block}.ffn.net.0.proj.lora_B.default.weight"] = torch.randn(FFN, RANK, generator=generator) * 0.1
    lora[f"blocks.{block}.ffn.net.2.lora_A.default.weight"] = torch.randn(RANK, FFN, generator=generator)
    lora[f"blocks.{block}.ffn.net.2.lora_B.default.weight"] = torch.randn(DIM, RANK, generator=generator) * 0.1
# a non-contiguous view (stored with its strides) and a bfloat16 tensor
lora["blocks.0.attn1.to_q.lora_A.default.weight"] = torch.randn(DIM, RANK, generator=generator).t()
lora["blocks.1.attn2.to_k.lora_B.default.weight"] = lora["blocks.1.attn2.to_k.lora_B.default.weight"].to(torch.bfloat16)

params = [torch.nn.Parameter(t.float().contiguous()) for t in lora.values()]
optimizer = torch.optim.AdamW(params, lr=5e-5, betas=(0.9, 0.95), weight_decay=0.01)
for p in params:
    p.grad = torch.randn(p.shape, generator=generator)
optimizer.step()

checkpoint = {
    "epoch": 3,
    "global_step": 500,
    "pytorch-lightning_version": "2.2.1",
    "state_dict": {"lora": lora},
    "loops": {"fit_loop": {"state_dict": {}, "epoch_progress": {"total": {"ready": 4, "completed": 3}}}},
    "callbacks": {},
    "optimizer_states": [optimizer.state_dict()],
    "lr_schedulers": [{"base_lrs": [5e-5], "last_epoch": 500}],
    "hparams_name": "config",
    "hyper_parameters": {"config": DictConfig({"use_lora": True, "training": {"rank": RANK, "learning_rate": 5e-5}})},
}
torch.save(checkpoint, os.path.join(OUT, "release_shaped.ckpt"))


write_safetensors(os.path.join(OUT, "release_shaped.expected.safetensors"), lora)


class Reduce:
    """An object whose unpickling calls `fn(*args)`: what a malicious checkpoint does."""

    def __init__(self, fn, *args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return (self.fn, self.args)


small = OrderedDict([("blocks.0.attn1.to_q.lora_A.default.weight", torch.ones(RANK, DIM)), ("blocks.0.attn1.to_q.lora_B.default.weight", torch.zeros(DIM, RANK))])
cases = {
    "malicious_os_system_toplevel": Reduce(os.system, f"touch {MARKER}"),
    "malicious_eval_in_hyper_parameters": {"state_dict": {"lora": small}, "hyper_parameters": {"config": Reduce(eval, f"open('{MARKER}', 'w')")}},
    "malicious_popen_nested": {"state_dict": {"lora": small}, "loops": [{"deep": (1, [Reduce(subprocess.Popen, ["touch", MARKER])])}]},
    "malicious_system_in_state_dict": {"state_dict": {"lora": small, "payload": Reduce(os.system, f"touch {MARKER}")}},
    # a call where one of the LoRA dict's tensors should be: refused, naming the key
    "call_in_lora_dict": {"state_dict": {"lora": OrderedDict([*small.items(), ("blocks.0.attn1.to_k.lora_A.default.weight", Reduce(os.system, f"touch {MARKER}"))])}},
}
for name, value in cases.items():
    torch.save(value, os.path.join(OUT, f"{name}.ckpt"))

# The same archive, its data.pkl cut short.
with zipfile.ZipFile(os.path.join(OUT, "malicious_popen_nested.ckpt")) as source:
    with zipfile.ZipFile(os.path.join(OUT, "truncated_pickle.ckpt"), "w", compression=zipfile.ZIP_STORED) as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename.endswith("data.pkl"):
                data = data[: len(data) // 2]
            target.writestr(item.filename, data)
print(f"wrote {sorted(os.listdir(OUT))}")
