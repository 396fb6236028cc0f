// End-to-end tests of `qla devices | generate | reference`: exit codes, messages, files on disk,
// and that the command line reproduces the library's numbers.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "gpu_guard.hpp"
#include "qla/io/npy.hpp"
#include "qla/io/problem_files.hpp"
#include "qla/ref/gdn_reference.hpp"
#include "temp_dir.hpp"

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

int count_lines(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

/// Runs `qla <args>` with the working directory `cwd`; captures exit code, stdout and stderr.
RunResult run_qla(const std::string& args, const fs::path& cwd) {
  const fs::path out = cwd / ".stdout", err = cwd / ".stderr";
  const std::string cmd = "cd '" + cwd.string() + "' && '" QLA_BINARY "' " + args + " > '" +
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

/// The outputs of `qla reference` must match the library's to the rounding of their dtype.
void expect_close(const Tensor& cli, const std::vector<double>& lib, double rel_tol,
                  const std::string& name) {
  ASSERT_EQ(cli.numel(), static_cast<std::int64_t>(lib.size())) << name;
  double scale = 0;
  for (double x : lib) scale = std::max(scale, std::fabs(x));
  ASSERT_GT(scale, 0.0) << name << " is all zeros: the comparison would prove nothing";
  for (std::int64_t i = 0; i < cli.numel(); ++i) {
    ASSERT_NEAR(cli.get(i), lib[static_cast<std::size_t>(i)], rel_tol * scale)
        << name << cli.index_string(i);
  }
}

/// Expects exit code 2 with exactly one line "qla: error: ..." that contains every needle.
void expect_user_failure(const RunResult& r, std::initializer_list<std::string> needles) {
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
  EXPECT_EQ(r.err.rfind("qla: error: ", 0), 0u) << r.err;
  for (const auto& n : needles)
    EXPECT_NE(r.err.find(n), std::string::npos) << r.err << "lacks: " << n;
}

TEST(Cli, HelpOfEverySubcommand) {
  TempDir dir;
  const RunResult top = run_qla("--help", dir.path());
  EXPECT_EQ(top.code, 0);
  for (const char* sub : {"devices", "generate", "reference", "cache"})
    EXPECT_NE(top.out.find(sub), std::string::npos);
  const std::pair<const char*, std::vector<const char*>> subs[] = {
      {"devices", {"--json"}},
      {"generate",
       {"--out", "--tokens", "--seqlens", "--heads", "--dim", "--dtype", "--dist", "--seed",
        "--no-h0", "--l2norm", "--backward"}},
      {"reference", {"--inputs", "--outputs", "--chunked", "--backward", "--allow-padding"}},
      {"cache warm", {"--arch", "--family", "--jobs"}},
      {"cache cubin", {"--family", "--config", "--out", "--arch", "--match", "--lineinfo"}}};
  for (const auto& [sub, flags] : subs) {
    const RunResult r = run_qla(std::string(sub) + " --help", dir.path());
    EXPECT_EQ(r.code, 0) << sub;
    for (const char* f : flags)
      EXPECT_NE(r.out.find(f), std::string::npos) << sub << " --help lacks " << f;
  }
  EXPECT_EQ(run_qla("", dir.path()).code, 2);  // a subcommand is required
  EXPECT_EQ(run_qla("frobnicate", dir.path()).code, 2);
}

TEST(Cli, DevicesSaysWhetherThereIsAGpu) {
  TempDir dir;
  const std::string no_gpu = test::gpu_unavailable_reason();
  for (const char* args : {"devices", "devices --json"}) {
    const RunResult r = run_qla(args, dir.path());
    if (!no_gpu.empty()) {
      EXPECT_EQ(r.code, 1) << args;
      EXPECT_EQ(count_lines(r.err), 1) << r.err;
      EXPECT_EQ(r.err.rfind("no CUDA GPU: ", 0), 0u) << r.err;
      EXPECT_TRUE(r.out.empty()) << r.out;
    } else {
      EXPECT_EQ(r.code, 0) << r.err;
      EXPECT_NE(
          r.out.find(std::string(args).find("json") != std::string::npos ? "\"sm_count\"" : "SMs"),
          std::string::npos)
          << r.out;
    }
  }
}

// `qla cache warm` compiles a family's configs for a named target into $QLA_CACHE_DIR without a
// GPU; a rerun compiles nothing. Mistakes are user errors (exit 2) that write nothing.
TEST(Cli, CacheWarmCompilesAheadAndARerunCompilesNothing) {
  TempDir dir;
  const fs::path cache = dir.path() / "kernels";
  ASSERT_EQ(setenv("QLA_CACHE_DIR", cache.c_str(), 1), 0);  // inherited by the qla it runs
  const auto run_in_cache = [&](const std::string& args) {
    return run_qla("cache warm " + args, dir.path());
  };
  const RunResult first = run_in_cache("--arch sm_90a --family gdn.cp_warmup -j 2");
  EXPECT_EQ(first.code, 0) << first.err;
  EXPECT_NE(first.out.find("compiling 1 kernels for sm_90a"), std::string::npos) << first.out;
  EXPECT_NE(first.out.find("1 compiled, 0 already cached, 0 failed"), std::string::npos)
      << first.out;
  int cubins = 0;
  for (const auto& e : fs::directory_iterator(cache)) cubins += e.path().extension() == ".cubin";
  EXPECT_EQ(cubins, 1);
  const RunResult again = run_in_cache("--arch sm_90a --family gdn.cp_warmup");
  EXPECT_EQ(again.code, 0) << again.err;
  EXPECT_NE(again.out.find("0 compiled, 1 already cached, 0 failed"), std::string::npos)
      << again.out;
  for (const char* bad :
       {"--arch sm_42", "--arch sm_90a --family gdn.nope", "--arch sm_90a -j -1"}) {
    const RunResult r = run_in_cache(bad);
    EXPECT_EQ(r.code, 2) << bad;
    EXPECT_EQ(r.err.rfind("qla: error: ", 0), 0u) << bad << ": " << r.err;
  }
  if (!test::gpu_unavailable_reason().empty()) {
    const RunResult r = run_in_cache("--family gdn.cp_warmup");
    EXPECT_EQ(r.code, 2);
    EXPECT_NE(r.err.find("give --arch"), std::string::npos) << r.err;
  }
  EXPECT_EQ(run_qla("cache", dir.path()).code, 2) << "a cache subcommand is required";
  int after = 0;
  for (const auto& e : fs::directory_iterator(cache)) after += e.path().extension() == ".cubin";
  EXPECT_EQ(after, 1) << "a refused command compiled something";
  unsetenv("QLA_CACHE_DIR");
}

// `qla cache cubin` writes the cubins NVRTC builds for one config (one per dtype combination),
// named by family, config and position, and says which kernel each holds; --match keeps the kernels
// whose name expression has the text, --lineinfo adds line tables. Mistakes write nothing.
TEST(Cli, CacheCubinWritesOneConfigsKernels) {
  TempDir dir;
  const fs::path out = dir.path() / "cubins";
  const auto cubins = [&] {
    std::vector<std::string> names;
    if (fs::exists(out))
      for (const auto& e : fs::directory_iterator(out)) names.push_back(e.path().filename());
    std::sort(names.begin(), names.end());
    return names;
  };
  const std::string base = "cache cubin --arch sm_90a --family gdn.kkt_solve --out " + out.string();
  for (const char* bad : {" --config c99", " --config c64.b32.w1.vh0.cs1",
                          " --config c64.b16.w1.vh0.cs1 --match nothing_has_this"}) {
    const RunResult r = run_qla(base + bad, dir.path());
    EXPECT_EQ(r.code, 2) << bad;
    EXPECT_EQ(r.err.rfind("qla: error: ", 0), 0u) << bad << ": " << r.err;
  }
  const RunResult unknown = run_qla(
      "cache cubin --arch sm_90a --family gdn.nope --config c64 --out " + out.string(), dir.path());
  EXPECT_EQ(unknown.code, 2);
  EXPECT_NE(unknown.err.find("gdn.kkt_solve"), std::string::npos) << "names the families";
  const RunResult unwritable = run_qla(
      "cache cubin --arch sm_90a --family gdn.kkt_solve --config c64.b16.w1.vh0.cs1 --out "
      "/dev/null/x",
      dir.path());
  EXPECT_EQ(unwritable.code, 2);
  EXPECT_EQ(unwritable.err.rfind("qla: error: cannot create /dev/null/x", 0), 0u) << unwritable.err;
  EXPECT_TRUE(cubins().empty()) << "a refused command wrote a cubin";

  const RunResult one = run_qla(base + " --config c64.b16.w1.vh0.cs1 --match bfloat16", dir.path());
  EXPECT_EQ(one.code, 0) << one.err;
  EXPECT_NE(one.out.find("kkt_solve_rows_kernel<64, 1, __nv_bfloat16"), std::string::npos)
      << one.out;
  EXPECT_NE(one.out.find(" registers"), std::string::npos) << one.out;
  EXPECT_EQ(cubins(), std::vector<std::string>{"gdn.kkt_solve.c64.b16.w1.vh0.cs1.1.cubin"});

  const RunResult all = run_qla(base + " --config c64.b16.w1.vh0.cs1 --lineinfo", dir.path());
  EXPECT_EQ(all.code, 0) << all.err;
  EXPECT_EQ(cubins(), (std::vector<std::string>{"gdn.kkt_solve.c64.b16.w1.vh0.cs1.1.cubin",
                                                "gdn.kkt_solve.c64.b16.w1.vh0.cs1.2.cubin"}));
  std::ifstream elf(out / "gdn.kkt_solve.c64.b16.w1.vh0.cs1.2.cubin", std::ios::binary);
  char magic[4] = {};
  elf.read(magic, 4);
  EXPECT_EQ(std::string(magic, 4), std::string("\x7f"
                                               "ELF",
                                               4))
      << "a cubin is an ELF image";
}

struct Case {
  const char* generate_args;
  gdn::Problem problem;
  gdn::GenerateOptions options;
};

gdn::Problem make_problem(std::int64_t batch, std::int64_t tokens, std::vector<std::int64_t> cu,
                          int h_qk, int h_v, int dim, bool h0) {
  gdn::Problem p;
  p.batch = batch;
  p.tokens = tokens;
  p.cu_seqlens = std::move(cu);
  p.h_qk = h_qk;
  p.h_v = h_v;
  p.k_dim = p.v_dim = dim;
  p.initial_state = h0;
  return p;
}

TEST(Cli, GenerateThenReferenceReproducesTheLibrary) {
  gdn::GenerateOptions test_bwd;
  test_bwd.backward = true;
  gdn::GenerateOptions bench_seed7;
  bench_seed7.distribution = gdn::Distribution::kBench;
  bench_seed7.seed = 7;
  const Case cases[] = {
      {"--seqlens 37,0,64,9 --heads 2x4 --dim 16 --backward",
       make_problem(1, 110, {0, 37, 37, 101, 110}, 2, 4, 16, true), test_bwd},
      {"--batch 2 --tokens 50 --heads 1x2 --dim 32 --dist bench --seed 7 --no-h0",
       make_problem(2, 50, {}, 1, 2, 32, false), bench_seed7},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.generate_args);
    TempDir dir;
    const RunResult gen = run_qla(std::string("generate --out in ") + c.generate_args, dir.path());
    ASSERT_EQ(gen.code, 0) << gen.err;

    // The files hold exactly what the library generates for the same problem and options.
    gdn::ReadOptions ro;
    ro.backward = c.options.backward;
    const gdn::ProblemDir loaded = gdn::read_problem_dir(dir / "in", ro);
    EXPECT_EQ(loaded.problem.label(), c.problem.label());
    EXPECT_EQ(loaded.problem.cu_seqlens, c.problem.cu_seqlens);
    const gdn::ProblemTensors lib = gdn::generate_inputs(c.problem, c.options);
    EXPECT_EQ(loaded.tensors.q, lib.q);
    EXPECT_EQ(loaded.tensors.k, lib.k);
    EXPECT_EQ(loaded.tensors.v, lib.v);
    EXPECT_EQ(loaded.tensors.g, lib.g);
    EXPECT_EQ(loaded.tensors.beta, lib.beta);
    EXPECT_EQ(loaded.tensors.h0.has_value(), c.problem.initial_state);
    if (lib.h0) {
      EXPECT_EQ(*loaded.tensors.h0, *lib.h0);
    }
    if (lib.d_o) {
      EXPECT_EQ(*loaded.tensors.d_o, *lib.d_o);
    }

    const ref::ForwardInputs in = gdn::to_forward_inputs(c.problem, lib);
    const ref::ForwardOutputs want = ref::forward_recurrent(in);
    // f64 outputs: the same code on the same inputs.
    const RunResult ref64 = run_qla("reference --inputs in --outputs out64 --out-dtype f64" +
                                        std::string(c.options.backward ? " --backward" : ""),
                                    dir.path());
    ASSERT_EQ(ref64.code, 0) << ref64.err;
    expect_close(
        read_npy(dir / "out64" / "o.npy", {"o", DType::kF64, gdn::tensor_shape(c.problem, "o")}),
        want.o, 1e-12, "o");
    expect_close(
        read_npy(dir / "out64" / "ht.npy", {"ht", DType::kF64, gdn::tensor_shape(c.problem, "ht")}),
        want.ht, 1e-12, "ht");
    // Default f32 outputs: the library's numbers rounded to float.
    const RunResult ref32 = run_qla("reference --inputs in --outputs out32", dir.path());
    ASSERT_EQ(ref32.code, 0) << ref32.err;
    const Tensor o32 =
        read_npy(dir / "out32" / "o.npy", {"o", DType::kF32, gdn::tensor_shape(c.problem, "o")});
    expect_close(o32, want.o, 1e-6, "o (f32)");
    EXPECT_FALSE(fs::exists(dir / "out32" / "dq.npy"));
    // The chunked form through the CLI matches the library's chunked form.
    const RunResult chunked =
        run_qla("reference --inputs in --outputs outc --chunked 16 --out-dtype f64", dir.path());
    ASSERT_EQ(chunked.code, 0) << chunked.err;
    expect_close(read_npy(dir / "outc" / "o.npy"), ref::forward_chunked(in, 16).o, 1e-12,
                 "o (chunked)");

    if (c.options.backward) {
      const ref::Gradients g = ref::backward(in, lib.d_o->to_doubles(), lib.dht->to_doubles());
      const std::pair<const char*, const std::vector<double>*> grads[] = {
          {"dq", &g.dq}, {"dk", &g.dk},       {"dv", &g.dv},
          {"dg", &g.dg}, {"dbeta", &g.dbeta}, {"dh0", &g.dh0}};
      for (const auto& [name, values] : grads) {
        expect_close(read_npy(dir / "out64" / (std::string(name) + ".npy"),
                              {name, DType::kF64, gdn::tensor_shape(c.problem, name)}),
                     *values, 1e-12, name);
      }
    }
  }
}

/// A generated forward problem in dir/in, for the bad-input tests to spoil.
void generate_small(const TempDir& dir, const std::string& extra = "") {
  const RunResult r =
      run_qla("generate --out in --seqlens 20,12 --heads 1x2 --dim 8 " + extra, dir.path());
  ASSERT_EQ(r.code, 0) << r.err;
}

/// Nothing named `name` and no hidden staging folder exists in `dir`.
void expect_no_output(const TempDir& dir, const std::string& name) {
  EXPECT_FALSE(fs::exists(dir / name));
  for (const auto& e : fs::directory_iterator(dir.path())) {
    EXPECT_EQ(e.path().filename().string().find(".staging"), std::string::npos) << e.path();
  }
}

TEST(Cli, AbsurdSizesAreRefusedBeforeAnythingIsAllocated) {
  TempDir dir;
  // batch x tokens = 2^64 wraps to 0 in 64-bit arithmetic; 10^12 tokens cannot be held.
  expect_user_failure(
      run_qla("generate --out wrap --tokens 281474976710656 --batch 65536 --heads 1 --dim 1 "
              "--no-h0",
              dir.path()),
      {"problem too large"});
  EXPECT_FALSE(fs::exists(dir.path() / "wrap"));
  expect_user_failure(
      run_qla("generate --out big --tokens 1000000000000 --heads 1 --dim 1", dir.path()),
      {"host memory"});
  EXPECT_FALSE(fs::exists(dir.path() / "big"));
}

TEST(Cli, AReferenceThatOverflowsIsRefusedAndWritesNothing) {
  TempDir dir;
  ASSERT_EQ(run_qla("generate --out in --seqlens 200 --heads 1x2 --dim 8", dir.path()).code, 0);
  // Growing gates (g = +5 per token) make the state grow by e^5 per token: 200 tokens overflow
  // float64.
  const Tensor g = read_npy(dir.path() / "in" / "g.npy", {"g", std::nullopt, std::nullopt});
  write_npy(
      dir.path() / "in" / "g.npy",
      Tensor::from_doubles(g.dtype(), g.shape(), std::vector<double>(g.to_doubles().size(), 5.0)));
  expect_user_failure(run_qla("reference --inputs in --outputs out", dir.path()),
                      {"non-finite", "nothing"});
  EXPECT_FALSE(fs::exists(dir.path() / "out"));
  // β outside [0, 1] is computed, with a warning.
  ASSERT_EQ(run_qla("generate --out in2 --seqlens 20 --heads 1x2 --dim 8", dir.path()).code, 0);
  const Tensor beta =
      read_npy(dir.path() / "in2" / "beta.npy", {"beta", std::nullopt, std::nullopt});
  write_npy(dir.path() / "in2" / "beta.npy",
            Tensor::from_doubles(beta.dtype(), beta.shape(),
                                 std::vector<double>(beta.to_doubles().size(), 1.5)));
  const RunResult warned = run_qla("reference --inputs in2 --outputs out2", dir.path());
  EXPECT_EQ(warned.code, 0) << warned.err;
  EXPECT_NE(warned.err.find("warning: beta spans [1.5, 1.5]"), std::string::npos) << warned.err;
}

TEST(Cli, MoreMistakesAreUserErrorsNotInternalOnes) {
  TempDir dir;
  ASSERT_EQ(run_qla("generate --out in --seqlens 20 --heads 1x2 --dim 8", dir.path()).code, 0);
  expect_user_failure(run_qla("reference --inputs in --outputs c --chunked 1000000000", dir.path()),
                      {"--chunked"});
  EXPECT_FALSE(fs::exists(dir.path() / "c"));
  // A number past double's range in problem.json.
  std::ifstream in(dir.path() / "in" / "problem.json");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto at = text.find("\"tokens\"");
  ASSERT_NE(at, std::string::npos);
  const auto colon = text.find(':', at), comma = text.find_first_of(",}", colon);
  text = text.substr(0, colon + 1) + " 1e400" + text.substr(comma);
  std::ofstream(dir.path() / "in" / "problem.json", std::ios::trunc) << text;
  expect_user_failure(run_qla("reference --inputs in --outputs o", dir.path()),
                      {"problem.json", "not valid JSON"});
  EXPECT_FALSE(fs::exists(dir.path() / "o"));
}

TEST(Cli, ReferenceBadInputsExit2WithoutOutputs) {
  {
    TempDir dir;
    generate_small(dir);
    fs::remove(dir / "in" / "q.npy");
    expect_user_failure(run_qla("reference --inputs in --outputs out", dir.path()),
                        {"q", "not found"});
    expect_no_output(dir, "out");
  }
  {
    TempDir dir;
    generate_small(dir);
    write_npy(dir / "in" / "beta.npy", Tensor(DType::kBF16, {1, 32, 2}));
    expect_user_failure(run_qla("reference --inputs in --outputs out", dir.path()),
                        {"beta", "wrong dtype"});
    expect_no_output(dir, "out");
    write_npy(dir / "in" / "beta.npy", Tensor(DType::kF32, {1, 32, 3}));
    expect_user_failure(run_qla("reference --inputs in --outputs out", dir.path()),
                        {"beta", "wrong shape"});
    write_npy(dir / "in" / "beta.npy", Tensor(DType::kF32, {32, 2}));
    expect_user_failure(run_qla("reference --inputs in --outputs out", dir.path()),
                        {"beta", "wrong rank"});
    expect_no_output(dir, "out");
  }
  {
    TempDir dir;
    generate_small(dir);
    Tensor k = read_npy(dir / "in" / "k.npy");
    k.set(17, std::numeric_limits<double>::quiet_NaN());
    write_npy(dir / "in" / "k.npy", k);
    expect_user_failure(run_qla("reference --inputs in --outputs out", dir.path()),
                        {"k", "[0, 2, 0, 1]", "NaN"});
    expect_no_output(dir, "out");
  }
  {
    TempDir dir;
    generate_small(dir);
    fs::remove(dir / "in" / "problem.json");
    std::ofstream(dir / "in" / "problem.json")
        << "{\"batch\": 1, \"tokens\": 32, \"h_qk\": 1, \"h_v\": 2, \"k_dim\": 8, "
           "\"v_dim\": 8, \"initial_state\": true}";
    write_npy(dir / "in" / "cu_seqlens.npy", Tensor::from_doubles(DType::kI32, {3}, {1, 20, 32}));
    expect_user_failure(run_qla("reference --inputs in --outputs out", dir.path()),
                        {"cu_seqlens", "start at 0"});
    write_npy(dir / "in" / "cu_seqlens.npy", Tensor::from_doubles(DType::kI32, {3}, {0, 21, 20}));
    expect_user_failure(run_qla("reference --inputs in --outputs out", dir.path()),
                        {"cu_seqlens", "non-decreasing"});
    write_npy(dir / "in" / "cu_seqlens.npy", Tensor::from_doubles(DType::kI64, {3}, {0, 20, 30}));
    expect_user_failure(run_qla("reference --inputs in --outputs out", dir.path()),
                        {"cu_seqlens", "end at"});
    expect_no_output(dir, "out");
    EXPECT_EQ(run_qla("reference --inputs in --outputs out --allow-padding", dir.path()).code, 0);
  }
  {
    TempDir dir;
    generate_small(dir);
    std::ofstream(dir / "in" / "problem.json")
        << "{\"batch\": 1, \"tokens\": 32, \"h_qk\": 2, \"h_v\": 3}";
    expect_user_failure(run_qla("reference --inputs in --outputs out", dir.path()),
                        {"h_v", "multiple of h_qk"});
    std::ofstream(dir / "in" / "problem.json") << "not json";
    expect_user_failure(run_qla("reference --inputs in --outputs out", dir.path()),
                        {"problem.json"});
    expect_no_output(dir, "out");
  }
  {
    // --backward needs do.npy; an existing output folder keeps its old files untouched on failure.
    TempDir dir;
    generate_small(dir);
    fs::create_directory(dir / "out");
    std::ofstream(dir / "out" / "keep.txt") << "old";
    expect_user_failure(run_qla("reference --inputs in --outputs out --backward", dir.path()),
                        {"do", "not found"});
    int entries = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir / "out")) ++entries;
    EXPECT_EQ(entries, 1);
    expect_user_failure(run_qla("reference --inputs nowhere --outputs out2", dir.path()),
                        {"nowhere"});
    expect_no_output(dir, "out2");
  }
}

TEST(Cli, GenerateBadFlagsExit2WithoutOutputs) {
  TempDir dir;
  expect_user_failure(run_qla("generate --out g --tokens 10 --heads 3x4", dir.path()),
                      {"h_v", "multiple"});
  expect_user_failure(run_qla("generate --out g --tokens 10 --heads 2y8", dir.path()), {"--heads"});
  expect_user_failure(run_qla("generate --out g --tokens 10 --dtype int4", dir.path()),
                      {"--dtype", "int4"});
  expect_user_failure(run_qla("generate --out g --tokens 10 --dtype i32", dir.path()), {"dtype"});
  expect_user_failure(run_qla("generate --out g --tokens 10 --dist uniform", dir.path()),
                      {"--dist", "uniform"});
  expect_user_failure(run_qla("generate --out g --heads 2x8", dir.path()),
                      {"--tokens", "--seqlens"});
  expect_user_failure(run_qla("generate --out g --tokens 0", dir.path()), {"--tokens"});
  expect_user_failure(run_qla("generate --out g --batch 2 --seqlens 4,4", dir.path()), {"--batch"});
  expect_user_failure(run_qla("generate --out g --tokens 4 --padding 3", dir.path()),
                      {"--padding"});
  expect_user_failure(run_qla("generate --out g --tokens 4 --cu-seqlens-dtype f32", dir.path()),
                      {"--cu-seqlens-dtype"});
  expect_user_failure(run_qla("generate --out g --tokens 4 --g-dtype f16", dir.path()),
                      {"--g-dtype"});
  expect_user_failure(run_qla("generate --out g --tokens 4 --beta-dtype i32", dir.path()),
                      {"--beta-dtype"});
  EXPECT_EQ(run_qla("generate --out g --tokens 10 --seqlens 5,5", dir.path()).code,
            2);  // CLI11: excluded
  expect_no_output(dir, "g");
  // A file where the folder should go.
  std::ofstream(dir / "file") << "x";
  expect_user_failure(run_qla("generate --out file --tokens 4 --heads 1x1 --dim 4", dir.path()),
                      {"not a folder"});
}

TEST(Cli, GenerateWritesTheRequestedFiles) {
  TempDir dir;
  ASSERT_EQ(run_qla("generate --out a --tokens 16 --heads 2 --dim 8 --no-h0 --l2norm --dtype f16",
                    dir.path())
                .code,
            0);
  EXPECT_FALSE(fs::exists(dir / "a" / "h0.npy"));
  EXPECT_FALSE(fs::exists(dir / "a" / "cu_seqlens.npy"));
  EXPECT_FALSE(fs::exists(dir / "a" / "do.npy"));
  const gdn::ProblemDir a = gdn::read_problem_dir(dir / "a");
  EXPECT_TRUE(a.problem.l2norm_qk);
  EXPECT_EQ(a.problem.h_qk, 2);
  EXPECT_EQ(a.problem.h_v, 2);
  EXPECT_EQ(a.tensors.q.dtype(), DType::kF16);
  ASSERT_EQ(run_qla("generate --out b --seqlens 5,6 --padding 3 --heads 1x2 --dim 8 --backward "
                    "--cu-seqlens-dtype i64",
                    dir.path())
                .code,
            0);
  for (const char* f : {"q", "k", "v", "g", "beta", "h0", "cu_seqlens", "do", "dht"}) {
    EXPECT_TRUE(fs::exists(dir / "b" / (std::string(f) + ".npy"))) << f;
  }
  const Tensor cu = read_npy(dir / "b" / "cu_seqlens.npy");
  EXPECT_EQ(cu.dtype(), DType::kI64);
  EXPECT_EQ(cu.to_doubles(), (std::vector<double>{0, 5, 11}));
  EXPECT_EQ(read_npy(dir / "b" / "q.npy").shape(), (std::vector<std::int64_t>{1, 14, 1, 8}));
  // bf16 g and β: written as bf16 bits, recorded in problem.json, read back by the reference.
  ASSERT_EQ(
      run_qla("generate --out c --seqlens 9,3 --heads 1x2 --dim 8 --g-dtype bf16 --beta-dtype bf16",
              dir.path())
          .code,
      0);
  const gdn::ProblemDir c = gdn::read_problem_dir(dir / "c");
  EXPECT_EQ(c.problem.gate_dtype, DType::kBF16);
  EXPECT_EQ(c.problem.beta_dtype, DType::kBF16);
  EXPECT_EQ(c.tensors.g.dtype(), DType::kBF16);
  EXPECT_EQ(c.tensors.beta.dtype(), DType::kBF16);
  EXPECT_EQ(run_qla("reference --inputs c --outputs co", dir.path()).code, 0);
  // Padded problems need the explicit flag downstream.
  EXPECT_EQ(run_qla("reference --inputs b --outputs o", dir.path()).code, 2);
  EXPECT_EQ(run_qla("reference --inputs b --outputs o --allow-padding --backward", dir.path()).code,
            0);
}

}  // namespace
}  // namespace qla
