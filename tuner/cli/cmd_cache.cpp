// `qla cache warm [--arch sm_90a] [--family ID]... [--jobs N]`: compiles every config the kernel
// families can build for a target into the NVRTC disk cache ($QLA_CACHE_DIR, else ~/.cache/qla),
// without a GPU. A GPU machine with the same NVRTC version then finds every config a tuning run or
// a deployment needs already compiled (the cache key is the source, the kernel, the target, NVRTC's
// version and the flags, never the path).
#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "commands.hpp"
#include "qla/cuda/catalog_compile.hpp"
#include "qla/cuda/device_info.hpp"
#include "qla/error.hpp"

namespace qla::cli {

namespace {

struct CacheWarmOptions {
  std::string arch;
  std::vector<std::string> families;
  int jobs = 0;
};

void warm(const CacheWarmOptions& o) {
  ArchInfo arch;
  if (!o.arch.empty()) {
    arch = ArchInfo::named(o.arch);
  } else if (const auto device = cuda::current_device()) {
    arch = device->arch;
  } else {
    throw UserError("no CUDA GPU here to take the target from: give --arch (e.g. sm_90a)");
  }
  const int threads =
      o.jobs > 0 ? o.jobs : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const std::vector<cuda::CatalogJob> jobs = cuda::catalog_jobs(arch, o.families);
  std::printf("compiling %zu kernels for %s on %d threads into %s\n", jobs.size(),
              arch.sm_name().c_str(), threads, cuda::cache_dir().c_str());
  std::fflush(stdout);
  const std::size_t step = std::max<std::size_t>(jobs.size() / 10, 1);
  const std::vector<cuda::CatalogOutcome> out =
      cuda::compile_catalog(jobs, arch, threads, [&](std::size_t done, std::size_t total) {
        if (done % step == 0 || done == total) {
          std::printf("  %zu/%zu\n", done, total);
          std::fflush(stdout);
        }
      });
  std::size_t cached = 0, failed = 0;
  for (std::size_t i = 0; i < out.size(); ++i) {
    cached += out[i].from_cache;
    if (!out[i].ok) {
      ++failed;
      std::fprintf(stderr, "%s %s: %s\n", jobs[i].family.c_str(), jobs[i].label.c_str(),
                   out[i].error.c_str());
    }
  }
  std::printf("%zu compiled, %zu already cached, %zu failed\n", out.size() - cached - failed,
              cached, failed);
  exit_code() = failed ? 1 : 0;
}

}  // namespace

void add_cache_command(CLI::App& app) {
  CLI::App* cache = app.add_subcommand("cache", "The NVRTC kernel cache");
  cache->require_subcommand(1);
  CLI::App* cmd = cache->add_subcommand(
      "warm",
      "Compile every buildable config of the kernel families for a target into the cache (no GPU "
      "needed); a GPU machine with the same NVRTC version then compiles nothing");
  auto o = std::make_shared<CacheWarmOptions>();
  cmd->add_option("--arch", o->arch, "Target, e.g. sm_90a, sm_80 (default: this machine's GPU)");
  cmd->add_option("--family", o->families,
                  "Only this kernel family, e.g. gdn.cp_correct (repeatable; default: all)");
  cmd->add_option("-j,--jobs", o->jobs, "Compile threads (default: one per core)")
      ->check(CLI::NonNegativeNumber);
  cmd->callback([o] { warm(*o); });
}

}  // namespace qla::cli
