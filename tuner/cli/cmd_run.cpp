// `qla run`: the GDN forward on the GPU for the .npy inputs `qla generate` wrote; writes o.npy and
// ht.npy. Several input folders of one shape class (heads, dims, dtypes, flags) run on one plan, as
// a serving loop would: the plan is made once, for the largest batch, and every batch brings its
// own cu_seqlens.
#include <cuda_runtime_api.h>

#include <algorithm>
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
#include "qla/gdn/device_problem.hpp"
#include "qla/gdn/forward.hpp"
#include "qla/io/npy.hpp"
#include "qla/io/problem_files.hpp"

namespace qla::cli {
namespace {

struct RunOptions {
  std::vector<std::string> inputs;
  std::vector<std::string> outputs;
  std::string algorithm = "fused";
  std::vector<std::string> configs;
  std::string cp = "auto";
  int cp_piece_chunks = 0;
  float cp_threshold = -10.f;
};

// One batch through `plan`; outputs staged into `outputs` (they appear together or not at all,
// replacing an earlier run's folder whole).
void run_batch(const gdn::Plan& plan, const cuda::DeviceBuffer& ws, const gdn::ProblemDir& in,
               const std::string& outputs) {
  const gdn::Problem& p = in.problem;
  gdn::DeviceProblem d = gdn::DeviceProblem::from(p, in.tensors);
  d.poison_outputs();  // NaN: anything not written shows
  const gdn::Status s = gdn::forward(d.args, plan, ws.get(), nullptr);
  if (s.code == gdn::Status::Code::kInvalidArgument) throw UserError(s.message);
  if (!s.ok())
    throw ApiError("qla run", std::string(gdn::status_code_name(s.code)) + ": " + s.message);
  QLA_CUDA_CHECK(cudaDeviceSynchronize());
  if (const gdn::Status c = gdn::call_status(plan, ws.get()); !c.ok()) throw UserError(c.message);
  Tensor o_host(p.qkv_dtype, {p.batch, p.tokens, p.h_v, p.v_dim});
  QLA_CUDA_CHECK(cudaMemcpy(o_host.data(), d.o.get(), o_host.nbytes(), cudaMemcpyDeviceToHost));
  gdn::StagedDir staged(outputs);
  write_npy(staged.path() / "o.npy", o_host);
  if (p.final_state) {
    Tensor ht_host(DType::kF32, {p.num_sequences(), p.h_v, p.k_dim, p.v_dim});
    QLA_CUDA_CHECK(
        cudaMemcpy(ht_host.data(), d.ht.get(), ht_host.nbytes(), cudaMemcpyDeviceToHost));
    write_npy(staged.path() / "ht.npy", ht_host);
  }
  staged.commit();
}

int run(const RunOptions& o) {
  // Everything the user got wrong (flags, input files) is reported before the GPU is looked at, so
  // bad input is exit 2 on any machine.
  gdn::PlanOptions options;
  const auto algorithm = gdn::parse_algorithm(o.algorithm);
  if (!algorithm)
    throw UserError("--algorithm must be fused, unfused or naive (got " + o.algorithm + ")");
  options.algorithm = *algorithm;
  options.cp = o.cp == "on"         ? gdn::CpMode::kOn
               : o.cp == "off"      ? gdn::CpMode::kOff
               : o.cp == "flashqla" ? gdn::CpMode::kFlashQla
                                    : gdn::CpMode::kAuto;
  if (o.cp_piece_chunks < 0) {
    throw UserError("--cp-piece-chunks must be >= 0 (0 = the CP rule's), got " +
                    std::to_string(o.cp_piece_chunks));
  }
  options.cp_piece_chunks = o.cp_piece_chunks;
  options.cp_threshold = o.cp_threshold;
  for (const auto& c : o.configs) {
    try {
      gdn::force_config(options, c);
    } catch (const UserError& e) {
      throw UserError(std::string("--") + e.what());
    }
  }

  if (o.inputs.size() != o.outputs.size()) {
    throw UserError("--inputs and --outputs must name as many folders (" +
                    std::to_string(o.inputs.size()) + " inputs, " +
                    std::to_string(o.outputs.size()) + " outputs)");
  }
  gdn::ReadOptions read;
  read.allow_padding = true;
  std::vector<gdn::ProblemDir> batches;
  for (const std::string& dir : o.inputs) {
    batches.push_back(gdn::read_problem_dir(dir, read));
    const gdn::Problem& first = batches.front().problem;
    const gdn::Problem& p = batches.back().problem;
    if (p.class_label() != first.class_label()) {
      throw UserError("--inputs " + dir + " is of another shape class than " + o.inputs.front() +
                      " (" + p.class_label() + " vs " + first.class_label() +
                      "); one run serves one class");
    }
    options.max_rows = std::max<long long>(options.max_rows, p.total_tokens());
    options.max_sequences = std::max<long long>(options.max_sequences, p.num_sequences());
  }
  const auto device = cuda::current_device();
  if (!device) {
    std::fprintf(stderr, "qla run: no usable GPU on this machine\n");
    return 1;
  }
  // The plan is made once, from the first batch, with room for the largest.
  const gdn::Problem& first = batches.front().problem;
  const gdn::Plan plan = gdn::make_plan(first, *device, options);
  if (!plan.not_implemented_reason().empty()) {
    throw UserError(std::string("--algorithm ") + o.algorithm + ": " +
                    plan.not_implemented_reason());
  }
  const cuda::DeviceBuffer ws(plan.workspace_bytes());
  std::string labels;
  for (const auto& [kernel, label] : plan.config_labels()) labels += " " + kernel + "=" + label;
  std::printf("qla run: %s plan for %s on %s:%s cp_pieces=%d (up to %lld rows, %lld sequences)\n",
              gdn::algorithm_name(plan.algorithm()), first.class_label().c_str(),
              device->name.c_str(), labels.c_str(), plan.cp_pieces(), plan.max_rows(),
              plan.max_sequences());
  for (std::size_t i = 0; i < batches.size(); ++i) {
    run_batch(plan, ws, batches[i], o.outputs[i]);
    std::printf("qla run: %s -> %s\n", batches[i].problem.label().c_str(), o.outputs[i].c_str());
  }
  if (batches.size() > 1) std::printf("qla run: one plan served %zu batches\n", batches.size());
  return 0;
}

}  // namespace

void add_run_command(CLI::App& app) {
  auto opts = std::make_shared<RunOptions>();
  CLI::App* cmd = app.add_subcommand(
      "run", "Run the GDN forward on the GPU for .npy inputs; write o.npy, ht.npy");
  cmd->add_option(
         "--inputs", opts->inputs,
         "directories written by `qla generate`; several (one shape class) run on one plan")
      ->required();
  cmd->add_option("--outputs", opts->outputs,
                  "directories for o.npy and ht.npy, one per --inputs directory")
      ->required();
  cmd->add_option("--algorithm", opts->algorithm, "fused (default), unfused or naive");
  cmd->add_option("--config", opts->configs,
                  "KERNEL=LABEL (or a bare LABEL) forcing a kernel's config");
  cmd->add_option("--cp", opts->cp,
                  "context parallelism: on, off, auto (the untuned rule) or flashqla (FlashQLA's "
                  "SM90 rule)")
      ->check(CLI::IsMember({"on", "off", "auto", "flashqla"}));
  cmd->add_option(
      "--cp-piece-chunks", opts->cp_piece_chunks,
      "chunks per CP piece; 0 = the CP rule's (FlashQLA's with --cp flashqla, else twice it)");
  cmd->add_option("--cp-threshold", opts->cp_threshold,
                  "CP warm-up threshold on the summed log decay (-10)");
  cmd->callback([opts] { exit_code() = run(*opts); });
}

}  // namespace qla::cli
