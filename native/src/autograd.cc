// Autograd: libtorch's own engine; these expose its switches and results.
#include "common.h"

#include <ATen/autocast_mode.h>
#include <ATen/core/grad_mode.h>
#include <torch/csrc/autograd/autograd.h>

namespace {

std::vector<at::Tensor> TensorList(const Napi::Value& value, const char* what, bool allow_null) {
  std::vector<at::Tensor> tensors;
  if (value.IsUndefined() || value.IsNull()) return tensors;
  Napi::Array array = value.As<Napi::Array>();
  for (uint32_t i = 0; i < array.Length(); i++) {
    Napi::Value item = array.Get(i);
    if (allow_null && (item.IsNull() || item.IsUndefined())) tensors.emplace_back();
    else tensors.push_back(TensorHandle::Get(item, what));
  }
  return tensors;
}

// backward(outputs[], gradients[] | null, retainGraph, inputs[] | null)
Napi::Value Backward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  WW_TRY(env, {
    auto outputs = TensorList(info[0], "backward outputs", false);
    auto gradients = TensorList(info[1], "backward gradients", true);
    bool retain = info[2].IsBoolean() && info[2].As<Napi::Boolean>().Value();
    auto inputs = TensorList(info[3], "backward inputs", false);
    torch::autograd::backward(outputs, gradients, retain, false, inputs);
    return env.Undefined();
  })
}

Napi::Value Grad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  WW_TRY(env, { return TensorHandle::Wrap(env, TensorHandle::Get(info[0], "grad").grad()); })
}

// setGrad(tensor, gradient | null)
Napi::Value SetGrad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  WW_TRY(env, {
    at::Tensor tensor = TensorHandle::Get(info[0], "setGrad");
    if (info[1].IsNull() || info[1].IsUndefined()) tensor.mutable_grad().reset();
    else tensor.mutable_grad() = TensorHandle::Get(info[1], "setGrad gradient");
    return env.Undefined();
  })
}

Napi::Value RequiresGrad(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), TensorHandle::Get(info[0], "requiresGrad").requires_grad());
}

Napi::Value SetRequiresGrad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  WW_TRY(env, {
    at::Tensor tensor = TensorHandle::Get(info[0], "requiresGrad_");
    tensor.set_requires_grad(info[1].ToBoolean().Value());
    return env.Undefined();
  })
}

Napi::Value IsLeaf(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), TensorHandle::Get(info[0], "isLeaf").is_leaf());
}

Napi::Value IsGradEnabled(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), at::GradMode::is_enabled());
}

// setGradEnabled(on) -> the previous setting. Autocast's cache of cast weights is used only
// while gradients are recorded: libtorch 1.13 would otherwise keep a cast made under no_grad
// (no graph) and hand it to a later recording pass over the same weight, which then gets no
// gradient (gradient checkpointing's no-grad forward, then its recompute).
Napi::Value SetGradEnabled(const Napi::CallbackInfo& info) {
  bool previous = at::GradMode::is_enabled();
  bool enabled = info[0].ToBoolean().Value();
  at::GradMode::set_enabled(enabled);
  at::autocast::set_autocast_cache_enabled(enabled);
  return Napi::Boolean::New(info.Env(), previous);
}

}  // namespace

void RegisterAutograd(Napi::Env env, Napi::Object exports) {
  exports.Set("backward", Napi::Function::New(env, Backward));
  exports.Set("grad", Napi::Function::New(env, Grad));
  exports.Set("setGrad", Napi::Function::New(env, SetGrad));
  exports.Set("requiresGrad", Napi::Function::New(env, RequiresGrad));
  exports.Set("setRequiresGrad", Napi::Function::New(env, SetRequiresGrad));
  exports.Set("isLeaf", Napi::Function::New(env, IsLeaf));
  exports.Set("isGradEnabled", Napi::Function::New(env, IsGradEnabled));
  exports.Set("setGradEnabled", Napi::Function::New(env, SetGradEnabled));
}
