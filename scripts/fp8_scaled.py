"""ComfyUI's scaled float8 e4m3fn files, for the fixture scripts: every matrix `X.weight` is
stored as float8 e4m3fn bytes of weight / scale with a per-tensor `X.scale_weight`
(scale = max|w| / 448, rounded to the nearest finite value), and a `scaled_fp8` marker."""
import torch


def e4m3fn(byte):
    """float8 e4m3fn by its definition: sign, exponent bits e (bias 7), mantissa bits m; e = 0 subnormal; 0x7f/0xff NaN."""
    s, e, m = byte >> 7, (byte >> 3) & 15, byte & 7
    if e == 15 and m == 7:
        return float('nan')
    magnitude = (m / 8) * 2.0 ** -6 if e == 0 else (1 + m / 8) * 2.0 ** (e - 7)
    return -magnitude if s else magnitude


VALUES = torch.tensor([e4m3fn(b) for b in range(256)], dtype=torch.float64)
FINITE = torch.tensor([b for b in range(256) if VALUES[b] == VALUES[b]])


def quantise_scaled(t):
    """(bytes as uint8, scale [1], the dequantised value in float32) of one matrix."""
    scale = (t.abs().max().double() / 448).float()
    q = t.double() / scale.double()
    nearest = FINITE[(q.reshape(-1, 1) - VALUES[FINITE].reshape(1, -1)).abs().argmin(dim=1)]
    value = VALUES[nearest.long()].float().reshape(t.shape) * scale
    return nearest.to(torch.uint8).reshape(t.shape), scale.reshape(1), value.contiguous()


def scaled_fp8_file(tensors, prefix=''):
    """(tensors, file_dtypes, dequantised) of a scaled fp8 file holding `tensors` under `prefix`."""
    out, file_dtypes, expected = {}, {}, {}
    for key, t in tensors.items():
        name = f'{prefix}{key}'
        if t.dim() >= 2 and key.endswith('.weight'):
            out[name], out[f'{prefix}{key[:-len(".weight")]}.scale_weight'], expected[key] = quantise_scaled(t)
            file_dtypes[name] = 'F8_E4M3'
        else:
            out[name], expected[key] = t, t
    out['scaled_fp8'] = torch.zeros((), dtype=torch.uint8)
    file_dtypes['scaled_fp8'] = 'F8_E4M3'
    return out, file_dtypes, expected
