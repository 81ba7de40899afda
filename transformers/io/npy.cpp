#include "transformers/io/npy.h"

#include <cstring>
#include <regex>

#include "transformers/io/json.h"

namespace transformers {

Tensor load_npy(const std::filesystem::path& path) {
  const std::string bytes = read_text_file(path);
  const std::string what = path.string();
  TCPP_CHECK(bytes.size() >= 10 && bytes.compare(0, 6, "\x93NUMPY") == 0, FormatError, what, ": not a .npy file");
  const int major = static_cast<unsigned char>(bytes[6]);
  size_t header_len, header_start;
  if (major == 1) {
    header_len = static_cast<unsigned char>(bytes[8]) | static_cast<unsigned char>(bytes[9]) << 8;
    header_start = 10;
  } else {
    TCPP_CHECK(bytes.size() >= 12, FormatError, what, ": truncated header");
    header_len = 0;
    for (int i = 3; i >= 0; --i) header_len = header_len << 8 | static_cast<unsigned char>(bytes[8 + i]);
    header_start = 12;
  }
  TCPP_CHECK(header_start + header_len <= bytes.size(), FormatError, what, ": truncated header");
  const std::string header = bytes.substr(header_start, header_len);
  std::smatch m;
  TCPP_CHECK(std::regex_search(header, m, std::regex("'descr':\\s*'([^']*)'")), FormatError, what, ": no descr");
  const std::string descr = m[1];
  TCPP_CHECK(header.find("'fortran_order': False") != std::string::npos, FormatError, what,
             ": Fortran-order arrays are not supported");
  TCPP_CHECK(std::regex_search(header, m, std::regex("'shape':\\s*\\(([^)]*)\\)")), FormatError, what, ": no shape");
  Shape shape;
  std::string dims = m[1];
  std::regex num("\\d+");
  for (auto it = std::sregex_iterator(dims.begin(), dims.end(), num); it != std::sregex_iterator(); ++it)
    shape.push_back(std::stoll(it->str()));
  const char* data = bytes.data() + header_start + header_len;
  const size_t avail = bytes.size() - header_start - header_len;
  const int64_t n = shape_numel(shape);
  auto need = [&](size_t es) {
    TCPP_CHECK(avail >= static_cast<size_t>(n) * es, FormatError, what, ": data shorter than shape ", shape_to_string(shape));
  };
  if (descr == "<f4") {
    need(4);
    Tensor t = Tensor::empty(shape, DType::F32);
    std::memcpy(t.raw_data(), data, n * 4);
    return t;
  }
  if (descr == "<f8") {
    need(8);
    Tensor t = Tensor::empty(shape, DType::F32);
    for (int64_t i = 0; i < n; ++i) {
      double d;
      std::memcpy(&d, data + i * 8, 8);
      t.data<float>()[i] = static_cast<float>(d);
    }
    return t;
  }
  if (descr == "<i8") {
    need(8);
    Tensor t = Tensor::empty(shape, DType::I64);
    std::memcpy(t.raw_data(), data, n * 8);
    return t;
  }
  if (descr == "<i4") {
    need(4);
    Tensor t = Tensor::empty(shape, DType::I32);
    std::memcpy(t.raw_data(), data, n * 4);
    return t;
  }
  if (descr == "|b1" || descr == "|u1") {
    need(1);
    Tensor t = Tensor::empty(shape, DType::U8);
    std::memcpy(t.raw_data(), data, n);
    return t;
  }
  throw FormatError(what + ": unsupported dtype '" + descr + "'");
}

void save_npy(const std::filesystem::path& path, const Tensor& tensor) {
  std::string descr;
  switch (tensor.dtype()) {
    case DType::F32: descr = "<f4"; break;
    case DType::I64: descr = "<i8"; break;
    case DType::I32: descr = "<i4"; break;
    case DType::U8: descr = "|u1"; break;
    default: throw ValueError(detail::concat("save_npy: unsupported dtype ", dtype_torch_name(tensor.dtype())));
  }
  std::string shape = "(";
  for (size_t i = 0; i < tensor.shape().size(); ++i) shape += std::to_string(tensor.shape()[i]) + ", ";
  if (tensor.shape().size() > 1) shape.resize(shape.size() - 2);
  else if (tensor.shape().size() == 1) shape.resize(shape.size() - 1);
  shape += ")";
  std::string header = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  while ((10 + header.size() + 1) % 64 != 0) header.push_back(' ');
  header.push_back('\n');
  AtomicFileWriter out(path);
  out.write("\x93NUMPY\x01\x00", 8);
  const uint16_t len = static_cast<uint16_t>(header.size());
  const char lenb[2] = {static_cast<char>(len & 0xff), static_cast<char>(len >> 8)};
  out.write(lenb, 2);
  out.write(header);
  Tensor c = tensor.contiguous();
  out.write(c.raw_data(), c.nbytes());
  out.commit();
}

}  // namespace transformers
