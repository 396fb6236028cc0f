// End-to-end tests of `qla run`: `qla generate` writes a problem, `qla run` runs the forward on the
// GPU and writes o.npy / ht.npy, which must match the float64 library reference. Built twice
// (tests/cli/CMakeLists.txt): with QLA_RUN_TEST_GPU=0 it holds the bad-input cases (label cpu: exit
// 2, one line, no outputs, on any machine), with QLA_RUN_TEST_GPU=1 the runs themselves (label
// gpu).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "gpu_guard.hpp"
#include "qla/io/generate.hpp"
#include "qla/io/npy.hpp"
#include "qla/io/problem_files.hpp"
#include "qla/ref/gdn_reference.hpp"
#include "temp_dir.hpp"

#ifndef QLA_RUN_TEST_GPU
#error "define QLA_RUN_TEST_GPU to 0 (bad-input cases) or 1 (GPU runs)"
#endif

namespace qla {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

struct RunResult {
  int code = -1;
  std::string out, err;
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// The qla binary: $QLA_BINARY when set (the tree was copied elsewhere, e.g. to the GPU machine),
/// else the build's.
std::string qla_binary() {
  const char* env = std::getenv("QLA_BINARY");
  return env && *env ? env : QLA_BINARY;
}

/// Runs `qla <args>` in `cwd`; captures exit code, stdout and stderr.
RunResult run_qla(const std::string& args, const fs::path& cwd) {
  const fs::path out = cwd / ".stdout", err = cwd / ".stderr";
  const std::string cmd = "cd '" + cwd.string() + "' && '" + qla_binary() + "' " + args + " > '" +
                          out.string() + "' 2> '" + err.string() + "'";
  const int status = std::system(cmd.c_str());
  RunResult r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = slurp(out);
  r.err = slurp(err);
  fs::remove(out);
  fs::remove(err);
  return r;
}

#if !QLA_RUN_TEST_GPU

int count_lines(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

/// Exit code 2, exactly one line "qla: error: ..." containing `needle`, and no output folder.
void expect_user_failure(const RunResult& r, const std::string& needle, const TempDir& dir) {
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
  EXPECT_EQ(r.err.rfind("qla: error: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << r.err << " lacks: " << needle;
  EXPECT_FALSE(fs::exists(dir / "out"));
}

TEST(CliRun, MissingInputDirExits2WithoutOutputs) {
  TempDir dir;
  expect_user_failure(run_qla("run --inputs nowhere --outputs out", dir.path()), "nowhere", dir);
}

TEST(CliRun, BadFlagsExit2WithoutOutputs) {
  TempDir dir;
  const RunResult gen =
      run_qla("generate --out in --seqlens 20,12 --heads 1x2 --dim 128", dir.path());
  ASSERT_EQ(gen.code, 0) << gen.err;
  expect_user_failure(run_qla("run --inputs in --outputs out --algorithm fastest", dir.path()),
                      "--algorithm", dir);
  expect_user_failure(
      run_qla("run --inputs in --outputs out --config gdn.fused_fwd=c65", dir.path()), "c65", dir);
  expect_user_failure(run_qla("run --inputs in --outputs out --cp-piece-chunks -1", dir.path()),
                      "--cp-piece-chunks", dir);
  fs::remove(dir / "in" / "v.npy");
  expect_user_failure(run_qla("run --inputs in --outputs out", dir.path()), "v", dir);
}

// Several batches run on one plan only when they are of one shape class, each with its own outputs.
TEST(CliRun, BatchesOfAnotherClassOrUnpairedOutputsExit2WithoutOutputs) {
  TempDir dir;
  ASSERT_EQ(run_qla("generate --out a --seqlens 20,12 --heads 1x2 --dim 128", dir.path()).code, 0);
  ASSERT_EQ(run_qla("generate --out b --seqlens 40 --heads 2x2 --dim 128", dir.path()).code, 0);
  expect_user_failure(run_qla("run --inputs a b --outputs out", dir.path()), "--outputs", dir);
  expect_user_failure(run_qla("run --inputs a b --outputs out out2", dir.path()), "shape class",
                      dir);
  EXPECT_FALSE(fs::exists(dir / "out2"));
}

#else

/// ‖x − ref‖₂ / ‖ref‖₂.
double rel_err(const Tensor& x, const std::vector<double>& ref) {
  double num = 0, den = 0;
  for (std::int64_t i = 0; i < x.numel(); ++i) {
    const double d = x.get(i) - ref[static_cast<std::size_t>(i)];
    num += d * d;
    den += ref[static_cast<std::size_t>(i)] * ref[static_cast<std::size_t>(i)];
  }
  return std::sqrt(num / den);
}

TEST(CliRun, ForwardMatchesTheReferenceForEveryAlgorithmAndCpSetting) {
  QLA_REQUIRE_GPU();
  TempDir dir;
  const RunResult gen = run_qla(
      "generate --out in --seqlens 700,0,1,300 --padding 20 --heads 2x4 --dim 128", dir.path());
  ASSERT_EQ(gen.code, 0) << gen.err;
  gdn::ReadOptions ro;
  ro.allow_padding = true;
  const gdn::ProblemDir in = gdn::read_problem_dir(dir / "in", ro);
  const ref::ForwardOutputs want =
      ref::forward_recurrent(gdn::to_forward_inputs(in.problem, in.tensors));
  const struct {
    const char* args;
    const char* expect_in_stdout;
  } runs[] = {
      {"", "fused"},
      {"--cp off", "cp_pieces=0"},
      {"--cp on --cp-piece-chunks 2",
       "cp_pieces=11"},  // 700 → 6 pieces of ≤ 128 tokens, 0 → 1, 1 → 1, 300 → 3
      {"--config gdn.fwd_plan=c32.cp1.pc4.th6.v1.sv1 --config gdn.fused_fwd=c32.bv32.s2.w4.sm0",
       "gdn.fused_fwd=c32.bv32"},
      {"--algorithm naive", "naive"},
      {"--algorithm unfused", "unfused"},
  };
  int n = 0;
  for (const auto& r : runs) {
    SCOPED_TRACE(r.args);
    const std::string out = "out" + std::to_string(n++);
    const RunResult run = run_qla("run --inputs in --outputs " + out + " " + r.args, dir.path());
    ASSERT_EQ(run.code, 0) << run.err;
    EXPECT_NE(run.out.find(r.expect_in_stdout), std::string::npos) << run.out;
    const Tensor o = read_npy(dir / out / "o.npy",
                              {"o", in.problem.qkv_dtype, gdn::tensor_shape(in.problem, "o")});
    const Tensor ht =
        read_npy(dir / out / "ht.npy", {"ht", DType::kF32, gdn::tensor_shape(in.problem, "ht")});
    const double eo = rel_err(o, want.o), eh = rel_err(ht, want.ht);
    EXPECT_LE(eo, 0.005);
    EXPECT_LE(eh, 0.005);
    std::printf("qla run %-70s o %.2e ht %.2e\n", r.args, eo, eh);
  }
}

// Varlen batches of one class on one plan (made for the first, with room for the largest): every
// batch matches its own reference.
TEST(CliRun, OnePlanServesVarlenBatchesOfOneClass) {
  QLA_REQUIRE_GPU();
  TempDir dir;
  const char* seqlens[] = {"700,0,1,300", "64,1900", "5,5,5,5,5,5"};
  std::string inputs, outputs;
  for (int i = 0; i < 3; ++i) {
    const std::string name = "in" + std::to_string(i);
    ASSERT_EQ(run_qla("generate --out " + name + " --seqlens " + seqlens[i] +
                          " --heads 2x4 --dim 128 --seed " + std::to_string(i + 1),
                      dir.path())
                  .code,
              0);
    inputs += " " + name;
    outputs += " out" + std::to_string(i);
  }
  for (const char* cp : {"--cp on --cp-piece-chunks 2", "--cp off"}) {
    SCOPED_TRACE(cp);
    const RunResult run =
        run_qla("run --inputs" + inputs + " --outputs" + outputs + " " + cp, dir.path());
    ASSERT_EQ(run.code, 0) << run.err;
    EXPECT_NE(run.out.find("one plan served 3 batches"), std::string::npos) << run.out;
    EXPECT_NE(run.out.find("up to 1964 rows, 6 sequences"), std::string::npos) << run.out;
    for (int i = 0; i < 3; ++i) {
      const gdn::ProblemDir in = gdn::read_problem_dir(dir / ("in" + std::to_string(i)), {});
      const ref::ForwardOutputs want =
          ref::forward_recurrent(gdn::to_forward_inputs(in.problem, in.tensors));
      const fs::path out = dir / ("out" + std::to_string(i));
      const Tensor o =
          read_npy(out / "o.npy", {"o", in.problem.qkv_dtype, gdn::tensor_shape(in.problem, "o")});
      const Tensor ht =
          read_npy(out / "ht.npy", {"ht", DType::kF32, gdn::tensor_shape(in.problem, "ht")});
      EXPECT_LE(rel_err(o, want.o), 0.005) << seqlens[i];
      EXPECT_LE(rel_err(ht, want.ht), 0.005) << seqlens[i];
    }
  }
}

// bf16 g and β through every algorithm (the fused path reads g through its cumsum kernel, β
// directly).
TEST(CliRun, Bf16GateAndBetaMatchTheReference) {
  QLA_REQUIRE_GPU();
  TempDir dir;
  const RunResult gen =
      run_qla("generate --out in --seqlens 300,1,129 --heads 2x4 --g-dtype bf16 --beta-dtype bf16",
              dir.path());
  ASSERT_EQ(gen.code, 0) << gen.err;
  const gdn::ProblemDir in = gdn::read_problem_dir(dir / "in", {});
  ASSERT_EQ(in.problem.gate_dtype, DType::kBF16);
  ASSERT_EQ(in.problem.beta_dtype, DType::kBF16);
  const ref::ForwardOutputs want =
      ref::forward_recurrent(gdn::to_forward_inputs(in.problem, in.tensors));
  int n = 0;
  for (const char* args :
       {"", "--cp on --cp-piece-chunks 1", "--algorithm unfused", "--algorithm naive"}) {
    SCOPED_TRACE(args);
    const std::string out = "out" + std::to_string(n++);
    const RunResult run = run_qla("run --inputs in --outputs " + out + " " + args, dir.path());
    ASSERT_EQ(run.code, 0) << run.err;
    const Tensor o = read_npy(dir / out / "o.npy",
                              {"o", in.problem.qkv_dtype, gdn::tensor_shape(in.problem, "o")});
    const Tensor ht =
        read_npy(dir / out / "ht.npy", {"ht", DType::kF32, gdn::tensor_shape(in.problem, "ht")});
    const double eo = rel_err(o, want.o), eh = rel_err(ht, want.ht);
    EXPECT_LE(eo, 0.005);
    EXPECT_LE(eh, 0.005);
    std::printf("qla run (bf16 g, beta) %-32s o %.2e ht %.2e\n", args, eo, eh);
  }
}

#endif

}  // namespace
}  // namespace qla
