// What this libtorch is and can do, its thread pool, and a matmul timed inside C++ (the
// reference the binding's own overhead is measured against).
#include "common.h"

#include <ATen/Parallel.h>
#include <ATen/autocast_mode.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/core/stack.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <torch/version.h>

#include <dlfcn.h>

#include <chrono>

namespace {

Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  WW_TRY(env, {
    Napi::Object out = Napi::Object::New(env);
    out.Set("version", TORCH_VERSION);
    bool cuda = at::globalContext().hasCUDA();
    out.Set("cuda", cuda);
    out.Set("cudaDeviceCount", cuda ? at::detail::getCUDAHooks().getNumGPUs() : 0);
    out.Set("numThreads", at::get_num_threads());
    out.Set("numInteropThreads", at::get_num_interop_threads());
    out.Set("mkldnn", at::hasMKLDNN());
    out.Set("mkl", at::hasMKL());
    out.Set("openmp", at::hasOpenMP());
    out.Set("config", at::show_config());
    out.Set("parallelInfo", at::get_parallel_info());
    // OpenBLAS's kernel set ("SkylakeX", "Haswell", "Prescott" = generic), where OpenBLAS is loaded
    using CoreName = char* (*)();
    auto corename = reinterpret_cast<CoreName>(dlsym(RTLD_DEFAULT, "openblas_get_corename"));
    out.Set("blasCore", corename ? std::string(corename()) : std::string());
    return out;
  })
}

Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  at::set_num_threads(info[0].As<Napi::Number>().Int32Value());
  return info.Env().Undefined();
}

// benchMatmul(n, iterations, dtypeCode, device) -> seconds per iteration, each timed in C++.
Napi::Value BenchMatmul(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t n = info[0].As<Napi::Number>().Int64Value();
  int iterations = info[1].As<Napi::Number>().Int32Value();
  at::ScalarType dtype = ScalarTypeFromCode(env, info[2].As<Napi::Number>().Int32Value());
  std::string device = info.Length() > 3 && info[3].IsString() ? info[3].As<Napi::String>().Utf8Value() : "cpu";
  WW_TRY(env, {
    auto options = at::TensorOptions().dtype(dtype).device(c10::Device(device));
    at::Tensor a = at::randn({n, n}, options);
    at::Tensor b = at::randn({n, n}, options);
    bool cuda = a.is_cuda();
    auto sync = [&]() { if (cuda) at::detail::getCUDAHooks().deviceSynchronize(a.get_device()); };
    at::mm(a, b);
    sync();
    Napi::Array times = Napi::Array::New(env, iterations);
    for (int i = 0; i < iterations; i++) {
      auto start = std::chrono::steady_clock::now();
      at::Tensor c = at::mm(a, b);
      sync();
      std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
      times.Set(static_cast<uint32_t>(i), elapsed.count());
    }
    return times;
  })
}

// benchTinyOp(calls, batches, device) -> seconds per call of each batch: aten::add.Scalar on a
// 1-element tensor through the dispatcher's boxed call, result released, as the binding calls
// ops but without Node-API: the reference the binding's per-op overhead is measured against.
Napi::Value BenchTinyOp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int calls = info[0].As<Napi::Number>().Int32Value();
  int batches = info[1].As<Napi::Number>().Int32Value();
  std::string device = info.Length() > 2 && info[2].IsString() ? info[2].As<Napi::String>().Utf8Value() : "cpu";
  WW_TRY(env, {
    auto op = c10::Dispatcher::singleton().findSchemaOrThrow("aten::add", "Scalar");
    at::Tensor tiny = at::zeros({1}, at::TensorOptions().device(c10::Device(device)));
    Napi::Array times = Napi::Array::New(env, batches);
    for (int b = 0; b < batches; b++) {
      auto start = std::chrono::steady_clock::now();
      for (int i = 0; i < calls; i++) {
        torch::jit::Stack stack;
        stack.reserve(3);
        stack.emplace_back(tiny);
        stack.emplace_back(c10::Scalar(1));
        stack.emplace_back(c10::Scalar(1));
        op.callBoxed(&stack);
      }
      std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
      times.Set(static_cast<uint32_t>(b), elapsed.count() / calls);
    }
    return times;
  })
}

// synchronize(device): waits for queued GPU work (no-op on CPU).
Napi::Value Synchronize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  WW_TRY(env, {
    c10::Device device(info[0].As<Napi::String>().Utf8Value());
    if (device.is_cuda()) at::detail::getCUDAHooks().deviceSynchronize(device.has_index() ? device.index() : 0);
    return env.Undefined();
  })
}

// setAutocast(enabled, dtypeCode) -> previous enabled state (turning on what is on does nothing). With it on, the CPU and
// CUDA autocast dispatch keys cast the inputs of matmul-like ops (linear, matmul, conv, bmm, ...) to dtype, as
// torch.autocast("cpu") and torch.autocast("cuda") do; turning it off clears their cache of cast weights.
Napi::Value SetAutocast(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bool enabled = info[0].As<Napi::Boolean>().Value();
  WW_TRY(env, {
    bool previous = at::autocast::is_cpu_enabled();
    if (enabled && !previous) {
      at::ScalarType dtype = ScalarTypeFromCode(env, info[1].As<Napi::Number>().Int32Value());
      at::autocast::set_autocast_cpu_dtype(dtype);
      at::autocast::set_autocast_gpu_dtype(dtype);
      at::autocast::increment_nesting();
      at::autocast::set_cpu_enabled(true);
      at::autocast::set_enabled(true);
    } else if (!enabled && previous) {
      if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
      at::autocast::set_cpu_enabled(false);
      at::autocast::set_enabled(false);
    }
    return Napi::Boolean::New(env, previous);
  })
}

}  // namespace

void RegisterRuntime(Napi::Env env, Napi::Object exports) {
  exports.Set("info", Napi::Function::New(env, Info));
  exports.Set("setNumThreads", Napi::Function::New(env, SetNumThreads));
  exports.Set("benchMatmul", Napi::Function::New(env, BenchMatmul));
  exports.Set("benchTinyOp", Napi::Function::New(env, BenchTinyOp));
  exports.Set("synchronize", Napi::Function::New(env, Synchronize));
  exports.Set("setAutocast", Napi::Function::New(env, SetAutocast));
}
