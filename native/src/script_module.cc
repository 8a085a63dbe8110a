// ScriptModuleHandle: a TorchScript module (torch.jit.save's archive) loaded with torch::jit::load,
// for networks the user holds only in that form (StyleGAN-V's i3d_torchscript.pt for FVD).
#include "common.h"

#include <torch/csrc/jit/api/module.h>
#include <torch/csrc/jit/serialization/import.h>

namespace {

class ScriptModuleHandle : public Napi::ObjectWrap<ScriptModuleHandle> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "ScriptModule", {
        InstanceMethod("forward", &ScriptModuleHandle::Forward),
        InstanceMethod("dispose", &ScriptModuleHandle::Dispose),
    });
  }

  // new ScriptModule(file, device): the module in eval mode, its tensors on `device`.
  explicit ScriptModuleHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ScriptModuleHandle>(info) {
    Napi::Env env = info.Env();
    std::string file = info[0].As<Napi::String>().Utf8Value();
    std::string device = info.Length() > 1 && info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "cpu";
    WW_TRY(env, {
      module_ = torch::jit::load(file, c10::Device(device));
      module_->eval();
    })
  }

 private:
  static c10::IValue ToIValue(const Napi::Value& value, const std::string& what) {
    if (value.IsBoolean()) return c10::IValue(value.As<Napi::Boolean>().Value());
    if (value.IsNumber()) {
      double number = value.As<Napi::Number>().DoubleValue();
      if (number == static_cast<double>(static_cast<int64_t>(number))) return c10::IValue(static_cast<int64_t>(number));
      return c10::IValue(number);
    }
    if (value.IsString()) return c10::IValue(value.As<Napi::String>().Utf8Value());
    return c10::IValue(TensorHandle::Get(value, what.c_str()));
  }

  // A tensor, or an array of the tensors of a tuple or list result (one level).
  static Napi::Value FromIValue(Napi::Env env, const c10::IValue& value) {
    if (value.isTensor()) return TensorHandle::Wrap(env, value.toTensor());
    std::vector<c10::IValue> items;
    if (value.isTuple()) items = value.toTupleRef().elements().vec();
    else if (value.isList()) items = value.toListRef().vec();
    else throw Napi::TypeError::New(env, "forward: the module returned a " + value.tagKind() + ", not a tensor or a tuple of tensors");
    Napi::Array out = Napi::Array::New(env, items.size());
    for (size_t i = 0; i < items.size(); i++) {
      if (!items[i].isTensor()) throw Napi::TypeError::New(env, "forward: item " + std::to_string(i) + " of the result is a " + items[i].tagKind() + ", not a tensor");
      out.Set(static_cast<uint32_t>(i), TensorHandle::Wrap(env, items[i].toTensor()));
    }
    return out;
  }

  // forward(args, kwargs): args an array of tensors or scalars, kwargs an object of them.
  Napi::Value Forward(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!module_) throw Napi::Error::New(env, "forward: the module was disposed");
    Napi::Array args = info[0].As<Napi::Array>();
    std::vector<c10::IValue> inputs;
    for (uint32_t i = 0; i < args.Length(); i++) inputs.push_back(ToIValue(args.Get(i), "argument " + std::to_string(i)));
    torch::jit::Kwargs kwargs;
    if (info.Length() > 1 && info[1].IsObject()) {
      Napi::Object given = info[1].As<Napi::Object>();
      Napi::Array names = given.GetPropertyNames();
      for (uint32_t i = 0; i < names.Length(); i++) {
        std::string name = names.Get(i).As<Napi::String>().Utf8Value();
        kwargs.emplace(name, ToIValue(given.Get(name), name));
      }
    }
    WW_TRY(env, { return FromIValue(env, module_->forward(std::move(inputs), kwargs)); })
  }

  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    module_.reset();
    return info.Env().Undefined();
  }

  c10::optional<torch::jit::Module> module_;
};

}  // namespace

void RegisterScriptModule(Napi::Env env, Napi::Object exports) {
  exports.Set("ScriptModule", ScriptModuleHandle::Define(env));
}
