// Small parsers for `qla` flag values shared by several subcommands. Each throws qla::UserError
// naming the flag.
#pragma once

#include <string>
#include <utility>

#include "qla/dtype.hpp"

namespace qla::cli {

/// "2x8" → {2, 8}; "8" → {8, 8}. Throws UserError naming --heads.
std::pair<int, int> parse_heads(const std::string& text);

/// A dtype name (f32, bf16, ...) given to `flag`. Throws UserError naming the flag.
DType parse_dtype_flag(const std::string& flag, const std::string& text);

}  // namespace qla::cli
