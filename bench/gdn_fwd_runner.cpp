#include "gdn_fwd_runner.hpp"

#include <cuda_runtime_api.h>

#include <cstdint>
#include <sstream>
#include <utility>
#include <vector>

#include "qla/cuda/check.hpp"
#include "qla/cuda/device_buffer.hpp"
#include "qla/cuda/device_info.hpp"
#include "qla/cuda/kernel_catalog.hpp"
#include "qla/error.hpp"
#include "qla/gdn/device_problem.hpp"
#include "qla/gdn/forward.hpp"
#include "qla/gdn/fused_fwd.hpp"
#include "qla/gdn/plan.hpp"
#include "qla/io/generate.hpp"
#include "qla/ref/gdn_reference.hpp"
#include "qla/tuner/gdn_adapter.hpp"
#include "qla/tuner/lookup.hpp"
#include "qla/tuner/store.hpp"

namespace qla::bench {
namespace {

/// Inputs and outputs of one problem on the device: `seed`'s inputs of `distribution`.
gdn::DeviceProblem bench_inputs(const gdn::Problem& p, std::uint64_t seed,
                                gdn::Distribution distribution) {
  gdn::GenerateOptions gen;
  gen.distribution = distribution;
  gen.seed = seed;
  return gdn::DeviceProblem::from(p, gdn::generate_inputs(p, gen));
}

/// Host copies of the outputs: o as raw bf16 bits, ht fp32.
struct HostOutputs {
  std::vector<std::uint16_t> o;
  std::vector<float> ht;
};

/// A plan ready to run, with its workspace.
struct Prepared {
  gdn::Plan plan;
  cuda::DeviceBuffer workspace;
  std::map<std::string, std::string> provenance;
  Validation validation;
  std::string skipped;  ///< non-empty: this implementation cannot be timed on this shape
};

std::string status_text(const gdn::Status& s) {
  return std::string(gdn::status_code_name(s.code)) + ": " + s.message;
}

/// The call's arguments with its work lists from `lists`; with kPrepared the lists are built into
/// the plan's workspace first (on `stream`). Empty, or the failed status's text.
std::string call_args(const gdn::DeviceProblem& d, const Prepared& p, gdn::Lists lists,
                      cudaStream_t stream, gdn::ForwardArgs& args) {
  args = d.args;
  if (lists == gdn::Lists::kPrepared) {
    if (const gdn::Status s = gdn::prepare_lists(args, p.plan, p.workspace.get(), stream); !s.ok())
      return status_text(s);
    args.lists = gdn::Lists::kPrepared;
  }
  return {};
}

/// Poisons the outputs, runs the forward once (its work lists from `lists`) and copies the outputs
/// back. Returns the failed status's text, or empty on success.
std::string run_once(gdn::DeviceProblem& d, const Prepared& p, gdn::Lists lists,
                     cudaStream_t stream, HostOutputs& out) {
  gdn::ForwardArgs args;
  if (std::string why = call_args(d, p, lists, stream, args); !why.empty()) return why;
  QLA_CUDA_CHECK(
      cudaMemsetAsync(d.o.get(), 0xff, d.o.bytes(), stream));  // bf16 0xffff and fp32 ~0 are NaN
  QLA_CUDA_CHECK(cudaMemsetAsync(d.ht.get(), 0xff, d.ht.bytes(), stream));
  const gdn::Status s = gdn::forward(args, p.plan, p.workspace.get(), stream);
  if (!s.ok()) return status_text(s);
  QLA_CUDA_CHECK(cudaStreamSynchronize(stream));
  QLA_CUDA_CHECK(cudaGetLastError());
  if (const gdn::Status c = gdn::call_status(p.plan, p.workspace.get()); !c.ok())
    return status_text(c);
  out.o.resize(d.o_elements());
  out.ht.resize(d.ht_elements());
  QLA_CUDA_CHECK(cudaMemcpy(out.o.data(), d.o.get(), out.o.size() * sizeof(std::uint16_t),
                            cudaMemcpyDeviceToHost));
  QLA_CUDA_CHECK(
      cudaMemcpy(out.ht.data(), d.ht.get(), out.ht.size() * sizeof(float), cudaMemcpyDeviceToHost));
  return {};
}

/// "failed validation against X (o: rel 0.031, 0 non-finite; ht: rel 0.002, 0 non-finite; bound
/// 0.005)".
std::string validation_failure(const Validation& v) {
  std::ostringstream os;
  os << "failed validation against " << v.against << " (o: rel " << v.o.rel_fro << ", "
     << v.o.non_finite << " non-finite; ht: rel " << v.ht.rel_fro << ", " << v.ht.non_finite
     << " non-finite; bound " << v.tolerance << ")";
  return os.str();
}

std::vector<float> widen(const std::vector<std::uint16_t>& bits) {
  std::vector<float> out(bits.size());
  for (std::size_t i = 0; i < bits.size(); ++i) out[i] = bf16_to_float(bits[i]);
  return out;
}

std::vector<float> narrow(const std::vector<double>& x) {
  return std::vector<float>(x.begin(), x.end());
}

}  // namespace

struct GdnFwdRunner::Impl {
  RunnerOptions options;
  tuner::DeviceFingerprint fingerprint;
  cuda::DeviceInfo device;
  tuner::Measurer measurer;
  std::shared_ptr<tuner::Lookup> lookup;  // null without a store

  // The loaded shape: inputs, the naive outputs every implementation is checked against, and the
  // plans.
  std::optional<Shape> shape;
  std::unique_ptr<gdn::DeviceProblem> data;
  HostOutputs naive_out;
  std::map<std::string, Prepared> prepared;
  // Naive vs the float64 reference, once per head configuration ("2x8" → validation).
  std::map<std::string, Validation> naive_checks;

  explicit Impl(RunnerOptions o)
      : options(std::move(o)),
        fingerprint(tuner::read_fingerprint(options.device)),
        device(open_device(options.device)),
        measurer(options.device, options.measure) {
    if (!options.db.empty()) open_store();
  }

  static cuda::DeviceInfo open_device(int ordinal) {
    QLA_CUDA_CHECK(cudaSetDevice(ordinal));
    auto d = cuda::current_device();
    QLA_REQUIRE(d.has_value(), "--device: CUDA device " << ordinal << " is not usable");
    return *d;
  }

  void open_store() {
    const tuner::Store store = tuner::Store::open(options.db, tuner::Store::Mode::kReadOnly);
    lookup = tuner::gdn_lookup(store, fingerprint, device.arch);
  }

  /// The chunk-forward family of an implementation named "qla:<family id>", else nullptr.
  static const SpaceDecl* variant_space(const std::string& impl) {
    const std::string prefix = "qla:";
    if (impl.compare(0, prefix.size(), prefix) != 0) return nullptr;
    return gdn::fused_fwd_family_space(impl.substr(prefix.size()));
  }

  gdn::PlanOptions plan_options(const std::string& impl) const {
    gdn::PlanOptions o;
    o.programmatic_dependent_launch = options.pdl;
    o.cp_programmatic_launches = options.pdl_cp;
    o.configs = options.configs;
    if (impl == kImplTuned) {
      o.algorithm = gdn::Algorithm::kFused;
      o.lookup = tuner::make_config_hook(lookup);
    } else if (impl == kImplDefault) {
      o.algorithm = gdn::Algorithm::kFused;
    } else if (impl == kImplUnfused) {
      o.algorithm = gdn::Algorithm::kUnfused;
    } else if (impl == kImplNaive) {
      o.algorithm = gdn::Algorithm::kNaive;
    } else if (const SpaceDecl* space = variant_space(impl)) {
      // "qla:<chunk-forward family>": the fused op with that variant's default config.
      o.algorithm = gdn::Algorithm::kFused;
      o.configs.emplace(space->kernel, space->default_point);  // unless --config forced another
    } else {
      throw UserError("--impls: unknown implementation '" + impl +
                      "' (qla-tuned, qla-default, unfused, naive, or qla:<chunk-forward family> "
                      "such as qla:gdn.fused_fwd_wgmma)");
    }
    return o;
  }

  /// A plan for `impl` on `problem`, with its workspace; `skipped` says why it cannot run.
  Prepared make(const std::string& impl, const gdn::Problem& problem) const {
    Prepared p;
    if (impl == kImplTuned && !lookup) {
      p.skipped = "no tuning store (--db)";
      return p;
    }
    p.plan = gdn::make_plan(problem, device, plan_options(impl));
    if (!p.plan.not_implemented_reason().empty()) {
      p.skipped = "not implemented: " + p.plan.not_implemented_reason();
      return p;
    }
    p.workspace = cuda::DeviceBuffer(p.plan.workspace_bytes());
    if (impl == kImplTuned) {
      for (const auto& [kernel, label] : p.plan.config_labels()) {
        try {
          const tuner::LookupResult r = lookup->find(kernel, problem);
          p.provenance[kernel] = std::string(tuner::provenance_name(r.provenance));
        } catch (const UserError&) {
          p.provenance[kernel] = "not in the catalog";  // a plan knob the lookup was not given
        }
      }
      if (found_no_tuned_rows(p.provenance))
        p.skipped =
            "the store has no tuned row for this build's kernels near this problem (every lookup "
            "fell "
            "back to the heuristics: the plan is qla-default's); re-tune with qla tune";
    }
    return p;
  }

  void load(const Shape& s) {
    // Release the previous shape's buffers before allocating the next; `shape` names the loaded
    // shape only once everything below succeeded, so a failure here (out of memory) is retried,
    // never half-used.
    shape.reset();
    prepared.clear();
    data.reset();
    naive_out = {};
    data = std::make_unique<gdn::DeviceProblem>(
        bench_inputs(forward_problem(s), options.seed, options.distribution));
    Prepared naive = make(kImplNaive, data->problem);  // the reference: lists built in its call
    if (naive.skipped.empty()) {
      if (std::string why =
              run_once(*data, naive, gdn::Lists::kBuild, measurer.stream(), naive_out);
          !why.empty()) {
        naive.skipped = "naive kernel failed: " + why;
      }
    }
    prepared.emplace(kImplNaive, std::move(naive));
    shape = s;
  }

  /// Naive vs the float64 reference on a short problem of `heads`: two sequences, both ending in a
  /// partial chunk.
  Validation check_naive(const HeadConfig& heads) {
    if (auto it = naive_checks.find(heads.name()); it != naive_checks.end()) return it->second;
    const Shape small{heads, {"130+61", {130, 61}}};
    const gdn::Problem p = forward_problem(small);
    gdn::GenerateOptions gen;
    gen.distribution = options.distribution;
    gen.seed = options.seed;
    const gdn::ProblemTensors t = gdn::generate_inputs(p, gen);
    gdn::DeviceProblem d = gdn::DeviceProblem::from(p, t);
    const Prepared plan = make(kImplNaive, p);
    Validation v;
    v.against = "reference-fp64:" + p.label();
    v.tolerance = options.tolerance;
    HostOutputs out;
    std::string why = plan.skipped;
    if (why.empty()) why = run_once(d, plan, gdn::Lists::kBuild, measurer.stream(), out);
    if (!why.empty()) {
      v.o.non_finite = v.ht.non_finite = -1;  // never passes
      v.against += " (naive did not run: " + why + ")";
    } else {
      const ref::ForwardOutputs r = ref::forward_recurrent(gdn::to_forward_inputs(p, t));
      v.o = compare_f32(widen(out.o), narrow(r.o));
      v.ht = compare_f32(out.ht, narrow(r.ht));
    }
    naive_checks[heads.name()] = v;
    return v;
  }

  /// Prepares and validates `impl` on the loaded shape (once).
  Prepared& prepare(const std::string& impl) {
    if (auto it = prepared.find(impl); it != prepared.end()) {
      if (impl == kImplNaive && it->second.skipped.empty() &&
          it->second.validation.against.empty()) {
        it->second.validation = check_naive(shape->heads);
        if (!it->second.validation.passed())
          it->second.skipped = validation_failure(it->second.validation);
      }
      return it->second;
    }
    // Every other implementation is checked against the naive kernel's outputs, so those must exist
    // and the naive kernel must itself have passed its float64 check.
    const Prepared& naive = prepare(kImplNaive);
    Prepared p = make(impl, data->problem);
    if (p.skipped.empty() && !naive.skipped.empty())
      p.skipped = "no trusted naive outputs (" + naive.skipped + ")";
    if (p.skipped.empty()) {
      HostOutputs out;
      if (std::string why = run_once(*data, p, options.lists, measurer.stream(), out);
          !why.empty()) {
        p.skipped = "forward failed: " + why;
      } else {
        p.validation.against = kImplNaive;
        p.validation.tolerance = options.tolerance;
        p.validation.o = compare_bf16(out.o, naive_out.o);
        p.validation.ht = compare_f32(out.ht, naive_out.ht);
        if (!p.validation.passed()) p.skipped = validation_failure(p.validation);
      }
    }
    return prepared.emplace(impl, std::move(p)).first->second;
  }
};

GdnFwdRunner::GdnFwdRunner(RunnerOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}
GdnFwdRunner::~GdnFwdRunner() = default;

const tuner::DeviceFingerprint& GdnFwdRunner::fingerprint() const { return impl_->fingerprint; }
bool GdnFwdRunner::has_store() const { return impl_->lookup != nullptr; }
std::string GdnFwdRunner::timer_status() const {
  return impl_->measurer.cupti_active() ? "cupti"
                                        : "events (" + impl_->measurer.cupti_status() + ")";
}

Outcome GdnFwdRunner::run(const Shape& shape, const std::string& implementation,
                          const std::string& mode, const Ceilings& ceilings) {
  Impl& m = *impl_;
  QLA_REQUIRE(mode == kModeGraph || mode == kModeCold,
              "--modes: unknown mode '" << mode << "' (graph, cold)");
  if (!m.shape || m.shape->name() != shape.name()) m.load(shape);
  Prepared& p = m.prepare(implementation);
  Outcome out;
  if (!p.skipped.empty()) {
    out.skipped = p.skipped;
    return out;
  }
  bool failed = false;
  std::string failure;
  gdn::DeviceProblem& d = *m.data;
  gdn::ForwardArgs args;  // with prepared lists, built here once, outside the timed calls
  if (std::string why = call_args(d, p, m.options.lists, m.measurer.stream(), args); !why.empty()) {
    out.skipped = "forward failed: " + why;
    return out;
  }
  QLA_CUDA_CHECK(cudaStreamSynchronize(m.measurer.stream()));
  const tuner::OpFn op = [&](cudaStream_t stream) {
    const gdn::Status s = gdn::forward(args, p.plan, p.workspace.get(), stream);
    if (!s.ok() && !failed) {
      failed = true;
      failure = status_text(s);
    }
  };
  Row row;
  row.shape = shape;
  row.implementation = implementation;
  row.mode = mode;
  if (mode == kModeCold) {
    const tuner::MeasureResult r = m.measurer.measure(op);
    row.ms = r.time.median_us * 1e-3;
    row.ms_min = r.time.min_us * 1e-3;
    row.ms_max = r.time.max_us * 1e-3;
    row.samples = r.time.samples;
    row.noise = r.time.noise;
    row.used_cupti = r.used_cupti;
    for (const tuner::KernelTime& k : r.kernels)
      row.kernels_us.emplace_back(kernel_base_name(k.name), k.median_us);
  } else {
    const tuner::GraphResult r =
        m.measurer.measure_graph(op, m.options.graph_rep_ms, m.options.graph_replays);
    row.ms = r.mean_us * 1e-3;
    row.samples = r.replays;
    row.calls_per_replay = r.calls_per_replay;
    for (const tuner::KernelMean& k : r.kernels)
      row.kernels_us.emplace_back(kernel_base_name(k.name), k.mean_us);
  }
  if (failed || row.ms <= 0) {
    out.skipped = failed ? "forward failed while timing: " + failure : "measured no time";
    return out;
  }
  row.configs = p.plan.config_labels();
  row.provenance = p.provenance;
  row.cp_pieces = p.plan.cp_pieces();
  row.validation = p.validation;
  row.rates = rates_for(shape, row.ms, ceilings);
  out.row = std::move(row);
  return out;
}

}  // namespace qla::bench
