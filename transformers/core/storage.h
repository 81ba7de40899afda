// The bytes behind tensors. A Storage is owned (allocated by an Allocator of its device), borrowed
// (the caller keeps the memory alive) or mapped (a view into an mmapped file, kept alive by a
// shared owner). Weights loaded from safetensors without a conversion stay mapped: no copy is made.
// Borrowed and mapped storage is host memory, so it is on the CPU.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "transformers/core/device.h"

namespace transformers {

// Allocates and frees the memory of one device. The CPU allocator hands out 64-byte aligned
// blocks (a cache line, and the alignment AVX-512 loads like best).
class Allocator {
 public:
  virtual ~Allocator() = default;
  virtual Device device() const = 0;
  // At least `nbytes` (zero-filled when `zero`); throws std::bad_alloc when out of memory.
  virtual void* allocate(size_t nbytes, bool zero) = 0;
  virtual void free(void* p) noexcept = 0;
};

// The allocator of `device`; NotImplementedError naming the device when this build has none.
Allocator& allocator_for(Device device);

// Asks glibc to serve blocks up to 1 GiB from its heap and to keep up to 1 GiB of freed heap top,
// for the rest of the process. Forward passes and training steps allocate and free the same
// large tensors over and over; by default glibc maps blocks over its mmap threshold afresh and
// trims freed heap tops, so every pass page-faults them in again, zeroed by the kernel (a
// training step of the demo model lost a tenth of its CPU time to it, a 128-token prompt of
// Qwen2.5-0.5B ~3400 faults). A long-running process's footprint is its peak pass anyway. The
// `transformers` command and the Trainer call it; a program linking the library decides itself.
void keep_freed_memory_for_reuse();

class Storage {
 public:
  enum class Kind : uint8_t { Owned, Borrowed, Mapped };

  // Allocates `nbytes` on `device` (zero-filled when `zero` is set).
  static std::shared_ptr<Storage> allocate(size_t nbytes, bool zero = false, Device device = Device::CPU);
  // Wraps memory the caller keeps alive for the storage's lifetime.
  static std::shared_ptr<Storage> borrow(void* data, size_t nbytes);
  // Wraps memory inside a mapping; `owner` keeps the mapping alive.
  static std::shared_ptr<Storage> mapped(const void* data, size_t nbytes, std::shared_ptr<const void> owner);

  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  Kind kind() const { return kind_; }
  Device device() const { return device_; }
  // Mapped storage is read-only (PROT_READ); writing to it would fault.
  bool writable() const { return kind_ != Kind::Mapped; }

 private:
  Storage(void* data, size_t nbytes, Kind kind, Device device, Allocator* allocator, std::shared_ptr<const void> owner)
      : data_(data), nbytes_(nbytes), kind_(kind), device_(device), allocator_(allocator), owner_(std::move(owner)) {}
  void* data_;
  size_t nbytes_;
  Kind kind_;
  Device device_;
  Allocator* allocator_;  // Owned: frees data_; null otherwise
  std::shared_ptr<const void> owner_;
};

}  // namespace transformers
