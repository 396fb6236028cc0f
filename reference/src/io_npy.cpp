#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>
#include <system_error>

#include "qla/error.hpp"
#include "qla/io/npy.hpp"

namespace qla {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr std::size_t kMagicLen = 6;
// Header blocks are padded so the data starts on a 64-byte boundary (NumPy's rule since 1.x).
constexpr std::size_t kAlign = 64;

/// The dict literal of an .npy header, e.g. {'descr': '<f4', 'fortran_order': False, 'shape': (3,
/// 4), }.
struct Header {
  std::string descr;
  bool fortran_order = false;
  std::vector<std::int64_t> shape;
  bool has_descr = false, has_order = false, has_shape = false;
};

/// Recursive-descent parser of the subset of Python literals .npy headers use.
class HeaderParser {
 public:
  HeaderParser(std::string_view text, const std::string& source) : s_(text), source_(source) {}

  Header parse() {
    Header h;
    expect('{');
    while (true) {
      skip_ws();
      if (peek() == '}') break;
      const std::string key = parse_string();
      expect(':');
      if (key == "descr") {
        h.descr = parse_string();
        h.has_descr = true;
      } else if (key == "fortran_order") {
        h.fortran_order = parse_bool();
        h.has_order = true;
      } else if (key == "shape") {
        h.shape = parse_tuple();
        h.has_shape = true;
      } else {
        fail("unexpected header key '" + key + "'");
      }
      skip_ws();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() == '}') break;
      fail("expected ',' or '}' in the header");
    }
    if (!h.has_descr || !h.has_order || !h.has_shape)
      fail("header lacks 'descr', 'fortran_order' or 'shape'");
    return h;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw UserError(source_ + ": not a valid .npy file: " + what);
  }
  void skip_ws() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }
  char peek() {
    skip_ws();
    return pos_ < s_.size() ? s_[pos_] : '\0';
  }
  void expect(char c) {
    if (peek() != c) fail(std::string("expected '") + c + "' in the header");
    ++pos_;
  }
  std::string parse_string() {
    const char q = peek();
    if (q != '\'' && q != '"') fail("expected a quoted string in the header");
    const std::size_t end = s_.find(q, ++pos_);
    if (end == std::string_view::npos) fail("unterminated string in the header");
    std::string out(s_.substr(pos_, end - pos_));
    pos_ = end + 1;
    return out;
  }
  bool parse_bool() {
    skip_ws();
    if (s_.substr(pos_, 4) == "True") {
      pos_ += 4;
      return true;
    }
    if (s_.substr(pos_, 5) == "False") {
      pos_ += 5;
      return false;
    }
    fail("expected True or False for 'fortran_order'");
  }
  std::vector<std::int64_t> parse_tuple() {
    std::vector<std::int64_t> out;
    expect('(');
    while (peek() != ')') {
      if (!std::isdigit(static_cast<unsigned char>(peek())))
        fail("expected a non-negative integer in 'shape'");
      std::int64_t v = 0;
      while (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_]))) {
        v = v * 10 + (s_[pos_++] - '0');
        if (v > (std::int64_t{1} << 48)) fail("implausible extent in 'shape'");
      }
      // Python writes 64-bit extents on some platforms as e.g. "3L" (Python 2 files).
      if (pos_ < s_.size() && s_[pos_] == 'L') ++pos_;
      out.push_back(v);
      if (peek() == ',') ++pos_;
    }
    ++pos_;
    return out;
  }

  std::string_view s_;
  const std::string& source_;
  std::size_t pos_ = 0;
};

std::optional<DType> dtype_from_descr(const std::string& d) {
  if (d.size() != 3) return std::nullopt;
  const std::string tail = d.substr(1);
  if (tail == "f4") return DType::kF32;
  if (tail == "f8") return DType::kF64;
  if (tail == "f2") return DType::kF16;
  if (tail == "i4") return DType::kI32;
  if (tail == "i8") return DType::kI64;
  if (tail == "u2") return DType::kBF16;  // raw bf16 bits, see npy.hpp
  return std::nullopt;
}

std::string describe(const std::filesystem::path& path, const NpyExpectation& expect) {
  if (expect.tensor.empty()) return path.string();
  return expect.tensor + " (" + path.string() + ")";
}

std::string expected_dtype_text(DType t) {
  std::string s = std::string(dtype_name(t)) + " ('" + std::string(npy_descr(t)) + "')";
  return s;
}

}  // namespace

std::string_view npy_descr(DType dtype) {
  switch (dtype) {
    case DType::kF32:
      return "<f4";
    case DType::kF64:
      return "<f8";
    case DType::kF16:
      return "<f2";
    case DType::kBF16:
      return "<u2";
    case DType::kI32:
      return "<i4";
    case DType::kI64:
      return "<i8";
  }
  return "?";
}

std::string encode_npy(const Tensor& tensor) {
  std::ostringstream dict;
  dict << "{'descr': '" << npy_descr(tensor.dtype()) << "', 'fortran_order': False, 'shape': (";
  for (std::size_t i = 0; i < tensor.shape().size(); ++i)
    dict << (i ? ", " : "") << tensor.shape()[i];
  if (tensor.shape().size() == 1) dict << ',';  // a 1-tuple in Python needs the trailing comma
  dict << "), }";
  std::string header = dict.str();

  const bool v2 = header.size() + 1 + kMagicLen + 2 + 2 > 65535;
  const std::size_t prefix = kMagicLen + 2 + (v2 ? 4 : 2);
  const std::size_t total = (prefix + header.size() + 1 + kAlign - 1) / kAlign * kAlign;
  header.append(total - prefix - header.size() - 1, ' ');
  header.push_back('\n');

  std::string out;
  out.reserve(total + tensor.nbytes());
  out.append(kMagic, kMagicLen);
  out.push_back(static_cast<char>(v2 ? 2 : 1));
  out.push_back('\0');
  const std::uint32_t len = static_cast<std::uint32_t>(header.size());
  out.push_back(static_cast<char>(len & 0xff));
  out.push_back(static_cast<char>((len >> 8) & 0xff));
  if (v2) {
    out.push_back(static_cast<char>((len >> 16) & 0xff));
    out.push_back(static_cast<char>((len >> 24) & 0xff));
  }
  out += header;
  out.append(reinterpret_cast<const char*>(tensor.data()), tensor.nbytes());
  return out;
}

Tensor decode_npy(std::string_view bytes, const std::string& source) {
  if (bytes.size() < kMagicLen + 4 ||
      bytes.substr(0, kMagicLen) != std::string_view(kMagic, kMagicLen)) {
    throw UserError(source + ": not an .npy file (missing the \\x93NUMPY magic)");
  }
  const auto u8 = [&](std::size_t i) {
    return static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i]));
  };
  const std::uint32_t major = u8(kMagicLen);
  std::size_t header_len = 0, prefix = 0;
  if (major == 1) {
    header_len = u8(8) | (u8(9) << 8);
    prefix = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) throw UserError(source + ": not a valid .npy file: truncated header");
    header_len = u8(8) | (u8(9) << 8) | (u8(10) << 16) | (u8(11) << 24);
    prefix = 12;
  } else {
    throw UserError(source + ": unsupported .npy format version " + std::to_string(major));
  }
  if (bytes.size() < prefix + header_len)
    throw UserError(source + ": not a valid .npy file: truncated header");
  const Header h = HeaderParser(bytes.substr(prefix, header_len), source).parse();

  if (h.descr.size() == 3 && h.descr[0] == '>') {
    throw UserError(source + ": big-endian data ('" + h.descr +
                    "') is not supported; save it little-endian (e.g. "
                    "arr.astype(arr.dtype.newbyteorder('<')))");
  }
  const std::optional<DType> dtype =
      (h.descr.size() == 3 && (h.descr[0] == '<' || h.descr[0] == '|')) ? dtype_from_descr(h.descr)
                                                                        : std::nullopt;
  if (!dtype) {
    throw UserError(source + ": unsupported dtype '" + h.descr +
                    "'; supported: '<f4', '<f8', '<f2', '<i4', '<i8' and '<u2' (bfloat16 bits)");
  }
  if (h.fortran_order) {
    throw UserError(source +
                    ": Fortran-ordered data is not supported; save a C-contiguous array "
                    "(np.ascontiguousarray)");
  }
  // Extents are each at most 2^48 (the parser's bound); their product is checked as it grows, so a
  // shape whose element count or byte size does not fit is refused instead of wrapping.
  std::int64_t numel = 1;
  bool overflow = false;
  for (std::int64_t e : h.shape) {
    if (e != 0 && numel > std::numeric_limits<std::int64_t>::max() / e) overflow = true;
    numel = overflow ? numel : numel * e;
  }
  const auto elem = static_cast<std::int64_t>(dtype_size(*dtype));
  if (overflow || numel > std::numeric_limits<std::int64_t>::max() / elem) {
    throw UserError(source + ": shape " + shape_string(h.shape) +
                    " holds more elements than a file can");
  }
  const std::size_t want = static_cast<std::size_t>(numel) * dtype_size(*dtype);
  const std::size_t have = bytes.size() - prefix - header_len;
  if (have != want) {
    throw UserError(source + ": data size " + std::to_string(have) +
                    " bytes does not match shape " + shape_string(h.shape) + " of " +
                    std::string(dtype_name(*dtype)) + " (" + std::to_string(want) +
                    " bytes); the file is truncated or corrupt");
  }
  std::vector<std::byte> data(want);
  if (want > 0) std::memcpy(data.data(), bytes.data() + prefix + header_len, want);
  return Tensor::from_bytes(*dtype, h.shape, std::move(data));
}

void write_file_atomic(const std::filesystem::path& path, std::string_view contents) {
  static std::atomic<unsigned> counter{0};
  const std::filesystem::path dir =
      path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  const std::filesystem::path tmp =
      dir / ("." + path.filename().string() + ".tmp." + std::to_string(::getpid()) + "." +
             std::to_string(counter.fetch_add(1)));
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw UserError(path.string() + ": cannot create a file in folder " + dir.string());
    out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
    out.flush();
    if (!out) {
      out.close();
      std::error_code ec;
      std::filesystem::remove(tmp, ec);
      throw UserError(path.string() + ": write failed (disk full?)");
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::error_code ignored;
    std::filesystem::remove(tmp, ignored);
    throw UserError(path.string() + ": cannot move the finished file into place: " + ec.message());
  }
}

std::string read_file_bytes(const std::filesystem::path& path, const std::string& source) {
  // Only regular files: a FIFO or a device would block or never end.
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (!ec && std::filesystem::exists(status) && !std::filesystem::is_regular_file(status))
    throw UserError(source + ": not a regular file (a directory, FIFO or device); give a file");
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw UserError(source + ": cannot open the file for reading");
  const std::streamoff size = in.tellg();
  if (size < 0) throw UserError(source + ": cannot determine the file size");
  std::string bytes(static_cast<std::size_t>(size), '\0');
  in.seekg(0);
  in.read(bytes.data(), size);
  if (!in) throw UserError(source + ": read error");
  return bytes;
}

void write_npy(const std::filesystem::path& path, const Tensor& tensor) {
  write_file_atomic(path, encode_npy(tensor));
}

Tensor read_npy(const std::filesystem::path& path, const NpyExpectation& expect) {
  const std::string source = describe(path, expect);
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw UserError(source + ": file not found");
  if (std::filesystem::is_directory(path, ec))
    throw UserError(source + ": is a folder, not an .npy file");
  Tensor t = decode_npy(read_file_bytes(path, source), source);

  if (expect.dtype && t.dtype() != *expect.dtype) {
    throw UserError(source + ": wrong dtype: expected " + expected_dtype_text(*expect.dtype) +
                    ", got " + expected_dtype_text(t.dtype()));
  }
  if (expect.shape) {
    if (expect.shape->size() != t.shape().size()) {
      throw UserError(source + ": wrong rank: expected " + std::to_string(expect.shape->size()) +
                      " dims " + shape_string(*expect.shape) + ", got " + std::to_string(t.rank()) +
                      " dims " + t.shape_string());
    }
    if (*expect.shape != t.shape()) {
      throw UserError(source + ": wrong shape: expected " + shape_string(*expect.shape) + ", got " +
                      t.shape_string());
    }
  }
  return t;
}

}  // namespace qla
