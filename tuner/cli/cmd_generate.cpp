// `qla generate`: writes a problem's inputs (FlashQLA's test or benchmark distribution, fixed
// seed) as .npy files plus problem.json, the folder `qla reference` and `qla run` read.
#include <cstdio>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "cli_parse_util.hpp"
#include "commands.hpp"
#include "qla/error.hpp"
#include "qla/io/problem_files.hpp"

namespace qla::cli {
namespace {

struct GenerateArgs {
  std::string out;
  std::int64_t batch = 1;
  std::int64_t tokens = 0;
  std::vector<std::int64_t> seqlens;
  std::int64_t padding = 0;
  std::string heads = "2x8";
  int dim = 128;
  int v_dim = 0;
  std::string dtype = "bf16";
  std::string g_dtype = "f32";
  std::string beta_dtype = "f32";
  std::string dist = "test";
  std::uint64_t seed = 42;
  std::string cu_dtype = "i32";
  bool no_h0 = false;
  bool l2norm = false;
  bool backward = false;
};

void run_generate(const GenerateArgs& a, const CLI::App& cmd) {
  gdn::Problem p;
  const bool varlen = cmd.count("--seqlens") > 0;
  if (varlen) {
    QLA_REQUIRE(cmd.count("--batch") == 0 || a.batch == 1,
                "--batch: varlen problems (--seqlens) are packed into one row; drop --batch or set "
                "it to 1");
    std::int64_t total = 0;
    p.cu_seqlens.push_back(0);
    for (std::int64_t len : a.seqlens) {
      QLA_REQUIRE(len >= 0, "--seqlens: sequence lengths must be >= 0, got " << len);
      total += len;
      p.cu_seqlens.push_back(total);
    }
    QLA_REQUIRE(a.padding >= 0, "--padding: must be >= 0, got " << a.padding);
    p.batch = 1;
    p.tokens = total + a.padding;
  } else {
    QLA_REQUIRE(a.padding == 0, "--padding: only applies to varlen problems (--seqlens)");
    QLA_REQUIRE(a.tokens >= 1, "--tokens: must be >= 1, got " << a.tokens);
    p.batch = a.batch;
    p.tokens = a.tokens;
  }
  const auto [h_qk, h_v] = parse_heads(a.heads);
  p.h_qk = h_qk;
  p.h_v = h_v;
  QLA_REQUIRE(a.dim >= 1, "--dim: must be >= 1, got " << a.dim);
  p.k_dim = a.dim;
  p.v_dim = a.v_dim > 0 ? a.v_dim : a.dim;
  p.qkv_dtype = parse_dtype_flag("--dtype", a.dtype);
  p.gate_dtype = parse_dtype_flag("--g-dtype", a.g_dtype);
  QLA_REQUIRE(p.gate_dtype == DType::kF32 || p.gate_dtype == DType::kBF16,
              "--g-dtype: must be f32 or bf16, got \"" << a.g_dtype << "\"");
  p.beta_dtype = parse_dtype_flag("--beta-dtype", a.beta_dtype);
  QLA_REQUIRE(
      p.beta_dtype == DType::kF32 || p.beta_dtype == DType::kBF16 || p.beta_dtype == DType::kF16,
      "--beta-dtype: must be f32, bf16 or f16, got \"" << a.beta_dtype << "\"");
  p.initial_state = !a.no_h0;
  p.l2norm_qk = a.l2norm;
  p.validate();

  gdn::GenerateOptions o;
  const auto dist = gdn::parse_distribution(a.dist);
  QLA_REQUIRE(dist.has_value(),
              "--dist: must be test, bench or bench-decaying, got \"" << a.dist << "\"");
  o.distribution = *dist;
  o.seed = a.seed;
  o.backward = a.backward;
  o.cu_seqlens_dtype = parse_dtype_flag("--cu-seqlens-dtype", a.cu_dtype);
  QLA_REQUIRE(o.cu_seqlens_dtype == DType::kI32 || o.cu_seqlens_dtype == DType::kI64,
              "--cu-seqlens-dtype: must be i32 or i64, got \"" << a.cu_dtype << "\"");

  // The generator draws in float64 before converting: 8 bytes per element at its peak.
  gdn::require_host_memory(8 * gdn::problem_elements(p), "this problem");
  const gdn::ProblemTensors tensors = gdn::generate_inputs(p, o);
  gdn::StagedDir staged(a.out);
  gdn::write_problem_dir(staged.path(), p, tensors, &o);
  staged.commit();
  std::printf("wrote %s: %s, %s distribution, seed %llu%s\n", staged.target().string().c_str(),
              p.label().c_str(), a.dist.c_str(), static_cast<unsigned long long>(a.seed),
              a.backward ? ", with do and dht" : "");
}

}  // namespace

void add_generate_command(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand("generate",
                                     "Write a GDN problem's inputs (q, k, v, g, beta, h0, "
                                     "cu_seqlens, do, dht) as .npy + problem.json");
  auto a = std::make_shared<GenerateArgs>();
  cmd->add_option("--out", a->out,
                  "Output folder (created; files appear all together or not at all)")
      ->required();
  cmd->add_option("--batch", a->batch, "B: sequences of --tokens tokens each (fixed-length)");
  CLI::Option* tokens =
      cmd->add_option("--tokens", a->tokens, "T: tokens per sequence (fixed-length)");
  CLI::Option* seqlens =
      cmd->add_option("--seqlens", a->seqlens, "Packed varlen sequence lengths, e.g. 4096,4096")
          ->delimiter(',');
  tokens->excludes(seqlens);
  seqlens->excludes(tokens);
  cmd->add_option("--padding", a->padding, "Varlen only: padding tokens after the last sequence");
  cmd->add_option("--heads", a->heads, "H_qk x H_v, e.g. 2x8 (or one number for H_qk = H_v)")
      ->capture_default_str();
  cmd->add_option("--dim", a->dim, "K = V head dimension")->capture_default_str();
  cmd->add_option("--v-dim", a->v_dim, "V head dimension when it differs from --dim");
  cmd->add_option("--dtype", a->dtype, "q/k/v/do dtype: bf16, f16 or f32")->capture_default_str();
  cmd->add_option("--g-dtype", a->g_dtype, "g (log decay) dtype: f32 or bf16")
      ->capture_default_str();
  cmd->add_option("--beta-dtype", a->beta_dtype,
                  "beta dtype: f32, bf16 or f16 (the kernels take f32 or the q/k/v dtype)")
      ->capture_default_str();
  cmd->add_option(
         "--dist", a->dist,
         "Input distribution: FlashQLA's test or bench, or bench-decaying (bench with every "
         "head's gate kept)")
      ->capture_default_str();
  cmd->add_option("--seed", a->seed, "RNG seed")->capture_default_str();
  cmd->add_option("--cu-seqlens-dtype", a->cu_dtype, "cu_seqlens dtype: i32 or i64")
      ->capture_default_str();
  cmd->add_flag("--no-h0", a->no_h0, "No initial state (h0)");
  cmd->add_flag("--l2norm", a->l2norm,
                "The op l2-normalises q and k (they are written un-normalised)");
  cmd->add_flag("--backward", a->backward, "Also write do and dht for the backward pass");
  cmd->callback([a, cmd, tokens, seqlens] {
    QLA_REQUIRE(tokens->count() + seqlens->count() > 0,
                "generate: give --tokens T or --seqlens L1,L2,...");
    run_generate(*a, *cmd);
    exit_code() = 0;
  });
}

}  // namespace qla::cli
