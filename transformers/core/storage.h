// The bytes behind tensors. A Storage is owned (allocated here, 64-byte aligned), borrowed (the
// caller keeps the memory alive) or mapped (a view into an mmapped file, kept alive by a shared
// owner). Weights loaded from safetensors without a conversion stay mapped: no copy is made.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "transformers/core/device.h"

namespace transformers {

class Storage {
 public:
  enum class Kind : uint8_t { Owned, Borrowed, Mapped };

  // Allocates `nbytes` (zero-filled when `zero` is set).
  static std::shared_ptr<Storage> allocate(size_t nbytes, bool zero = false);
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
  Device device() const { return Device::CPU; }
  // Mapped storage is read-only (PROT_READ); writing to it would fault.
  bool writable() const { return kind_ != Kind::Mapped; }

 private:
  Storage(void* data, size_t nbytes, Kind kind, std::shared_ptr<const void> owner)
      : data_(data), nbytes_(nbytes), kind_(kind), owner_(std::move(owner)) {}
  void* data_;
  size_t nbytes_;
  Kind kind_;
  std::shared_ptr<const void> owner_;
};

}  // namespace transformers
