// JavaScript values <-> libtorch values: dtype codes, shapes, and IValues typed by an op schema.
#include "convert.h"

#include <cmath>

// dtype codes are c10::ScalarType's own values, so they pass unchanged as `ScalarType?` arguments.
at::ScalarType ScalarTypeFromCode(Napi::Env env, int code) {
  switch (static_cast<at::ScalarType>(code)) {
    case at::kByte: case at::kChar: case at::kShort: case at::kInt: case at::kLong:
    case at::kHalf: case at::kFloat: case at::kDouble: case at::kBool: case at::kBFloat16:
      return static_cast<at::ScalarType>(code);
    default:
      throw Napi::TypeError::New(env, "unsupported dtype code " + std::to_string(code));
  }
}

int CodeFromScalarType(at::ScalarType type) { return static_cast<int>(type); }

static int64_t ToInt(const Napi::Value& value) {
  if (!value.IsNumber()) throw ConversionError("expected an integer");
  double d = value.As<Napi::Number>().DoubleValue();
  if (std::floor(d) != d || !std::isfinite(d)) throw ConversionError("expected an integer, got " + std::to_string(d));
  return static_cast<int64_t>(d);
}

static const at::Tensor& ToTensor(const Napi::Value& value) {
  const at::Tensor* tensor = TensorHandle::TryGet(value);
  if (tensor == nullptr) throw ConversionError("expected a tensor");
  if (!tensor->defined()) throw ConversionError("the tensor was disposed");
  return *tensor;
}

std::vector<int64_t> ShapeFromArray(const Napi::Value& value, const char* what) {
  if (!value.IsArray()) throw Napi::TypeError::New(value.Env(), std::string(what) + ": expected an array of sizes");
  Napi::Array array = value.As<Napi::Array>();
  std::vector<int64_t> shape(array.Length());
  try {
    for (uint32_t i = 0; i < array.Length(); i++) shape[i] = ToInt(array.Get(i));
  } catch (const ConversionError& e) {
    throw Napi::TypeError::New(value.Env(), std::string(what) + ": " + e.what());
  }
  return shape;
}

static c10::IValue ToList(const Napi::Value& value, const c10::TypePtr& element, c10::optional<int32_t> fixed) {
  // A single number for a fixed-size `int[N]` stands for N copies, as in Python.
  if (!value.IsArray()) {
    if (fixed && value.IsNumber() && element->kind() == c10::TypeKind::IntType) {
      return c10::IValue(c10::List<int64_t>(std::vector<int64_t>(*fixed, ToInt(value))));
    }
    throw ConversionError("expected an array");
  }
  Napi::Array array = value.As<Napi::Array>();
  uint32_t n = array.Length();
  switch (element->kind()) {
    case c10::TypeKind::IntType:
    case c10::TypeKind::SymIntType: {
      c10::List<int64_t> list;
      list.reserve(n);
      for (uint32_t i = 0; i < n; i++) list.push_back(ToInt(array.Get(i)));
      return c10::IValue(list);
    }
    case c10::TypeKind::FloatType: {
      c10::List<double> list;
      for (uint32_t i = 0; i < n; i++) list.push_back(array.Get(i).As<Napi::Number>().DoubleValue());
      return c10::IValue(list);
    }
    case c10::TypeKind::BoolType: {
      c10::List<bool> list;
      for (uint32_t i = 0; i < n; i++) list.push_back(array.Get(i).ToBoolean().Value());
      return c10::IValue(list);
    }
    case c10::TypeKind::TensorType: {
      c10::List<at::Tensor> list;
      list.reserve(n);
      for (uint32_t i = 0; i < n; i++) list.push_back(ToTensor(array.Get(i)));
      return c10::IValue(list);
    }
    case c10::TypeKind::OptionalType: {
      c10::List<c10::optional<at::Tensor>> list;
      for (uint32_t i = 0; i < n; i++) {
        Napi::Value item = array.Get(i);
        if (item.IsNull() || item.IsUndefined()) list.push_back(c10::nullopt);
        else list.push_back(ToTensor(item));
      }
      return c10::IValue(list);
    }
    default:
      throw ConversionError("unsupported list type " + element->str());
  }
}

c10::IValue ToIValue(const Napi::Value& value, const c10::TypePtr& type, c10::optional<int32_t> fixed) {
  switch (type->kind()) {
    case c10::TypeKind::OptionalType:
      if (value.IsNull() || value.IsUndefined()) return c10::IValue();
      return ToIValue(value, type->containedType(0), fixed);
    case c10::TypeKind::TensorType:
      return c10::IValue(ToTensor(value));
    case c10::TypeKind::IntType:
    case c10::TypeKind::SymIntType:
    case c10::TypeKind::ScalarTypeType:
    case c10::TypeKind::LayoutType:
    case c10::TypeKind::MemoryFormatType:
      return c10::IValue(ToInt(value));
    case c10::TypeKind::FloatType:
      if (!value.IsNumber()) throw ConversionError("expected a number");
      return c10::IValue(value.As<Napi::Number>().DoubleValue());
    case c10::TypeKind::NumberType: {  // Scalar: an integer-valued number is an integer Scalar
      if (value.IsBoolean()) return c10::IValue(value.As<Napi::Boolean>().Value());
      if (!value.IsNumber()) throw ConversionError("expected a number");
      double d = value.As<Napi::Number>().DoubleValue();
      if (std::isfinite(d) && std::floor(d) == d && std::fabs(d) < 9007199254740992.0) {
        return c10::IValue(static_cast<int64_t>(d));
      }
      return c10::IValue(d);
    }
    case c10::TypeKind::BoolType:
      if (!value.IsBoolean()) throw ConversionError("expected a boolean");
      return c10::IValue(value.As<Napi::Boolean>().Value());
    case c10::TypeKind::StringType:
      if (!value.IsString()) throw ConversionError("expected a string");
      return c10::IValue(value.As<Napi::String>().Utf8Value());
    case c10::TypeKind::DeviceObjType:
      if (!value.IsString()) throw ConversionError("expected a device string such as 'cpu' or 'cuda:0'");
      return c10::IValue(c10::Device(value.As<Napi::String>().Utf8Value()));
    case c10::TypeKind::GeneratorType:
      if (!GeneratorHandle::IsHandle(value)) throw ConversionError("expected a Generator");
      return c10::IValue(GeneratorHandle::Get(value));
    case c10::TypeKind::ListType:
      return ToList(value, type->containedType(0), fixed);
    default:
      throw ConversionError("unsupported argument type " + type->str());
  }
}

Napi::Value FromIValue(Napi::Env env, const c10::IValue& value) {
  if (value.isTensor()) return TensorHandle::Wrap(env, value.toTensor());
  if (value.isNone()) return env.Null();
  if (value.isDouble()) return Napi::Number::New(env, value.toDouble());
  if (value.isInt()) return Napi::Number::New(env, static_cast<double>(value.toInt()));
  if (value.isBool()) return Napi::Boolean::New(env, value.toBool());
  if (value.isString()) return Napi::String::New(env, value.toStringRef());
  if (value.isScalar()) return Napi::Number::New(env, value.toScalar().toDouble());
  if (value.isTensorList()) {
    auto list = value.toTensorList();
    Napi::Array array = Napi::Array::New(env, list.size());
    for (size_t i = 0; i < list.size(); i++) array.Set(static_cast<uint32_t>(i), TensorHandle::Wrap(env, list.get(i)));
    return array;
  }
  if (value.isIntList()) {
    auto list = value.toIntList();
    Napi::Array array = Napi::Array::New(env, list.size());
    for (size_t i = 0; i < list.size(); i++) array.Set(static_cast<uint32_t>(i), Napi::Number::New(env, static_cast<double>(list.get(i))));
    return array;
  }
  if (value.isTuple() || value.isList()) {
    std::vector<c10::IValue> items;
    if (value.isTuple()) {
      for (const auto& item : value.toTupleRef().elements()) items.push_back(item);
    } else {
      for (const auto& item : value.toListRef()) items.push_back(item);
    }
    Napi::Array array = Napi::Array::New(env, items.size());
    for (size_t i = 0; i < items.size(); i++) array.Set(static_cast<uint32_t>(i), FromIValue(env, items[i]));
    return array;
  }
  throw Napi::TypeError::New(env, "unsupported return type " + value.tagKind());
}
