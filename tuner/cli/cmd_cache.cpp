// `qla cache warm [--arch sm_90a] [--family ID]... [--jobs N]`: compiles every config the kernel
// families can build for a target into the NVRTC disk cache ($QLA_CACHE_DIR, else ~/.cache/qla),
// without a GPU. A GPU machine with the same NVRTC version then finds every config a tuning run or
// a deployment needs already compiled (the cache key is the source, the kernel, the target, NVRTC's
// version and the flags, never the path).
// `qla cache cubin --family ID --config LABEL -o DIR [--arch sm_90a] [--match TEXT] [--lineinfo]`:
// writes the cubins NVRTC builds for one config (one per dtype combination), for reading their SASS
// with nvdisasm or cuobjdump (scripts/sass-census.sh), without a GPU.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "commands.hpp"
#include "qla/cuda/catalog_compile.hpp"
#include "qla/cuda/device_info.hpp"
#include "qla/cuda/kernel_catalog.hpp"
#include "qla/error.hpp"

namespace qla::cli {

namespace {

struct CacheWarmOptions {
  std::string arch;
  std::vector<std::string> families;
  int jobs = 0;
};

struct CacheCubinOptions {
  std::string arch;
  std::string family;
  std::string config;
  std::string match;
  std::string out_dir;
  std::vector<std::string> flags;
  bool lineinfo = false;
};

ArchInfo target_arch(const std::string& name) {
  if (!name.empty()) return ArchInfo::named(name);
  if (const auto device = cuda::current_device()) return device->arch;
  throw UserError("no CUDA GPU here to take the target from: give --arch (e.g. sm_90a)");
}

void warm(const CacheWarmOptions& o) {
  const ArchInfo arch = target_arch(o.arch);
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

// The family's specs for one config, each compiled afresh (the disk cache keeps no line tables)
// into out_dir/<family>.<config>.<n>.cubin, with its name expression and ptxas' resource usage
// printed.
void cubin(const CacheCubinOptions& o) {
  const ArchInfo arch = target_arch(o.arch);
  const cuda::KernelFamily& f = cuda::kernel_family(o.family);
  const std::optional<Point> point = f.space->parse(o.config);
  if (!point) {
    throw UserError("'" + o.config + "' is not a config of " + o.family +
                    " (its default: " + f.space->label(f.space->default_point) + ")");
  }
  if (!f.space->is_buildable(*point, arch)) {
    throw UserError(o.family + " " + o.config + " does not build for " + arch.sm_name());
  }
  std::error_code ec;
  std::filesystem::create_directories(o.out_dir, ec);
  if (ec) throw UserError("cannot create " + o.out_dir + ": " + ec.message());
  cuda::CompileOptions options;
  options.use_cache = false;
  options.extra_flags = o.flags;
  if (o.lineinfo) options.extra_flags.push_back("--generate-line-info");
  int written = 0, n = 0;
  for (const cuda::KernelSpec& spec : f.specs(*point)) {
    ++n;
    if (!o.match.empty() && spec.name_expression.find(o.match) == std::string::npos) continue;
    const cuda::CompiledKernel k = cuda::compile_kernel(spec, arch, options);
    const std::string path = o.out_dir + "/" + o.family + (o.config.empty() ? "" : "." + o.config) +
                             "." + std::to_string(n) + ".cubin";
    std::ofstream file(path, std::ios::binary);
    if (!(file << k.cubin) || !file.flush()) throw UserError("cannot write " + path);
    std::printf("%s: %s (%d registers, %d bytes spilled, %d bytes loaded back)\n", path.c_str(),
                spec.name_expression.c_str(), k.usage.registers, k.usage.spill_stores,
                k.usage.spill_loads);
    ++written;
  }
  if (written == 0) {
    throw UserError("no kernel of " + o.family + " " + o.config + " names '" + o.match + "'");
  }
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

  CLI::App* sub = cache->add_subcommand(
      "cubin",
      "Write the cubins NVRTC builds for one config of a kernel family (one per dtype "
      "combination), to read their SASS with nvdisasm or cuobjdump; no GPU needed");
  auto c = std::make_shared<CacheCubinOptions>();
  sub->add_option("--family", c->family, "Kernel family, e.g. gdn.kkt_solve")->required();
  sub->add_option("--config", c->config, "Config label, e.g. c64.b16.w1.vh0.cs1")->required();
  sub->add_option("-o,--out", c->out_dir, "Directory for the cubins")->required();
  sub->add_option("--arch", c->arch, "Target, e.g. sm_90a (default: this machine's GPU)");
  sub->add_option("--match", c->match,
                  "Only the kernels whose name expression contains this text, e.g. bfloat16");
  sub->add_flag("--lineinfo", c->lineinfo,
                "Compile with line tables (nvdisasm -g then names each instruction's source line)");
  sub->add_option("--nvrtc-flag", c->flags,
                  "One more NVRTC flag after qla's, e.g. --maxrregcount=168 (repeatable)");
  sub->callback([c] { cubin(*c); });
}

}  // namespace qla::cli
