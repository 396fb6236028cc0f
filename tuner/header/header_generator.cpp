// The header generator: reads the store once (export_json for provenance and default times,
// tuned_entries for the rows, so the rows are exactly what tuner::Lookup would use) and prints C++.
#include "header_generator.hpp"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <system_error>
#include <utility>

#include "qla/error.hpp"
#include "qla/hash.hpp"
#include "qla/tuner/problem_json.hpp"

namespace qla::tuner {
namespace {

// Compute capabilities CUDA 12/13 targets; anything else named by --arch is a typo, not a new card.
constexpr std::pair<int, int> kKnownCapabilities[] = {
    {5, 0}, {5, 2}, {5, 3}, {6, 0}, {6, 1},  {6, 2},  {7, 0},  {7, 2},  {7, 5},  {8, 0},
    {8, 6}, {8, 7}, {8, 9}, {9, 0}, {10, 0}, {10, 1}, {10, 3}, {11, 0}, {12, 0}, {12, 1}};

// Fixed formats so the same store gives the same bytes on every host: %.17g round-trips the stored
// doubles (the dispatcher compares nothing with them, but tests compare them with the lookup's),
// %.3f for comments.
std::string exact_double(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  std::string s = buf;
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
  return s;
}
std::string fixed3(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.3f", v);
  return buf;
}
std::string fixed2(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

std::string camel(const std::string& snake) {
  std::string out;
  bool up = true;
  for (char c : snake) {
    if (c == '_') {
      up = true;
      continue;
    }
    out.push_back(up ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c);
    up = false;
  }
  return out;
}

std::string dtype_enumerator(DType t) {
  switch (t) {
    case DType::kF32:
      return "qla::DType::kF32";
    case DType::kF16:
      return "qla::DType::kF16";
    case DType::kBF16:
      return "qla::DType::kBF16";
    case DType::kF64:
      return "qla::DType::kF64";
    case DType::kI32:
      return "qla::DType::kI32";
    case DType::kI64:
      return "qla::DType::kI64";
  }
  return "qla::DType::kF32";
}

// A C++ string literal of store text (problem keys are [a-z0-9.:,]; escape anyway).
std::string literal(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "\"";
}

std::string cc_tag(int major, int minor) {
  return "Sm" + std::to_string(major) + std::to_string(minor);
}
std::string cc_name(int major, int minor) {
  return "sm_" + std::to_string(major) + std::to_string(minor);
}
std::string cuda_arch(int major, int minor) {
  ArchInfo a;
  a.cc_major = major;
  a.cc_minor = minor;
  return a.sm_name().substr(3);  // "90a", "100"
}

struct Device {
  std::string digest, name;
  int cc_major = 0, cc_minor = 0, sm_count = 0, driver = 0, runtime = 0, nvrtc = 0;
};

struct RowOut {
  TunedEntry entry;
  bool same_arch = false;
  double default_us = 0;
};

struct KernelOut {
  const HeaderKernel* kernel = nullptr;
  KernelIdentity identity;
  bool any_trial = false;                                   // trials of the current space in scope
  std::map<std::pair<int, int>, std::vector<RowOut>> rows;  // by compute capability
};

std::string values_init(const SpaceDecl& space, const Point& values) {
  std::ostringstream os;
  os << '{';
  for (std::size_t i = 0; i < values.size(); ++i)
    os << (i ? ", " : "") << "/*" << space.axes[i].label << "*/ " << values[i];
  os << '}';
  return os.str();
}

}  // namespace

std::pair<int, int> parse_arch(const std::string& text) {
  std::string t = text;
  if (t.rfind("sm_", 0) == 0) t = t.substr(3);
  if (!t.empty() && (t.back() == 'a' || t.back() == 'f')) t.pop_back();
  int major = -1, minor = -1;
  if (const auto dot = t.find('.'); dot != std::string::npos) {
    if (dot == 0 || dot + 2 != t.size())
      t.clear();
    else
      t = t.substr(0, dot) + t.substr(dot + 1);
  }
  const bool digits = !t.empty() && t.size() <= 3 &&
                      std::all_of(t.begin(), t.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (digits && t.size() >= 2) {
    major = std::stoi(t.substr(0, t.size() - 1));
    minor = t.back() - '0';
  }
  for (const auto& cc : kKnownCapabilities)
    if (cc.first == major && cc.second == minor) return cc;
  throw UserError("--arch: '" + text +
                  "' is not a CUDA compute capability (expected e.g. sm_90, sm_100, sm_120)");
}

HeaderResult generate_header(const Store& store, const std::vector<HeaderKernel>& kernels,
                             const HeaderOptions& options) {
  if (!options.device.empty() && !options.arch.empty())
    throw UserError(
        "--device and --arch are exclusive: give one (or neither, for every device of the store)");
  std::pair<int, int> arch{-1, -1};
  if (!options.arch.empty()) arch = parse_arch(options.arch);

  const nlohmann::json dump = store.export_json();
  std::map<std::string, Device> devices;
  for (const auto& d : dump.at("devices")) {
    Device dev;
    dev.digest = d.at("digest").get<std::string>();
    dev.name = d.at("name").get<std::string>();
    dev.cc_major = d.at("cc_major").get<int>();
    dev.cc_minor = d.at("cc_minor").get<int>();
    dev.sm_count = d.at("sm_count").get<int>();
    dev.driver = d.at("driver_version").get<int>();
    dev.runtime = d.at("runtime_version").get<int>();
    dev.nvrtc = d.at("nvrtc_version").get<int>();
    devices[dev.digest] = dev;
  }
  const nlohmann::json& trials = dump.at("trials");
  const bool defaults_only = trials.empty();

  // The scope: which devices' rows go in, and (with --device) which is primary.
  std::set<std::string> scope;
  std::string scope_text = "every device of the store";
  if (!defaults_only) {
    if (!options.device.empty()) {
      const auto it = devices.find(options.device);
      if (it == devices.end()) {
        std::string known;
        for (const auto& [digest, d] : devices)
          known += (known.empty() ? "" : ", ") + digest + " (" + d.name + ")";
        throw UserError("--device: no device with digest '" + options.device + "' in store '" +
                        options.store_name + "' (it has: " + known + ")");
      }
      arch = {it->second.cc_major, it->second.cc_minor};
      scope_text = "--device " + options.device;
    } else if (!options.arch.empty()) {
      scope_text = "--arch " + cc_name(arch.first, arch.second);
    }
    for (const auto& [digest, d] : devices)
      if (arch.first < 0 || (d.cc_major == arch.first && d.cc_minor == arch.second))
        scope.insert(digest);
  } else if (!options.device.empty()) {
    scope_text = "--device " + options.device;
  } else if (!options.arch.empty()) {
    scope_text = "--arch " + cc_name(arch.first, arch.second);
  }

  // Per kernel: the identity (current space hash, newest source hash) and its rows in scope.
  std::vector<KernelOut> outs;
  std::string newest;
  std::map<std::string, std::size_t> rows_per_device;
  for (const HeaderKernel& k : kernels) {
    KernelOut out;
    out.kernel = &k;
    out.identity.kernel = k.space->kernel;
    out.identity.space_hash = hex64(k.space->hash());
    std::string newest_of_kernel;
    for (const auto& t : trials) {
      if (t.at("kernel") != out.identity.kernel || t.at("space_hash") != out.identity.space_hash ||
          !scope.count(t.at("device").get<std::string>()))
        continue;
      const std::string at =
          t.at("created_at").get<std::string>() + "|" + t.at("source_hash").get<std::string>();
      if (at > newest_of_kernel) {
        newest_of_kernel = at;
        out.identity.source_hash = t.at("source_hash").get<std::string>();
      }
      out.any_trial = true;
    }
    if (out.any_trial) {
      // Default times: the winner's paired re-measurement, else the default config's own trial.
      std::map<std::pair<std::string, std::string>, double> default_us;
      const std::string default_label = k.space->label(k.space->default_point);
      for (const auto& t : trials) {
        if (t.at("kernel") != out.identity.kernel ||
            t.at("space_hash") != out.identity.space_hash ||
            t.at("source_hash") != out.identity.source_hash ||
            !scope.count(t.at("device").get<std::string>()))
          continue;
        const std::string at = t.at("created_at").get<std::string>();
        if (at > newest) newest = at;
        if (t.at("config") == default_label && t.at("status") == "ok" &&
            !t.at("median_us").is_null())
          default_us[{t.at("device").get<std::string>(), t.at("problem").get<std::string>()}] =
              t.at("median_us").get<double>();
      }
      for (const auto& w : dump.at("winners")) {
        if (w.at("kernel") != out.identity.kernel ||
            w.at("space_hash") != out.identity.space_hash ||
            w.at("source_hash") != out.identity.source_hash ||
            w.at("default_median_us").get<double>() <= 0)
          continue;
        default_us[{w.at("device").get<std::string>(), w.at("problem").get<std::string>()}] =
            w.at("default_median_us").get<double>();
      }
      for (TunedEntry& e : store.tuned_entries(out.identity)) {
        if (!scope.count(e.device_digest) || !k.space->contains(e.values)) continue;
        RowOut r;
        const auto d = default_us.find({e.device_digest, e.problem});
        r.default_us = d == default_us.end() ? 0.0 : d->second;
        ++rows_per_device[e.device_digest];
        r.entry = std::move(e);
        out.rows[{r.entry.cc_major, r.entry.cc_minor}].push_back(std::move(r));
      }
    }
    outs.push_back(std::move(out));
  }

  // The primary device of each capability.
  std::map<std::pair<int, int>, std::string> primary;
  for (const auto& [digest, n] : rows_per_device) {
    const Device& d = devices.at(digest);
    auto& p = primary[{d.cc_major, d.cc_minor}];
    if (p.empty() || n > rows_per_device.at(p))
      p = digest;  // map order: ties keep the smaller digest
  }
  if (!options.device.empty() && !defaults_only) primary[arch] = options.device;

  std::size_t total_rows = 0;
  for (KernelOut& out : outs)
    for (auto& [cc, rows] : out.rows)
      for (RowOut& r : rows) {
        r.same_arch = r.entry.device_digest != primary.at(cc);
        ++total_rows;
      }
  if (!defaults_only) {
    const std::size_t trial_count = trials.size();
    if (!options.device.empty() && rows_per_device[options.device] == 0)
      throw UserError("--device " + options.device + ": store '" + options.store_name +
                      "' has no valid tuned rows of the covered kernels for that device (" +
                      std::to_string(trial_count) +
                      " trials in the store); tune it first or pick another device");
    if (total_rows == 0)
      throw UserError(
          (options.arch.empty() ? std::string("--db: store '") + options.store_name + "'"
                                : "--arch " + cc_name(arch.first, arch.second) + ": store '" +
                                      options.store_name + "'") +
          " has " + std::to_string(trial_count) +
          " trials but no valid tuned rows of the covered kernels (current spaces) " +
          (options.arch.empty() ? std::string("on any device") : "for that compute capability"));
  }

  // ---- print
  std::ostringstream h;
  h << "// Generated by `qla header` from a tuning store; do not edit. Regenerate with\n"
    << "//   qla header --db " << options.store_name
    << (options.device.empty() ? "" : " --device " + options.device)
    << (options.arch.empty() ? "" : " --arch " + options.arch) << " -o <this file>\n"
    << "// qla-header-format: 1\n//\n"
    << "// store:        " << options.store_name << "\n"
    << "// scope:        " << scope_text << "\n";
  if (defaults_only) {
    h << "// DEFAULTS ONLY: the store holds no trials yet, so every kernel runs its built-in "
         "default config.\n"
      << "//               Tune (`qla tune`) and regenerate to get tuned tables.\n";
  } else {
    h << "// newest trial: " << newest << "\n";
    for (const auto& [cc, digest] : primary)
      for (const auto& [d_digest, d] : devices) {
        if (!rows_per_device.count(d_digest) || d.cc_major != cc.first || d.cc_minor != cc.second)
          continue;
        h << "// device " << cc_name(cc.first, cc.second)
          << (d_digest == digest ? " primary:   " : " same arch: ") << d.name << ", " << d.sm_count
          << " SMs, digest " << d_digest << ", driver " << d.driver << ", runtime " << d.runtime
          << ", nvrtc " << d.nvrtc << "\n";
      }
  }
  for (const KernelOut& out : outs) {
    std::size_t n = 0;
    for (const auto& [cc, rows] : out.rows) n += rows.size();
    h << "// kernel " << out.identity.kernel << ": space " << out.identity.space_hash;
    if (n > 0)
      h << ", source " << out.identity.source_hash << ", " << n << (n == 1 ? " row\n" : " rows\n");
    else
      h << ", no tuned rows (default " << out.kernel->space->label(out.kernel->space->default_point)
        << ")\n";
  }
  h << "//\n"
    << "// qla_tuned::select(problem, cc_major, cc_minor) follows qla::tuner::Lookup: the exact "
       "problem on the primary\n"
    << "// device → the nearest tuned problem of the same (H_qk, H_v, K, V, dtype) class by\n"
    << "// sqrt(Δlog2 tokens² + Δlog2 sequences² + Δlog2 fill²), fill = tokens / (sequences x "
       "longest sequence)\n"
    << "// → the same over the other devices of that compute capability →\n"
    << "// the kernel's built-in default. Every row is static_asserted against its family's "
       "declared axes.\n"
    << "//\n"
    << "// Lines for qla_add_tuned_kernels (cmake/QlaDeploy.cmake): CUDA architectures, then the "
       "instantiations the\n"
    << "// tables name beyond the defaults the kernel library already builds ahead of time.\n";
  std::set<std::pair<int, int>> ccs;
  for (const KernelOut& out : outs)
    for (const auto& [cc, rows] : out.rows) ccs.insert(cc);
  for (const auto& cc : ccs) h << "// qla-cuda-arch: " << cuda_arch(cc.first, cc.second) << "\n";
  std::set<std::pair<std::string, std::string>> aot;
  for (const KernelOut& out : outs) {
    if (!out.kernel->aot_specs) continue;
    for (const auto& [cc, rows] : out.rows)
      for (const RowOut& r : rows)
        for (const cuda::KernelSpec& s :
             out.kernel->aot_specs(r.entry.values, r.entry.problem_value))
          aot.insert({s.source, s.name_expression});
  }
  for (const auto& [source, name] : aot) h << "// qla-aot: " << source << " | " << name << "\n";

  h << "#pragma once\n\n#include <array>\n#include <cstdint>\n#include <map>\n#include <string>\n"
    << "#include <vector>\n\n#include \"qla/dtype.hpp\"\n#include \"qla/gdn/problem.hpp\"\n"
    << "#include \"qla/tuned_dispatch.hpp\"\n";
  std::set<std::string> includes;
  for (const HeaderKernel& k : kernels) includes.insert(k.include);
  for (const auto& inc : includes) h << "#include \"" << inc << "\"\n";
  h << "\nnamespace qla_tuned {\n\n";
  h << "/// True when the store held no trials: select() answers every kernel's built-in default.\n"
    << "inline constexpr bool kDefaultsOnly = " << (defaults_only ? "true" : "false") << ";\n"
    << "/// Rows over every table.\n"
    << "inline constexpr std::size_t kRowCount = " << total_rows << ";\n"
    << "/// Compute capabilities with tables, {major, minor}.\n"
    << "inline constexpr std::array<std::array<int, 2>, " << ccs.size() << "> kCapabilities = {{";
  {
    bool first = true;
    for (const auto& cc : ccs) {
      h << (first ? "" : ", ") << "{{" << cc.first << ", " << cc.second << "}}";
      first = false;
    }
  }
  h << "}};\n";

  for (const KernelOut& out : outs) {
    const SpaceDecl& space = *out.kernel->space;
    const std::string stem = "k" + camel(out.kernel->name);
    const std::size_t n_axes = space.axes.size();
    auto in_space_call = [&](const std::string& values_expr) {
      std::ostringstream os;
      os << out.kernel->in_space << "({";
      for (std::size_t i = 0; i < n_axes; ++i)
        os << (i ? ", " : "") << values_expr << '[' << i << ']';
      os << "})";
      return os.str();
    };
    h << "\n// ---- " << space.kernel << ": axes";
    for (const Axis& a : space.axes) h << ' ' << a.label << " (" << a.name << ")";
    h << "\n/// Built-in default of " << space.kernel << " (" << space.label(space.default_point)
      << ").\n"
      << "inline constexpr int " << stem << "Default[" << n_axes
      << "] = " << values_init(space, space.default_point) << ";\n"
      << "static_assert(" << in_space_call(stem + "Default") << ", \"" << space.kernel
      << ": the default lies outside the declared space\");\n";
    for (const auto& [cc, rows] : out.rows) {
      const std::string table = stem + cc_tag(cc.first, cc.second);
      h << "/// " << space.kernel << " on " << cc_name(cc.first, cc.second) << ": " << rows.size()
        << (rows.size() == 1 ? " row.\n" : " rows.\n") << "inline constexpr std::array<Row<"
        << n_axes << ">, " << rows.size() << "> " << table << " = {{\n";
      for (const RowOut& r : rows) {
        const TunedEntry& e = r.entry;
        const gdn::Problem& p = e.problem_value;
        h << "    // " << e.problem << " on " << e.device_name
          << (r.same_arch ? " (same arch)" : "") << ": " << e.config << " " << fixed3(e.median_us)
          << " us (" << (e.decided ? "re-measured winner" : "best trial") << "), ";
        if (r.default_us > 0)
          h << fixed2(r.default_us / e.median_us) << "x over the untuned op ("
            << fixed3(r.default_us) << " us)\n";
        else
          h << "untuned op not measured\n";
        h << "    {{" << p.h_qk << ", " << p.h_v << ", " << p.k_dim << ", " << p.v_dim << ", "
          << dtype_enumerator(p.qkv_dtype) << ", " << p.valid_tokens() << ", " << p.num_sequences()
          << ", " << p.longest_sequence() << ", " << literal(e.problem) << "}, "
          << (r.same_arch ? "true" : "false") << ", " << values_init(space, e.values) << ", "
          << exact_double(e.median_us) << ", " << exact_double(r.default_us) << "},\n";
      }
      h << "}};\n";
      for (std::size_t i = 0; i < rows.size(); ++i)
        h << "static_assert(" << in_space_call(table + "[" + std::to_string(i) + "].values")
          << ", \"" << space.kernel << " " << cc_name(cc.first, cc.second) << " row " << i << " ("
          << rows[i].entry.config << ") lies outside the declared space\");\n";
    }
  }

  h << "\n/// The config of every covered kernel for one problem.\nstruct Selection {\n";
  for (const KernelOut& out : outs)
    h << "  Choice<" << out.kernel->space->axes.size() << "> " << out.kernel->name << ";  ///< "
      << out.kernel->space->kernel << "\n";
  const bool any_sharing = std::any_of(outs.begin(), outs.end(),
                                       [](const KernelOut& o) { return o.kernel->shares_chunk; });
  h << "\n  /// Kernel id → values of the kernels select() found a tuned row for, for\n"
    << "  /// qla::gdn::PlanOptions::configs; kernels on their default are left out so the plan's "
       "own rules apply.\n";
  if (any_sharing)
    h << "  /// Kernels sharing the chunk size C (axis 0) are passed on only at the C of the first "
         "of them with a\n"
      << "  /// tuned row, so one plan never mixes chunk sizes.\n";
  h << "  std::map<std::string, std::vector<int>> tuned_configs() const {\n"
    << "    std::map<std::string, std::vector<int>> out;\n";
  if (any_sharing) {
    h << "    int chunk = 0;\n";
    for (const KernelOut& out : outs)
      if (out.kernel->shares_chunk)
        h << "    if (chunk == 0 && " << out.kernel->name
          << ".source != Source::kDefault) chunk = " << out.kernel->name << ".values[0];\n";
  }
  for (const KernelOut& out : outs)
    h << "    if (" << out.kernel->name << ".source != Source::kDefault"
      << (out.kernel->shares_chunk ? " && " + out.kernel->name + ".values[0] == chunk"
                                   : std::string())
      << ") out[" << literal(out.kernel->space->kernel) << "] = " << out.kernel->name
      << ".point();\n";
  h << "    return out;\n  }\n};\n\n"
    << "/// The configs for `q` on a GPU of compute capability cc_major.cc_minor (see the top of "
       "this file).\n"
    << "inline Selection select(const Query& q, int cc_major, int cc_minor) {\n"
    << "  Selection s;\n";
  for (const KernelOut& out : outs)
    h << "  s." << out.kernel->name << " = detail::default_choice(k" << camel(out.kernel->name)
      << "Default);\n";
  for (const auto& cc : ccs) {
    h << "  if (cc_major == " << cc.first << " && cc_minor == " << cc.second << ") {\n";
    for (const KernelOut& out : outs) {
      if (!out.rows.count(cc)) continue;
      const std::string stem = "k" + camel(out.kernel->name);
      h << "    s." << out.kernel->name << " = detail::find(" << stem << cc_tag(cc.first, cc.second)
        << ", q, " << stem << "Default);\n";
    }
    h << "  }\n";
  }
  if (ccs.empty()) h << "  (void)q;\n  (void)cc_major;\n  (void)cc_minor;\n";
  h << "  return s;\n}\n\n"
    << "/// select() for a qla::gdn::Problem.\n"
    << "inline Selection select(const qla::gdn::Problem& p, int cc_major, int cc_minor) {\n"
    << "  return select(query_of(p), cc_major, cc_minor);\n}\n\n"
    << "}  // namespace qla_tuned\n";

  HeaderResult result;
  result.text = h.str();
  result.rows = total_rows;
  result.defaults_only = defaults_only;
  return result;
}

void write_file_atomically(const std::string& path, const std::string& text) {
  namespace fs = std::filesystem;
  if (path.empty()) throw UserError("-o: no output file given");
  const fs::path target(path);
  std::error_code ec;
  if (fs::is_directory(target, ec)) throw UserError("-o: '" + path + "' is a directory");
  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  if (!fs::is_directory(dir, ec))
    throw UserError("-o: directory '" + dir.string() + "' does not exist");
  const fs::path temp = dir / ("." + target.filename().string() + ".tmp");
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    if (!out) throw UserError("-o: cannot write in '" + dir.string() + "'");
    out << text;
    out.close();
    if (!out) {
      fs::remove(temp, ec);
      throw UserError("-o: writing '" + temp.string() + "' failed");
    }
  }
  fs::rename(temp, target, ec);
  if (ec) {
    std::error_code ignored;
    fs::remove(temp, ignored);
    throw UserError("-o: cannot rename onto '" + path + "': " + ec.message());
  }
}

}  // namespace qla::tuner
