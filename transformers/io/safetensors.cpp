#include "transformers/io/safetensors.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <set>

#include "transformers/io/json.h"

namespace transformers {

namespace {
uint64_t read_le64(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = v << 8 | p[i];
  return v;
}
}  // namespace

SafetensorsHeader parse_safetensors_header(const unsigned char* data, size_t size, const std::string& what) {
  TCPP_CHECK(size >= 8, FormatError, what, ": file is too short for a safetensors header (", size, " bytes)");
  const uint64_t n = read_le64(data);
  TCPP_CHECK(n <= kMaxSafetensorsHeader, FormatError, what, ": header length ", n, " exceeds the limit of ",
             kMaxSafetensorsHeader, " bytes");
  TCPP_CHECK(n <= size - 8, FormatError, what, ": header length ", n, " runs past the end of the file (", size,
             " bytes)");
  TCPP_CHECK(n >= 2, FormatError, what, ": header of ", n, " bytes is too short");
  std::string_view text(reinterpret_cast<const char*>(data + 8), n);
  check_json_depth(text, what + ": header", kMaxJsonDepth);
  // nlohmann keeps the last of two equal keys; a tensor named twice is refused instead, as
  // Hugging Face's reader refuses it.
  std::set<std::string, std::less<>> names;
  std::string duplicate;
  auto note_duplicates = [&](int depth, Json::parse_event_t event, Json& parsed) {
    if (event == Json::parse_event_t::key && depth == 1 && duplicate.empty() &&
        !names.insert(parsed.get<std::string>()).second)
      duplicate = parsed.get<std::string>();
    return true;
  };
  Json header;
  try {
    header = Json::parse(text.begin(), text.end(), note_duplicates);
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(detail::concat(what, ": header is not valid JSON: ", e.what()));
  }
  TCPP_CHECK(duplicate.empty(), FormatError, what, ": tensor '", duplicate, "' is named twice in the header");
  TCPP_CHECK(header.is_object(), FormatError, what, ": header is not a JSON object");

  SafetensorsHeader out;
  out.data_start = 8 + n;
  const uint64_t data_size = size - out.data_start;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const Json& v = it.value();
    if (name == "__metadata__") {
      TCPP_CHECK(v.is_object(), FormatError, what, ": __metadata__ is not an object");
      for (auto m = v.begin(); m != v.end(); ++m) {
        TCPP_CHECK(m.value().is_string(), FormatError, what, ": __metadata__ value for '", m.key(), "' is not a string");
        out.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    const std::string where = what + ": tensor '" + name + "'";
    TCPP_CHECK(v.is_object(), FormatError, where, " is not an object");
    auto dt = v.find("dtype");
    auto sh = v.find("shape");
    auto off = v.find("data_offsets");
    TCPP_CHECK(dt != v.end() && dt->is_string(), FormatError, where, ": missing or invalid 'dtype'");
    TCPP_CHECK(sh != v.end() && sh->is_array(), FormatError, where, ": missing or invalid 'shape'");
    TCPP_CHECK(off != v.end() && off->is_array() && off->size() == 2 && (*off)[0].is_number_unsigned() &&
                   (*off)[1].is_number_unsigned(),
               FormatError, where, ": 'data_offsets' must be two non-negative integers");
    SafetensorsEntry e;
    e.name = name;
    e.dtype = dtype_from_safetensors_name(dt->get<std::string>(), where);
    uint64_t numel = 1;
    for (const Json& d : *sh) {
      TCPP_CHECK(d.is_number_unsigned(), FormatError, where, ": shape entries must be non-negative integers");
      uint64_t dim = d.get<uint64_t>();
      TCPP_CHECK(dim <= (uint64_t{1} << 40) && (dim == 0 || numel <= std::numeric_limits<uint64_t>::max() / dim / 8),
                 FormatError, where, ": shape is too large");
      numel *= dim;
      e.shape.push_back(static_cast<int64_t>(dim));
    }
    e.begin = (*off)[0].get<uint64_t>();
    e.end = (*off)[1].get<uint64_t>();
    TCPP_CHECK(e.begin <= e.end, FormatError, where, ": data_offsets [", e.begin, ", ", e.end, "] are reversed");
    TCPP_CHECK(e.end <= data_size, FormatError, where, ": data_offsets [", e.begin, ", ", e.end,
               "] run past the end of the data (", data_size, " bytes)");
    TCPP_CHECK(!is_block_dtype(e.dtype) || (!e.shape.empty() && e.shape.back() % dtype_block_elements(e.dtype) == 0),
               FormatError, where, ": shape ", shape_to_string(e.shape), " of ", dtype_safetensors_name(e.dtype),
               " is not whole blocks of ", dtype_block_elements(e.dtype), " along its last dimension");
    TCPP_CHECK(e.end - e.begin == dtype_nbytes(e.dtype, numel), FormatError, where, ": holds ", e.end - e.begin,
               " bytes but shape ", shape_to_string(e.shape), " of ", dtype_safetensors_name(e.dtype), " needs ",
               dtype_nbytes(e.dtype, numel));
    out.entries.push_back(std::move(e));
  }
  // Non-empty byte ranges, sorted by start, must each begin at or after the end of the one
  // before: then no two tensors share a byte (empty tensors occupy none and may sit anywhere).
  std::vector<const SafetensorsEntry*> sorted;
  for (const auto& e : out.entries)
    if (e.end > e.begin) sorted.push_back(&e);
  std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->begin < b->begin; });
  for (size_t i = 1; i < sorted.size(); ++i)
    TCPP_CHECK(sorted[i]->begin >= sorted[i - 1]->end, FormatError, what, ": tensors '", sorted[i - 1]->name, "' and '",
               sorted[i]->name, "' overlap");
  return out;
}

std::shared_ptr<SafetensorsFile> SafetensorsFile::open(const std::filesystem::path& path) {
  auto f = std::make_shared<SafetensorsFile>();
  f->file_ = MappedFile::open(path);
  f->header_ = parse_safetensors_header(f->file_->data(), f->file_->size(), path.string());
  for (size_t i = 0; i < f->header_.entries.size(); ++i) f->index_[f->header_.entries[i].name] = i;
  return f;
}

const SafetensorsEntry& SafetensorsFile::entry(const std::string& name) const {
  auto it = index_.find(name);
  TCPP_CHECK(it != index_.end(), FormatError, path().string(), ": no tensor named '", name, "'");
  return header_.entries[it->second];
}

std::vector<std::string> SafetensorsFile::names() const {
  std::vector<std::string> out;
  for (const auto& [n, i] : index_) out.push_back(n);
  return out;
}

Tensor SafetensorsFile::tensor(const std::string& name) const {
  const SafetensorsEntry& e = entry(name);
  const uint64_t offset = header_.data_start + e.begin;
  const unsigned char* p = file_->data() + offset;
  // Block dtypes are read bytewise (their f16 scales with memcpy): any address serves.
  if (reinterpret_cast<uintptr_t>(p) % (is_block_dtype(e.dtype) ? 1 : dtype_size(e.dtype)) == 0) {
    auto storage = Storage::mapped(p, e.end - e.begin, std::shared_ptr<const void>(file_, file_.get()));
    return Tensor::from_storage(std::move(storage), 0, e.shape, e.dtype);
  }
  Tensor t = Tensor::empty(e.shape, e.dtype);
  if (e.end > e.begin) std::memcpy(t.raw_data(), p, e.end - e.begin);
  return t;
}

SafetensorsCheckpoint SafetensorsCheckpoint::open(const std::filesystem::path& path) {
  namespace fs = std::filesystem;
  SafetensorsCheckpoint ck;
  auto add_file = [&](const fs::path& file) {
    ck.files_.push_back(SafetensorsFile::open(file));
    return ck.files_.size() - 1;
  };
  if (fs::is_regular_file(path)) {
    size_t i = add_file(path);
    for (const auto& e : ck.files_[i]->header().entries) ck.where_[e.name] = i;
    return ck;
  }
  TCPP_CHECK(fs::is_directory(path), IoError, path.string(), ": no such model folder or file");
  const fs::path index_path = path / "model.safetensors.index.json";
  if (fs::exists(index_path)) {
    Json index = read_json_file(index_path);
    TCPP_CHECK(index.is_object() && index.contains("weight_map") && index["weight_map"].is_object(), FormatError,
               index_path.string(), ": missing 'weight_map' object");
    std::map<std::string, size_t> shard_of_file;
    for (auto it = index["weight_map"].begin(); it != index["weight_map"].end(); ++it) {
      TCPP_CHECK(it.value().is_string(), FormatError, index_path.string(), ": weight_map entry '", it.key(),
                 "' is not a file name");
      const std::string shard = it.value().get<std::string>();
      TCPP_CHECK(shard.find('/') == std::string::npos && shard != ".." && !shard.empty(), FormatError,
                 index_path.string(), ": shard name '", shard, "' must be a plain file name");
      auto found = shard_of_file.find(shard);
      if (found == shard_of_file.end()) {
        TCPP_CHECK(fs::exists(path / shard), IoError, index_path.string(), ": shard '", shard, "' (for tensor '",
                   it.key(), "') does not exist");
        found = shard_of_file.emplace(shard, add_file(path / shard)).first;
      }
      TCPP_CHECK(ck.files_[found->second]->contains(it.key()), FormatError, index_path.string(), ": tensor '", it.key(),
                 "' is mapped to '", shard, "' but that shard does not contain it");
      ck.where_[it.key()] = found->second;
    }
    // A tensor stored in two shards is ambiguous, whichever one the index names.
    std::map<std::string, std::string> seen;
    for (const auto& f : ck.files_)
      for (const auto& e : f->header().entries) {
        auto [it, inserted] = seen.emplace(e.name, f->path().filename().string());
        TCPP_CHECK(inserted, FormatError, path.string(), ": tensor '", e.name, "' is stored in two shards ('", it->second,
                   "' and '", f->path().filename().string(), "')");
      }
    return ck;
  }
  const fs::path single = path / "model.safetensors";
  TCPP_CHECK(fs::exists(single), IoError, path.string(), ": no model.safetensors or model.safetensors.index.json");
  size_t i = add_file(single);
  for (const auto& e : ck.files_[i]->header().entries) ck.where_[e.name] = i;
  return ck;
}

std::vector<std::string> SafetensorsCheckpoint::names() const {
  std::vector<std::string> out;
  for (const auto& [n, i] : where_) out.push_back(n);
  return out;
}

Tensor SafetensorsCheckpoint::tensor(const std::string& name) const {
  auto it = where_.find(name);
  TCPP_CHECK(it != where_.end(), FormatError, "checkpoint has no tensor named '", name, "'");
  return files_[it->second]->tensor(name);
}

const SafetensorsEntry& SafetensorsCheckpoint::entry(const std::string& name) const {
  auto it = where_.find(name);
  TCPP_CHECK(it != where_.end(), FormatError, "checkpoint has no tensor named '", name, "'");
  return files_[it->second]->entry(name);
}

void save_safetensors(const std::filesystem::path& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  OrderedJson header = OrderedJson::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    TCPP_CHECK(name != "__metadata__", ValueError, "save_safetensors: reserved tensor name");
    OrderedJson entry;
    entry["dtype"] = std::string(dtype_safetensors_name(t.dtype()));
    entry["shape"] = t.shape();
    entry["data_offsets"] = {offset, offset + t.nbytes()};
    header[name] = entry;
    offset += t.nbytes();
  }
  std::string text = header.dump();
  while ((text.size() + 8) % 8 != 0) text.push_back(' ');
  AtomicFileWriter out(path);
  unsigned char len[8];
  uint64_t n = text.size();
  for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(n >> (8 * i));
  out.write(len, 8);
  out.write(text);
  for (const auto& [name, t] : tensors) {
    Tensor c = t.contiguous();
    out.write(c.raw_data(), c.nbytes());
  }
  out.commit();
}

}  // namespace transformers
