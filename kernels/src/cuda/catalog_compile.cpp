#include "qla/cuda/catalog_compile.hpp"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <set>
#include <thread>
#include <utility>

#include "qla/cuda/kernel_catalog.hpp"
#include "qla/error.hpp"

namespace qla::cuda {

std::vector<CatalogJob> catalog_jobs(const ArchInfo& arch,
                                     const std::vector<std::string>& families) {
  for (const std::string& id : families) (void)kernel_family(id);  // UserError for an unknown id
  const std::vector<KernelFamily> all = kernel_families();
  std::vector<CatalogJob> jobs;
  // Each instantiation once: families whose points share kernels (the unfused pipeline's fixed
  // stages) name them many times.
  std::set<std::pair<std::string, std::string>> seen;
  for (const KernelFamily& f : all) {
    if (!families.empty() &&
        std::find(families.begin(), families.end(), f.space->kernel) == families.end())
      continue;
    for (const Point& point : f.space->enumerate(&arch))
      for (KernelSpec& spec : f.specs(point))
        if (seen.emplace(spec.source, spec.name_expression).second)
          jobs.push_back({f.space->kernel, f.space->label(point), std::move(spec)});
  }
  return jobs;
}

std::vector<CatalogOutcome> compile_catalog(
    const std::vector<CatalogJob>& jobs, const ArchInfo& arch, int threads,
    const std::function<void(std::size_t, std::size_t)>& progress) {
  QLA_REQUIRE(threads >= 1, "compile threads must be at least 1 (got " << threads << ")");
  std::vector<CatalogOutcome> out(jobs.size());
  std::atomic<std::size_t> next{0};
  std::size_t done = 0;
  std::mutex mu;
  auto work = [&] {
    for (std::size_t i; (i = next.fetch_add(1)) < jobs.size();) {
      CatalogOutcome& o = out[i];
      try {
        const CompiledKernel k = compile_kernel(jobs[i].spec, arch);
        o.ok = !k.cubin.empty();
        o.from_cache = k.from_cache;
        o.usage = k.usage;
        if (!o.ok) o.error = "NVRTC returned an empty cubin";
      } catch (const CompileError& e) {
        o.error = std::string(e.what()) + "\n" + e.log();
      } catch (const std::exception& e) {
        o.error = e.what();
      }
      std::lock_guard<std::mutex> lock(mu);
      ++done;
      if (progress) progress(done, jobs.size());
    }
  };
  const std::size_t n = std::min<std::size_t>(static_cast<std::size_t>(threads), jobs.size());
  std::vector<std::thread> pool;
  for (std::size_t t = 1; t < n; ++t) pool.emplace_back(work);
  work();
  for (std::thread& t : pool) t.join();
  return out;
}

}  // namespace qla::cuda
