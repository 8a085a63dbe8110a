"""The safetensors format by hand (u64 header length, JSON header, raw little-endian data), for
the fixture scripts: Debian packages python3-torch but not the safetensors package."""
import json
import struct

import torch

DTYPES = {'F32': torch.float32, 'BF16': torch.bfloat16, 'F16': torch.float16}
NAMES = {v: k for k, v in DTYPES.items()}


def read_safetensors(path):
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for key, entry in header.items():
        if key == '__metadata__':
            continue
        begin, end = entry['data_offsets']
        out[key] = torch.frombuffer(bytearray(data[begin:end]), dtype=DTYPES[entry['dtype']]).reshape(entry['shape'])
    return out


def write_safetensors(path, tensors, file_dtypes=None):
    """`file_dtypes` names a dtype for some keys whose tensors hold its raw bytes (uint8), e.g. F8_E4M3."""
    header, blobs, offset = {}, [], 0
    for key, t in tensors.items():
        data = t.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()
        dtype = (file_dtypes or {}).get(key) or NAMES[t.dtype]
        header[key] = {'dtype': dtype, 'shape': list(t.shape), 'data_offsets': [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header).encode()
    text += b' ' * ((8 - len(text) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(text)) + text + b''.join(blobs))
