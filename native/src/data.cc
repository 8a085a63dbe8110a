// Bytes in and out of tensors: typed arrays, files (safetensors payloads), scalars.
#include "common.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace {

// fromBytes(bytes: ArrayBufferView | ArrayBuffer, shape, dtype) -> new CPU tensor holding a copy.
Napi::Value FromBytes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint8_t* data = nullptr;
  size_t length = 0;
  if (info[0].IsTypedArray()) {
    Napi::TypedArray view = info[0].As<Napi::TypedArray>();
    data = static_cast<const uint8_t*>(view.ArrayBuffer().Data()) + view.ByteOffset();
    length = view.ByteLength();
  } else if (info[0].IsArrayBuffer()) {
    Napi::ArrayBuffer buffer = info[0].As<Napi::ArrayBuffer>();
    data = static_cast<const uint8_t*>(buffer.Data());
    length = buffer.ByteLength();
  } else if (info[0].IsDataView()) {
    Napi::DataView view = info[0].As<Napi::DataView>();
    data = static_cast<const uint8_t*>(view.ArrayBuffer().Data()) + view.ByteOffset();
    length = view.ByteLength();
  } else {
    throw Napi::TypeError::New(env, "fromBytes: expected a typed array or ArrayBuffer");
  }
  std::vector<int64_t> shape = ShapeFromArray(info[1], "fromBytes shape");
  at::ScalarType dtype = ScalarTypeFromCode(env, info[2].As<Napi::Number>().Int32Value());
  WW_TRY(env, {
    at::Tensor tensor = at::empty(shape, at::TensorOptions().dtype(dtype));
    size_t expected = tensor.numel() * tensor.element_size();
    if (expected != length) {
      throw Napi::RangeError::New(env, "fromBytes: shape and dtype need " + std::to_string(expected) +
                                           " bytes, got " + std::to_string(length));
    }
    if (length > 0) std::memcpy(tensor.data_ptr(), data, length);
    return TensorHandle::Wrap(env, std::move(tensor));
  })
}

// toBytes(tensor) -> ArrayBuffer with the tensor's elements, contiguous, in its dtype.
Napi::Value ToBytes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  WW_TRY(env, {
    at::Tensor tensor = TensorHandle::Get(info[0], "toBytes").detach().to(at::kCPU).contiguous();
    size_t length = tensor.numel() * tensor.element_size();
    Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(env, length);
    if (length > 0) std::memcpy(buffer.Data(), tensor.data_ptr(), length);
    return buffer;
  })
}

// readFile(path, offset, shape, dtype) -> tensor read straight from the file into its storage,
// without passing through the JavaScript heap.
Napi::Value ReadFile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = info[0].As<Napi::String>().Utf8Value();
  int64_t offset = info[1].As<Napi::Number>().Int64Value();
  std::vector<int64_t> shape = ShapeFromArray(info[2], "readFile shape");
  at::ScalarType dtype = ScalarTypeFromCode(env, info[3].As<Napi::Number>().Int32Value());
  WW_TRY(env, {
    at::Tensor tensor = at::empty(shape, at::TensorOptions().dtype(dtype));
    size_t length = tensor.numel() * tensor.element_size();
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw Napi::Error::New(env, path + ": cannot open: " + std::strerror(errno));
    size_t done = 0;
    auto* dst = static_cast<uint8_t*>(tensor.data_ptr());
    while (done < length) {
      ssize_t n = ::pread(fd, dst + done, length - done, offset + static_cast<int64_t>(done));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        std::string why = n < 0 ? std::strerror(errno) : "the file ends early";
        ::close(fd);
        throw Napi::Error::New(env, path + ": cannot read " + std::to_string(length) + " bytes at offset " +
                                        std::to_string(offset) + ": " + why);
      }
      done += static_cast<size_t>(n);
    }
    ::close(fd);
    return TensorHandle::Wrap(env, std::move(tensor));
  })
}

// item(tensor) -> number (or boolean) of a one-element tensor.
Napi::Value Item(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  WW_TRY(env, {
    const at::Tensor& tensor = TensorHandle::Get(info[0], "item");
    if (tensor.numel() != 1) {
      throw Napi::RangeError::New(env, "item: the tensor has " + std::to_string(tensor.numel()) + " elements, not 1");
    }
    at::Scalar scalar = tensor.item();
    if (scalar.isBoolean()) return Napi::Boolean::New(env, scalar.toBool());
    return Napi::Number::New(env, scalar.toDouble());
  })
}

}  // namespace

void RegisterData(Napi::Env env, Napi::Object exports) {
  exports.Set("fromBytes", Napi::Function::New(env, FromBytes));
  exports.Set("toBytes", Napi::Function::New(env, ToBytes));
  exports.Set("readFile", Napi::Function::New(env, ReadFile));
  exports.Set("item", Napi::Function::New(env, Item));
}
