// TensorHandle and GeneratorHandle: JavaScript objects that own libtorch objects.
#include "common.h"

#include <ATen/CPUGeneratorImpl.h>

// Type tags tell our objects apart faster than instanceof, and cannot be forged from JavaScript.
static const napi_type_tag kTensorTag = {0x5f1c2b7a9e3d4c10ULL, 0x8a6b4f2e1d0c9b7aULL};
static const napi_type_tag kGeneratorTag = {0x2c7e9a1b5d3f4e60ULL, 0x91a8b7c6d5e4f302ULL};

Napi::Function TensorHandle::Define(Napi::Env env) {
  Napi::Function ctor = DefineClass(env, "TensorHandle", {
      InstanceMethod("dispose", &TensorHandle::Dispose),
      InstanceMethod("disposed", &TensorHandle::Disposed),
      InstanceMethod("shape", &TensorHandle::Shape),
      InstanceMethod("dtype", &TensorHandle::Dtype),
      InstanceMethod("device", &TensorHandle::Device),
      InstanceMethod("numel", &TensorHandle::Numel),
  });
  env.GetInstanceData<AddonData>()->tensor_constructor = Napi::Persistent(ctor);
  return ctor;
}

TensorHandle::TensorHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TensorHandle>(info) {
  info.This().As<Napi::Object>().TypeTag(&kTensorTag);
}

TensorHandle::~TensorHandle() { Release(); }

Napi::Value TensorHandle::Wrap(Napi::Env env, at::Tensor tensor) {
  if (!tensor.defined()) return env.Null();
  Napi::Object object = env.GetInstanceData<AddonData>()->tensor_constructor.New({});
  TensorHandle* handle = Unwrap(object);
  // Views report their own extent, not their base's storage: an estimate that never
  // under-counts a fresh tensor and keeps V8's GC pressure in step with libtorch memory.
  handle->reported_bytes_ = tensor.numel() * static_cast<int64_t>(tensor.element_size());
  handle->tensor_ = std::move(tensor);
  if (handle->reported_bytes_ > 0) Napi::MemoryManagement::AdjustExternalMemory(env, handle->reported_bytes_);
  return object;
}

void TensorHandle::Release() {
  if (!tensor_.defined()) return;
  tensor_.reset();
  if (reported_bytes_ > 0) {
    Napi::MemoryManagement::AdjustExternalMemory(Env(), -reported_bytes_);
    reported_bytes_ = 0;
  }
}

bool TensorHandle::IsHandle(const Napi::Value& value) {
  return value.IsObject() && value.As<Napi::Object>().CheckTypeTag(&kTensorTag);
}

const at::Tensor* TensorHandle::TryGet(const Napi::Value& value) {
  if (!IsHandle(value)) return nullptr;
  return &Napi::ObjectWrap<TensorHandle>::Unwrap(value.As<Napi::Object>())->tensor_;
}

const at::Tensor& TensorHandle::Get(const Napi::Value& value, const char* what) {
  Napi::Env env = value.Env();
  const at::Tensor* tensor = TryGet(value);
  if (tensor == nullptr) throw Napi::TypeError::New(env, std::string(what) + ": expected a tensor");
  if (!tensor->defined()) throw Napi::Error::New(env, std::string(what) + ": the tensor was disposed");
  return *tensor;
}

Napi::Value TensorHandle::Dispose(const Napi::CallbackInfo& info) {
  Release();
  return info.Env().Undefined();
}

Napi::Value TensorHandle::Disposed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), !tensor_.defined());
}

Napi::Value TensorHandle::Shape(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const at::Tensor& t = Get(info.This(), "shape");
  Napi::Array shape = Napi::Array::New(env, t.dim());
  for (int64_t i = 0; i < t.dim(); i++) shape.Set(static_cast<uint32_t>(i), Napi::Number::New(env, static_cast<double>(t.size(i))));
  return shape;
}

Napi::Value TensorHandle::Dtype(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), CodeFromScalarType(Get(info.This(), "dtype").scalar_type()));
}

Napi::Value TensorHandle::Device(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), Get(info.This(), "device").device().str());
}

Napi::Value TensorHandle::Numel(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(Get(info.This(), "numel").numel()));
}

// ---- GeneratorHandle ----

Napi::Function GeneratorHandle::Define(Napi::Env env) {
  Napi::Function ctor = DefineClass(env, "GeneratorHandle", {
      InstanceMethod("getState", &GeneratorHandle::GetState),
      InstanceMethod("setState", &GeneratorHandle::SetState),
      InstanceMethod("initialSeed", &GeneratorHandle::InitialSeed),
  });
  env.GetInstanceData<AddonData>()->generator_constructor = Napi::Persistent(ctor);
  return ctor;
}

// new Generator(seed: bigint | number)
GeneratorHandle::GeneratorHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<GeneratorHandle>(info) {
  Napi::Env env = info.Env();
  info.This().As<Napi::Object>().TypeTag(&kGeneratorTag);
  uint64_t seed = 0;
  if (info.Length() > 0 && info[0].IsBigInt()) {
    bool lossless = true;
    seed = info[0].As<Napi::BigInt>().Uint64Value(&lossless);
    if (!lossless) throw Napi::RangeError::New(env, "Generator: seed must be an integer in [0, 2^64)");
  } else if (info.Length() > 0 && info[0].IsNumber()) {
    double value = info[0].As<Napi::Number>().DoubleValue();
    if (value < 0 || value != static_cast<double>(static_cast<uint64_t>(value))) {
      throw Napi::RangeError::New(env, "Generator: seed must be a non-negative integer");
    }
    seed = static_cast<uint64_t>(value);
  } else {
    throw Napi::TypeError::New(env, "Generator: expected a seed (number or bigint)");
  }
  generator_ = at::make_generator<at::CPUGeneratorImpl>(seed);
}

bool GeneratorHandle::IsHandle(const Napi::Value& value) {
  return value.IsObject() && value.As<Napi::Object>().CheckTypeTag(&kGeneratorTag);
}

at::Generator GeneratorHandle::Get(const Napi::Value& value) {
  if (!IsHandle(value)) throw Napi::TypeError::New(value.Env(), "expected a Generator");
  return Napi::ObjectWrap<GeneratorHandle>::Unwrap(value.As<Napi::Object>())->generator_;
}

Napi::Value GeneratorHandle::GetState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  WW_TRY(env, {
    std::lock_guard<std::mutex> lock(generator_.mutex());
    return TensorHandle::Wrap(env, generator_.get_state());
  })
}

Napi::Value GeneratorHandle::SetState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  WW_TRY(env, {
    const at::Tensor& state = TensorHandle::Get(info[0], "Generator.setState");
    std::lock_guard<std::mutex> lock(generator_.mutex());
    generator_.set_state(state);
    return env.Undefined();
  })
}

Napi::Value GeneratorHandle::InitialSeed(const Napi::CallbackInfo& info) {
  return Napi::BigInt::New(info.Env(), generator_.current_seed());
}
