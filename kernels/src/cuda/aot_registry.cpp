// The AOT registry: host stubs of nvcc-compiled instantiations, keyed by (source, name expression).
#include "qla/cuda/aot_registry.hpp"

#include <cctype>
#include <map>
#include <mutex>
#include <utility>

namespace qla::cuda {
namespace {

// The macro stringizes the parenthesised template-id, so names arrive as "(qla::gdn::k< 64, float
// >)": strip one pair of outer parentheses and every whitespace character so that both spellings
// compare equal.
std::string normalize_name(const std::string& name) {
  std::string out;
  out.reserve(name.size());
  for (char c : name) {
    if (!std::isspace(static_cast<unsigned char>(c))) out.push_back(c);
  }
  while (out.size() >= 2 && out.front() == '(' && out.back() == ')') {
    // Only strip when the outer pair matches each other (not "(a)(b)").
    int depth = 0;
    bool encloses = true;
    for (std::size_t i = 0; i < out.size(); ++i) {
      if (out[i] == '(') ++depth;
      if (out[i] == ')') --depth;
      if (depth == 0 && i + 1 < out.size()) {
        encloses = false;
        break;
      }
    }
    if (!encloses) break;
    out = out.substr(1, out.size() - 2);
  }
  return out;
}

struct Registry {
  std::mutex mutex;
  std::map<std::pair<std::string, std::string>, const void*> stubs;
};

// Function-local static: registrations run during static initialisation of other translation units.
Registry& registry() {
  static Registry instance;
  return instance;
}

}  // namespace

void register_aot_kernel(const char* source, const char* name_expression, const void* host_stub) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  r.stubs[{std::string(source), normalize_name(name_expression)}] = host_stub;
}

const void* find_aot_kernel(const std::string& source, const std::string& name_expression) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  auto it = r.stubs.find({source, normalize_name(name_expression)});
  return it == r.stubs.end() ? nullptr : it->second;
}

}  // namespace qla::cuda
