// The `qla` binary against what a new user (or a hostile path) can throw at it, on any machine:
// generated bad tensors and problem files, damaged and foreign stores, hostile output paths, kills
// in the middle of a merge or a reference run, concurrent merges. Every probe runs the binary
// through an argument vector (no shell) under a deadline, and the suite counts, per class and in
// total: crashes (death by a signal), hangs (past the deadline), internal errors (exit 1 "internal
// error" for a user mistake), refusals that wrote files or changed a store. Each count must be 0.
#include <SQLiteCpp/SQLiteCpp.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "qla/hash.hpp"
#include "temp_dir.hpp"

extern char** environ;

namespace qla {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

constexpr double kDeadlineSeconds = 20;  // bounds a hang only; no probe comes near it

struct Probe {
  int code = -1;      ///< exit code; -1 when killed by a signal or the deadline
  int signal = 0;     ///< the signal that ended it, if any
  bool hung = false;  ///< still running at the deadline (then killed)
  std::string out, err;
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// A started `qla`: its pid and where its stdout and stderr go.
struct Running {
  pid_t pid = -1;
  fs::path out, err;
};

/// Starts `qla args...` in `cwd`, stdout/stderr to files of its own there.
Running start_qla(const std::vector<std::string>& args, const fs::path& cwd) {
  static int sequence = 0;
  const std::string tag = std::to_string(sequence++);
  Running run{-1, cwd / (".probe_out" + tag), cwd / (".probe_err" + tag)};
  std::vector<std::string> argv_s = {QLA_BINARY};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  const std::string out = run.out.string(), err = run.err.string();
  posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addchdir_np(&fa, cwd.c_str());  // glibc 2.29+
  const int rc = posix_spawn(&run.pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) ADD_FAILURE() << "posix_spawn: " << std::strerror(rc);
  return run;
}

Probe finish(const Running& run) {
  const pid_t pid = run.pid;
  Probe p;
  const auto t0 = std::chrono::steady_clock::now();  // the deadline only bounds a hang
  int status = 0;
  for (;;) {
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() >
        kDeadlineSeconds) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      p.hung = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  if (!p.hung && WIFEXITED(status)) p.code = WEXITSTATUS(status);
  if (!p.hung && WIFSIGNALED(status)) p.signal = WTERMSIG(status);
  p.out = slurp(run.out);
  p.err = slurp(run.err);
  fs::remove(run.out);
  fs::remove(run.err);
  return p;
}

Probe qla(const std::vector<std::string>& args, const fs::path& cwd) {
  return finish(start_qla(args, cwd));
}

/// A digest of every file under `dir` (names, sizes, bytes), to see whether anything changed.
std::uint64_t tree_digest(const fs::path& dir) {
  Fnv1a h;
  if (!fs::exists(dir)) return h.field("<none>").value();
  std::vector<fs::path> files;
  for (const auto& e : fs::recursive_directory_iterator(dir)) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    h.field(fs::relative(f, dir).string());
    if (fs::is_regular_file(fs::symlink_status(f))) h.field(slurp(f));
  }
  return h.value();
}

/// The counts the suite reports and asserts, per class.
struct Tally {
  int probes = 0, crashes = 0, hangs = 0, internal = 0, wrote_on_refusal = 0, unexpected_code = 0;
  void add(const Probe& p, bool wrote, const std::set<int>& allowed, const std::string& what) {
    ++probes;
    const bool internal_error = p.err.find("internal error") != std::string::npos;
    crashes += p.signal != 0;
    hangs += p.hung;
    internal += internal_error;
    wrote_on_refusal += wrote;
    const bool code_ok = allowed.count(p.code) > 0;
    unexpected_code += !code_ok;
    if (p.signal || p.hung || internal_error || wrote || !code_ok)
      ADD_FAILURE() << what << ": exit " << p.code << " signal " << p.signal
                    << (p.hung ? " HUNG" : "") << (wrote ? " WROTE ON REFUSAL" : "") << "\n"
                    << p.err;
  }
  void print(const char* name) const {
    std::printf(
        "[robustness] %-22s %4d probes: %d crashes, %d hangs, %d internal errors, %d refusals that "
        "wrote, %d unexpected exit codes\n",
        name, probes, crashes, hangs, internal, wrote_on_refusal, unexpected_code);
  }
};

/// A file replaced by something that is not a regular file, as a damage to any input.
void replace_with_directory(const fs::path& p) {
  fs::remove(p);
  fs::create_directory(p);
}
void replace_with_fifo(const fs::path& p) {
  fs::remove(p);
  ::mkfifo(p.c_str(), 0644);
}

// ---------------------------------------------------------------------------------------------
// .npy mutations

struct Npy {
  std::string magic_and_version;  // 8 bytes
  std::string header;             // the dict text, padded
  std::string data;
};

Npy read_npy_raw(const fs::path& p) {
  const std::string b = slurp(p);
  Npy n;
  n.magic_and_version = b.substr(0, 8);
  const std::size_t len = static_cast<unsigned char>(b[8]) | static_cast<unsigned char>(b[9]) << 8;
  n.header = b.substr(10, len);
  n.data = b.substr(10 + len);
  return n;
}

void write_npy_raw(const fs::path& p, const Npy& n, bool keep_padding = false) {
  std::string h = n.header;
  if (!keep_padding) {
    while (!h.empty() && (h.back() == ' ' || h.back() == '\n')) h.pop_back();
    while ((10 + h.size() + 1) % 64 != 0) h += ' ';
    h += '\n';
  }
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << n.magic_and_version << static_cast<char>(h.size() & 0xff)
      << static_cast<char>(h.size() >> 8) << h << n.data;
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (std::size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
  return s;
}

std::string shape_text(const std::string& header) {
  const std::size_t a = header.find("'shape': (");
  const std::size_t b = header.find(')', a);
  return header.substr(a, b - a + 1);
}

/// Every way one .npy file is damaged or replaced; name → mutate(path).
std::vector<std::pair<std::string, std::function<void(const fs::path&)>>> npy_mutations() {
  using M = std::function<void(const fs::path&)>;
  auto header_edit = [](std::function<std::string(const std::string&)> f) -> M {
    return [f](const fs::path& p) {
      Npy n = read_npy_raw(p);
      n.header = f(n.header);
      write_npy_raw(p, n);
    };
  };
  auto data_edit = [](std::function<void(std::string&)> f) -> M {
    return [f](const fs::path& p) {
      Npy n = read_npy_raw(p);
      f(n.data);
      write_npy_raw(p, n, true);
    };
  };
  auto fill_float = [](float v) {
    return [v](std::string& d) {
      for (std::size_t i = 0; i + 4 <= d.size(); i += 4) std::memcpy(&d[i], &v, 4);
    };
  };
  return {
      {"missing", [](const fs::path& p) { fs::remove(p); }},
      {"empty", [](const fs::path& p) { std::ofstream(p, std::ios::trunc); }},
      {"header cut", [](const fs::path& p) { fs::resize_file(p, 5); }},
      {"data cut", [](const fs::path& p) { fs::resize_file(p, fs::file_size(p) - 7); }},
      {"data extra", data_edit([](std::string& d) { d += std::string(16, 'x'); })},
      {"bad magic",
       [](const fs::path& p) {
         Npy n = read_npy_raw(p);
         n.magic_and_version[1] = 'X';
         write_npy_raw(p, n, true);
       }},
      {"garbage header", header_edit([](const std::string&) { return "{'descr': ((("; })},
      {"complex dtype", header_edit([](const std::string& h) {
         return replace_all(replace_all(replace_all(h, "'<f4'", "'<c8'"), "'<u2'", "'<c8'"),
                            "'<i4'", "'<c8'");
       })},
      {"big endian", header_edit([](const std::string& h) {
         return replace_all(replace_all(replace_all(h, "'<f4'", "'>f4'"), "'<u2'", "'>u2'"),
                            "'<i4'", "'>i4'");
       })},
      {"fortran order",
       header_edit([](const std::string& h) { return replace_all(h, "False", "True"); })},
      {"shape +1", header_edit([](const std::string& h) {
         const std::string s = shape_text(h);
         return replace_all(h, s, replace_all(s, "(", "(1+"));
       })},
      {"shape huge", header_edit([](const std::string& h) {
         return replace_all(h, shape_text(h),
                            "'shape': (4611686018427387904, 4611686018427387904, 64)");
       })},
      {"shape wraps", header_edit([](const std::string& h) {
         return replace_all(h, shape_text(h), "'shape': (281474976710656, 65536, 1, 1)");
       })},
      {"shape negative", header_edit([](const std::string& h) {
         return replace_all(h, shape_text(h), "'shape': (-1, 4)");
       })},
      {"shape scalar", header_edit([](const std::string& h) {
         return replace_all(h, shape_text(h), "'shape': ()");
       })},
      {"NaN values", data_edit(fill_float(std::numeric_limits<float>::quiet_NaN()))},
      {"Inf values", data_edit(fill_float(std::numeric_limits<float>::infinity()))},
      {"directory", replace_with_directory},
      {"fifo", replace_with_fifo},
      {"symlink to /dev/zero",
       [](const fs::path& p) {
         fs::remove(p);
         fs::create_symlink("/dev/zero", p);
       }},
  };
}

/// A valid problem folder: varlen 70 + 30 tokens (+ 4 padding rows), heads 1x2, K = V = 64.
fs::path make_problem(const fs::path& cwd, const std::string& name) {
  const Probe g = qla({"generate", "--out", name, "--seqlens", "70,30", "--padding", "4", "--heads",
                       "1x2", "--dim", "64"},
                      cwd);
  EXPECT_EQ(g.code, 0) << g.err;
  return cwd / name;
}

TEST(Robustness, DamagedTensorFilesAreRefusedWithoutOutputs) {
  TempDir dir;
  const fs::path base = make_problem(dir.path(), "base");
  Tally reference, run;
  int n = 0;
  for (const char* file : {"q", "k", "v", "g", "beta", "h0", "cu_seqlens"}) {
    for (const auto& [name, mutate] : npy_mutations()) {
      const std::string in = "in" + std::to_string(n++);
      fs::copy(base, dir / in);
      mutate(dir / in / (std::string(file) + ".npy"));
      const std::string what = std::string(file) + ".npy " + name;
      const std::uint64_t before = tree_digest(dir / in);
      const Probe r = qla({"reference", "--inputs", in, "--outputs", in + "_ref"}, dir.path());
      // NaN/Inf inputs may still give finite outputs nowhere: the reference refuses non-finite
      // outputs, so every mutation here is a refusal (exit 2).
      reference.add(r, fs::exists(dir / (in + "_ref")) || tree_digest(dir / in) != before, {2},
                    "reference " + what);
      const Probe q = qla({"run", "--inputs", in, "--outputs", in + "_run"}, dir.path());
      // Without a GPU a valid folder ends in exit 1 ("no usable GPU"); NaN/Inf tensors are data,
      // not a format error, so they get that far.
      const bool no_gpu = q.code == 1 && q.err.find("no usable GPU") != std::string::npos;
      run.add(q,
              (q.code != 0 && fs::exists(dir / (in + "_run"))) || tree_digest(dir / in) != before,
              no_gpu ? std::set<int>{1} : std::set<int>{0, 2}, "run " + what);
      std::error_code ec;
      fs::remove_all(dir / in, ec);
      fs::remove_all(dir / (in + "_ref"), ec);
      fs::remove_all(dir / (in + "_run"), ec);
    }
  }
  reference.print("reference: tensors");
  run.print("run: tensors");
  EXPECT_GE(reference.probes, 140);
}

TEST(Robustness, DamagedProblemFilesAreRefusedWithoutOutputs) {
  TempDir dir;
  const fs::path base = make_problem(dir.path(), "base");
  const std::string json = slurp(base / "problem.json");
  const char* fields[] = {"batch",         "tokens",      "h_qk",       "h_v",        "k_dim",
                          "v_dim",         "qkv_dtype",   "gate_dtype", "beta_dtype", "scale",
                          "initial_state", "final_state", "l2norm_qk",  "cu_seqlens", "format"};
  const char* values[] = {"-1",         "0",   "1e400", "9223372036854775808",
                          "4294967298", "0.5", "\"x\"", "null",
                          "[]",         "{}",  "true",  "[0, 200, 100]"};
  std::vector<std::string> texts;
  for (const char* f : fields) {
    const std::string key = std::string("\"") + f + "\":";
    const std::size_t at = json.find(key);
    ASSERT_NE(at, std::string::npos) << f;
    // The value runs to the next top-level ",\n  \"" or "\n}".
    std::size_t end = json.find(",\n  \"", at);
    if (end == std::string::npos) end = json.rfind("\n}");
    for (const char* v : values)
      texts.push_back(json.substr(0, at + key.size()) + " " + v + json.substr(end));
    // The field removed.
    std::string without = json.substr(0, at) + json.substr(end + 2);
    texts.push_back(without);
  }
  for (const std::string& t :
       {std::string(), std::string("[]"), std::string("{"), std::string("\xff\xfe\x00\x01", 4),
        std::string(100000, '['), std::string("{\"format\": \"qla.gdn.problem/2\"}")})
    texts.push_back(t);
  Tally tally;
  int n = 0;
  for (const std::string& t : texts) {
    const std::string in = "p" + std::to_string(n++);
    fs::copy(base, dir / in);
    std::ofstream(dir / in / "problem.json", std::ios::binary | std::ios::trunc) << t;
    const std::uint64_t before = tree_digest(dir / in);
    const Probe r = qla({"reference", "--inputs", in, "--outputs", in + "_ref"}, dir.path());
    // A mutation may leave a valid problem (e.g. a flag set to its present value): then exit 0 with
    // outputs is right. Refusals write nothing.
    tally.add(r,
              (r.code != 0 && fs::exists(dir / (in + "_ref"))) || tree_digest(dir / in) != before,
              {0, 2}, "problem.json variant " + std::to_string(n - 1) + ": " + t.substr(0, 200));
    std::error_code ec;
    fs::remove_all(dir / in, ec);
    fs::remove_all(dir / (in + "_ref"), ec);
  }
  tally.print("reference: problem");
  EXPECT_GE(tally.probes, 190);
}

// ---------------------------------------------------------------------------------------------
// Stores

fs::path make_store(const fs::path& cwd, const std::string& name, int seed = 1) {
  const Probe t = qla({"tune", "--fake", "--problem", "4096@2x8", "--budget", "12", "--seed",
                       std::to_string(seed), "--db", name},
                      cwd);
  EXPECT_EQ(t.code, 0) << t.err;
  return cwd / name;
}

/// Damages of a store file: name → damage(path).
std::vector<std::pair<std::string, std::function<void(const fs::path&)>>> store_damages() {
  auto overwrite = [](std::size_t offset, std::string bytes) {
    return [offset, bytes](const fs::path& p) {
      std::fstream f(p, std::ios::in | std::ios::out | std::ios::binary);
      f.seekp(static_cast<std::streamoff>(offset));
      f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    };
  };
  return {
      {"empty", [](const fs::path& p) { std::ofstream(p, std::ios::trunc); }},
      {"half", [](const fs::path& p) { fs::resize_file(p, fs::file_size(p) / 2); }},
      {"text file", [](const fs::path& p) { std::ofstream(p, std::ios::trunc) << "hello\n"; }},
      {"header bytes", overwrite(0, std::string(100, '\x5a'))},
      {"page 2 zeroed", overwrite(4096, std::string(4096, '\0'))},
      {"page 3 noise", overwrite(8192, std::string(4096, '\x77'))},
      {"directory", replace_with_directory},
      {"fifo", replace_with_fifo},
      {"newer schema",
       [](const fs::path& p) {
         SQLite::Database db(p.string(), SQLite::OPEN_READWRITE);
         db.exec("UPDATE schema_version SET version = 99");
       }},
      {"foreign SQLite",
       [](const fs::path& p) {
         fs::remove(p);
         SQLite::Database db(p.string(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
         db.exec("CREATE TABLE photos (id INTEGER PRIMARY KEY, name TEXT)");
         db.exec("INSERT INTO photos (name) VALUES ('cat.png')");
       }},
  };
}

TEST(Robustness, DamagedStoresAreRefusedAndLeftAsTheyWere) {
  TempDir dir;
  const fs::path good = make_store(dir.path(), "good.sqlite");
  Tally tally;
  int n = 0;
  for (const auto& [name, damage] : store_damages()) {
    const std::string s = "s" + std::to_string(n++) + ".sqlite";
    fs::copy(good, dir / s);
    damage(dir / s);
    const std::vector<std::vector<std::string>> commands = {
        {"db", "show", s},
        {"db", "export", s},
        {"db", "export", s, "-o", s + ".json"},
        {"db", "prune", "--dry-run", s},
        {"db", "prune", s},
        {"db", "efficiency", s},
        {"header", "--db", s, "--arch", "sm_90", "--output", s + ".hpp"},
        {"db", "merge", s, "--into", "target_" + s},
        {"db", "merge", "good.sqlite", "--into", s},
        {"report", "--db", s, "--results", "nowhere", "--out", s + "_report", "--no-plots"},
    };
    for (const auto& c : commands) {
      const std::uint64_t before = tree_digest(dir.path());
      const Probe r = qla(c, dir.path());
      std::string what = name;
      for (const auto& a : c) what += " " + a;
      // An empty file given as a merge target is a new store (created there); everything else
      // refuses a damaged store (exit 2) and changes nothing on disk.
      const bool new_target = name == "empty" && c[1] == "merge" && c.back() == s;
      tally.add(r, !new_target && tree_digest(dir.path()) != before,
                new_target ? std::set<int>{0} : std::set<int>{2}, what);
    }
    std::error_code ec;
    fs::remove_all(dir / s, ec);
  }
  tally.print("stores: damaged");
  EXPECT_GE(tally.probes, 100);
}

TEST(Robustness, PruneRefusesToDeleteTheNewestRunsTrials) {
  // A fake-kernel store seen by a build whose only current sources are the real families: every
  // trial the newest run wrote would go, and a resume of that run would measure them all again.
  TempDir dir;
  make_store(dir.path(), "fresh.sqlite");
  const std::uint64_t before = tree_digest(dir.path());
  const Probe refused = qla({"db", "prune", "fresh.sqlite"}, dir.path());
  EXPECT_EQ(refused.code, 2) << refused.out << refused.err;
  EXPECT_NE(refused.err.find("newest run"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("--force"), std::string::npos) << refused.err;
  EXPECT_EQ(tree_digest(dir.path()), before) << "a refused prune changed the store";

  const Probe dry = qla({"db", "prune", "--dry-run", "fresh.sqlite"}, dir.path());
  EXPECT_EQ(dry.code, 0) << dry.err;
  EXPECT_NE(dry.out.find("pruning needs --force"), std::string::npos) << dry.out;
  const Probe fake = qla({"db", "prune", "--fake", "fresh.sqlite"}, dir.path());
  EXPECT_EQ(fake.code, 0) << "the build that has the run's source prunes: " << fake.err;
  fs::copy(dir / "fresh.sqlite", dir / "publish.sqlite");
  const Probe published = qla({"db", "prune", "--winners-only", "publish.sqlite"}, dir.path());
  EXPECT_EQ(published.code, 0) << "--winners-only asks for exactly that: " << published.err;
  EXPECT_NE(published.out.find("removed"), std::string::npos) << published.out;
  const Probe again =
      qla({"db", "prune", "--winners-only", "--dry-run", "publish.sqlite"}, dir.path());
  EXPECT_NE(again.out.find(" 0 removed"), std::string::npos)
      << "a winners-only store kept more: " << again.out;
  const Probe forced = qla({"db", "prune", "--force", "fresh.sqlite"}, dir.path());
  EXPECT_EQ(forced.code, 0) << forced.err;
  EXPECT_NE(forced.out.find("removed"), std::string::npos) << forced.out;
  EXPECT_NE(tree_digest(dir.path()), before) << "--force pruned nothing";
}

TEST(Robustness, ReadingAStoreCreatesNoSidecarFiles) {
  TempDir dir;
  make_store(dir.path(), "good.sqlite");
  for (const auto& e : fs::directory_iterator(dir.path()))
    ASSERT_EQ(e.path().filename().string().find("-wal"), std::string::npos)
        << "the tuner left a WAL file behind";
  Tally tally;
  for (const std::vector<std::string>& c :
       {std::vector<std::string>{"db", "show", "good.sqlite"},
        {"db", "export", "good.sqlite"},
        {"db", "efficiency", "good.sqlite"},
        {"db", "prune", "--dry-run", "good.sqlite"},
        {"header", "--db", "good.sqlite", "--arch", "sm_90", "--output", "../t.hpp"}}) {
    const std::uint64_t before = tree_digest(dir.path());
    const Probe r = qla(c, dir.path());
    // `db efficiency` and `header` refuse a store without exhaustive or real tuned rows (exit 2);
    // either way the folder must be as it was: no sidecar file, no change to the store.
    tally.add(r, tree_digest(dir.path()) != before, {0, 2}, c[0] + " " + c[1]);
  }
  fs::remove(dir.path().parent_path() / "t.hpp");
  tally.print("stores: read-only use");
}

// ---------------------------------------------------------------------------------------------
// Hostile paths: quotes, shell syntax, newlines, leading dashes, long names. Nothing runs through a
// shell, so nothing here may create the marker file.

TEST(Robustness, HostilePathsNeverReachAShell) {
  TempDir dir;
  make_store(dir.path(), "good.sqlite");
  make_problem(dir.path(), "in");
  const std::vector<std::string> names = {
      "a'b",
      "a\"b",
      "$(touch PWNED)",
      "`touch PWNED`",
      "x; touch PWNED",
      "x' ; touch PWNED ; '",
      "new\nline",
      "-dash",
      "sp ace",
      std::string(300, 'n'),
      "\xff\xfe",
      "..",
      "",
  };
  Tally tally;
  for (const std::string& name : names) {
    for (const std::vector<std::string>& c :
         {std::vector<std::string>{"generate", "--out", name, "--tokens", "8", "--heads", "1",
                                   "--dim", "16"},
          {"reference", "--inputs", "in", "--outputs", name},
          {"header", "--db", "good.sqlite", "--arch", "sm_90", "--output", name},
          {"db", "export", "good.sqlite", "-o", name},
          {"report", "--db", "good.sqlite", "--results", "nowhere", "--out", name},
          {"db", "merge", "good.sqlite", "--into", name}}) {
      const Probe r = qla(c, dir.path());
      tally.add(r, false, {0, 2}, c[0] + " with path '" + name + "'");
      ASSERT_FALSE(fs::exists(dir / "PWNED")) << "a shell ran: " << c[0] << " '" << name << "'";
    }
  }
  tally.print("hostile paths");
}

// No part of the product runs a child process through a shell (std::system, popen, "sh -c").
TEST(Robustness, NoSourceRunsAShell) {
  int scanned = 0;
  for (const char* top : {"kernels", "tuner", "reference", "bench", "examples", "scripts"}) {
    const fs::path root = fs::path(QLA_SOURCE_DIR) / top;
    if (!fs::exists(root)) continue;
    for (const auto& e : fs::recursive_directory_iterator(root)) {
      const std::string ext = e.path().extension().string();
      if (ext != ".cpp" && ext != ".hpp" && ext != ".cu" && ext != ".cuh") continue;
      const std::string text = slurp(e.path());
      ++scanned;
      for (const char* needle : {"std::system(", "popen(", "\"sh\", \"-c\"", "/bin/sh"})
        EXPECT_EQ(text.find(needle), std::string::npos) << e.path() << " contains " << needle;
    }
  }
  std::printf("[robustness] shell use: %d source files scanned, 0 allowed\n", scanned);
  EXPECT_GT(scanned, 50);
}

// ---------------------------------------------------------------------------------------------
// Kills and concurrency

std::string trial_count_line(const fs::path& cwd, const std::string& store) {
  const Probe r = qla({"db", "export", store}, cwd);
  EXPECT_EQ(r.code, 0) << store << ": " << r.err;
  int lines = 0;
  for (char c : r.out) lines += c == '\n';
  return std::to_string(lines);
}

TEST(Robustness, AKilledMergeLeavesWholeInputsMerged) {
  TempDir dir;
  for (int i = 0; i < 4; ++i) make_store(dir.path(), "src" + std::to_string(i) + ".sqlite", i + 1);
  // `db merge a b c --into t` merges each input in one transaction, in order: after a kill the
  // target holds its old rows plus a prefix of whole inputs. The states a kill may leave:
  std::set<std::string> whole_states;
  for (int n = 0; n <= 3; ++n) {
    const std::string t = "prefix" + std::to_string(n) + ".sqlite";
    for (int i = 0; i <= n; ++i)
      ASSERT_EQ(
          qla({"db", "merge", "src" + std::to_string(i) + ".sqlite", "--into", t}, dir.path()).code,
          0);
    whole_states.insert(trial_count_line(dir.path(), t));
  }
  ASSERT_EQ(whole_states.size(), 4u) << "the fixture stores should differ";
  std::mt19937 rng(5);
  Tally tally;
  std::map<std::string, int> seen;
  for (int round = 0; round < 12; ++round) {
    const std::string target = "t" + std::to_string(round) + ".sqlite";
    ASSERT_EQ(qla({"db", "merge", "src0.sqlite", "--into", target}, dir.path()).code, 0);
    const Running merge = start_qla(
        {"db", "merge", "src1.sqlite", "src2.sqlite", "src3.sqlite", "--into", target}, dir.path());
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 40000));
    ::kill(merge.pid, SIGKILL);
    finish(merge);
    // The target opens, passes its checks, and holds whole inputs only.
    const Probe show = qla({"db", "show", target}, dir.path());
    tally.add(show, false, {0}, "show after a killed merge into " + target);
    const std::string after = trial_count_line(dir.path(), target);
    EXPECT_TRUE(whole_states.count(after)) << "a killed merge left " << after << " lines";
    ++seen[after];
  }
  tally.print("kills: merge");
  std::printf(
      "[robustness] kills: merge: 12 kills, every target a prefix of whole inputs (%zu states "
      "seen)\n",
      seen.size());
}

TEST(Robustness, AKilledReferenceRunLeavesNoHalfOutputs) {
  TempDir dir;
  ASSERT_EQ(
      qla({"generate", "--out", "in", "--seqlens", "3000,2000", "--heads", "2x4"}, dir.path()).code,
      0);
  std::mt19937 rng(9);
  int absent = 0, complete = 0;
  for (int round = 0; round < 10; ++round) {
    const std::string out = "out" + std::to_string(round);
    const Running ref = start_qla({"reference", "--inputs", "in", "--outputs", out}, dir.path());
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 300000));
    ::kill(ref.pid, SIGKILL);
    finish(ref);
    if (!fs::exists(dir / out)) {
      ++absent;
    } else {
      // Present means complete: both outputs, each a whole .npy.
      EXPECT_TRUE(fs::exists(dir / out / "o.npy") && fs::exists(dir / out / "ht.npy")) << out;
      ++complete;
    }
  }
  // A later run cleans the staging folders the killed ones left.
  ASSERT_EQ(qla({"reference", "--inputs", "in", "--outputs", "final"}, dir.path()).code, 0);
  for (const auto& e : fs::directory_iterator(dir.path()))
    EXPECT_EQ(e.path().filename().string().find(".staging"), std::string::npos)
        << e.path() << " was left behind";
  std::printf("[robustness] kills: reference: %d absent, %d complete, 0 partial\n", absent,
              complete);
}

TEST(Robustness, ConcurrentMergesEqualASequentialMerge) {
  TempDir dir;
  std::vector<std::string> sources;
  for (int i = 0; i < 4; ++i)
    sources.push_back(
        make_store(dir.path(), "src" + std::to_string(i) + ".sqlite", i + 1).filename().string());
  std::vector<Running> merges;
  for (const auto& s : sources)
    merges.push_back(start_qla({"db", "merge", s, "--into", "concurrent.sqlite"}, dir.path()));
  Tally tally;
  for (const Running& m : merges) tally.add(finish(m), false, {0, 2}, "concurrent merge");
  // A merge refused because another held the store (exit 2) is rerun, as a user would.
  for (const auto& s : sources)
    ASSERT_EQ(qla({"db", "merge", s, "--into", "concurrent.sqlite"}, dir.path()).code, 0);
  for (const auto& s : sources)
    ASSERT_EQ(qla({"db", "merge", s, "--into", "sequential.sqlite"}, dir.path()).code, 0);
  // The same rows (by key); which source's copy of a row measured twice is kept is not asserted.
  auto keys = [&](const std::string& store) {
    const Probe e = qla({"db", "export", store}, dir.path());
    EXPECT_EQ(e.code, 0) << e.err;
    const auto j = nlohmann::json::parse(e.out);
    std::set<std::string> k;
    for (const auto& t : j["trials"])
      k.insert("trial " + t["device"].get<std::string>() + t["kernel"].get<std::string>() +
               t["source_hash"].get<std::string>() + t["problem"].get<std::string>() +
               t["config"].get<std::string>());
    for (const auto& w : j["winners"])
      k.insert("winner " + w["device"].get<std::string>() + w["kernel"].get<std::string>() +
               w["source_hash"].get<std::string>() + w["problem"].get<std::string>());
    for (const auto& r : j["runs"]) k.insert("run " + r["uid"].get<std::string>());
    return k;
  };
  const std::set<std::string> a = keys("concurrent.sqlite"), b = keys("sequential.sqlite");
  EXPECT_EQ(a, b);
  EXPECT_GT(a.size(), 20u);
  tally.print("concurrent merges");
  std::printf("[robustness] concurrent merges: %zu rows, the same as a sequential merge\n",
              a.size());
}

}  // namespace
}  // namespace qla
