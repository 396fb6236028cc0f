// The deployment side of the round trip: no store, no tuner. The configs come from the header `qla
// header` wrote (QLA_TUNED_HEADER, set by qla_add_tuned_kernels), whose non-default kernels were
// compiled ahead of time into this binary. Runs the GDN forward on a generated problem through
// qla_tuned::select and checks o and the final state against the float64 reference.
//
// Exit codes: 0 agreed with the reference; 1 it did not, or a kernel failed; 77 no usable GPU
// (skipped).
#include <cuda_runtime_api.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include QLA_TUNED_HEADER
#include "qla/cuda/check.hpp"
#include "qla/cuda/device_buffer.hpp"
#include "qla/cuda/device_info.hpp"
#include "qla/error.hpp"
#include "qla/error_metrics.hpp"
#include "qla/gdn/device_problem.hpp"
#include "qla/gdn/forward.hpp"
#include "qla/gdn/plan.hpp"
#include "qla/io/generate.hpp"
#include "qla/ref/gdn_reference.hpp"

namespace {

constexpr int kSkipped = 77;
constexpr double kTolerance = 0.005;  // relative Frobenius error vs float64: the project's bar

// Two packed sequences, 4096 tokens in all: not a tuned problem of the fixture, so the dispatcher
// answers with its nearest tuned neighbour (the 1×4096 row) and says so.
qla::gdn::Problem example_problem() {
  qla::gdn::Problem p;
  p.batch = 1;
  p.cu_seqlens = {0, 3000, 4096};
  p.tokens = 4096;
  p.h_qk = 2;
  p.h_v = 8;
  p.initial_state = true;
  p.final_state = true;
  return p;
}

template <int N>
void print_choice(const char* kernel, const qla_tuned::Choice<N>& c) {
  std::string values;
  for (int v : c.values) values += (values.empty() ? "" : ",") + std::to_string(v);
  std::printf("  %-16s {%s} %s", kernel, values.c_str(), qla_tuned::source_name(c.source));
  if (c.source != qla_tuned::Source::kDefault)
    std::printf(" (measured %.3f us on %s, distance %.2f)", c.measured_us, c.problem, c.distance);
  std::printf("\n");
}

int run() {
  const auto device = qla::cuda::current_device();
  if (!device) {
    std::printf("deploy example: no usable GPU, skipped\n");
    return kSkipped;
  }
  const qla::gdn::Problem p = example_problem();
  const qla_tuned::Selection sel =
      qla_tuned::select(p, device->arch.cc_major, device->arch.cc_minor);
  std::printf("deploy example: %s on %s (sm_%d%d)%s\n", p.label().c_str(), device->name.c_str(),
              device->arch.cc_major, device->arch.cc_minor,
              qla_tuned::kDefaultsOnly ? ", header has defaults only" : "");
  print_choice("gdn.fwd_plan", sel.fwd_plan);
  print_choice("gdn.kkt_solve", sel.kkt_solve);
  print_choice("gdn.fused_fwd", sel.fused_fwd);
  print_choice("gdn.fused_fwd_ws", sel.fused_fwd_ws);
  print_choice("gdn.state_pass", sel.state_pass);
  print_choice("gdn.state_pass_wgmma", sel.state_pass_wgmma);
  print_choice("gdn.unfused", sel.unfused);

  qla::gdn::PlanOptions options;
  options.algorithm = qla::gdn::Algorithm::kFused;
  for (const auto& [kernel, values] : sel.tuned_configs()) options.configs[kernel] = values;
  qla::gdn::Plan plan = qla::gdn::make_plan(p, *device, options);
  if (!plan.not_implemented_reason().empty()) {
    // The fused op plan may not run on this build or card; the unfused pipeline uses its own tuned
    // row.
    std::printf("  fused plan: %s; running the unfused pipeline\n",
                plan.not_implemented_reason().c_str());
    options.algorithm = qla::gdn::Algorithm::kUnfused;
    plan = qla::gdn::make_plan(p, *device, options);
    if (!plan.not_implemented_reason().empty()) {
      std::fprintf(stderr, "deploy example: %s\n", plan.not_implemented_reason().c_str());
      return 1;
    }
  }
  std::string labels;
  for (const auto& [kernel, label] : plan.config_labels()) labels += " " + kernel + "=" + label;
  std::printf("  plan: %s%s\n", qla::gdn::algorithm_name(plan.algorithm()), labels.c_str());

  qla::gdn::GenerateOptions gen;
  const qla::gdn::ProblemTensors t = qla::gdn::generate_inputs(p, gen);
  qla::gdn::DeviceProblem d = qla::gdn::DeviceProblem::from(p, t);
  d.poison_outputs();  // NaN: anything the kernels skip shows up
  qla::cuda::DeviceBuffer ws(plan.workspace_bytes());
  const qla::gdn::Status s = qla::gdn::forward(d.args, plan, ws.get(), nullptr);
  if (!s.ok()) {
    std::fprintf(stderr, "deploy example: forward: %s: %s\n", qla::gdn::status_code_name(s.code),
                 s.message.c_str());
    return 1;
  }
  QLA_CUDA_CHECK(cudaDeviceSynchronize());
  qla::Tensor o_host(p.qkv_dtype, {p.batch, p.tokens, p.h_v, p.v_dim});
  qla::Tensor ht_host(qla::DType::kF32, {p.num_sequences(), p.h_v, p.k_dim, p.v_dim});
  QLA_CUDA_CHECK(cudaMemcpy(o_host.data(), d.o.get(), o_host.nbytes(), cudaMemcpyDeviceToHost));
  QLA_CUDA_CHECK(cudaMemcpy(ht_host.data(), d.ht.get(), ht_host.nbytes(), cudaMemcpyDeviceToHost));

  const qla::ref::ForwardOutputs ref =
      qla::ref::forward_recurrent(qla::gdn::to_forward_inputs(p, t));
  const qla::ErrorMetrics e_o = qla::compare_outputs(o_host.to_doubles(), ref.o);
  const qla::ErrorMetrics e_ht = qla::compare_outputs(ht_host.to_doubles(), ref.ht);
  const double err_o = e_o.rel_fro, err_ht = e_ht.rel_fro;
  const bool ok = e_o.within(kTolerance) && e_ht.within(kTolerance);
  std::printf(
      "  rel. Frobenius error vs reference: o %.2e, final state %.2e (tolerance %.2g): %s\n", err_o,
      err_ht, kTolerance, ok ? "ok" : "FAILED");
  return ok ? 0 : 1;
}

}  // namespace

int main() {
  try {
    return run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "deploy example: %s\n", e.what());
    return 1;
  }
}
