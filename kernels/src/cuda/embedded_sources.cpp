#include "qla/cuda/embedded_sources.hpp"

#include <algorithm>
#include <set>

#include "qla/error.hpp"
#include "qla/hash.hpp"

namespace qla::cuda {
namespace {

const EmbeddedFile* find(std::string_view name) {
  for (int i = 0; i < detail::kEmbeddedFileCount; ++i) {
    if (name == detail::kEmbeddedFiles[i].name) return &detail::kEmbeddedFiles[i];
  }
  return nullptr;
}

// The names inside `#include "..."` lines (angle-bracket includes are system headers, not ours).
std::vector<std::string> quoted_includes(std::string_view text) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while ((pos = text.find("#include", pos)) != std::string_view::npos) {
    const std::size_t eol = std::min(text.find('\n', pos), text.size());
    const std::string_view line = text.substr(pos, eol - pos);
    const std::size_t open = line.find('"');
    if (open != std::string_view::npos) {
      const std::size_t close = line.find('"', open + 1);
      if (close != std::string_view::npos)
        out.emplace_back(line.substr(open + 1, close - open - 1));
    }
    pos = eol;
  }
  return out;
}

}  // namespace

std::vector<EmbeddedFile> embedded_files() {
  std::vector<EmbeddedFile> out(detail::kEmbeddedFiles,
                                detail::kEmbeddedFiles + detail::kEmbeddedFileCount);
  std::sort(out.begin(), out.end(), [](const EmbeddedFile& a, const EmbeddedFile& b) {
    return std::string_view(a.name) < b.name;
  });
  return out;
}

bool has_source(std::string_view name) { return find(name) != nullptr; }

std::string_view source_text(std::string_view name) {
  const EmbeddedFile* f = find(name);
  QLA_REQUIRE(f != nullptr, "no embedded device source named '" << name << "'");
  return f->text;
}

std::vector<std::string> source_closure(std::string_view name) {
  std::vector<std::string> order{std::string(name)};
  std::set<std::string> seen{std::string(name)};
  for (std::size_t i = 0; i < order.size(); ++i) {
    for (auto& inc : quoted_includes(source_text(order[i]))) {
      if (has_source(inc) && seen.insert(inc).second) order.push_back(inc);
    }
  }
  return order;
}

std::uint64_t source_hash(std::string_view name) {
  Fnv1a h;  // one field per file name and per file text, so file boundaries matter
  for (const auto& f : source_closure(name)) {
    h.field(f);
    h.field(code_text(source_text(f)));
  }
  return h.value();
}

std::string code_text(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  bool space = false;  // a whitespace run (or a comment) is pending
  auto put = [&](char c) {
    if (space && !out.empty()) out.push_back(' ');
    space = false;
    out.push_back(c);
  };
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '/' && i + 1 < s.size() && s[i + 1] == '/') {  // line comment
      while (i < s.size() && s[i] != '\n') ++i;
      space = true;
    } else if (c == '/' && i + 1 < s.size() && s[i + 1] == '*') {  // block comment
      i += 2;
      while (i + 1 < s.size() && !(s[i] == '*' && s[i + 1] == '/')) ++i;
      ++i;
      space = true;
    } else if (c == '"' || c == '\'') {  // literal, escapes included
      put(c);
      for (++i; i < s.size() && s[i] != c; ++i) {
        out.push_back(s[i]);
        if (s[i] == '\\' && i + 1 < s.size()) out.push_back(s[++i]);
      }
      if (i < s.size()) out.push_back(c);
    } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
      space = true;
    } else {
      put(c);
    }
  }
  return out;
}

}  // namespace qla::cuda
