// Entry point of the addon: the handle classes and each file's functions.
#include "common.h"

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* data = new AddonData();
  env.SetInstanceData(data);
  exports.Set("Tensor", TensorHandle::Define(env));
  exports.Set("Generator", GeneratorHandle::Define(env));
  RegisterDispatch(env, exports);
  RegisterData(env, exports);
  RegisterAutograd(env, exports);
  RegisterRuntime(env, exports);
  RegisterCpuAllocator(env, exports);
  RegisterDistributed(env, exports);
  RegisterScriptModule(env, exports);
  RegisterFloat8(env, exports);
  return exports;
}

NODE_API_MODULE(worldwander_torch, Init)
