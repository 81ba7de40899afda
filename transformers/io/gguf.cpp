#include "transformers/io/gguf.h"

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <limits>

#include "transformers/core/error.h"
#include "transformers/io/files.h"

namespace transformers {
namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as a little-endian uint32
constexpr uint64_t kMaxAlignment = uint64_t{1} << 20;
constexpr uint32_t kMaxDims = 4;  // GGML_MAX_DIMS

bool is_integer_type(GgufType t) {
  switch (t) {
    case GgufType::U8: case GgufType::I8: case GgufType::U16: case GgufType::I16: case GgufType::U32:
    case GgufType::I32: case GgufType::U64: case GgufType::I64: case GgufType::Bool: return true;
    default: return false;
  }
}

// The encoded size of one scalar of `t` (strings: 0, they carry their own length).
uint64_t scalar_bytes(GgufType t) {
  switch (t) {
    case GgufType::U8: case GgufType::I8: case GgufType::Bool: return 1;
    case GgufType::U16: case GgufType::I16: return 2;
    case GgufType::U32: case GgufType::I32: case GgufType::F32: return 4;
    case GgufType::U64: case GgufType::I64: case GgufType::F64: return 8;
    case GgufType::String: case GgufType::Array: return 0;
  }
  return 0;
}

const char* type_name(GgufType t) {
  static const char* names[] = {"u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "array", "u64", "i64", "f64"};
  const auto i = static_cast<uint32_t>(t);
  return i < std::size(names) ? names[i] : "?";
}

// A bounds-checked reader over the mapped header bytes.
class Cursor {
 public:
  Cursor(const unsigned char* data, size_t size, const std::string& what) : data_(data), size_(size), what_(what) {}

  template <typename T>
  T read(const char* field) {
    need(sizeof(T), field);
    T v;
    std::memcpy(&v, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string read_string(const char* field, uint64_t max_bytes) {
    const auto n = read<uint64_t>(field);
    TCPP_CHECK(n <= max_bytes, FormatError, what_, ": ", field, ": string of ", n, " bytes (limit ", max_bytes, ")");
    need(n, field);
    std::string s(reinterpret_cast<const char*>(data_ + pos_), n);
    pos_ += n;
    return s;
  }
  void need(uint64_t n, const char* field) const {
    TCPP_CHECK(n <= size_ - pos_, FormatError, what_, ": truncated at byte ", pos_, " reading ", field, " (", n,
               " bytes needed, ", size_ - pos_, " left)");
  }
  uint64_t remaining() const { return size_ - pos_; }
  size_t pos() const { return pos_; }
  const std::string& what() const { return what_; }

 private:
  const unsigned char* data_;
  size_t size_;
  size_t pos_ = 0;
  const std::string& what_;
};

int64_t read_integer(Cursor& c, GgufType t, const char* field) {
  switch (t) {
    case GgufType::U8: return c.read<uint8_t>(field);
    case GgufType::I8: return c.read<int8_t>(field);
    case GgufType::U16: return c.read<uint16_t>(field);
    case GgufType::I16: return c.read<int16_t>(field);
    case GgufType::U32: return c.read<uint32_t>(field);
    case GgufType::I32: return c.read<int32_t>(field);
    case GgufType::I64: return c.read<int64_t>(field);
    case GgufType::U64: {
      const auto v = c.read<uint64_t>(field);
      TCPP_CHECK(v <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()), FormatError, c.what(), ": ",
                 field, ": u64 value ", v, " out of range");
      return static_cast<int64_t>(v);
    }
    case GgufType::Bool: {
      const auto v = c.read<uint8_t>(field);
      TCPP_CHECK(v <= 1, FormatError, c.what(), ": ", field, ": bool value ", int(v));
      return v;
    }
    default: break;
  }
  throw FormatError(c.what() + ": " + field + ": not an integer type");
}

double read_float(Cursor& c, GgufType t, const char* field) {
  return t == GgufType::F32 ? static_cast<double>(c.read<float>(field)) : c.read<double>(field);
}

GgufType read_type(Cursor& c, const std::string& key) {
  const auto t = c.read<uint32_t>("value type");
  TCPP_CHECK(t <= static_cast<uint32_t>(GgufType::F64), FormatError, c.what(), ": metadata ", key,
             ": unknown value type ", t);
  return static_cast<GgufType>(t);
}

GgufValue read_value(Cursor& c, const std::string& key, const GgufLimits& limits) {
  GgufValue v;
  v.type = read_type(c, key);
  const char* field = key.c_str();
  if (is_integer_type(v.type)) {
    v.integer = read_integer(c, v.type, field);
  } else if (v.type == GgufType::F32 || v.type == GgufType::F64) {
    v.number = read_float(c, v.type, field);
  } else if (v.type == GgufType::String) {
    v.string = c.read_string(field, limits.max_string_bytes);
  } else {
    v.element_type = read_type(c, key);
    TCPP_CHECK(v.element_type != GgufType::Array, FormatError, c.what(), ": metadata ", key,
               ": arrays of arrays are not supported");
    const auto n = c.read<uint64_t>(field);
    // Every element takes at least one byte (a string at least its 8-byte length), so a count
    // beyond the remaining bytes is a lie, refused before anything is reserved.
    const uint64_t min_bytes = v.element_type == GgufType::String ? 8 : scalar_bytes(v.element_type);
    TCPP_CHECK(n <= c.remaining() / min_bytes, FormatError, c.what(), ": metadata ", key, ": array of ", n, " ",
               type_name(v.element_type), " values does not fit in the ", c.remaining(), " bytes left");
    if (is_integer_type(v.element_type)) {
      v.integers.resize(n);
      for (auto& x : v.integers) x = read_integer(c, v.element_type, field);
    } else if (v.element_type == GgufType::String) {
      v.strings.resize(n);
      for (auto& s : v.strings) s = c.read_string(field, limits.max_string_bytes);
    } else {
      v.numbers.resize(n);
      for (auto& x : v.numbers) x = read_float(c, v.element_type, field);
    }
  }
  return v;
}

uint64_t align_up(uint64_t x, uint64_t alignment) { return (x + alignment - 1) / alignment * alignment; }

}  // namespace

bool GgufValue::is_integer() const { return is_integer_type(type); }

size_t GgufValue::array_size() const { return integers.size() + numbers.size() + strings.size(); }

std::optional<GgmlTypeInfo> ggml_type_info(uint32_t type) {
  switch (static_cast<GgmlType>(type)) {
    case GgmlType::F32: return GgmlTypeInfo{"F32", 1, 4};
    case GgmlType::F16: return GgmlTypeInfo{"F16", 1, 2};
    case GgmlType::Q4_0: return GgmlTypeInfo{"Q4_0", 32, 18};
    case GgmlType::Q4_1: return GgmlTypeInfo{"Q4_1", 32, 20};
    case GgmlType::Q5_0: return GgmlTypeInfo{"Q5_0", 32, 22};
    case GgmlType::Q5_1: return GgmlTypeInfo{"Q5_1", 32, 24};
    case GgmlType::Q8_0: return GgmlTypeInfo{"Q8_0", 32, 34};
    case GgmlType::Q8_1: return GgmlTypeInfo{"Q8_1", 32, 36};
    case GgmlType::Q2_K: return GgmlTypeInfo{"Q2_K", 256, 84};
    case GgmlType::Q3_K: return GgmlTypeInfo{"Q3_K", 256, 110};
    case GgmlType::Q4_K: return GgmlTypeInfo{"Q4_K", 256, 144};
    case GgmlType::Q5_K: return GgmlTypeInfo{"Q5_K", 256, 176};
    case GgmlType::Q6_K: return GgmlTypeInfo{"Q6_K", 256, 210};
    case GgmlType::Q8_K: return GgmlTypeInfo{"Q8_K", 256, 292};
    case GgmlType::I8: return GgmlTypeInfo{"I8", 1, 1};
    case GgmlType::I16: return GgmlTypeInfo{"I16", 1, 2};
    case GgmlType::I32: return GgmlTypeInfo{"I32", 1, 4};
    case GgmlType::I64: return GgmlTypeInfo{"I64", 1, 8};
    case GgmlType::F64: return GgmlTypeInfo{"F64", 1, 8};
    case GgmlType::BF16: return GgmlTypeInfo{"BF16", 1, 2};
  }
  return std::nullopt;
}

GgmlType ggml_type_of(DType dtype) {
  switch (dtype) {
    case DType::F32: return GgmlType::F32;
    case DType::F16: return GgmlType::F16;
    case DType::BF16: return GgmlType::BF16;
    case DType::Q8_0: return GgmlType::Q8_0;
    case DType::Q4_0: return GgmlType::Q4_0;
    case DType::Q5_0: return GgmlType::Q5_0;
    case DType::Q5_1: return GgmlType::Q5_1;
    case DType::Q4_K: return GgmlType::Q4_K;
    case DType::Q5_K: return GgmlType::Q5_K;
    case DType::Q6_K: return GgmlType::Q6_K;
    default: break;
  }
  throw FormatError("GGUF: no GGML type for dtype " + std::string(dtype_torch_name(dtype)));
}

Shape GgufTensorInfo::shape() const {
  Shape s;
  for (auto it = dims.rbegin(); it != dims.rend(); ++it) s.push_back(static_cast<int64_t>(*it));
  return s;
}

GgufHeader parse_gguf_header(const unsigned char* data, size_t size, const std::string& what, const GgufLimits& limits) {
  Cursor c(data, std::min<uint64_t>(size, limits.max_metadata_bytes), what);
  GgufHeader h;
  const auto magic = c.read<uint32_t>("magic");
  TCPP_CHECK(magic == kMagic, FormatError, what, ": not a GGUF file (no GGUF magic)");
  h.version = c.read<uint32_t>("version");
  TCPP_CHECK(h.version != 0x03000000 && h.version != 0x02000000, FormatError, what,
             ": big-endian GGUF files are not supported");
  TCPP_CHECK(h.version == 2 || h.version == 3, FormatError, what, ": GGUF version ", h.version,
             " is not supported (2 and 3 are)");
  const auto n_tensors = c.read<uint64_t>("tensor count");
  const auto n_kv = c.read<uint64_t>("metadata count");
  TCPP_CHECK(n_tensors <= limits.max_tensors, FormatError, what, ": ", n_tensors, " tensors (limit ",
             limits.max_tensors, ")");
  TCPP_CHECK(n_kv <= limits.max_metadata_entries, FormatError, what, ": ", n_kv, " metadata entries (limit ",
             limits.max_metadata_entries, ")");

  std::map<std::string, size_t> seen_keys;
  for (uint64_t i = 0; i < n_kv; ++i) {
    std::string key = c.read_string("metadata key", limits.max_string_bytes);
    TCPP_CHECK(seen_keys.emplace(key, i).second, FormatError, what, ": metadata key ", key, " appears twice");
    GgufValue value = read_value(c, key, limits);
    if (key == "general.alignment") {
      TCPP_CHECK(value.is_integer() && value.integer > 0 && static_cast<uint64_t>(value.integer) <= kMaxAlignment &&
                     (value.integer & (value.integer - 1)) == 0,
                 FormatError, what, ": general.alignment must be a power of two up to ", kMaxAlignment);
      h.alignment = static_cast<uint64_t>(value.integer);
    }
    h.metadata.emplace_back(std::move(key), std::move(value));
  }

  // Each tensor description takes at least 8 (name length) + 4 + 4 + 8 bytes.
  TCPP_CHECK(n_tensors <= c.remaining() / 24, FormatError, what, ": ", n_tensors,
             " tensor descriptions do not fit in the file");
  std::map<std::string, size_t> seen_names;
  h.tensors.resize(n_tensors);
  for (uint64_t i = 0; i < n_tensors; ++i) {
    GgufTensorInfo& t = h.tensors[i];
    t.name = c.read_string("tensor name", 4096);
    TCPP_CHECK(seen_names.emplace(t.name, i).second, FormatError, what, ": tensor ", t.name, " appears twice");
    const auto n_dims = c.read<uint32_t>("tensor dimensions");
    TCPP_CHECK(n_dims >= 1 && n_dims <= kMaxDims, FormatError, what, ": tensor ", t.name, ": ", n_dims,
               " dimensions (1 to ", kMaxDims, ")");
    uint64_t elements = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      const auto n = c.read<uint64_t>("tensor dimension");
      TCPP_CHECK(n <= (uint64_t{1} << 40) && (n == 0 || elements <= (uint64_t{1} << 50) / n), FormatError, what,
                 ": tensor ", t.name, ": dimensions overflow");
      elements *= n;
      t.dims.push_back(n);
    }
    t.type = c.read<uint32_t>("tensor type");
    const auto info = ggml_type_info(t.type);
    TCPP_CHECK(info.has_value(), FormatError, what, ": tensor ", t.name, ": unknown GGML type ", t.type);
    TCPP_CHECK(t.dims[0] % info->block_elements == 0, FormatError, what, ": tensor ", t.name, ": row of ", t.dims[0],
               " elements is not a multiple of ", info->name, "'s block of ", info->block_elements);
    t.nbytes = elements / info->block_elements * info->block_bytes;
    t.offset = c.read<uint64_t>("tensor offset");
    TCPP_CHECK(t.offset % h.alignment == 0, FormatError, what, ": tensor ", t.name, ": offset ", t.offset,
               " is not a multiple of the alignment ", h.alignment);
  }

  h.data_start = align_up(c.pos(), h.alignment);
  TCPP_CHECK(h.data_start <= size, FormatError, what, ": truncated before the tensor data");
  const uint64_t data_size = size - h.data_start;
  std::vector<const GgufTensorInfo*> by_offset;
  for (const auto& t : h.tensors) {
    TCPP_CHECK(t.offset <= data_size && t.nbytes <= data_size - t.offset, FormatError, what, ": tensor ", t.name,
               ": bytes [", t.offset, ", ", t.offset + t.nbytes, ") lie beyond the file's ", data_size,
               " bytes of data (truncated?)");
    by_offset.push_back(&t);
  }
  std::sort(by_offset.begin(), by_offset.end(),
            [](const GgufTensorInfo* a, const GgufTensorInfo* b) { return a->offset < b->offset; });
  for (size_t i = 1; i < by_offset.size(); ++i)
    TCPP_CHECK(by_offset[i - 1]->offset + by_offset[i - 1]->nbytes <= by_offset[i]->offset, FormatError, what,
               ": tensors ", by_offset[i - 1]->name, " and ", by_offset[i]->name, " overlap");
  return h;
}

std::shared_ptr<GgufFile> GgufFile::open(const std::filesystem::path& path, const GgufLimits& limits) {
  std::shared_ptr<GgufFile> f(new GgufFile());
  f->file_ = MappedFile::open(path);
  f->header_ = parse_gguf_header(f->file_->data(), f->file_->size(), path.string(), limits);
  for (size_t i = 0; i < f->header_.tensors.size(); ++i) f->index_[f->header_.tensors[i].name] = i;
  for (size_t i = 0; i < f->header_.metadata.size(); ++i) f->metadata_index_[f->header_.metadata[i].first] = i;
  return f;
}

bool GgufFile::has_magic(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return false;
  uint64_t size = 0;
  const int fd = open_regular_file(path, &size);
  uint32_t magic = 0;
  const bool ok = size >= 4 && ::pread(fd, &magic, 4, 0) == 4;
  ::close(fd);
  return ok && magic == kMagic;
}

const GgufValue* GgufFile::find(const std::string& key) const {
  const auto it = metadata_index_.find(key);
  return it == metadata_index_.end() ? nullptr : &header_.metadata[it->second].second;
}

std::optional<int64_t> GgufFile::find_int(const std::string& key) const {
  const GgufValue* v = find(key);
  if (!v) return std::nullopt;
  TCPP_CHECK(v->is_integer(), FormatError, path().string(), ": metadata ", key, " is ", type_name(v->type),
             ", expected an integer");
  return v->integer;
}

std::optional<double> GgufFile::find_number(const std::string& key) const {
  const GgufValue* v = find(key);
  if (!v) return std::nullopt;
  TCPP_CHECK(v->is_number(), FormatError, path().string(), ": metadata ", key, " is ", type_name(v->type),
             ", expected a number");
  return v->is_integer() ? static_cast<double>(v->integer) : v->number;
}

std::optional<std::string> GgufFile::find_string(const std::string& key) const {
  const GgufValue* v = find(key);
  if (!v) return std::nullopt;
  TCPP_CHECK(v->type == GgufType::String, FormatError, path().string(), ": metadata ", key, " is ",
             type_name(v->type), ", expected a string");
  return v->string;
}

int64_t GgufFile::get_int(const std::string& key) const {
  const auto v = find_int(key);
  TCPP_CHECK(v.has_value(), FormatError, path().string(), ": metadata ", key, " is missing");
  return *v;
}

double GgufFile::get_number(const std::string& key) const {
  const auto v = find_number(key);
  TCPP_CHECK(v.has_value(), FormatError, path().string(), ": metadata ", key, " is missing");
  return *v;
}

std::string GgufFile::get_string(const std::string& key) const {
  auto v = find_string(key);
  TCPP_CHECK(v.has_value(), FormatError, path().string(), ": metadata ", key, " is missing");
  return std::move(*v);
}

const GgufTensorInfo& GgufFile::info(const std::string& name) const {
  const auto it = index_.find(name);
  TCPP_CHECK(it != index_.end(), FormatError, path().string(), ": no tensor ", name);
  return header_.tensors[it->second];
}

const unsigned char* GgufFile::raw_bytes(const std::string& name) const {
  return file_->data() + header_.data_start + info(name).offset;
}

Tensor GgufFile::tensor(const std::string& name) const {
  const GgufTensorInfo& t = info(name);
  DType dtype;
  switch (static_cast<GgmlType>(t.type)) {
    case GgmlType::F32: dtype = DType::F32; break;
    case GgmlType::F16: dtype = DType::F16; break;
    case GgmlType::BF16: dtype = DType::BF16; break;
    case GgmlType::I32: dtype = DType::I32; break;
    case GgmlType::I64: dtype = DType::I64; break;
    case GgmlType::I8: dtype = DType::I8; break;
    case GgmlType::Q8_0: dtype = DType::Q8_0; break;
    case GgmlType::Q4_0: dtype = DType::Q4_0; break;
    case GgmlType::Q5_0: dtype = DType::Q5_0; break;
    case GgmlType::Q5_1: dtype = DType::Q5_1; break;
    case GgmlType::Q4_K: dtype = DType::Q4_K; break;
    case GgmlType::Q5_K: dtype = DType::Q5_K; break;
    case GgmlType::Q6_K: dtype = DType::Q6_K; break;
    default:
      throw FormatError(path().string() + ": tensor " + name + " is " + ggml_type_info(t.type)->name +
                        ", which this build cannot hold as a tensor");
  }
  const uint64_t offset = header_.data_start + t.offset;
  if (offset % 4 != 0) {  // the alignment is a power of two, at least 1: copy when it is below 4
    Tensor copy = Tensor::empty(t.shape(), dtype);
    std::memcpy(copy.raw_data(), file_->data() + offset, t.nbytes);
    return copy;
  }
  return Tensor::from_storage(Storage::mapped(file_->data() + offset, t.nbytes, file_), 0, t.shape(), dtype);
}

GgufWriter::GgufWriter(uint64_t alignment) : alignment_(alignment) {
  TCPP_CHECK(alignment > 0 && (alignment & (alignment - 1)) == 0 && alignment <= kMaxAlignment, ValueError,
             "GGUF alignment must be a power of two");
  if (alignment != 32) set_u32("general.alignment", static_cast<uint32_t>(alignment));
}

void GgufWriter::set(const std::string& key, GgufValue value) {
  for (auto& e : metadata_)
    if (e.key == key) {
      e.value = std::move(value);
      return;
    }
  metadata_.push_back({key, std::move(value)});
}

namespace {
GgufValue scalar_value(GgufType type, int64_t integer, double number = 0) {
  GgufValue v;
  v.type = type;
  v.integer = integer;
  v.number = number;
  return v;
}
GgufValue array_value(GgufType element_type) {
  GgufValue v;
  v.type = GgufType::Array;
  v.element_type = element_type;
  return v;
}
}  // namespace

void GgufWriter::set_u32(const std::string& key, uint32_t v) { set(key, scalar_value(GgufType::U32, v)); }
void GgufWriter::set_i32(const std::string& key, int32_t v) { set(key, scalar_value(GgufType::I32, v)); }
void GgufWriter::set_u64(const std::string& key, uint64_t v) {
  set(key, scalar_value(GgufType::U64, static_cast<int64_t>(v)));
}
void GgufWriter::set_f32(const std::string& key, float v) { set(key, scalar_value(GgufType::F32, 0, v)); }
void GgufWriter::set_bool(const std::string& key, bool v) { set(key, scalar_value(GgufType::Bool, v)); }
void GgufWriter::set_string(const std::string& key, std::string v) {
  GgufValue value = scalar_value(GgufType::String, 0);
  value.string = std::move(v);
  set(key, std::move(value));
}
void GgufWriter::set_strings(const std::string& key, std::vector<std::string> v) {
  GgufValue value = array_value(GgufType::String);
  value.strings = std::move(v);
  set(key, std::move(value));
}
void GgufWriter::set_i32s(const std::string& key, const std::vector<int32_t>& v) {
  GgufValue value = array_value(GgufType::I32);
  value.integers.assign(v.begin(), v.end());
  set(key, std::move(value));
}
void GgufWriter::set_f32s(const std::string& key, const std::vector<float>& v) {
  GgufValue value = array_value(GgufType::F32);
  value.numbers.assign(v.begin(), v.end());
  set(key, std::move(value));
}

void GgufWriter::add_tensor(std::string name, const Shape& shape, GgmlType type, std::function<Tensor()> bytes) {
  const auto info = ggml_type_info(static_cast<uint32_t>(type));
  TCPP_CHECK(info.has_value() && !shape.empty() && shape.size() <= kMaxDims, ValueError, "GGUF tensor ", name,
             ": bad type or shape ", shape_to_string(shape));
  TCPP_CHECK(shape.back() % info->block_elements == 0, ValueError, "GGUF tensor ", name, ": row of ", shape.back(),
             " elements is not a multiple of ", info->name, "'s block");
  GgufTensorInfo t;
  t.name = std::move(name);
  for (auto it = shape.rbegin(); it != shape.rend(); ++it) t.dims.push_back(static_cast<uint64_t>(*it));
  t.type = static_cast<uint32_t>(type);
  t.nbytes = static_cast<uint64_t>(shape_numel(shape)) / info->block_elements * info->block_bytes;
  uint64_t offset = 0;
  if (!tensors_.empty()) offset = align_up(tensors_.back().info.offset + tensors_.back().info.nbytes, alignment_);
  t.offset = offset;
  tensors_.push_back({std::move(t), std::move(bytes)});
}

namespace {
class ByteSink {
 public:
  void u32(uint32_t v) { raw(&v, 4); }
  void u64(uint64_t v) { raw(&v, 8); }
  void str(const std::string& s) {
    u64(s.size());
    out.append(s);
  }
  void raw(const void* p, size_t n) { out.append(static_cast<const char*>(p), n); }
  void scalar(GgufType t, int64_t i, double x) {
    switch (t) {
      case GgufType::U8: case GgufType::I8: case GgufType::Bool: { const auto v = static_cast<uint8_t>(i); raw(&v, 1); break; }
      case GgufType::U16: case GgufType::I16: { const auto v = static_cast<uint16_t>(i); raw(&v, 2); break; }
      case GgufType::U32: case GgufType::I32: u32(static_cast<uint32_t>(i)); break;
      case GgufType::U64: case GgufType::I64: u64(static_cast<uint64_t>(i)); break;
      case GgufType::F32: { const auto v = static_cast<float>(x); raw(&v, 4); break; }
      case GgufType::F64: raw(&x, 8); break;
      default: break;
    }
  }
  std::string out;
};
}  // namespace

void GgufWriter::write(const std::filesystem::path& path) const {
  ByteSink h;
  h.u32(kMagic);
  h.u32(3);
  h.u64(tensors_.size());
  h.u64(metadata_.size());
  for (const auto& [key, v] : metadata_) {
    h.str(key);
    h.u32(static_cast<uint32_t>(v.type));
    if (v.type == GgufType::String) {
      h.str(v.string);
    } else if (v.type == GgufType::Array) {
      h.u32(static_cast<uint32_t>(v.element_type));
      h.u64(v.array_size());
      for (const auto& s : v.strings) h.str(s);
      for (auto i : v.integers) h.scalar(v.element_type, i, 0);
      for (auto x : v.numbers) h.scalar(v.element_type, 0, x);
    } else {
      h.scalar(v.type, v.integer, v.number);
    }
  }
  for (const auto& t : tensors_) {
    h.str(t.info.name);
    h.u32(static_cast<uint32_t>(t.info.dims.size()));
    for (auto d : t.info.dims) h.u64(d);
    h.u32(t.info.type);
    h.u64(t.info.offset);
  }
  h.out.resize(align_up(h.out.size(), alignment_), '\0');

  AtomicFileWriter out(path);
  out.write(h.out);
  uint64_t written = 0;
  const std::string padding(alignment_, '\0');
  for (const auto& t : tensors_) {
    out.write(padding.data(), t.info.offset - written);
    const Tensor bytes = t.bytes().contiguous();
    TCPP_CHECK(bytes.nbytes() == t.info.nbytes, ValueError, "GGUF tensor ", t.info.name, ": ", bytes.nbytes(),
               " bytes produced, ", t.info.nbytes, " expected");
    out.write(bytes.raw_data(), bytes.nbytes());
    written = t.info.offset + t.info.nbytes;
  }
  out.commit();
}

}  // namespace transformers
