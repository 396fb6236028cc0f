#include "qla/io/npy.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstring>
#include <fstream>
#include <random>

#include "qla/error.hpp"
#include "temp_dir.hpp"

namespace qla {
namespace {

using test::expect_user_error;
using test::TempDir;

const DType kAllDtypes[] = {DType::kF32, DType::kF16, DType::kBF16,
                            DType::kF64, DType::kI32, DType::kI64};

Tensor random_tensor(DType dtype, std::vector<std::int64_t> shape, unsigned seed) {
  Tensor t(dtype, std::move(shape));
  std::mt19937 rng(seed);
  for (std::int64_t i = 0; i < t.numel(); ++i) {
    const double x = static_cast<double>(rng() % 20001) / 100.0 - 100.0;
    t.set(i, is_floating(dtype) ? x : std::floor(x) * 1000);
  }
  return t;
}

/// An .npy file the way NumPy writes it, built by hand: magic, version, little-endian header
/// length, the dict padded with spaces to a 64-byte boundary, '\n', then the data.
std::string handmade_npy(const std::string& dict, int major, const std::string& data) {
  const std::size_t prefix = major == 1 ? 10 : 12;
  std::string header = dict;
  const std::size_t total = (prefix + header.size() + 1 + 63) / 64 * 64;
  header.append(total - prefix - header.size() - 1, ' ');
  header += '\n';
  std::string out("\x93NUMPY", 6);
  out += static_cast<char>(major);
  out += '\0';
  const auto len = static_cast<std::uint32_t>(header.size());
  out += static_cast<char>(len & 0xff);
  out += static_cast<char>(len >> 8);
  if (major != 1) out += std::string(2, '\0');
  return out + header + data;
}

template <class T>
std::string le_bytes(const std::vector<T>& v) {
  std::string s(v.size() * sizeof(T), '\0');
  std::memcpy(s.data(), v.data(), s.size());
  return s;
}

void write_raw(const std::filesystem::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary) << bytes;
}

TEST(Npy, RoundTripEveryDtypeAndRank) {
  TempDir dir;
  unsigned seed = 1;
  const std::vector<std::vector<std::int64_t>> shapes = {
      {7}, {3, 5}, {2, 3, 4}, {2, 1, 3, 5}, {0, 4}};
  for (DType d : kAllDtypes) {
    for (const auto& shape : shapes) {
      const Tensor t = random_tensor(d, shape, seed++);
      const std::string bytes = encode_npy(t);
      EXPECT_EQ(decode_npy(bytes, "mem"), t) << dtype_name(d) << t.shape_string();
      const auto path = dir / (std::string(dtype_name(d)) + std::to_string(shape.size()) + ".npy");
      write_npy(path, t);
      EXPECT_EQ(read_npy(path), t) << dtype_name(d) << t.shape_string();
      EXPECT_EQ(read_npy(path, {"x", d, shape}), t);
    }
  }
}

TEST(Npy, HeaderIsNumpyCompatible) {
  const Tensor t = random_tensor(DType::kF32, {3}, 7);
  const std::string b = encode_npy(t);
  ASSERT_GT(b.size(), 10u);
  EXPECT_EQ(b.substr(0, 6), std::string("\x93NUMPY", 6));
  EXPECT_EQ(b[6], 1);
  const std::size_t hlen =
      static_cast<unsigned char>(b[8]) | (static_cast<unsigned char>(b[9]) << 8);
  EXPECT_EQ((10 + hlen) % 64, 0u);
  EXPECT_EQ(b[10 + hlen - 1], '\n');
  const std::string header = b.substr(10, hlen);
  EXPECT_NE(header.find("'descr': '<f4'"), std::string::npos);
  EXPECT_NE(header.find("'shape': (3,)"), std::string::npos);  // Python's 1-tuple
  EXPECT_NE(header.find("'fortran_order': False"), std::string::npos);
  EXPECT_EQ(b.size(), 10 + hlen + 12);
}

TEST(Npy, Bf16IsStoredAsU2Bits) {
  const Tensor t = Tensor::from_doubles(DType::kBF16, {2}, {1.0, -2.0});
  const std::string b = encode_npy(t);
  EXPECT_NE(b.find("'<u2'"), std::string::npos);
  EXPECT_EQ(b.substr(b.size() - 4), le_bytes<std::uint16_t>({0x3F80, 0xC000}));
}

TEST(Npy, ReadsHandmadeNumpyFiles) {
  TempDir dir;
  // np.save of np.arange(6, dtype=np.float32).reshape(2, 3)
  write_raw(dir / "a.npy",
            handmade_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 1,
                         le_bytes<float>({0, 1, 2, 3, 4, 5})));
  const Tensor a = read_npy(dir / "a.npy", {"a", DType::kF32, std::vector<std::int64_t>{2, 3}});
  EXPECT_EQ(a.to_doubles(), (std::vector<double>{0, 1, 2, 3, 4, 5}));
  // Format 2.0, int64, double quotes, other key order, no trailing comma.
  write_raw(dir / "b.npy",
            handmade_npy("{\"shape\": (4,), \"fortran_order\": False, \"descr\": \"<i8\"}", 2,
                         le_bytes<std::int64_t>({0, 4096, 8192, 8193})));
  const Tensor b = read_npy(dir / "b.npy");
  EXPECT_EQ(b.dtype(), DType::kI64);
  EXPECT_EQ(b.to_doubles(), (std::vector<double>{0, 4096, 8192, 8193}));
  // torch bf16 → int16 view → uint16 view; read where bf16 is expected.
  write_raw(dir / "c.npy",
            handmade_npy("{'descr': '<u2', 'fortran_order': False, 'shape': (1, 2), }", 1,
                         le_bytes<std::uint16_t>({0x3FC0, 0xBF80})));
  const Tensor c = read_npy(dir / "c.npy", {"q", DType::kBF16, std::vector<std::int64_t>{1, 2}});
  EXPECT_EQ(c.to_doubles(), (std::vector<double>{1.5, -1.0}));
  // A 0-d array.
  write_raw(dir / "d.npy", handmade_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (), }",
                                        1, le_bytes<double>({2.5})));
  const Tensor d = read_npy(dir / "d.npy");
  EXPECT_EQ(d.rank(), 0);
  EXPECT_EQ(d.get(0), 2.5);
  // float16 and int32
  write_raw(dir / "e.npy", handmade_npy("{'descr': '<f2', 'fortran_order': False, 'shape': (2,), }",
                                        1, le_bytes<std::uint16_t>({0x3C00, 0xC400})));
  EXPECT_EQ(read_npy(dir / "e.npy").to_doubles(), (std::vector<double>{1.0, -4.0}));
  write_raw(dir / "f.npy", handmade_npy("{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }",
                                        1, le_bytes<std::int32_t>({-3, 7})));
  EXPECT_EQ(read_npy(dir / "f.npy").to_doubles(), (std::vector<double>{-3, 7}));
}

TEST(Npy, BadFilesNameTheTensorAndTheProblem) {
  TempDir dir;
  const std::string f4x2 = le_bytes<float>({1, 2});
  expect_user_error(
      [&] {
        read_npy(dir / "missing.npy", {"q", std::nullopt, std::nullopt});
      },
      {"q", "missing.npy", "not found"});
  write_raw(dir / "text.npy", "hello, this is not numpy");
  expect_user_error(
      [&] {
        read_npy(dir / "text.npy", {"k", std::nullopt, std::nullopt});
      },
      {"k", "text.npy", "not an .npy file"});
  write_raw(dir / "fortran.npy",
            handmade_npy("{'descr': '<f4', 'fortran_order': True, 'shape': (1, 2), }", 1, f4x2));
  expect_user_error(
      [&] {
        read_npy(dir / "fortran.npy", {"v", std::nullopt, std::nullopt});
      },
      {"v", "Fortran"});
  write_raw(dir / "big.npy",
            handmade_npy("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", 1, f4x2));
  expect_user_error(
      [&] {
        read_npy(dir / "big.npy", {"g", std::nullopt, std::nullopt});
      },
      {"g", "big-endian"});
  write_raw(dir / "c8.npy",
            handmade_npy("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }", 1,
                         std::string(8, '\0')));
  expect_user_error(
      [&] {
        read_npy(dir / "c8.npy", {"beta", std::nullopt, std::nullopt});
      },
      {"beta", "unsupported dtype", "<c8"});
  write_raw(dir / "b1.npy",
            handmade_npy("{'descr': '|b1', 'fortran_order': False, 'shape': (2,), }", 1,
                         std::string(2, '\0')));
  expect_user_error(
      [&] {
        read_npy(dir / "b1.npy", {"beta", std::nullopt, std::nullopt});
      },
      {"beta", "unsupported dtype"});
  write_raw(dir / "short.npy",
            handmade_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", 1, f4x2));
  expect_user_error(
      [&] {
        read_npy(dir / "short.npy", {"h0", std::nullopt, std::nullopt});
      },
      {"h0", "truncated"});
  write_raw(dir / "trunc_header.npy", std::string("\x93NUMPY\x01\x00\x40\x00{'descr'", 18));
  expect_user_error(
      [&] {
        read_npy(dir / "trunc_header.npy", {"do", std::nullopt, std::nullopt});
      },
      {"do", "truncated header"});
  write_raw(dir / "badkey.npy",
            handmade_npy("{'descr': '<f4', 'order': False, 'shape': (2,), }", 1, f4x2));
  expect_user_error(
      [&] {
        read_npy(dir / "badkey.npy", {"dht", std::nullopt, std::nullopt});
      },
      {"dht", "order"});

  write_npy(dir / "ok.npy", Tensor::from_doubles(DType::kF32, {1, 2}, {1, 2}));
  expect_user_error(
      [&] {
        read_npy(dir / "ok.npy", {"q", DType::kBF16, std::nullopt});
      },
      {"q", "wrong dtype", "bf16", "f32"});
  expect_user_error(
      [&] {
        read_npy(dir / "ok.npy", {"q", DType::kF32, std::vector<std::int64_t>{1, 2, 1}});
      },
      {"q", "wrong rank", "[1, 2, 1]", "[1, 2]"});
  expect_user_error(
      [&] {
        read_npy(dir / "ok.npy", {"q", DType::kF32, std::vector<std::int64_t>{2, 1}});
      },
      {"q", "wrong shape", "[2, 1]", "[1, 2]"});
  expect_user_error(
      [&] {
        read_npy(dir.path(), {"q", std::nullopt, std::nullopt});
      },
      {"q", "folder"});
}

TEST(Npy, ShapesWhoseSizeWrapsAreRefused) {
  TempDir dir;
  // 65536 x 2^48 x 1 x 1 elements: 2^64, which wraps to 0 and matched an empty data section before.
  write_raw(dir / "wrap.npy",
            handmade_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (65536, "
                         "281474976710656, 1, 1), }",
                         1, ""));
  expect_user_error(
      [&] {
        read_npy(dir / "wrap.npy", {"q", std::nullopt, std::nullopt});
      },
      {"q", "more elements"});
  write_raw(dir / "bytes.npy",
            handmade_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (281474976710656, "
                         "65536), }",
                         1, ""));
  expect_user_error(
      [&] {
        read_npy(dir / "bytes.npy", {"k", std::nullopt, std::nullopt});
      },
      {"k", "more elements"});
}

TEST(Npy, OnlyRegularFilesAreRead) {
  TempDir dir;
  // A FIFO would block the reader forever; a directory is no tensor either.
  ASSERT_EQ(mkfifo((dir / "fifo.npy").c_str(), 0600), 0);
  expect_user_error(
      [&] {
        read_npy(dir / "fifo.npy", {"v", std::nullopt, std::nullopt});
      },
      {"v", "not a regular file"});
  std::filesystem::create_directories(dir / "folder.npy");
  expect_user_error(
      [&] {
        read_npy(dir / "folder.npy", {"g", std::nullopt, std::nullopt});
      },
      {"g", "folder"});
}

TEST(Npy, WritesAreAtomicAndLeaveNoTemporaries) {
  TempDir dir;
  const Tensor t = random_tensor(DType::kF32, {64, 64}, 3);
  write_npy(dir / "x.npy", t);
  write_npy(dir / "x.npy", random_tensor(DType::kF32, {2}, 4));  // replaces
  EXPECT_EQ(dir.count_entries(), 1);
  EXPECT_EQ(read_npy(dir / "x.npy").numel(), 2);
  expect_user_error([&] { write_npy(dir / "no_such_folder" / "y.npy", t); }, {"y.npy"});
  EXPECT_EQ(dir.count_entries(), 1);
}

}  // namespace
}  // namespace qla
