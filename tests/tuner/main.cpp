// Test entry point. Besides running the GoogleTest suites, this binary is its own helper process:
//   test_tuner worker [--noise X] [--fault LABEL=KIND]...   serve the fake backend on stdin/stdout
//   test_tuner tune-into DB SEED PROBLEM...                  tune the fake kernel into DB
//   (concurrency test)
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>

#include "helpers.hpp"
#include "qla/tuner/fake_kernel.hpp"
#include "qla/tuner/problem_json.hpp"
#include "qla/tuner/tuner.hpp"
#include "qla/tuner/worker.hpp"

namespace qla::tuner::test {

TempDir::TempDir() {
  std::random_device rd;
  path_ = std::filesystem::temp_directory_path() /
          ("qla_tuner_test_" + std::to_string(::getpid()) + "_" + std::to_string(rd()));
  std::filesystem::create_directories(path_);
}
TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

DeviceFingerprint fake_device(int variant) {
  DeviceFingerprint fp;
  fp.name = "Fake H100";
  fp.cc_major = 9;
  fp.cc_minor = 0;
  fp.sm_count = 132;
  fp.l2_bytes = 50 << 20;
  fp.mem_clock_khz = 2619000;
  fp.mem_bus_bits = 5120;
  fp.driver_version = 13000 + variant;
  fp.runtime_version = 13000;
  fp.nvrtc_version = 13000;
  return fp;
}

gdn::Problem varlen_problem(const std::vector<std::int64_t>& lengths, int h_qk, int h_v) {
  gdn::Problem p;
  p.batch = 1;
  p.cu_seqlens = {0};
  for (auto l : lengths) p.cu_seqlens.push_back(p.cu_seqlens.back() + l);
  p.tokens = p.cu_seqlens.back();
  p.h_qk = h_qk;
  p.h_v = h_v;
  p.initial_state = true;
  return p;
}

static std::string self_path() {
  char buf[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "";
}

int spawn_self(const std::vector<std::string>& args) {
  std::vector<std::string> all{self_path()};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

int run_self(const std::vector<std::string>& args) {
  const int pid = spawn_self(args);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return status;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream os;
  os << in.rdbuf();
  return os.str();
}

}  // namespace qla::tuner::test

namespace {

int worker_mode(int argc, char** argv) {
  qla::tuner::FakeOptions opt;
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--noise" && i + 1 < argc) {
      opt.noise = std::atof(argv[++i]);
    } else if (a == "--fault" && i + 1 < argc) {
      const std::string f = argv[++i];
      const auto eq = f.find('=');
      opt.faults[f.substr(0, eq)] = qla::tuner::parse_fake_fault(f.substr(eq + 1));
    }
  }
  qla::tuner::FakeBackend backend(opt);
  return qla::tuner::serve_worker(backend);
}

// Tunes the fake kernel exhaustively into a store, as a second process would.
int tune_into_mode(int argc, char** argv) {
  using namespace qla::tuner;
  Store store = Store::open(argv[2], Store::Mode::kReadWrite);
  FakeBackend backend({});
  TuneOptions opt;
  opt.strategy = Strategy::kRandom;
  opt.seed = std::strtoull(argv[3], nullptr, 10);
  const DeviceFingerprint dev = test::fake_device();
  const std::int64_t run = store.begin_run(dev, {"tune-into", "", "random", "unbounded", "test"});
  Tuner tuner(store, dev, qla::ArchInfo{}, backend, run, opt);
  TunableKernel k{fake_space(), "src1", fake_compile};
  for (int i = 4; i < argc; ++i) tuner.tune(k, parse_problem_spec(argv[i]));
  store.end_run(run);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && std::strcmp(argv[1], "worker") == 0) return worker_mode(argc, argv);
  if (argc >= 4 && std::strcmp(argv[1], "tune-into") == 0) {
    try {
      return tune_into_mode(argc, argv);
    } catch (const std::exception& e) {
      std::cerr << "tune-into: " << e.what() << '\n';
      return 1;
    }
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
