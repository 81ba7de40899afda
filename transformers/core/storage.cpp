#include "transformers/core/storage.h"

#include <cstdlib>
#include <cstring>
#include <new>

namespace transformers {

std::shared_ptr<Storage> Storage::allocate(size_t nbytes, bool zero) {
  size_t rounded = (nbytes + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, rounded == 0 ? 64 : rounded);
  if (!p) throw std::bad_alloc();
  if (zero) std::memset(p, 0, rounded == 0 ? 64 : rounded);
  return std::shared_ptr<Storage>(new Storage(p, nbytes, Kind::Owned, nullptr));
}

std::shared_ptr<Storage> Storage::borrow(void* data, size_t nbytes) {
  return std::shared_ptr<Storage>(new Storage(data, nbytes, Kind::Borrowed, nullptr));
}

std::shared_ptr<Storage> Storage::mapped(const void* data, size_t nbytes, std::shared_ptr<const void> owner) {
  return std::shared_ptr<Storage>(new Storage(const_cast<void*>(data), nbytes, Kind::Mapped, std::move(owner)));
}

Storage::~Storage() {
  if (kind_ == Kind::Owned) std::free(data_);
}

}  // namespace transformers
