// The escape hatch that every typed op stands on: call any ATen operator by schema name
// through the boxed dispatcher. `findOp` resolves a name once; `callOp` converts the arguments
// by the schema's types, fills defaults, and converts the returns.
#include "convert.h"

#include <ATen/core/dispatch/Dispatcher.h>

#include <deque>
#include <mutex>
#include <unordered_map>
#include <sstream>

#include <torch/version.h>

namespace {

struct Resolved {
  c10::OperatorHandle handle;
  std::string name;
};

// One entry per operator for the life of the process (a deque keeps references valid), shared by
// every worker thread that loads the addon.
struct Registry {
  std::mutex mutex;
  std::deque<Resolved> entries;
  std::unordered_map<std::string, size_t> ids;
};

Registry& registry() {
  static auto* instance = new Registry();
  return *instance;
}

c10::optional<c10::OperatorHandle> Lookup(const std::string& name, const std::string& overload) {
  return c10::Dispatcher::singleton().findSchema(c10::OperatorName(name, overload));
}

// findOp(name, overload) -> id; throws naming the operator when libtorch has no such schema.
Napi::Value FindOp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = info[0].As<Napi::String>().Utf8Value();
  std::string overload = info.Length() > 1 && info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "";
  auto handle = Lookup(name, overload);
  if (!handle) {
    throw Napi::Error::New(env, std::string("libtorch ") + TORCH_VERSION + " has no operator " + name +
                                    (overload.empty() ? "" : "." + overload));
  }
  std::string full = name + (overload.empty() ? "" : "." + overload);
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  auto found = r.ids.find(full);
  if (found != r.ids.end()) return Napi::Number::New(env, static_cast<double>(found->second));
  r.entries.push_back({*handle, full});
  r.ids.emplace(full, r.entries.size() - 1);
  return Napi::Number::New(env, static_cast<double>(r.entries.size() - 1));
}

Napi::Value HasOp(const Napi::CallbackInfo& info) {
  std::string name = info[0].As<Napi::String>().Utf8Value();
  std::string overload = info.Length() > 1 && info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "";
  return Napi::Boolean::New(info.Env(), Lookup(name, overload).has_value());
}

const Resolved& Get(Napi::Env env, const Napi::Value& id) {
  uint32_t index = id.As<Napi::Number>().Uint32Value();
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  if (index >= r.entries.size()) throw Napi::RangeError::New(env, "callOp: unknown operator id");
  return r.entries[index];
}

Napi::Value OpSchema(const Napi::CallbackInfo& info) {
  std::ostringstream out;
  out << Get(info.Env(), info[0]).handle.schema();
  return Napi::String::New(info.Env(), out.str());
}

// callOp(id, ...args): positional arguments in schema order (keyword-only ones included);
// undefined takes the schema's default.
Napi::Value CallOp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Resolved& op = Get(env, info[0]);
  const c10::FunctionSchema& schema = op.handle.schema();
  const auto& arguments = schema.arguments();
  size_t given = info.Length() - 1;
  if (given > arguments.size()) {
    throw Napi::TypeError::New(env, op.name + ": takes " + std::to_string(arguments.size()) + " arguments, got " +
                                        std::to_string(given));
  }
  WW_TRY(env, {
    torch::jit::Stack stack;
    stack.reserve(arguments.size());
    for (size_t i = 0; i < arguments.size(); i++) {
      const c10::Argument& argument = arguments[i];
      if (i < given && !info[i + 1].IsUndefined()) {
        try {
          stack.push_back(ToIValue(info[i + 1], argument.type(), argument.N()));
        } catch (const ConversionError& e) {
          throw Napi::TypeError::New(env, op.name + " argument '" + argument.name() + "': " + e.what());
        }
      } else if (argument.default_value()) {
        stack.push_back(*argument.default_value());
      } else {
        throw Napi::TypeError::New(env, op.name + ": missing argument '" + argument.name() + "'");
      }
    }
    op.handle.callBoxed(&stack);
    if (stack.size() == 1) return FromIValue(env, stack[0]);
    Napi::Array results = Napi::Array::New(env, stack.size());
    for (size_t i = 0; i < stack.size(); i++) results.Set(static_cast<uint32_t>(i), FromIValue(env, stack[i]));
    return results;
  })
}

}  // namespace

void RegisterDispatch(Napi::Env env, Napi::Object exports) {
  exports.Set("findOp", Napi::Function::New(env, FindOp));
  exports.Set("hasOp", Napi::Function::New(env, HasOp));
  exports.Set("opSchema", Napi::Function::New(env, OpSchema));
  exports.Set("callOp", Napi::Function::New(env, CallOp));
}
