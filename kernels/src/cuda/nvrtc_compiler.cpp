#include "qla/cuda/nvrtc_compiler.hpp"

#include <dlfcn.h>
#include <nvrtc.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <utility>

#include "qla/cuda/embedded_sources.hpp"
#include "qla/error.hpp"
#include "qla/hash.hpp"

namespace qla::cuda {
namespace {

namespace fs = std::filesystem;

void check_nvrtc(nvrtcResult rc, const char* file, int line, const char* call) {
  if (rc != NVRTC_SUCCESS) raise_api_error("NVRTC", file, line, call, nvrtcGetErrorString(rc));
}
#define QLA_NVRTC_CHECK(call) check_nvrtc((call), __FILE__, __LINE__, #call)

// Move-only owner of an nvrtcProgram.
class Program {
 public:
  Program(const std::string& text, const std::vector<const char*>& headers,
          const std::vector<const char*>& names) {
    QLA_NVRTC_CHECK(nvrtcCreateProgram(&prog_, text.c_str(), "qla_jit.cu",
                                       static_cast<int>(headers.size()), headers.data(),
                                       names.data()));
  }
  Program(const Program&) = delete;
  Program& operator=(const Program&) = delete;
  Program(Program&& o) noexcept : prog_(std::exchange(o.prog_, nullptr)) {}
  Program& operator=(Program&&) = delete;
  ~Program() {
    if (prog_) nvrtcDestroyProgram(&prog_);
  }
  nvrtcProgram get() const { return prog_; }

 private:
  nvrtcProgram prog_ = nullptr;
};

std::string get_log(nvrtcProgram prog) {
  std::size_t n = 0;
  if (nvrtcGetProgramLogSize(prog, &n) != NVRTC_SUCCESS || n == 0) return {};
  std::string log(n, '\0');
  nvrtcGetProgramLog(prog, log.data());
  if (!log.empty() && log.back() == '\0') log.pop_back();
  return log;
}

bool has_bf16_header(const fs::path& dir) {
  std::error_code ec;
  return fs::exists(dir / "cuda_bf16.h", ec);
}

std::string find_include_dir() {
  std::vector<fs::path> candidates;
  for (const char* var : {"CUDA_HOME", "CUDA_PATH"}) {
    if (const char* v = std::getenv(var); v && *v) candidates.emplace_back(fs::path(v) / "include");
  }
  candidates.emplace_back("/usr/local/cuda/include");
  // Next to libnvrtc: <root>/lib64/libnvrtc.so → <root>/include, or <root>/targets/<arch>/lib →
  // ../include.
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&nvrtcVersion), &info) && info.dli_fname) {
    const fs::path lib = fs::path(info.dli_fname).parent_path();
    candidates.push_back(lib.parent_path() / "include");
    candidates.push_back(lib.parent_path().parent_path().parent_path() / "include");
  }
  for (const auto& c : candidates) {
    if (has_bf16_header(c)) return c.string();
  }
  raise_api_error(
      "NVRTC", __FILE__, __LINE__, "find CUDA headers",
      "cuda_bf16.h not found in $CUDA_HOME/include, /usr/local/cuda/include or next to libnvrtc");
}

std::string normalized(const std::string& name) {
  std::string out;
  for (char c : name) {
    if (!std::isspace(static_cast<unsigned char>(c))) out.push_back(c);
  }
  return out;
}

bool read_file(const fs::path& p, std::string& out) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  out = ss.str();
  return true;
}

// Best effort: a cache that cannot be written only costs a recompile next time.
void write_atomically(const fs::path& p, const std::string& data) {
  const fs::path tmp =
      p.string() + ".tmp" + std::to_string(reinterpret_cast<std::uintptr_t>(&data));
  {
    std::ofstream out(tmp, std::ios::binary);
    if (!out) return;
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
    if (!out) return;
  }
  std::error_code ec;
  fs::rename(tmp, p, ec);
  if (ec) fs::remove(tmp, ec);
}

std::string meta_text(const CompiledKernel& k) {
  std::ostringstream os;
  os << "lowered " << k.lowered_name << "\nregisters " << k.usage.registers << "\nstatic_smem "
     << k.usage.static_smem << "\nspill_stores " << k.usage.spill_stores << "\nspill_loads "
     << k.usage.spill_loads << "\nstack_frame " << k.usage.stack_frame << "\nwgmma_notes "
     << k.usage.wgmma_notes << "\n";
  return os.str();
}

bool parse_meta(const std::string& text, CompiledKernel& k) {
  std::istringstream is(text);
  std::string key;
  while (is >> key) {
    if (key == "lowered")
      is >> k.lowered_name;
    else if (key == "registers")
      is >> k.usage.registers;
    else if (key == "static_smem")
      is >> k.usage.static_smem;
    else if (key == "spill_stores")
      is >> k.usage.spill_stores;
    else if (key == "spill_loads")
      is >> k.usage.spill_loads;
    else if (key == "stack_frame")
      is >> k.usage.stack_frame;
    else if (key == "wgmma_notes")
      is >> k.usage.wgmma_notes;
    else
      return false;
  }
  // An entry written before the wgmma notes were recorded is compiled again.
  return !k.lowered_name.empty() && k.usage.wgmma_notes >= 0;
}

}  // namespace

int nvrtc_version() {
  int major = 0, minor = 0;
  QLA_NVRTC_CHECK(nvrtcVersion(&major, &minor));
  return major * 1000 + minor * 10;
}

const std::string& cuda_include_dir() {
  static const std::string dir = find_include_dir();
  return dir;
}

std::string cache_dir() {
  fs::path dir;
  if (const char* v = std::getenv("QLA_CACHE_DIR"); v && *v) {
    dir = v;
  } else if (const char* home = std::getenv("HOME"); home && *home) {
    dir = fs::path(home) / ".cache" / "qla";
  } else {
    dir = fs::temp_directory_path() / "qla-cache";
  }
  std::error_code ec;
  fs::create_directories(dir, ec);
  return dir.string();
}

ResourceUsage parse_ptxas_log(const std::string& log) {
  ResourceUsage u;
  auto grab = [&log](const std::regex& re, int& field) {
    for (std::sregex_iterator it(log.begin(), log.end(), re), end; it != end; ++it) {
      field = std::max(field, std::stoi((*it)[1].str()));
    }
  };
  grab(std::regex(R"(Used (\d+) registers)"), u.registers);
  grab(std::regex(R"((\d+) bytes smem)"), u.static_smem);
  grab(std::regex(R"((\d+) bytes spill stores)"), u.spill_stores);
  grab(std::regex(R"((\d+) bytes spill loads)"), u.spill_loads);
  grab(std::regex(R"((\d+) bytes stack frame)"), u.stack_frame);
  if (u.registers >= 0 && u.static_smem < 0)
    u.static_smem = 0;  // ptxas omits "smem" when there is none
  if (u.registers >= 0) {
    const std::regex note(R"(\(C75\d\d\)[^\n]*(wgmma|warpgroup))");
    u.wgmma_notes = static_cast<int>(
        std::distance(std::sregex_iterator(log.begin(), log.end(), note), std::sregex_iterator()));
  }
  return u;
}

CompiledKernel compile_kernel(const KernelSpec& spec, const ArchInfo& arch,
                              const CompileOptions& options) {
  const std::string include = cuda_include_dir();
  std::vector<std::string> flags = {
      "--gpu-architecture=" + arch.sm_name(), "-std=c++17", "-I" + include,
      "-I" + include + "/cccl", "--ptxas-options=-v", "-DQLA_NVRTC=1",
      // Params headers are plain C++ (constexpr helpers without __host__ __device__).
      "-default-device"};
  flags.insert(flags.end(), options.extra_flags.begin(), options.extra_flags.end());

  Fnv1a key;
  key.field(hex64(source_hash(spec.source)));
  key.field(normalized(spec.name_expression));
  key.field(arch.sm_name());
  key.field(std::to_string(nvrtc_version()));
  for (const auto& f : flags) {
    // The include directory's location does not change the result; its contents are versioned with
    // NVRTC.
    if (f.rfind("-I", 0) != 0) key.field(f);
  }

  const fs::path dir = options.use_cache ? fs::path(cache_dir()) : fs::path();
  const fs::path cubin_path = dir / (hex64(key.value()) + ".cubin");
  const fs::path meta_path = dir / (hex64(key.value()) + ".meta");
  CompiledKernel result;
  result.key = key.value();
  if (options.use_cache) {
    std::string meta;
    if (read_file(meta_path, meta) && parse_meta(meta, result) &&
        read_file(cubin_path, result.cubin) && !result.cubin.empty()) {
      result.from_cache = true;
      return result;
    }
    result = CompiledKernel{};
    result.key = key.value();
  }

  const auto files = embedded_files();
  std::vector<const char*> headers, names;
  for (const auto& f : files) {
    headers.push_back(f.text);
    names.push_back(f.name);
  }
  Program prog("#include \"" + spec.source + "\"\n", headers, names);
  QLA_NVRTC_CHECK(nvrtcAddNameExpression(prog.get(), spec.name_expression.c_str()));
  std::vector<const char*> argv;
  for (const auto& f : flags) argv.push_back(f.c_str());
  const nvrtcResult rc =
      nvrtcCompileProgram(prog.get(), static_cast<int>(argv.size()), argv.data());
  result.log = get_log(prog.get());
  if (rc != NVRTC_SUCCESS) {
    throw CompileError("NVRTC failed to compile " + spec.name_expression + " from " + spec.source +
                           " for " + arch.sm_name() + ": " + nvrtcGetErrorString(rc),
                       result.log);
  }
  const char* lowered = nullptr;
  QLA_NVRTC_CHECK(nvrtcGetLoweredName(prog.get(), spec.name_expression.c_str(), &lowered));
  result.lowered_name = lowered;
  std::size_t size = 0;
  QLA_NVRTC_CHECK(nvrtcGetCUBINSize(prog.get(), &size));
  result.cubin.resize(size);
  QLA_NVRTC_CHECK(nvrtcGetCUBIN(prog.get(), result.cubin.data()));
  result.usage = parse_ptxas_log(result.log);

  if (options.use_cache) {
    write_atomically(cubin_path, result.cubin);
    write_atomically(meta_path,
                     meta_text(result));  // meta last: its presence means the cubin is complete
  }
  return result;
}

namespace {
CompiledKernel compile_with_defaults(const KernelSpec& spec, const ArchInfo& arch) {
  return compile_kernel(spec, arch);
}
// Linking this library (whole) is what gives a binary JIT compilation.
const bool kJitInstalled = (set_jit_compiler(&compile_with_defaults), true);
}  // namespace

}  // namespace qla::cuda
