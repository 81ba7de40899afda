#include "transformers/core/storage.h"

#include <cstdlib>
#include <cstring>
#include <new>

namespace transformers {

namespace {

class CpuAllocator final : public Allocator {
 public:
  Device device() const override { return Device::CPU; }
  void* allocate(size_t nbytes, bool zero) override {
    const size_t rounded = nbytes == 0 ? 64 : (nbytes + 63) / 64 * 64;  // aligned_alloc wants a multiple
    void* p = std::aligned_alloc(64, rounded);
    if (!p) throw std::bad_alloc();
    if (zero) std::memset(p, 0, rounded);
    return p;
  }
  void free(void* p) noexcept override { std::free(p); }
};

}  // namespace

Allocator& allocator_for(Device device) {
  require_available(device, "allocate");
  static CpuAllocator cpu;
  return cpu;
}

std::shared_ptr<Storage> Storage::allocate(size_t nbytes, bool zero, Device device) {
  Allocator& a = allocator_for(device);
  void* p = a.allocate(nbytes, zero);
  return std::shared_ptr<Storage>(new Storage(p, nbytes, Kind::Owned, device, &a, nullptr));
}

std::shared_ptr<Storage> Storage::borrow(void* data, size_t nbytes) {
  return std::shared_ptr<Storage>(new Storage(data, nbytes, Kind::Borrowed, Device::CPU, nullptr, nullptr));
}

std::shared_ptr<Storage> Storage::mapped(const void* data, size_t nbytes, std::shared_ptr<const void> owner) {
  return std::shared_ptr<Storage>(
      new Storage(const_cast<void*>(data), nbytes, Kind::Mapped, Device::CPU, nullptr, std::move(owner)));
}

Storage::~Storage() {
  if (allocator_) allocator_->free(data_);
}

}  // namespace transformers
