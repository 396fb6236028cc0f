// The device sources compiled into the library as text (generated at build time from kernels/device/** and the
// params headers under kernels/include/qla/gdn/). NVRTC compiles from these texts, never from the source tree,
// and the tuner and the cubin cache key results by their hash.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace qla::cuda {

/// One embedded file: its include name and text.
struct EmbeddedFile {
  const char* name;  ///< include name: "gdn/naive_fwd.cuh" (under kernels/device) or "qla/gdn/tensor_views.hpp"
  const char* text;  ///< whole file, NUL-terminated
};

/// Every embedded file, sorted by name.
std::vector<EmbeddedFile> embedded_files();

/// Text of the embedded file `name`; throws qla::UserError naming it when there is none.
std::string_view source_text(std::string_view name);

/// Whether `name` is embedded.
bool has_source(std::string_view name);

/// FNV-1a 64 hash of `name`'s text and, recursively, of every embedded file it #includes with quotes. Changes
/// whenever anything the kernel compiles from changes.
std::uint64_t source_hash(std::string_view name);

/// The quoted #include names of `name` that are embedded, transitively, `name` itself first.
std::vector<std::string> source_closure(std::string_view name);

namespace detail {
extern const EmbeddedFile kEmbeddedFiles[];
extern const int kEmbeddedFileCount;
}  // namespace detail

}  // namespace qla::cuda
