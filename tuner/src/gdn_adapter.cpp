// The real-kernel adapter: compile through the NVRTC compiler, run through qla::gdn::make_plan /
// forward with the candidate's config forced, validate against qla::ref, time with the measurement
// core.
#include "qla/tuner/gdn_adapter.hpp"

#include <cuda_runtime.h>

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>
#include <string_view>
#include <thread>

#include "qla/cuda/device_buffer.hpp"
#include "qla/cuda/device_info.hpp"
#include "qla/cuda/embedded_sources.hpp"
#include "qla/cuda/kernel_catalog.hpp"
#include "qla/cuda/nvrtc_compiler.hpp"
#include "qla/error.hpp"
#include "qla/error_metrics.hpp"
#include "qla/gdn/cp.hpp"
#include "qla/gdn/cumsum.hpp"
#include "qla/gdn/device_problem.hpp"
#include "qla/gdn/forward.hpp"
#include "qla/gdn/fused_fwd.hpp"
#include "qla/gdn/fused_fwd_ws.hpp"
#include "qla/gdn/kkt_solve.hpp"
#include "qla/gdn/plan.hpp"
#include "qla/hash.hpp"
#include "qla/io/generate.hpp"
#include "qla/io/tensor.hpp"
#include "qla/ref/gdn_reference.hpp"
#include "qla/tuner/problem_json.hpp"
#include "qla/tuner/suites.hpp"
#include "qla/tuner/worker.hpp"

namespace qla::tuner {
namespace {

/// Whether the family fills a role of the fused forward op: those are what `qla tune` searches by
/// default.
bool in_forward_op(const cuda::KernelFamily& f) {
  return std::find(std::begin(gdn::kFusedForwardRoles), std::end(gdn::kFusedForwardRoles),
                   f.role) != std::end(gdn::kFusedForwardRoles);
}

bool is_cp_role(const std::string& role) {
  return std::find(std::begin(gdn::kCpRoles), std::end(gdn::kCpRoles), role) !=
         std::end(gdn::kCpRoles);
}

bool is_chunk_fwd(const std::string& kernel) {
  return gdn::fused_fwd_family_space(kernel) != nullptr;
}

bool is_state_pass(const std::string& kernel) {
  return std::find_if(std::begin(gdn::kStatePassVariants), std::end(gdn::kStatePassVariants),
                      [&](const char* id) { return *id != '\0' && kernel == id; }) !=
         std::end(gdn::kStatePassVariants);
}

bool shares_chunk(const std::string& kernel) {
  return std::find(std::begin(gdn::kChunkSharingKernels), std::end(gdn::kChunkSharingKernels),
                   kernel) != std::end(gdn::kChunkSharingKernels);
}

/// How a trial is timed. Part of every trial's identity (through family_source_hash): trials timed
/// another way are not resumed as if they were comparable.
constexpr std::string_view kTrialTiming =
    "op span (CUPTI) of a one-call CUDA graph, L2 scrubbed before each sample, median";

/// Hash of every device source any point of the family compiles (a family may pick its kernel by
/// config, as gdn.fused_fwd does by register split), of kTrialTiming and of the untuned op its
/// trials run in (gdn::untuned_op_signature of the target), so an edit to any of them starts a
/// fresh set of trials.
std::string family_source_hash(const cuda::KernelFamily& f, const std::string& untuned_op) {
  std::set<std::string> sources;
  for (const Point& p : f.space->enumerate())
    for (const cuda::KernelSpec& s : f.specs(p)) sources.insert(s.source);
  Fnv1a h;
  for (const std::string& s : sources) h.u64(cuda::source_hash(s));
  h.bytes(kTrialTiming.data(), kTrialTiming.size());
  h.bytes(untuned_op.data(), untuned_op.size());
  return hex64(h.value());
}

// ---- inputs (FlashQLA's profiler/benchmark generator)
// ----------------------------------------------------------

/// The inputs of a problem: FlashQLA's benchmark distribution (qla::gdn::generate_inputs), so
/// tuning, the bench and `qla generate` all see the same tensors for the same seed.
gdn::ProblemTensors make_inputs(const gdn::Problem& p, std::uint64_t seed) {
  gdn::GenerateOptions opt;
  opt.distribution = gdn::Distribution::kBench;
  opt.seed = seed;
  return gdn::generate_inputs(p, opt);
}

/// The tuner's record of one output's error (qla/error_metrics.hpp computes it).
OutputError compare(const std::string& name, const std::vector<double>& x,
                    const std::vector<double>& ref) {
  const ErrorMetrics m = compare_outputs(x, ref);
  OutputError e;
  e.name = name;
  e.rel_fro = m.rel_fro;
  e.max_abs = m.max_abs;
  e.nan_count = m.non_finite;
  return e;
}

bool is_sticky(cudaError_t e) {
  switch (e) {
    case cudaErrorIllegalAddress:
    case cudaErrorLaunchFailure:
    case cudaErrorHardwareStackError:
    case cudaErrorIllegalInstruction:
    case cudaErrorMisalignedAddress:
    case cudaErrorInvalidAddressSpace:
    case cudaErrorInvalidPc:
    case cudaErrorAssert:
    case cudaErrorLaunchTimeout:
    case cudaErrorECCUncorrectable:
      return true;
    default:
      return false;
  }
}

/// Runs candidates of the real kernels inside the worker.
class GdnBackend final : public TrialRunner {
 public:
  GdnBackend(int device, MeasureOptions options) : device_(device) {
    if (cudaSetDevice(device) != cudaSuccess)
      throw UserError("no CUDA GPU: cannot use device " + std::to_string(device));
    auto info = cuda::current_device();
    if (!info) throw UserError("no CUDA GPU: device " + std::to_string(device) + " unusable");
    info_ = *info;
    measurer_ = std::make_unique<Measurer>(device, options);
  }

  TrialResult run_trial(const TrialRequest& r) override {
    // Validation on a smaller problem of the same class: two sequences with partial chunks.
    const gdn::Problem vp = validation_problem(r.problem);
    TrialResult result;
    try {
      // The timed problem's plan (its CP decision, piece length and configs), with room for the
      // validation batch.
      gdn::Plan vplan = plan_for(r, r.problem, &vp);
      if (!vplan.not_implemented_reason().empty()) {
        result.status = TrialStatus::kInvalid;
        result.message = "cannot implement: " + vplan.not_implemented_reason();
        return result;
      }
      // The kernels are deterministic (repeats are bit-identical), so a plan validated on this
      // batch keeps its errors: problems of one class share the batch, and the same plan (every
      // kernel's config and the CP decision) comes back across them (transfer), so each is
      // validated once per worker.
      std::string vkey = problem_key(vp) + "|" + vp.class_label();
      for (const auto& [kernel, label] : vplan.config_labels()) vkey += "|" + kernel + "=" + label;
      vkey += "|cp" + std::to_string(vplan.cp_enabled() ? vplan.cp_piece_chunks() : 0);
      auto validate = [&] {
        auto it = validated_.find(vkey);
        if (it == validated_.end()) it = validated_.emplace(vkey, validate_on(vplan, vp)).first;
        return it->second;
      };
      auto measure = [&] {
        Prepared& full = prepare(r);
        const MeasureResult m = measurer_->measure(full.op);
        check_cuda("timed runs");
        return Measurement{m.time, m.kernels};
      };
      result = validate_then_measure(validate, measure);
    } catch (const WorkerMustExit&) {
      throw;
    } catch (const std::exception& e) {
      // An error raised inside the measurement core may have left the context unusable: then this
      // worker must not run another trial on it.
      if (const cudaError_t ce = cudaDeviceSynchronize(); is_sticky(ce))
        throw WorkerMustExit(std::string(e.what()) + " (context lost: " + cudaGetErrorName(ce) +
                             ")");
      cudaGetLastError();
      result.status = TrialStatus::kLaunchError;
      result.message = e.what();
    }
    return result;
  }

  double sample(const TrialRequest& r) override {
    Prepared& full = prepare(r);
    const double us = measurer_->sample(full.op);
    check_cuda("sample");
    return us;
  }

 private:
  struct Prepared {
    std::string key;
    gdn::Plan plan;
    cuda::DeviceBuffer workspace;
    std::unique_ptr<CapturedOp> graph;  ///< one call of the op, what `op` launches
    OpFn op;
  };

  // The plan of candidate `r` for problem `p`; with `also`, one that also serves that batch.
  gdn::Plan plan_for(const TrialRequest& r, const gdn::Problem& p,
                     const gdn::Problem* also = nullptr) {
    gdn::PlanOptions opt;
    opt.configs = gdn_trial_configs(r);
    if (also) {
      opt.max_rows = also->total_tokens();
      opt.max_sequences = also->num_sequences();
    }
    return gdn::make_plan(p, info_, opt);
  }

  gdn::DeviceProblem& data_for(const gdn::Problem& p) {
    const std::string key = problem_key(p) + "|" + p.class_label();  // dtypes, flags, scale too
    auto it = data_.find(key);
    if (it != data_.end()) return it->second;
    if (data_.size() >= 2) {  // keep device memory bounded: validation + one timed problem
      prepared_.reset();      // its op points into data_
      data_.clear();
    }
    return data_.emplace(key, gdn::DeviceProblem::from(p, make_inputs(p, 42))).first->second;
  }

  Prepared& prepare(const TrialRequest& r) {
    const std::string key = r.kernel + "|" + problem_key(r.problem) + "|" +
                            nlohmann::json(r.config).dump() + "|" +
                            nlohmann::json(r.members).dump();
    if (prepared_ && prepared_->key == key) return *prepared_;
    prepared_.reset();
    gdn::DeviceProblem& d = data_for(r.problem);
    auto p = std::make_unique<Prepared>(Prepared{key, plan_for(r, r.problem), {}, {}, {}});
    if (!p->plan.not_implemented_reason().empty())
      throw std::runtime_error("cannot implement: " + p->plan.not_implemented_reason());
    p->workspace = cuda::DeviceBuffer(p->plan.workspace_bytes());
    const gdn::Plan* plan = &p->plan;
    void* ws = p->workspace.get();
    const gdn::ForwardArgs* args = &d.args;
    const OpFn eager = [plan, ws, args](cudaStream_t s) {
      const gdn::Status st = gdn::forward(*args, *plan, ws, s);
      if (!st.ok()) throw std::runtime_error(std::string("forward: ") + st.message);
    };
    // Timed as a CUDA-graph deployment runs it (kTrialTiming): launched from the host one kernel
    // at a time, the op's span holds the host's launch gaps, 1.5x-3x the kernels' time on short
    // problems (an H200, 2026-11-29), and ranks plans by them. One eager call first loads and
    // configures every kernel outside the capture.
    eager(measurer_->stream());
    check_cuda("first call");
    p->graph = std::make_unique<CapturedOp>(eager, measurer_->stream());
    p->graph->launch(measurer_->stream());  // a graph's first launch is not its steady state
    check_cuda("first graph launch");
    const CapturedOp* graph = p->graph.get();
    p->op = [graph](cudaStream_t s) { graph->launch(s); };
    prepared_ = std::move(p);
    return *prepared_;
  }

  void check_cuda(const char* what) {
    const cudaError_t e = cudaDeviceSynchronize();
    if (e == cudaSuccess) return;
    const std::string msg =
        std::string(what) + ": " + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")";
    if (is_sticky(e)) throw WorkerMustExit(msg);
    cudaGetLastError();
    throw std::runtime_error(msg);
  }

  std::vector<OutputError> validate_on(const gdn::Plan& plan, const gdn::Problem& vp) {
    gdn::DeviceProblem& d = data_for(vp);
    const std::string key = problem_key(vp) + "|" + vp.class_label();
    if (!refs_.count(key)) {
      refs_[key] = ref::forward_recurrent(gdn::to_forward_inputs(vp, make_inputs(vp, 42)));
    }
    const ref::ForwardOutputs& want = refs_.at(key);
    // Poison the outputs: a config that skips a tile leaves NaN behind and fails.
    QLA_REQUIRE(cudaMemset(d.o.get(), 0xff, d.o.bytes()) == cudaSuccess, "poisoning o failed");
    QLA_REQUIRE(cudaMemset(d.ht.get(), 0xff, d.ht.bytes()) == cudaSuccess, "poisoning ht failed");
    cuda::DeviceBuffer ws(plan.workspace_bytes());
    const gdn::Status st = gdn::forward(d.args, plan, ws.get(), measurer_->stream());
    if (!st.ok()) throw std::runtime_error(std::string("forward: ") + st.message);
    check_cuda("validation run");
    if (const gdn::Status c = gdn::call_status(plan, ws.get()); !c.ok())
      throw std::runtime_error(std::string("forward: ") + c.message);
    Tensor o(vp.qkv_dtype, gdn::tensor_shape(vp, "o"));
    std::vector<float> ht(d.ht.bytes() / 4);
    QLA_REQUIRE(cudaMemcpy(o.data(), d.o.get(), d.o.bytes(), cudaMemcpyDeviceToHost) == cudaSuccess,
                "copy o");
    QLA_REQUIRE(
        cudaMemcpy(ht.data(), d.ht.get(), d.ht.bytes(), cudaMemcpyDeviceToHost) == cudaSuccess,
        "copy ht");
    std::vector<OutputError> errors = {compare("o", o.to_doubles(), want.o)};
    if (vp.final_state)  // else ht is not an output of the call (and stays poisoned)
      errors.push_back(compare("final_state", std::vector<double>(ht.begin(), ht.end()), want.ht));
    return errors;
  }

  int device_;
  cuda::DeviceInfo info_;
  std::unique_ptr<Measurer> measurer_;
  std::map<std::string, gdn::DeviceProblem> data_;
  std::map<std::string, ref::ForwardOutputs> refs_;
  std::map<std::string, std::vector<OutputError>>
      validated_;  ///< candidate + validation problem → its errors
  std::unique_ptr<Prepared> prepared_;
};

}  // namespace

std::vector<TunableKernel> gdn_tunable_kernels(const std::vector<std::string>& only,
                                               const ArchInfo& arch) {
  std::vector<TunableKernel> out;
  std::set<std::string> wanted(only.begin(), only.end());
  std::set<std::string> known;
  const std::string untuned_op = gdn::untuned_op_signature(arch);
  for (const cuda::KernelFamily& f : cuda::kernel_families()) {
    const std::string id = f.space->kernel;
    known.insert(id);
    // By default: the op's families with something to tune that build on this target.
    const bool pick = wanted.empty() ? in_forward_op(f) && f.space->size() > 1 &&
                                           !f.space->enumerate(&arch).empty()
                                     : wanted.count(id) > 0;
    if (!pick) continue;
    TunableKernel k;
    k.space = *f.space;
    k.source_hash = family_source_hash(f, untuned_op);
    k.role = f.role;
    if (is_cp_role(f.role))  // launched only where the untuned op runs CP
      k.launched = [arch](const gdn::Problem& p) { return gdn::untuned_op_runs_cp(p, arch); };
    if (shares_chunk(id) && !is_chunk_fwd(id)) {
      // In the op a chunk-sharing kernel runs only at a chunk size the plan has (gdn.cumsum also
      // builds C = 128, which no chunk forward consumes): its other points are not searched. The
      // space's hash, and so the identity of its trials, stays the family's.
      k.space.buildable = [family = *f.space](const Point& p, const ArchInfo& a) {
        const int c = value_of(family, p, "chunk");
        return std::find(std::begin(gdn::kFwdPlanChunkValues), std::end(gdn::kFwdPlanChunkValues),
                         c) != std::end(gdn::kFwdPlanChunkValues) &&
               family.is_buildable(p, a);
      };
    }
    if (is_chunk_fwd(id))
      k.baseline = [arch, id](const gdn::Problem& p) {
        return gdn::untuned_fused_point(id, p, arch);
      };
    if (id == gdn::CpCorrectFamily::kId)
      k.baseline = [arch](const gdn::Problem&) { return gdn::untuned_cp_correct_point(arch); };
    if (id == gdn::KktSolveFamily::kId)
      k.baseline = [](const gdn::Problem& p) { return gdn::untuned_kkt_solve_point(p); };
    auto specs = f.specs;
    k.compile = [specs, arch](const Point& p) {
      CompileResult r;
      try {
        for (const cuda::KernelSpec& s : specs(p)) {
          const cuda::CompiledKernel c = cuda::compile_kernel(s, arch);
          r.resources.registers = std::max(r.resources.registers, c.usage.registers);
          r.resources.smem_bytes = std::max(r.resources.smem_bytes, c.usage.static_smem);
          r.resources.spills = std::max(r.resources.spills, std::max(0, c.usage.spill_stores) +
                                                                std::max(0, c.usage.spill_loads));
        }
      } catch (const cuda::CompileError& e) {
        r.ok = false;
        r.message = std::string(e.what()) + "\n" + e.log().substr(0, 2000);
      }
      return r;
    };
    out.push_back(std::move(k));
  }
  // The op plan's runtime knobs (CP on/off/auto, piece length, warm-up threshold): nothing to
  // compile, and their trials are whole-op times like every kernel's. Their best values depend on
  // the kernels they steer, so the trials are keyed by those kernels' sources.
  const SpaceDecl& plan = gdn::fwd_plan_space();
  known.insert(plan.kernel);
  if (wanted.empty() || wanted.count(plan.kernel)) {
    Fnv1a h;  // each member's id and source hash, concatenated without separators
    for (const cuda::KernelFamily& f : cuda::kernel_families()) {
      if (!in_forward_op(f)) continue;
      const std::string id = f.space->kernel + family_source_hash(f, untuned_op);
      h.bytes(id.data(), id.size());
    }
    const std::string_view rules = gdn::kFwdPlanRules;  // what its untuned values resolve to
    h.bytes(rules.data(), rules.size());
    TunableKernel k;
    k.space = plan;
    k.source_hash = hex64(h.value());
    k.alternatives = [arch](const gdn::Problem& p) {
      std::vector<Point> points;
      if (auto other = gdn::other_cp_plan_point(p, arch)) points.push_back(std::move(*other));
      return points;
    };
    k.canonical = [arch](const gdn::Problem& p, const Point& point) {
      return gdn::canonical_plan_point(p, point, arch);
    };
    out.push_back(std::move(k));
  }
  for (const std::string& w : wanted)
    QLA_REQUIRE(known.count(w), "--kernels: unknown kernel '" << w << "'");
  return out;
}

std::function<Members(const gdn::Problem&, const Point&)> gdn_plan_members(
    const Store& store, const DeviceFingerprint& device, const ArchInfo& arch) {
  struct Member {
    KernelIdentity identity;
    SpaceDecl space;
    bool shares_chunk;
  };
  std::vector<Member> members;
  const std::string untuned_op = gdn::untuned_op_signature(arch);
  for (const cuda::KernelFamily& f : cuda::kernel_families()) {
    const SpaceDecl& sp = *f.space;
    if (!in_forward_op(f) || sp.size() <= 1) continue;
    members.push_back({{sp.kernel, family_source_hash(f, untuned_op), hex64(sp.hash())},
                       sp,
                       shares_chunk(sp.kernel)});
  }
  return [&store, device, members, arch](const gdn::Problem& problem, const Point& plan_point) {
    const gdn::FwdPlanConfig plan = gdn::FwdPlanConfig::from_point(plan_point);
    const int chunk = plan.chunk;
    // The chunk-forward role is filled by the plan's variant only (variant 0: the untuned op's
    // family).
    const std::string untuned_family = gdn::untuned_chunk_fwd_family(arch, chunk);
    const std::string chunk_fwd =
        plan.variant != 0 ? gdn::kChunkFwdVariants[plan.variant] : untuned_family;
    // The state pass likewise: the plan's state variant, or the untuned op's family at C.
    const std::string state_pass = plan.state_variant != 0
                                       ? gdn::kStatePassVariants[plan.state_variant]
                                       : gdn::untuned_state_pass_family(arch, chunk);
    Members out;
    for (const Member& m : members) {
      if (is_chunk_fwd(m.space.kernel) && m.space.kernel != chunk_fwd) continue;
      if (is_state_pass(m.space.kernel) && m.space.kernel != state_pass) continue;
      auto fits = [&](const Point& v) {
        return m.space.contains(v) && (!m.shares_chunk || value_of(m.space, v, "chunk") == chunk);
      };
      // Trials only: they never change once stored, while winners are rewritten when a plan adopts
      // its members, so choosing from winners would change the members (and the labels) of a rerun.
      std::optional<Point> pick;
      double best = 0;
      for (const TrialRecord& t : store.trials(device, m.identity, problem)) {  // ordered by label
        if (t.result.status != TrialStatus::kOk || !fits(t.values)) continue;
        if (!pick || t.result.time.median_us < best) {
          pick = t.values;
          best = t.result.time.median_us;
        }
      }
      const bool fused = is_chunk_fwd(m.space.kernel);
      const Point untuned =
          fused ? gdn::untuned_fused_point(m.space.kernel, problem, arch)
          : m.space.kernel == gdn::CpCorrectFamily::kId ? gdn::untuned_cp_correct_point(arch)
          : m.space.kernel == gdn::KktSolveFamily::kId  ? gdn::untuned_kkt_solve_point(problem)
                                                        : m.space.default_point;
      if (pick)
        out[m.space.kernel] = {m.identity, m.space.label(*pick), *pick, m.space.label(untuned),
                               m.space.kernel == untuned_family};
    }
    return out;
  };
}

std::shared_ptr<Lookup> gdn_lookup(const Store& store, const DeviceFingerprint& device,
                                   const ArchInfo& arch) {
  auto lookup = std::make_shared<Lookup>(device);
  std::vector<std::string> ids{gdn::fwd_plan_space().kernel};
  for (const cuda::KernelFamily& f : cuda::kernel_families()) ids.push_back(f.space->kernel);
  for (const TunableKernel& k : gdn_tunable_kernels(ids, arch))
    lookup->add_kernel(store, k.identity(), k.space);
  return lookup;
}

gdn::Problem validation_problem(const gdn::Problem& timed) {
  gdn::Problem vp = timed;  // the class: heads, dims, dtypes, flags, scale
  vp.batch = 1;
  vp.cu_seqlens = {0, 2048 + 37, 2048 + 37 + 515};
  vp.tokens = vp.cu_seqlens.back();
  return vp;
}

std::unique_ptr<TrialRunner> make_gdn_backend(int device, const MeasureOptions& options) {
  return std::make_unique<GdnBackend>(device, options);
}

ArchInfo gdn_arch_info(int device) {
  int current = 0;
  cudaGetDevice(&current);
  if (current != device) cudaSetDevice(device);
  const auto info = cuda::current_device();
  if (current != device) cudaSetDevice(current);
  if (!info) throw UserError("no CUDA GPU: device " + std::to_string(device) + " is not usable");
  return info->arch;
}

std::optional<ArchInfo> gdn_arch_of(const DeviceFingerprint& device) {
  ArchInfo cc;
  cc.cc_major = device.cc_major;
  cc.cc_minor = device.cc_minor;
  ArchInfo arch;
  try {
    arch = ArchInfo::named(cc.sm_name());
  } catch (const UserError&) {
    return std::nullopt;  // no target of that compute capability: nothing of this build runs there
  }
  arch.sm_count = device.sm_count;
  arch.l2_bytes = static_cast<int>(device.l2_bytes);
  return arch;
}

std::vector<ArchInfo> gdn_store_archs(const Store& store) {
  std::vector<ArchInfo> archs;
  for (const DeviceFingerprint& d : store.devices())
    if (auto a = gdn_arch_of(d)) archs.push_back(*a);
  archs.push_back(ArchInfo::named("sm_90a"));
  return archs;
}

std::vector<KernelIdentity> gdn_current_identities(const Store& store) {
  // Every family and the plan, whatever builds where: a family no card here builds is still
  // current.
  std::vector<std::string> ids{gdn::fwd_plan_space().kernel};
  for (const cuda::KernelFamily& f : cuda::kernel_families()) ids.push_back(f.space->kernel);
  std::vector<KernelIdentity> current;
  for (const ArchInfo& arch : gdn_store_archs(store))
    for (const TunableKernel& k : gdn_tunable_kernels(ids, arch)) current.push_back(k.identity());
  return current;
}

std::map<std::string, Point> gdn_trial_configs(const TrialRequest& r) {
  std::map<std::string, Point> configs = r.members;
  configs[r.kernel] = r.config;
  if (r.kernel != gdn::CumsumFamily::kId || configs.count(gdn::KktSolveFamily::kId)) return configs;
  gdn::KktSolveConfig kkt =
      gdn::KktSolveConfig::from_point(gdn::untuned_kkt_solve_point(r.problem));
  kkt.chunk = gdn::CumsumConfig::from_point(r.config).chunk;
  kkt.fuse_cumsum = 0;
  if (gdn::kkt_solve_space().contains(kkt.to_point()))  // C = 128 has no kkt_solve (nor a plan)
    configs[gdn::KktSolveFamily::kId] = kkt.to_point();
  return configs;
}

}  // namespace qla::tuner
