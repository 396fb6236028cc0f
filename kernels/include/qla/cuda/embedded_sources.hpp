// The device sources compiled into the library as text (generated at build time from
// kernels/device/** and the params headers under kernels/include/qla/gdn/). NVRTC compiles from
// these texts, never from the source tree, and the tuner and the cubin cache key results by their
// hash.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace qla::cuda {

/// One embedded file: its include name and text.
struct EmbeddedFile {
  const char* name;  ///< include name: "gdn/naive_fwd.cuh" (under kernels/device) or
                     ///< "qla/gdn/tensor_views.hpp"
  const char* text;  ///< whole file, NUL-terminated
};

/// Every embedded file, sorted by name.
std::vector<EmbeddedFile> embedded_files();

/// Text of the embedded file `name`; throws qla::UserError naming it when there is none.
std::string_view source_text(std::string_view name);

/// Whether `name` is embedded.
bool has_source(std::string_view name);

/// Stable 64-bit hash of a device source and every embedded file it includes (source_closure), over
/// the code only: comments are dropped and whitespace runs count as one space (code_text), so
/// rewording a comment or reformatting keeps a kernel's tuning data current, while any change to
/// its code starts a fresh set.
std::uint64_t source_hash(std::string_view name);

/// The code of a C++/CUDA source without its comments, whitespace runs collapsed to one space, for
/// hashing. String and character literals are kept as written.
std::string code_text(std::string_view source);

/// The quoted #include names of `name` that are embedded, transitively, `name` itself first.
std::vector<std::string> source_closure(std::string_view name);

namespace detail {
extern const EmbeddedFile kEmbeddedFiles[];
extern const int kEmbeddedFileCount;
}  // namespace detail

}  // namespace qla::cuda
