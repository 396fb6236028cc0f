#include "qla/cuda/kernel_catalog.hpp"

#include <algorithm>
#include <mutex>

#include "qla/error.hpp"

namespace qla::cuda {
namespace {

struct Catalog {
  std::mutex mutex;
  std::vector<KernelFamily> families;
};

Catalog& catalog() {
  static Catalog c;  // function-local: registrations run during static initialisation
  return c;
}

}  // namespace

bool register_kernel_family(KernelFamily family) {
  Catalog& c = catalog();
  std::lock_guard<std::mutex> lock(c.mutex);
  c.families.push_back(std::move(family));
  return true;
}

std::vector<KernelFamily> kernel_families() {
  Catalog& c = catalog();
  std::lock_guard<std::mutex> lock(c.mutex);
  auto out = c.families;
  std::sort(out.begin(), out.end(), [](const KernelFamily& a, const KernelFamily& b) {
    return a.space->kernel < b.space->kernel;
  });
  return out;
}

const KernelFamily* find_kernel_family(const std::string& kernel) {
  Catalog& c = catalog();
  std::lock_guard<std::mutex> lock(c.mutex);
  for (const KernelFamily& f : c.families)
    if (f.space->kernel == kernel) return &f;
  return nullptr;
}

const KernelFamily& kernel_family(const std::string& kernel) {
  if (const KernelFamily* f = find_kernel_family(kernel)) return *f;
  std::string ids;
  for (const KernelFamily& f : kernel_families())
    ids += (ids.empty() ? "" : ", ") + f.space->kernel;
  throw UserError("unknown kernel family '" + kernel + "' (" + ids + ")");
}

}  // namespace qla::cuda
