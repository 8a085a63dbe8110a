// Data parallel on libtorch's own distributed engine (c10d): a TCPStore for the rendezvous (rank 0
// serves it) and a ProcessGroupGloo for the collectives, on CPU tensors. The JavaScript side
// buckets gradients into flat tensors and all-reduces each bucket. Collectives block the calling
// thread, as the training step does; a peer that dies makes the wait fail (a closed connection,
// or the timeout) instead of hanging.
#include "common.h"

#ifdef USE_C10D_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <chrono>

namespace {

class ProcessGroupHandle : public Napi::ObjectWrap<ProcessGroupHandle> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "ProcessGroup", {
      InstanceMethod("allReduceSum", &ProcessGroupHandle::AllReduceSum),
      InstanceMethod("barrier", &ProcessGroupHandle::Barrier),
      InstanceMethod("destroy", &ProcessGroupHandle::Destroy),
    });
  }

  // new ProcessGroup(host, port, rank, worldSize, timeoutMs)
  explicit ProcessGroupHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ProcessGroupHandle>(info) {
    Napi::Env env = info.Env();
    std::string host = info[0].As<Napi::String>().Utf8Value();
    int port = info[1].As<Napi::Number>().Int32Value();
    rank_ = info[2].As<Napi::Number>().Int32Value();
    int size = info[3].As<Napi::Number>().Int32Value();
    timeout_ = std::chrono::milliseconds(info[4].As<Napi::Number>().Int64Value());
    WW_TRY(env, {
      c10d::TCPStoreOptions options;
      options.port = static_cast<std::uint16_t>(port);
      options.isServer = rank_ == 0;
      options.numWorkers = static_cast<std::size_t>(size);
      options.waitWorkers = true;
      options.timeout = timeout_;
      store_ = c10::make_intrusive<c10d::TCPStore>(host, options);
      auto pgOptions = c10d::ProcessGroupGloo::Options::create(timeout_);
      pgOptions->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(host));
      group_ = c10::make_intrusive<c10d::ProcessGroupGloo>(store_, rank_, size, pgOptions);
    })
  }

 private:
  c10::intrusive_ptr<c10d::Store> store_;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> group_;
  std::chrono::milliseconds timeout_{0};
  int rank_ = 0;

  void Check(Napi::Env env) {
    if (!group_) throw Napi::Error::New(env, "the process group was destroyed");
  }

  // allReduceSum(tensor): sums a CPU tensor across ranks, in place.
  Napi::Value AllReduceSum(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Check(env);
    const at::Tensor& tensor = TensorHandle::Get(info[0], "allReduceSum");
    WW_TRY(env, {
      std::vector<at::Tensor> tensors{tensor};
      auto work = group_->allreduce(tensors);
      work->wait(timeout_);
      return env.Undefined();
    })
  }

  Napi::Value Barrier(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Check(env);
    WW_TRY(env, {
      group_->barrier()->wait(timeout_);
      return env.Undefined();
    })
  }

  Napi::Value Destroy(const Napi::CallbackInfo& info) {
    group_.reset();
    store_.reset();
    return info.Env().Undefined();
  }
};

}  // namespace

void RegisterDistributed(Napi::Env env, Napi::Object exports) {
  exports.Set("ProcessGroup", ProcessGroupHandle::Define(env));
}
#else
// Built without Gloo's headers: a ProcessGroup that says how to get them.
static Napi::Value NoGloo(const Napi::CallbackInfo& info) {
  throw Napi::Error::New(info.Env(), "this addon was built without c10d's Gloo process group (install libgloo-dev, or use a libtorch that ships Gloo's headers, and run the set-up again)");
}
void RegisterDistributed(Napi::Env env, Napi::Object exports) {
  exports.Set("ProcessGroup", Napi::Function::New(env, NoGloo));
}
#endif
