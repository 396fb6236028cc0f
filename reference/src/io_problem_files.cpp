#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <set>
#include <system_error>
#include <utility>

#include "qla/error.hpp"
#include "qla/io/npy.hpp"
#include "qla/io/problem_files.hpp"

namespace qla::gdn {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr std::string_view kFormat = "qla.gdn.problem/1";

/// Typed access to problem.json's keys with one clear message per mistake.
class JsonReader {
 public:
  JsonReader(const json& j, const std::string& source) : j_(j), source_(source) {}

  bool has(const char* key) const { return j_.contains(key) && !j_.at(key).is_null(); }

  std::int64_t integer(const char* key) const {
    require(key);
    const json& v = j_.at(key);
    if (!v.is_number_integer()) fail(key, "must be an integer, got " + v.dump());
    return v.get<std::int64_t>();
  }
  int small_int(const char* key) const {
    const std::int64_t v = integer(key);
    if (v < 0 || v > (1 << 20)) fail(key, "is out of range: " + std::to_string(v));
    return static_cast<int>(v);
  }
  bool boolean(const char* key) const {
    const json& v = j_.at(key);
    if (!v.is_boolean()) fail(key, "must be true or false, got " + v.dump());
    return v.get<bool>();
  }
  double number(const char* key) const {
    const json& v = j_.at(key);
    if (!v.is_number()) fail(key, "must be a number or null, got " + v.dump());
    return v.get<double>();
  }
  DType dtype(const char* key) const {
    const json& v = j_.at(key);
    if (!v.is_string()) fail(key, "must be a dtype name such as \"bf16\", got " + v.dump());
    const auto d = parse_dtype(v.get<std::string>());
    if (!d)
      fail(key, "unknown dtype \"" + v.get<std::string>() + "\" (f32, f16, bf16, f64, i32, i64)");
    return *d;
  }
  std::vector<std::int64_t> int_array(const char* key) const {
    const json& v = j_.at(key);
    if (!v.is_array()) fail(key, "must be an array of integers, got " + v.dump());
    std::vector<std::int64_t> out;
    for (const json& e : v) {
      if (!e.is_number_integer()) fail(key, "must be an array of integers, has " + e.dump());
      out.push_back(e.get<std::int64_t>());
    }
    return out;
  }

  void require(const char* key) const {
    if (!has(key)) fail(key, "is missing");
  }
  [[noreturn]] void fail(const char* key, const std::string& what) const {
    throw UserError(source_ + ": key \"" + key + "\" " + what);
  }

 private:
  const json& j_;
  const std::string& source_;
};

std::string read_text(const fs::path& path, const std::string& what) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec))
    throw UserError(what + " (" + path.string() + "): file not found");
  return read_file_bytes(path, what + " (" + path.string() + ")");
}

}  // namespace

std::string problem_to_json(const Problem& p, const GenerateOptions* generated_by) {
  json j;
  j["format"] = kFormat;
  j["batch"] = p.batch;
  j["tokens"] = p.tokens;
  j["h_qk"] = p.h_qk;
  j["h_v"] = p.h_v;
  j["k_dim"] = p.k_dim;
  j["v_dim"] = p.v_dim;
  j["qkv_dtype"] = std::string(dtype_name(p.qkv_dtype));
  j["gate_dtype"] = std::string(dtype_name(p.gate_dtype));
  j["beta_dtype"] = std::string(dtype_name(p.beta_dtype));
  j["initial_state"] = p.initial_state;
  j["final_state"] = p.final_state;
  j["l2norm_qk"] = p.l2norm_qk;
  j["scale"] = p.scale ? json(*p.scale) : json(nullptr);
  if (p.is_varlen()) j["cu_seqlens"] = p.cu_seqlens;
  if (generated_by) {
    j["generator"] = {{"distribution", std::string(distribution_name(generated_by->distribution))},
                      {"seed", generated_by->seed},
                      {"backward", generated_by->backward}};
  }
  return j.dump(2) + "\n";
}

Problem problem_from_json(std::string_view text, const std::string& source) {
  json j;
  try {
    j = json::parse(text.begin(), text.end());
  } catch (const json::exception& e) {  // syntax errors, and numbers past double's range (1e400)
    throw UserError(source + ": not valid JSON: " + e.what());
  }
  if (!j.is_object()) throw UserError(source + ": must hold a JSON object describing the problem");
  static const std::set<std::string> kKnown = {
      "format",    "batch",     "tokens",     "h_qk",       "h_v",           "k_dim",
      "v_dim",     "qkv_dtype", "gate_dtype", "beta_dtype", "initial_state", "final_state",
      "l2norm_qk", "scale",     "cu_seqlens", "generator"};
  for (const auto& item : j.items()) {
    if (!kKnown.count(item.key())) throw UserError(source + ": unknown key \"" + item.key() + "\"");
  }
  const JsonReader r(j, source);
  if (r.has("format") && j.at("format") != kFormat) {
    r.fail("format", "must be \"" + std::string(kFormat) + "\", got " + j.at("format").dump());
  }
  Problem p;
  p.batch = r.integer("batch");
  p.tokens = r.integer("tokens");
  p.h_qk = r.small_int("h_qk");
  p.h_v = r.small_int("h_v");
  if (r.has("k_dim")) p.k_dim = r.small_int("k_dim");
  if (r.has("v_dim")) p.v_dim = r.small_int("v_dim");
  if (r.has("qkv_dtype")) p.qkv_dtype = r.dtype("qkv_dtype");
  if (r.has("gate_dtype")) p.gate_dtype = r.dtype("gate_dtype");
  if (r.has("beta_dtype")) p.beta_dtype = r.dtype("beta_dtype");
  if (r.has("initial_state")) p.initial_state = r.boolean("initial_state");
  if (r.has("final_state")) p.final_state = r.boolean("final_state");
  if (r.has("l2norm_qk")) p.l2norm_qk = r.boolean("l2norm_qk");
  if (r.has("scale")) p.scale = r.number("scale");
  if (r.has("cu_seqlens")) p.cu_seqlens = r.int_array("cu_seqlens");
  return p;
}

ProblemDir read_problem_dir(const fs::path& dir, const ReadOptions& options) {
  std::error_code ec;
  QLA_REQUIRE(fs::is_directory(dir, ec), "inputs folder " << dir.string() << " not found");
  const fs::path json_path = dir / "problem.json";
  ProblemDir out;
  Problem& p = out.problem;
  p = problem_from_json(read_text(json_path, "problem.json"), json_path.string());

  std::optional<Tensor> cu;
  const fs::path cu_path = dir / "cu_seqlens.npy";
  if (fs::exists(cu_path, ec)) {
    cu = read_npy(cu_path, {"cu_seqlens", std::nullopt, std::nullopt});
    std::vector<std::int64_t> values = cu_seqlens_values(*cu);
    QLA_REQUIRE(
        p.cu_seqlens.empty() || p.cu_seqlens == values,
        "cu_seqlens (" << cu_path.string() << "): offsets differ from problem.json's cu_seqlens");
    p.cu_seqlens = std::move(values);
  } else if (p.is_varlen()) {
    cu = Tensor(DType::kI64, {static_cast<std::int64_t>(p.cu_seqlens.size())});
    for (std::size_t i = 0; i < p.cu_seqlens.size(); ++i)
      cu->set(static_cast<std::int64_t>(i), double(p.cu_seqlens[i]));
  }
  // Problem-level mistakes (head ratio, cu_seqlens rules) first: the tensor shapes below depend on
  // them.
  p.validate();
  ValidateOptions vopt;
  vopt.allow_padding = options.allow_padding;
  if (p.is_varlen()) validate_cu_seqlens(p.cu_seqlens, p.tokens, vopt);

  const auto load = [&](const char* name, std::optional<DType> dtype) {
    return read_npy(dir / (std::string(name) + ".npy"), {name, dtype, tensor_shape(p, name)});
  };
  ProblemTensors& t = out.tensors;
  t.q = load("q", p.qkv_dtype);
  t.k = load("k", p.qkv_dtype);
  t.v = load("v", p.qkv_dtype);
  t.g = load("g", p.gate_dtype);
  t.beta = load("beta", p.beta_dtype);
  if (p.initial_state) t.h0 = load("h0", std::nullopt);
  t.cu_seqlens = std::move(cu);
  if (options.backward) {
    t.d_o = load("do", p.qkv_dtype);
    if (fs::exists(dir / "dht.npy", ec)) t.dht = load("dht", std::nullopt);
  }
  validate_inputs(p, t, vopt);
  return out;
}

void write_problem_dir(const fs::path& dir, const Problem& p, const ProblemTensors& t,
                       const GenerateOptions* generated_by) {
  write_file_atomic(dir / "problem.json", problem_to_json(p, generated_by));
  write_npy(dir / "q.npy", t.q);
  write_npy(dir / "k.npy", t.k);
  write_npy(dir / "v.npy", t.v);
  write_npy(dir / "g.npy", t.g);
  write_npy(dir / "beta.npy", t.beta);
  if (t.h0) write_npy(dir / "h0.npy", *t.h0);
  if (t.cu_seqlens) write_npy(dir / "cu_seqlens.npy", *t.cu_seqlens);
  if (t.d_o) write_npy(dir / "do.npy", *t.d_o);
  if (t.dht) write_npy(dir / "dht.npy", *t.dht);
}

StagedDir::StagedDir(fs::path target) {
  static std::atomic<unsigned> counter{0};
  std::error_code ec;
  target_ = fs::absolute(target, ec).lexically_normal();
  if (ec) throw UserError("output folder " + target.string() + ": " + ec.message());
  if (!target_.has_filename()) target_ = target_.parent_path();
  if (fs::exists(target_, ec) && !fs::is_directory(target_, ec)) {
    throw UserError("output folder " + target_.string() + " exists and is not a folder");
  }
  fs::create_directories(target_.parent_path(), ec);
  if (ec)
    throw UserError("output folder " + target_.string() +
                    ": cannot create its parent: " + ec.message());
  // An existing output folder is replaced as a whole on commit: it may hold only what qla writes.
  if (fs::is_directory(target_, ec)) {
    for (const auto& entry : fs::directory_iterator(target_, ec)) {
      const std::string name = entry.path().filename().string();
      const bool ours = entry.is_regular_file(ec) &&
                        (entry.path().extension() == ".npy" || name == "problem.json");
      if (!ours)
        throw UserError(
            "output folder " + target_.string() + " holds " + name +
            ", which qla did not write; give a new or empty folder (its contents are replaced)");
    }
  }
  remove_stale_staging(target_);
  staging_ = target_.parent_path() /
             ("." + target_.filename().string() + ".staging." + std::to_string(::getpid()) + "." +
              std::to_string(counter.fetch_add(1)));
  fs::create_directory(staging_, ec);
  if (ec)
    throw UserError("output folder " + target_.string() +
                    ": cannot create a staging folder: " + ec.message());
}

StagedDir::~StagedDir() { discard(); }

StagedDir::StagedDir(StagedDir&& other) noexcept
    : target_(std::move(other.target_)), staging_(std::exchange(other.staging_, fs::path())) {}

StagedDir& StagedDir::operator=(StagedDir&& other) noexcept {
  if (this != &other) {
    discard();
    target_ = std::move(other.target_);
    staging_ = std::exchange(other.staging_, fs::path());
  }
  return *this;
}

void StagedDir::discard() noexcept {
  if (staging_.empty()) return;
  std::error_code ec;
  fs::remove_all(staging_, ec);
  staging_.clear();
}

void StagedDir::commit() {
  QLA_REQUIRE(!staging_.empty(), "output folder " << target_.string() << ": already committed");
  std::error_code ec;
  if (!fs::exists(target_, ec)) {
    fs::rename(staging_, target_, ec);  // atomic: the folder appears whole
    if (ec)
      throw UserError("output folder " + target_.string() + ": cannot create it: " + ec.message());
    staging_.clear();
    return;
  }
  // Replace the old folder as a whole: never old files beside new ones. An atomic exchange where
  // the file system has one; otherwise the old folder steps aside first and comes back if the new
  // one cannot move in.
  if (::renameat2(AT_FDCWD, staging_.c_str(), AT_FDCWD, target_.c_str(), RENAME_EXCHANGE) != 0) {
    const fs::path old = staging_.string() + ".old";
    fs::rename(target_, old, ec);
    if (ec)
      throw UserError("output folder " + target_.string() + ": cannot replace it: " + ec.message());
    fs::rename(staging_, target_, ec);
    if (ec) {
      std::error_code restore;
      fs::rename(old, target_, restore);
      throw UserError("output folder " + target_.string() + ": cannot replace it: " + ec.message());
    }
    fs::remove_all(old, ec);
    staging_.clear();
    return;
  }
  discard();  // staging_ now holds the old folder
}

void remove_stale_staging(const fs::path& target) {
  // Every staging folder of this parent (".<name>.staging.<pid>.<n>", of any output name) whose
  // process is gone (a kill, a crash) is left over: nobody will commit it.
  std::error_code ec;
  const std::string marker = ".staging.";
  for (const auto& entry : fs::directory_iterator(target.parent_path(), ec)) {
    const std::string name = entry.path().filename().string();
    const std::size_t at = name.rfind(marker);
    if (name.empty() || name[0] != '.' || at == std::string::npos || !entry.is_directory(ec))
      continue;
    const std::string rest = name.substr(at + marker.size());  // "<pid>.<n>"
    const std::size_t dot = rest.find('.');
    const auto digits = [](const std::string& t) {
      return !t.empty() && t.find_first_not_of("0123456789") == std::string::npos;
    };
    if (dot == std::string::npos || !digits(rest.substr(0, dot)) || !digits(rest.substr(dot + 1)))
      continue;
    const long pid = std::strtol(rest.c_str(), nullptr, 10);
    if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH)
      fs::remove_all(entry.path(), ec);
  }
}

}  // namespace qla::gdn
