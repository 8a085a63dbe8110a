// float8 e4m3fn on the CPU in one pass each way (src/torch/float8.ts composes the same from aten
// ops, ~12 passes over the matrix: 35-60 ns an element here, five minutes for the 5B model's
// weights). Widening takes its 256 values from TypeScript's table; both ways are tested against a
// float64 decoding of the format and a nearest-value search (test/torch/float8.test.ts).
#include "common.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstring>

namespace {

// The e4m3fn code of x, rounded to nearest (ties to even), saturating at 126 (448); NaN 0x7F.
// Read off x's float32 bits: a normal e4m3fn value keeps 3 of the 23 mantissa bits (the dropped 20
// rounded half to even; a carry moves to the next exponent); below 2^-6 it is a multiple of 2^-9.
inline uint8_t EncodeE4m3fn(float x) {
  if (std::isnan(x)) return 0x7f;
  const uint8_t sign = std::signbit(x) ? 0x80 : 0;
  const float a = std::fabs(x);
  uint32_t bits;
  std::memcpy(&bits, &a, sizeof bits);
  const int exponent = static_cast<int>(bits >> 23) - 127;
  uint32_t code;
  if (exponent < -6) {
    code = static_cast<uint32_t>(std::nearbyint(a * 512.0f));  // m·2^-9, m = 8 is the smallest normal
  } else if (exponent > 8) {
    code = 126;
  } else {
    const uint32_t mantissa = bits & 0x7fffff;
    uint32_t kept = mantissa >> 20;
    const uint32_t dropped = mantissa & 0xfffff;
    if (dropped > 0x80000 || (dropped == 0x80000 && (kept & 1))) kept++;
    code = (static_cast<uint32_t>(exponent + 7) << 3) + kept;  // kept = 8 carries into the exponent
    if (code > 126) code = 126;
  }
  return sign | static_cast<uint8_t>(code);
}

// e4m3fnEncodeRows(weight [rows, cols] floating, scale [rows] float32) -> uint8 [rows, cols]: the
// codes of float32(w) / scale.
Napi::Value EncodeRows(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  WW_TRY(env, {
    const at::Tensor w = TensorHandle::Get(info[0], "e4m3fnEncodeRows weight").to(at::kFloat).contiguous();
    const at::Tensor scale = TensorHandle::Get(info[1], "e4m3fnEncodeRows scale").to(at::kFloat).contiguous();
    TORCH_CHECK(w.dim() == 2 && w.device().is_cpu(), "e4m3fnEncodeRows: a 2-D CPU weight");
    TORCH_CHECK(scale.numel() == w.size(0), "e4m3fnEncodeRows: scale [rows]");
    const int64_t rows = w.size(0);
    const int64_t cols = w.size(1);
    at::Tensor out = at::empty({rows, cols}, at::TensorOptions().dtype(at::kByte));
    const float* src = w.data_ptr<float>();
    const float* s = scale.data_ptr<float>();
    uint8_t* dst = out.data_ptr<uint8_t>();
    at::parallel_for(0, rows, 1, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; r++)
        for (int64_t c = 0; c < cols; c++) dst[r * cols + c] = EncodeE4m3fn(src[r * cols + c] / s[r]);
    });
    return TensorHandle::Wrap(env, std::move(out));
  })
}

// e4m3fnWidenRows(bytes uint8 [rows, cols], scale [rows] or [1] float32, values [256] float32,
// dtype) -> [rows, cols] of dtype: values[byte]·scale in float32, rounded once to dtype, through a
// table of 256 scaled values per row.
template <typename T>
void Widen(const uint8_t* src, const float* s, bool perRow, const float* values, T* dst, int64_t rows, int64_t cols) {
  at::parallel_for(0, rows, 1, [&](int64_t begin, int64_t end) {
    T table[256];
    for (int64_t r = begin; r < end; r++) {
      if (r == begin || perRow) {
        const float scale = s[perRow ? r : 0];
        for (int i = 0; i < 256; i++) table[i] = static_cast<T>(values[i] * scale);
      }
      for (int64_t c = 0; c < cols; c++) dst[r * cols + c] = table[src[r * cols + c]];
    }
  });
}

Napi::Value WidenRows(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  at::ScalarType dtype = ScalarTypeFromCode(env, info[3].As<Napi::Number>().Int32Value());
  WW_TRY(env, {
    const at::Tensor bytes = TensorHandle::Get(info[0], "e4m3fnWidenRows bytes").contiguous();
    const at::Tensor scale = TensorHandle::Get(info[1], "e4m3fnWidenRows scale").to(at::kFloat).contiguous();
    const at::Tensor values = TensorHandle::Get(info[2], "e4m3fnWidenRows values").to(at::kFloat).contiguous();
    TORCH_CHECK(bytes.dim() == 2 && bytes.scalar_type() == at::kByte && bytes.device().is_cpu(),
                "e4m3fnWidenRows: 2-D uint8 CPU bytes");
    TORCH_CHECK(scale.numel() == bytes.size(0) || scale.numel() == 1, "e4m3fnWidenRows: scale [rows] or [1]");
    TORCH_CHECK(values.numel() == 256, "e4m3fnWidenRows: values [256]");
    const int64_t rows = bytes.size(0);
    const int64_t cols = bytes.size(1);
    at::Tensor out = at::empty({rows, cols}, at::TensorOptions().dtype(dtype));
    const bool perRow = scale.numel() != 1 || rows == 1;
    const uint8_t* src = bytes.data_ptr<uint8_t>();
    const float* s = scale.data_ptr<float>();
    const float* v = values.data_ptr<float>();
    if (dtype == at::kFloat) {
      Widen(src, s, perRow, v, out.data_ptr<float>(), rows, cols);
    } else if (dtype == at::kBFloat16) {
      Widen(src, s, perRow, v, out.data_ptr<at::BFloat16>(), rows, cols);
    } else if (dtype == at::kHalf) {
      Widen(src, s, perRow, v, out.data_ptr<at::Half>(), rows, cols);
    } else {
      TORCH_CHECK(false, "e4m3fnWidenRows: widens to float32, bfloat16 or float16");
    }
    return TensorHandle::Wrap(env, std::move(out));
  })
}

}  // namespace

void RegisterFloat8(Napi::Env env, Napi::Object exports) {
  exports.Set("e4m3fnEncodeRows", Napi::Function::New(env, EncodeRows));
  exports.Set("e4m3fnWidenRows", Napi::Function::New(env, WidenRows));
}
