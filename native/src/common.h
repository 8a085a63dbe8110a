// Shared helpers of the addon: error translation and the handle classes' declarations.
#pragma once
#include <napi.h>
#include <ATen/ATen.h>

#include <string>

// A libtorch error as a JavaScript Error named 'TorchError' (the CLI reports those without a
// stack trace).
inline Napi::Error TorchError(Napi::Env env, const std::string& message) {
  Napi::Error error = Napi::Error::New(env, message);
  error.Value().Set("name", Napi::String::New(env, "TorchError"));
  return error;
}

// Runs `body`, turning C++ and libtorch exceptions into JavaScript errors.
#define WW_TRY(env, body)                                                         \
  try {                                                                           \
    body                                                                          \
  } catch (const Napi::Error&) {                                                  \
    throw;                                                                        \
  } catch (const c10::Error& e) {                                                 \
    throw TorchError(env, e.what_without_backtrace());                            \
  } catch (const std::exception& e) {                                             \
    throw Napi::Error::New(env, e.what());                                        \
  }

// One JavaScript object owning one reference to an at::Tensor.
class TensorHandle : public Napi::ObjectWrap<TensorHandle> {
 public:
  static Napi::Function Define(Napi::Env env);
  static Napi::Value Wrap(Napi::Env env, at::Tensor tensor);  // undefined tensor -> null
  static const at::Tensor& Get(const Napi::Value& value, const char* what);
  static bool IsHandle(const Napi::Value& value);
  // The tensor of a handle (undefined once disposed), or nullptr when value is no tensor handle.
  static const at::Tensor* TryGet(const Napi::Value& value);

  explicit TensorHandle(const Napi::CallbackInfo& info);
  ~TensorHandle() override;

 private:
  void Release();
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  Napi::Value Disposed(const Napi::CallbackInfo& info);
  Napi::Value Shape(const Napi::CallbackInfo& info);
  Napi::Value Dtype(const Napi::CallbackInfo& info);
  Napi::Value Device(const Napi::CallbackInfo& info);
  Napi::Value Numel(const Napi::CallbackInfo& info);

  at::Tensor tensor_;
  int64_t reported_bytes_ = 0;
};

// A seeded random generator (CPU); tensors on other devices are drawn on CPU and moved.
class GeneratorHandle : public Napi::ObjectWrap<GeneratorHandle> {
 public:
  static Napi::Function Define(Napi::Env env);
  static at::Generator Get(const Napi::Value& value);
  static bool IsHandle(const Napi::Value& value);
  explicit GeneratorHandle(const Napi::CallbackInfo& info);

 private:
  Napi::Value GetState(const Napi::CallbackInfo& info);
  Napi::Value SetState(const Napi::CallbackInfo& info);
  Napi::Value InitialSeed(const Napi::CallbackInfo& info);
  at::Generator generator_;
};

// Constructors, kept per Node environment (worker threads each load the addon).
struct AddonData {
  Napi::FunctionReference tensor_constructor;
  Napi::FunctionReference generator_constructor;
};

// dtype codes shared with src/torch/dtype.ts.
at::ScalarType ScalarTypeFromCode(Napi::Env env, int code);
int CodeFromScalarType(at::ScalarType type);
std::vector<int64_t> ShapeFromArray(const Napi::Value& value, const char* what);

// Registration of each file's functions on the exports object.
void RegisterDispatch(Napi::Env env, Napi::Object exports);
void RegisterData(Napi::Env env, Napi::Object exports);
void RegisterAutograd(Napi::Env env, Napi::Object exports);
void RegisterRuntime(Napi::Env env, Napi::Object exports);
void RegisterCpuAllocator(Napi::Env env, Napi::Object exports);
void RegisterDistributed(Napi::Env env, Napi::Object exports);
void RegisterScriptModule(Napi::Env env, Napi::Object exports);
void RegisterFloat8(Napi::Env env, Napi::Object exports);
