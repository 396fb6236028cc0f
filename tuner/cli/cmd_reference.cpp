// `qla reference`: runs the float64 Eigen reference on a problem folder (problem.json + .npy, as
// `qla generate` writes or a user brings from PyTorch) and writes its outputs as .npy.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>

#include "cli_parse_util.hpp"
#include "commands.hpp"
#include "qla/error.hpp"
#include "qla/io/npy.hpp"
#include "qla/io/problem_files.hpp"
#include "qla/ref/gdn_reference.hpp"

namespace qla::cli {
namespace {

struct ReferenceArgs {
  std::string inputs;
  std::string outputs;
  int chunked = 0;
  bool backward = false;
  bool allow_padding = false;
  std::string out_dtype = "f32";
};

void run_reference(const ReferenceArgs& a) {
  const DType out_dtype = parse_dtype_flag("--out-dtype", a.out_dtype);
  QLA_REQUIRE(out_dtype == DType::kF32 || out_dtype == DType::kF64,
              "--out-dtype: must be f32 or f64, got \"" << a.out_dtype << "\"");
  QLA_REQUIRE(a.chunked >= 0 && a.chunked <= 4096,
              "--chunked: chunk size must be in 1..4096 (0: the recurrence), got " << a.chunked);

  gdn::ReadOptions ropt;
  ropt.backward = a.backward;
  ropt.allow_padding = a.allow_padding;
  // Everything is read and validated before any output exists, and outputs are staged, so a bad
  // input or a failure half-way leaves no partial output folder.
  const gdn::ProblemDir in = gdn::read_problem_dir(a.inputs, ropt);
  const gdn::Problem& p = in.problem;
  // The reference holds inputs and outputs in float64 beside the loaded tensors: about 16 bytes per
  // element.
  gdn::require_host_memory(16 * gdn::problem_elements(p), "the float64 reference of this problem");
  const ref::ForwardInputs fwd_in = gdn::to_forward_inputs(p, in.tensors);
  gdn::StagedDir staged(a.outputs);
  // The reference is the tuner's ground truth: an output that overflowed is refused, not written.
  const auto put = [&](const char* name, const std::vector<double>& values) {
    const auto bad =
        std::count_if(values.begin(), values.end(), [](double x) { return !std::isfinite(x); });
    QLA_REQUIRE(bad == 0, "the reference's "
                              << name << " has " << bad
                              << " non-finite values: the inputs make the state overflow (g > 0 "
                                 "grows it by e^g per token; a huge scale or k does too); nothing "
                                 "was written");
    write_npy(staged.path() / (std::string(name) + ".npy"),
              Tensor::from_doubles(out_dtype, gdn::tensor_shape(p, name), values));
  };
  // β outside [0, 1] is legal algebra but not a gated delta rule any model uses (its sigmoid): say
  // so.
  {
    const std::vector<double> beta = in.tensors.beta.to_doubles();
    const auto [lo, hi] = std::minmax_element(beta.begin(), beta.end());
    if (lo != beta.end() && (*lo < 0 || *hi > 1))
      std::fprintf(stderr, "qla: warning: beta spans [%g, %g], outside [0, 1]\n", *lo, *hi);
  }

  const auto t0 = std::chrono::steady_clock::now();
  const ref::ForwardOutputs out =
      a.chunked > 0 ? ref::forward_chunked(fwd_in, a.chunked) : ref::forward_recurrent(fwd_in);
  put("o", out.o);
  if (p.final_state) put("ht", out.ht);
  if (a.backward) {
    const std::vector<double> dht =
        in.tensors.dht ? in.tensors.dht->to_doubles() : std::vector<double>{};
    const ref::Gradients grads = ref::backward(fwd_in, in.tensors.d_o->to_doubles(), dht);
    put("dq", grads.dq);
    put("dk", grads.dk);
    put("dv", grads.dv);
    put("dg", grads.dg);
    put("dbeta", grads.dbeta);
    if (p.initial_state) put("dh0", grads.dh0);
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  staged.commit();
  const std::string form =
      a.chunked > 0 ? "chunked (C=" + std::to_string(a.chunked) + ")" : std::string("recurrent");
  std::printf("wrote %s: %s reference forward%s of %s in %.2f s\n",
              staged.target().string().c_str(), form.c_str(), a.backward ? " + backward" : "",
              p.label().c_str(), seconds);
}

}  // namespace

void add_reference_command(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand("reference",
                                     "Run the float64 Eigen reference on .npy inputs; write o, ht "
                                     "(and dq, dk, dv, dg, dbeta, dh0)");
  auto a = std::make_shared<ReferenceArgs>();
  cmd->add_option("--inputs", a->inputs,
                  "Problem folder: problem.json + q, k, v, g, beta[, h0, cu_seqlens, do, dht].npy")
      ->required();
  cmd->add_option("--outputs", a->outputs,
                  "Output folder (files appear all together or not at all)")
      ->required();
  cmd->add_option("--chunked", a->chunked,
                  "Use the chunked form with this chunk size instead of the recurrence");
  cmd->add_flag("--backward", a->backward,
                "Also compute the gradients from do.npy (and dht.npy when present)");
  cmd->add_flag("--allow-padding", a->allow_padding,
                "Accept cu_seqlens ending before T (trailing padding rows)");
  cmd->add_option("--out-dtype", a->out_dtype, "Output dtype: f32 or f64")->capture_default_str();
  cmd->callback([a] {
    run_reference(*a);
    exit_code() = 0;
  });
}

}  // namespace qla::cli
