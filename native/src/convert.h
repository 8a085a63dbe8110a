// JavaScript values <-> libtorch IValues, typed by an operator schema's argument types.
#pragma once
#include "common.h"

#include <ATen/core/ivalue.h>
#include <ATen/core/jit_type.h>

#include <stdexcept>

// Why a value does not fit an argument; the caller adds which operator and argument.
struct ConversionError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

c10::IValue ToIValue(const Napi::Value& value, const c10::TypePtr& type, c10::optional<int32_t> fixed);
Napi::Value FromIValue(Napi::Env env, const c10::IValue& value);
