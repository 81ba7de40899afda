// SHA-256 (OpenSSL's libcrypto), to check downloaded Hub blobs against their sha256 etags.
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>

#include "transformers/hub/hub_cache.h"

namespace transformers::hub {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(const void* data, size_t n);
  std::string hex_digest();  // 64 lowercase hex digits; ends the computation

 private:
  struct Context;
  std::unique_ptr<Context> ctx_;
};

// The sha256 of a whole file, read in chunks (IoError naming it when it cannot be read).
std::string sha256_file(const std::filesystem::path& path);

// 64 lowercase hex digits: the etag of a Hub LFS file is its content's sha256.
inline bool is_sha256_hex(const std::string& text) { return is_lower_hex(text, 64); }

}  // namespace transformers::hub
