// A caching CPU allocator for tensor storage. glibc's heap splits a freed tensor block to serve
// the small allocations of the JavaScript wrappers, so a loop that frees and reallocates the same
// tensor sizes grows without bound (seen: +1.2 GB over 30,000 iterations of a 64 KiB op). Here
// freed blocks are kept per exact (rounded) size and handed out again, so steady loops reuse
// the same memory; what is cached is capped (WORLDWANDER_CPU_CACHE_MB, default a quarter of RAM,
// at most 4096), the largest blocks leaving first when a new one needs room, and it can be
// released with emptyCache(). It also counts live and peak tensor bytes for memory benchmarks.
// Blocks past the cap go back to glibc, and glibc's dynamic mmap threshold (it rises to 32 MB
// after the first large free) would then serve tensor-sized blocks from its heap, which it does
// not return: a training loop whose peak exceeds the cap grew RSS by ~100 MB a step (seen: 2.4 GB
// to 7 GB in 13 steps with 89 MB of live tensors). So the threshold is pinned at 1 MiB: blocks
// that size and larger are mapped and unmapped, and freeing them returns them to the system.
#include "common.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <c10/core/CPUAllocator.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <map>
#include <unistd.h>
#include <vector>

namespace {


class CachingCpuAllocator final : public c10::Allocator {
 public:
  // Each block starts with a 64-byte header holding its size; data follows, 64-byte aligned.
  static constexpr size_t kHeader = 64;

  static CachingCpuAllocator& Instance() {
    static auto* instance = new CachingCpuAllocator();  // never destroyed: tensors may outlive statics
    return *instance;
  }

  // libtorch 2.3 made allocate() non-const and added copy_data(); both forms are defined here
  // without `override`, so whichever the base class declares is the one overridden.
  c10::DataPtr allocate(size_t requested) { return Allocate(requested); }
  c10::DataPtr allocate(size_t requested) const { return Allocate(requested); }
  void copy_data(void* dest, const void* src, std::size_t count) const { std::memcpy(dest, src, count); }

  c10::DataPtr Allocate(size_t requested) const {
    size_t size = RoundSize(requested);
    void* base = nullptr;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto found = free_.find(size);
      if (found != free_.end() && !found->second.empty()) {
        base = found->second.back();
        found->second.pop_back();
        if (found->second.empty()) free_.erase(found);  // no empty buckets: eviction takes from the last
        cached_ -= size;
      }
      allocated_ += size;
      peak_ = std::max(peak_, allocated_);
    }
    if (base == nullptr && posix_memalign(&base, 64, size + kHeader) != 0) {
      std::lock_guard<std::mutex> lock(mutex_);
      allocated_ -= size;
      TORCH_CHECK(false, "CPU out of memory: cannot allocate ", requested, " bytes (",
                  allocated_, " bytes in live tensors)");
    }
    *static_cast<size_t*>(base) = size;
    // The context is the data pointer itself, as raw_allocate() (used by oneDNN) requires.
    void* data = static_cast<char*>(base) + kHeader;
    return {data, data, &Free, c10::Device(c10::DeviceType::CPU)};
  }

  c10::DeleterFnPtr raw_deleter() const override { return &Free; }

  void EmptyCache() {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& entry : free_) {
      for (void* base : entry.second) std::free(base);
    }
    free_.clear();
    cached_ = 0;
  }

  Napi::Object Stats(Napi::Env env) {
    std::lock_guard<std::mutex> lock(mutex_);
    Napi::Object out = Napi::Object::New(env);
    out.Set("allocatedBytes", static_cast<double>(allocated_));
    out.Set("peakAllocatedBytes", static_cast<double>(peak_));
    out.Set("cachedBytes", static_cast<double>(cached_));
    out.Set("cacheLimitBytes", static_cast<double>(limit_));
    return out;
  }

  void ResetPeak() {
    std::lock_guard<std::mutex> lock(mutex_);
    peak_ = allocated_;
  }

 private:
  CachingCpuAllocator() {
    const char* env = std::getenv("WORLDWANDER_CPU_CACHE_MB");
    // default: a quarter of physical memory, at most 4 GiB
    const size_t quarter = static_cast<size_t>(sysconf(_SC_PHYS_PAGES)) * static_cast<size_t>(sysconf(_SC_PAGE_SIZE)) / 4;
    limit_ = env ? std::strtoull(env, nullptr, 10) << 20 : std::min<size_t>(quarter, size_t{4096} << 20);
  }

  static size_t RoundSize(size_t n) {
    n = std::max<size_t>(n, 1);
    return n < 65536 ? (n + 63) & ~size_t{63} : (n + 4095) & ~size_t{4095};
  }

  static void Free(void* data) { Instance().Release(static_cast<char*>(data) - kHeader); }

  void Release(void* base) {
    size_t size = *static_cast<size_t*>(base);
    std::lock_guard<std::mutex> lock(mutex_);
    allocated_ -= size;
    if (size > limit_) {
      std::free(base);
      return;
    }
    // Make room by releasing the largest cached blocks: the cache follows the sizes in use now
    // (a loop whose tensor sizes change, e.g. two tasks alternating, would otherwise keep the old
    // sizes and send every new block through mmap and its page faults).
    while (cached_ + size > limit_) {
      auto largest = std::prev(free_.end());
      std::free(largest->second.back());
      largest->second.pop_back();
      cached_ -= largest->first;
      if (largest->second.empty()) free_.erase(largest);
    }
    free_[size].push_back(base);
    cached_ += size;
  }

  mutable std::mutex mutex_;
  mutable std::map<size_t, std::vector<void*>> free_;
  mutable size_t allocated_ = 0;
  mutable size_t peak_ = 0;
  mutable size_t cached_ = 0;
  size_t limit_ = 0;
};

Napi::Value MemoryStats(const Napi::CallbackInfo& info) { return CachingCpuAllocator::Instance().Stats(info.Env()); }

Napi::Value ResetPeakMemory(const Napi::CallbackInfo& info) {
  CachingCpuAllocator::Instance().ResetPeak();
  return info.Env().Undefined();
}

Napi::Value EmptyCache(const Napi::CallbackInfo& info) {
  CachingCpuAllocator::Instance().EmptyCache();
  return info.Env().Undefined();
}

}  // namespace

void RegisterCpuAllocator(Napi::Env env, Napi::Object exports) {
  static std::once_flag installed;  // once per process, though each worker thread loads the addon
  std::call_once(installed, [] {
#if defined(__GLIBC__)
    if (!std::getenv("MALLOC_MMAP_THRESHOLD_")) mallopt(M_MMAP_THRESHOLD, 1 << 20);
#endif
    c10::SetCPUAllocator(&CachingCpuAllocator::Instance(), /*priority=*/100);
  });
  exports.Set("memoryStats", Napi::Function::New(env, MemoryStats));
  exports.Set("resetPeakMemory", Napi::Function::New(env, ResetPeakMemory));
  exports.Set("emptyCache", Napi::Function::New(env, EmptyCache));
}
