// .npy files (NumPy format 1.0 / 2.0 / 3.0), the way users bring tensors captured from PyTorch or
// NumPy.
//
// Supported: little-endian, C order (fortran_order False), these element types:
//   '<f4' float32 -> DType::kF32       '<f8' float64 -> DType::kF64      '<f2' float16 ->
//   DType::kF16
//   '<i4' int32   -> DType::kI32       '<i8' int64   -> DType::kI64
//   '<u2' uint16  -> DType::kBF16   (bfloat16 convention, below)
//
// bfloat16 convention. NumPy has no bfloat16, so a bf16 tensor is stored as '<u2' (uint16) whose
// values are the raw bf16 bit patterns (the upper 16 bits of the float32 with the same value,
// rounded to nearest even). qla writes bf16 tensors this way and reads every '<u2' file as bf16.
// From PyTorch:
//     np.save("q.npy", t.view(torch.int16).numpy().view(np.uint16))          # save a bf16 tensor
//     t = torch.from_numpy(np.load("o.npy").view(np.int16)).view(torch.bfloat16)   # load one
// With the ml_dtypes package: `np.save("q.npy", a.view(np.uint16))` and
// `np.load("o.npy").view(ml_dtypes.bfloat16)`.
//
// Every failure is a qla::UserError whose message names the file (and the tensor, when the caller
// names it): missing or unreadable file, not an .npy file, truncated data, Fortran order,
// big-endian data, an unsupported dtype, or (for read_npy with an NpyExpectation) the wrong dtype,
// rank or shape.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "qla/dtype.hpp"
#include "qla/io/tensor.hpp"

namespace qla {

/// What a caller requires of a tensor file. Unset fields accept anything.
struct NpyExpectation {
  std::string tensor;          ///< name used in messages, e.g. "q"; the file name when empty
  std::optional<DType> dtype;  ///< required element type ('<u2' satisfies kBF16)
  std::optional<std::vector<std::int64_t>>
      shape;  ///< required shape; its size is the required rank
};

/// The '<f4'-style descriptor qla writes for a dtype ("<u2" for bf16).
std::string_view npy_descr(DType dtype);

/// Serialises a tensor to .npy bytes (format 1.0, or 2.0 when the header exceeds 64 KiB).
std::string encode_npy(const Tensor& tensor);

/// Parses .npy bytes. `source` names the file or tensor in error messages.
Tensor decode_npy(std::string_view bytes, const std::string& source);

/// Writes `tensor` to `path` atomically: the bytes go to a temporary file in the same folder, which
/// is then renamed over `path`, so readers never see a partial file. Throws UserError when the
/// folder is not writable.
void write_npy(const std::filesystem::path& path, const Tensor& tensor);

/// Reads a tensor from `path` and checks it against `expect`.
Tensor read_npy(const std::filesystem::path& path, const NpyExpectation& expect = {});

/// The whole file as bytes; `source` names it in the UserError thrown when it cannot be read.
std::string read_file_bytes(const std::filesystem::path& path, const std::string& source);

/// Writes `contents` to `path` atomically (temporary file in the same folder, then rename).
void write_file_atomic(const std::filesystem::path& path, std::string_view contents);

}  // namespace qla
