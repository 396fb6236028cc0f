// `qla run`: the GDN forward on the GPU for the .npy inputs `qla generate` wrote; writes o.npy and
// ht.npy.
#include <cuda_runtime_api.h>

#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "commands.hpp"
#include "qla/cuda/check.hpp"
#include "qla/cuda/device_buffer.hpp"
#include "qla/cuda/device_info.hpp"
#include "qla/cuda/kernel_catalog.hpp"
#include "qla/error.hpp"
#include "qla/gdn/forward.hpp"
#include "qla/io/npy.hpp"
#include "qla/io/problem_files.hpp"

namespace qla::cli {
namespace {

struct RunOptions {
  std::string inputs;
  std::string outputs;
  std::string algorithm = "fused";
  std::vector<std::string> configs;
  std::string cp = "auto";
  int cp_piece_chunks = 0;
  float cp_threshold = -10.f;
};

// "gdn.naive_fwd=bv32.ks4", or a bare label matched against every kernel family's space and the
// fused path's runtime plan space (gdn.fwd_plan, e.g. cp1.pc8.th-10).
void add_config(gdn::PlanOptions& plan, const std::string& text) {
  const auto eq = text.find('=');
  std::vector<const SpaceDecl*> spaces{&gdn::fwd_plan_space()};
  for (const auto& family : cuda::kernel_families()) spaces.push_back(family.space);
  for (const SpaceDecl* space : spaces) {
    if (eq != std::string::npos && text.substr(0, eq) != space->kernel) continue;
    if (auto p = space->parse(eq == std::string::npos ? text : text.substr(eq + 1))) {
      plan.configs[space->kernel] = *p;
      return;
    }
  }
  throw UserError("--config " + text +
                  ": not a config label of any kernel space (use KERNEL=LABEL, e.g. "
                  "gdn.naive_fwd=bv32.ks4)");
}

cuda::DeviceBuffer upload(const Tensor& t) {
  cuda::DeviceBuffer b(t.nbytes());
  QLA_CUDA_CHECK(cudaMemcpy(b.get(), t.data(), t.nbytes(), cudaMemcpyHostToDevice));
  return b;
}

int run(const RunOptions& o) {
  // Everything the user got wrong (flags, input files) is reported before the GPU is looked at, so
  // bad input is exit 2 on any machine.
  gdn::PlanOptions options;
  const auto algorithm = gdn::parse_algorithm(o.algorithm);
  if (!algorithm)
    throw UserError("--algorithm must be fused, unfused or naive (got " + o.algorithm + ")");
  options.algorithm = *algorithm;
  options.cp = o.cp == "on"    ? gdn::CpMode::kOn
               : o.cp == "off" ? gdn::CpMode::kOff
                               : gdn::CpMode::kAuto;
  if (o.cp_piece_chunks < 0) {
    throw UserError("--cp-piece-chunks must be >= 0 (0 = FlashQLA's rule), got " +
                    std::to_string(o.cp_piece_chunks));
  }
  options.cp_piece_chunks = o.cp_piece_chunks;
  options.cp_threshold = o.cp_threshold;
  for (const auto& c : o.configs) add_config(options, c);

  gdn::ReadOptions read;
  read.allow_padding = true;
  const gdn::ProblemDir in = gdn::read_problem_dir(o.inputs, read);
  const gdn::Problem& p = in.problem;
  const auto device = cuda::current_device();
  if (!device) {
    std::fprintf(stderr, "qla run: no usable GPU on this machine\n");
    return 1;
  }
  const gdn::Plan plan = gdn::make_plan(p, *device, options);
  if (!plan.not_implemented_reason().empty()) {
    throw UserError(std::string("--algorithm ") + o.algorithm + ": " +
                    plan.not_implemented_reason());
  }

  const auto& t = in.tensors;
  cuda::DeviceBuffer q = upload(t.q), k = upload(t.k), v = upload(t.v), g = upload(t.g),
                     beta = upload(t.beta);
  cuda::DeviceBuffer h0 = t.h0 ? upload(*t.h0) : cuda::DeviceBuffer();
  Tensor o_host(p.qkv_dtype, {p.batch, p.tokens, p.h_v, p.v_dim});
  Tensor ht_host(DType::kF32, {p.num_sequences(), p.h_v, p.k_dim, p.v_dim});
  cuda::DeviceBuffer o_dev(o_host.nbytes()), ht_dev(ht_host.nbytes()), ws(plan.workspace_bytes());
  QLA_CUDA_CHECK(cudaMemset(o_dev.get(), 0xff, o_dev.bytes()));  // NaN: anything not written shows

  gdn::ForwardArgs args;
  args.problem = p;
  args.q = gdn::contiguous_tensor(q.get(), p, p.h_qk, p.k_dim);
  args.k = gdn::contiguous_tensor(k.get(), p, p.h_qk, p.k_dim);
  args.v = gdn::contiguous_tensor(v.get(), p, p.h_v, p.v_dim);
  args.o = gdn::contiguous_tensor(o_dev.get(), p, p.h_v, p.v_dim);
  args.g = gdn::contiguous_tensor(g.get(), p, p.h_v, 1);
  args.beta = gdn::contiguous_tensor(beta.get(), p, p.h_v, 1);
  args.h0 = p.initial_state ? h0.as<const float>() : nullptr;
  args.ht = p.final_state ? ht_dev.as<float>() : nullptr;
  const gdn::Status s = gdn::forward(args, plan, ws.get(), nullptr);
  if (s.code == gdn::Status::Code::kInvalidArgument) throw UserError(s.message);
  if (!s.ok())
    throw ApiError("qla run", std::string(gdn::status_code_name(s.code)) + ": " + s.message);
  QLA_CUDA_CHECK(cudaDeviceSynchronize());
  QLA_CUDA_CHECK(cudaMemcpy(o_host.data(), o_dev.get(), o_host.nbytes(), cudaMemcpyDeviceToHost));
  // Outputs are staged and appear together (or not at all), replacing an earlier run's folder
  // whole.
  gdn::StagedDir staged(o.outputs);
  write_npy(staged.path() / "o.npy", o_host);
  if (p.final_state) {
    QLA_CUDA_CHECK(
        cudaMemcpy(ht_host.data(), ht_dev.get(), ht_host.nbytes(), cudaMemcpyDeviceToHost));
    write_npy(staged.path() / "ht.npy", ht_host);
  }
  staged.commit();
  std::string labels;
  for (const auto& [kernel, label] : plan.config_labels()) labels += " " + kernel + "=" + label;
  std::printf("qla run: %s %s on %s:%s cp_pieces=%d -> %s\n", gdn::algorithm_name(plan.algorithm()),
              p.label().c_str(), device->name.c_str(), labels.c_str(), plan.cp_pieces(),
              o.outputs.c_str());
  return 0;
}

}  // namespace

void add_run_command(CLI::App& app) {
  auto opts = std::make_shared<RunOptions>();
  CLI::App* cmd = app.add_subcommand(
      "run", "Run the GDN forward on the GPU for .npy inputs; write o.npy, ht.npy");
  cmd->add_option("--inputs", opts->inputs, "directory written by `qla generate`")->required();
  cmd->add_option("--outputs", opts->outputs, "directory for o.npy and ht.npy")->required();
  cmd->add_option("--algorithm", opts->algorithm, "fused (default), unfused or naive");
  cmd->add_option("--config", opts->configs,
                  "KERNEL=LABEL (or a bare LABEL) forcing a kernel's config");
  cmd->add_option("--cp", opts->cp, "context parallelism: on, off or auto")
      ->check(CLI::IsMember({"on", "off", "auto"}));
  cmd->add_option("--cp-piece-chunks", opts->cp_piece_chunks,
                  "chunks per CP piece; 0 = FlashQLA's rule");
  cmd->add_option("--cp-threshold", opts->cp_threshold,
                  "CP warm-up threshold on the summed log decay (-10)");
  cmd->callback([opts] { exit_code() = run(*opts); });
}

}  // namespace qla::cli
