// make_plan: the configs of every kernel a problem class runs, the CP decision, the resolved
// kernels and the workspace layout (the call side is forward.cpp).
#include <algorithm>
#include <iterator>
#include <limits>
#include <optional>
#include <sstream>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "plan_impl.hpp"
#include "qla/cuda/kernel_catalog.hpp"
#include "qla/cuda/launcher.hpp"
#include "qla/error.hpp"
#include "qla/gdn/cp.hpp"
#include "qla/gdn/cumsum.hpp"
#include "qla/gdn/forward.hpp"
#include "qla/gdn/fused_fwd.hpp"
#include "qla/gdn/fused_fwd_wgmma.hpp"
#include "qla/gdn/fused_fwd_ws.hpp"
#include "qla/gdn/kkt_solve.hpp"
#include "qla/gdn/l2norm.hpp"
#include "qla/gdn/naive_fwd.hpp"
#include "qla/gdn/state_pass.hpp"
#include "qla/gdn/state_pass_wgmma.hpp"
#include "qla/gdn/unfused.hpp"
#include "qla/gdn/work_list.hpp"

namespace qla::gdn {

Plan::Plan() : impl_(std::make_unique<Impl>()) {}
Plan::~Plan() = default;
Plan::Plan(Plan&&) noexcept = default;
Plan& Plan::operator=(Plan&&) noexcept = default;
const Problem& Plan::problem() const { return impl_->problem; }
Algorithm Plan::algorithm() const { return impl_->algorithm; }
long long Plan::max_rows() const { return impl_->max_rows; }
long long Plan::max_sequences() const { return impl_->max_sequences; }
std::size_t Plan::workspace_bytes() const { return impl_->workspace; }
const std::string& Plan::not_implemented_reason() const { return impl_->not_implemented; }
const std::map<std::string, std::string>& Plan::config_labels() const { return impl_->labels; }
bool Plan::cp_enabled() const { return impl_->cp; }
int Plan::cp_pieces() const { return impl_->cp_pieces; }
int Plan::cp_piece_chunks() const { return impl_->cp_piece_chunks; }
float Plan::cp_threshold() const { return impl_->cp_threshold; }
int Plan::chunk() const { return impl_->chunk; }
const WorkListLayout& Plan::work_list_layout() const { return impl_->lists; }
const FusedWorkspaceLayout& Plan::fused_workspace() const { return impl_->fused_ws; }

const char* algorithm_name(Algorithm a) {
  switch (a) {
    case Algorithm::kFused:
      return "fused";
    case Algorithm::kUnfused:
      return "unfused";
    case Algorithm::kNaive:
      return "naive";
  }
  return "?";
}

std::optional<Algorithm> parse_algorithm(const std::string& name) {
  for (Algorithm a : {Algorithm::kFused, Algorithm::kUnfused, Algorithm::kNaive}) {
    if (name == algorithm_name(a)) return a;
  }
  return std::nullopt;
}

const char* status_code_name(Status::Code c) {
  switch (c) {
    case Status::Code::kOk:
      return "ok";
    case Status::Code::kNotImplemented:
      return "not_implemented";
    case Status::Code::kInvalidArgument:
      return "invalid_argument";
    case Status::Code::kLaunchError:
      return "launch_error";
  }
  return "?";
}

TokenTensor contiguous_tensor(void* data, long long tokens, int heads, int dim) {
  const long long row = static_cast<long long>(heads) * dim;
  return {data, tokens * row, row, dim};
}

TokenTensor contiguous_tensor(void* data, const Problem& p, int heads, int dim) {
  return contiguous_tensor(data, p.tokens, heads, dim);
}

void ForwardArgs::set_sequences(const Problem& p, const int* cu_device) {
  batch = p.batch;
  tokens = p.tokens;
  cu_seqlens = p.is_varlen() ? cu_device : nullptr;
  num_sequences = p.is_varlen() ? static_cast<int>(p.num_sequences()) : 0;
}

namespace {

// `space`'s point: an explicit config, else the looked-up one, else `untuned` (the family's
// default when null).
Point choose(const SpaceDecl& space, const Problem& problem, const cuda::DeviceInfo& device,
             const PlanOptions& options, const Point* untuned = nullptr) {
  if (auto it = options.configs.find(space.kernel); it != options.configs.end()) {
    QLA_REQUIRE(space.contains(it->second),
                "config " << space.label(it->second) << " is not a point of " << space.kernel);
    return it->second;
  }
  if (options.lookup) {
    if (auto p = options.lookup(space.kernel, problem, device.arch); p && space.contains(*p))
      return *p;
  }
  return untuned ? *untuned : space.default_point;
}

// `space`'s point for the fused path with its chunk axis at `chunk`: an explicit config must
// already use it (UserError otherwise); a looked-up one at another chunk size belongs to another
// tuning and is dropped; the untuned point (`untuned`, else the default) is moved to `chunk`.
Point choose_at_chunk(const SpaceDecl& space, int chunk, const Problem& problem,
                      const cuda::DeviceInfo& device, const PlanOptions& options,
                      const Point* untuned = nullptr) {
  Point p = choose(space, problem, device, options, untuned);
  const int c = value_of(space, p, "chunk");
  if (auto it = options.configs.find(space.kernel); it != options.configs.end()) {
    QLA_REQUIRE(c == chunk, "config " << space.label(p) << " of " << space.kernel
                                      << " has chunk size " << c << " but the chunk forward uses "
                                      << chunk);
    return p;
  }
  if (c != chunk) p = untuned ? *untuned : space.default_point;
  return with_value(space, p, "chunk", chunk);
}

// The gdn.fwd_plan point from `configs` (explicit) or the lookup, if any.
struct PlanPoint {
  std::optional<FwdPlanConfig> config;
  bool explicit_point = false;
};

PlanPoint find_plan_point(const Problem& problem, const cuda::DeviceInfo& device,
                          const PlanOptions& options) {
  const SpaceDecl& space = fwd_plan_space();
  if (auto it = options.configs.find(space.kernel); it != options.configs.end()) {
    QLA_REQUIRE(space.contains(it->second),
                "config " << space.label(it->second) << " is not a point of " << space.kernel);
    return {FwdPlanConfig::from_point(it->second), true};
  }
  if (options.lookup) {
    if (auto p = options.lookup(space.kernel, problem, device.arch); p && space.contains(*p))
      return {FwdPlanConfig::from_point(*p), false};
  }
  return {};
}

// The CP knobs: the gdn.fwd_plan point when there is one (a looked-up one only at chunk size
// `chunk`), else PlanOptions' fields; `label` is the plan's label at `chunk`.
void choose_cp_knobs(const PlanPoint& plan, int chunk, int variant, int state_variant,
                     const PlanOptions& options, CpMode& mode, int& piece_chunks, float& threshold,
                     std::string& label) {
  // A looked-up plan point tuned at another chunk size than the one used says nothing about this C.
  if (plan.config && (plan.explicit_point || plan.config->chunk == chunk)) {
    const FwdPlanConfig& c = *plan.config;
    mode = c.cp == 0   ? CpMode::kOff
           : c.cp == 1 ? CpMode::kOn
           : c.cp == 3 ? CpMode::kFlashQla
                       : CpMode::kAuto;
    piece_chunks = c.piece_chunks;
    threshold = -static_cast<float>(c.threshold);
    label = fwd_plan_space().label(c.to_point());
    return;
  }
  mode = options.cp;
  piece_chunks = options.cp_piece_chunks;
  threshold = options.cp_threshold;
  QLA_REQUIRE(piece_chunks >= 0,
              "cp_piece_chunks must be >= 0 (0 = FlashQLA's rule), got " << piece_chunks);
  std::ostringstream os;
  os << "c" << chunk << ".cp"
     << (mode == CpMode::kOff        ? 0
         : mode == CpMode::kOn       ? 1
         : mode == CpMode::kFlashQla ? 3
                                     : 2)
     << ".pc" << piece_chunks << ".th" << -threshold << ".v" << variant << ".sv" << state_variant;
  label = os.str();
}

long long chunk_count(const Problem& p, int chunk) {
  long long n = 0;
  for (long long i = 0; i < p.num_sequences(); ++i) n += (p.seq_length(i) + chunk - 1) / chunk;
  return n;
}

// The CP split of `problem` at chunk size `c` (and its chunks per piece), or nullopt when CP is off
// or would cut nothing.
std::optional<std::pair<CpSplit, int>> decide_cp(const Problem& problem, long long max_sequences,
                                                 int c, CpMode mode, int piece_option,
                                                 const ArchInfo& arch) {
  const bool want = mode == CpMode::kOn || (mode == CpMode::kAuto && cp_untuned_rule(problem, c)) ||
                    (mode == CpMode::kFlashQla && cp_flashqla_rule(problem, c));
  if (!want || max_sequences > 65535) return std::nullopt;  // cp_correct's grid z: sequences
  // Unset, the piece length follows the rule of the mode: FlashQLA's with FlashQLA's CP rule, else
  // qla's.
  const long long chunks = chunk_count(problem, c);
  const int l = piece_option > 0 ? piece_option
                : mode == CpMode::kFlashQla
                    ? cp_piece_chunks_heuristic(problem.h_v, chunks, arch.sm_count)
                    : cp_piece_chunks_untuned(problem.h_v, chunks, arch.sm_count);
  CpSplit split = cp_split(problem, l, c);
  if (!split.splits()) return std::nullopt;
  return std::make_pair(std::move(split), l);
}

// The chunks of each item the chunk forward launches (the CP pieces of `split`, else the
// sequences), in launch order, at chunk size `chunk`.
std::vector<std::int64_t> launched_item_chunks(const Problem& problem, const CpSplit* split,
                                               int chunk) {
  std::vector<std::int64_t> chunks;
  if (split) {
    for (std::size_t i = 0; i + 1 < split->cu.size(); ++i)
      chunks.push_back((split->cu[i + 1] - split->cu[i] + chunk - 1) / chunk);
  } else {
    for (std::int64_t n = 0; n < problem.num_sequences(); ++n)
      chunks.push_back((problem.seq_length(n) + chunk - 1) / chunk);
  }
  return chunks;
}

// The family's default at its untuned BV: the family's V-split rule (wgmma_block_v_rule for the
// wgmma variant, else fused_block_v_heuristic) for the items the plan launches (`split`'s pieces
// with CP, else the sequences), where that point still builds; a wider slice whose shared memory
// does not fit the default's input ring takes the deepest ring that does and still overlaps a load
// with a chunk (two stages or more), else the default stays.
Point with_untuned_block_v(const SpaceDecl& space, Point fused, const Problem& problem,
                           const CpSplit* split, const ArchInfo& arch) {
  const std::vector<std::int64_t> items =
      launched_item_chunks(problem, split, value_of(space, fused, "chunk"));
  const int bv = space.kernel == FusedFwdWgmmaFamily::kId
                     ? wgmma_block_v_rule(items, problem.h_v, arch.sm_count)
                     : fused_block_v_heuristic(static_cast<long long>(items.size()) * problem.h_v,
                                               arch.sm_count);
  const auto axis_named = [&](std::string_view name) {
    return std::find_if(space.axes.begin(), space.axes.end(),
                        [&](const Axis& a) { return a.name == name; });
  };
  const auto axis = axis_named("block_v");
  if (axis == space.axes.end() ||
      std::find(axis->values.begin(), axis->values.end(), bv) == axis->values.end())
    return fused;  // the family has no such V-slice width: its default stays
  const Point ruled = with_value(space, fused, "block_v", bv);
  if (space.is_buildable(ruled, arch)) return ruled;
  const auto stages = axis_named("stages");
  if (stages == space.axes.end()) return fused;
  const int deepest = value_of(space, ruled, "stages");
  std::vector<int> shallower;
  for (int s : stages->values)
    if (s >= 2 && s < deepest) shallower.push_back(s);
  std::sort(shallower.rbegin(), shallower.rend());
  for (int s : shallower) {
    const Point fits = with_value(space, ruled, "stages", s);
    if (space.is_buildable(fits, arch)) return fits;
  }
  return fused;
}

// The chunk size the configs ask for before the chunk forward is chosen (PlanOptions'
// precedence, plan.hpp): an explicit plan point's, an explicit chunk-sharing config's, a looked-up
// plan point's, else 64.
int requested_chunk(const PlanOptions& options, const PlanPoint& plan) {
  if (plan.config && plan.explicit_point) return plan.config->chunk;
  for (const char* id : kChunkSharingKernels) {
    const SpaceDecl* space = nullptr;
    for (const cuda::KernelFamily& f : cuda::kernel_families())
      if (f.space->kernel == id) space = f.space;
    auto it = options.configs.find(id);
    if (space && it != options.configs.end() && space->contains(it->second))
      return value_of(*space, it->second, "chunk");
  }
  return plan.config ? plan.config->chunk : 64;
}

// The family that fills the chunk-forward role (PlanOptions' precedence, plan.hpp).
const SpaceDecl& choose_chunk_fwd_family(const PlanOptions& options, const PlanPoint& plan,
                                         const ArchInfo& arch) {
  const int variant = plan.config ? plan.config->variant : 0;
  const std::string untuned = untuned_chunk_fwd_family(arch, requested_chunk(options, plan));
  std::vector<std::string> given;
  for (const char* id : kChunkFwdVariants)
    if (*id != '\0' && options.configs.count(id)) given.emplace_back(id);
  if (given.size() == 1) return *fused_fwd_family_space(given.front());
  if (given.size() > 1) {
    // Several variants given (a deployment header passes every tuned row): the plan's variant
    // picks, else the untuned op's.
    const std::string pick =
        plan.explicit_point && variant != 0 ? kChunkFwdVariants[variant] : untuned;
    QLA_REQUIRE(std::find(given.begin(), given.end(), pick) != given.end(),
                "configs for several chunk-forward variants given but none for " << pick);
    return *fused_fwd_family_space(pick);
  }
  return *fused_fwd_family_space(variant != 0 ? kChunkFwdVariants[variant] : untuned);
}

// The family that fills the CP state pass at chunk size `chunk` (PlanOptions' precedence, as for
// the chunk forward: an explicit config's family; several: the explicit plan point's state variant,
// else the untuned rule; else the plan point's state variant; else the untuned rule).
const SpaceDecl& choose_state_pass_family(const PlanOptions& options, const PlanPoint& plan,
                                          const ArchInfo& arch, int chunk) {
  // A looked-up plan point tuned at another C says nothing about this one (as for the CP knobs).
  const bool use_point = plan.config && (plan.explicit_point || plan.config->chunk == chunk);
  const int variant = use_point ? plan.config->state_variant : 0;
  const std::string untuned = untuned_state_pass_family(arch, chunk);
  auto space_of_id = [](const std::string& id) -> const SpaceDecl& {
    return id == StatePassWgmmaFamily::kId ? state_pass_wgmma_space() : state_pass_space();
  };
  std::vector<std::string> given;
  for (const char* id : kStatePassVariants)
    if (*id != '\0' && options.configs.count(id)) given.emplace_back(id);
  if (given.size() == 1) return space_of_id(given.front());
  if (given.size() > 1) {
    const std::string pick =
        plan.explicit_point && variant != 0 ? kStatePassVariants[variant] : untuned;
    QLA_REQUIRE(std::find(given.begin(), given.end(), pick) != given.end(),
                "configs for several state-pass variants given but none for " << pick);
    return space_of_id(pick);
  }
  if (variant == 0) return space_of_id(untuned);
  const SpaceDecl& named = space_of_id(kStatePassVariants[variant]);
  const auto& cs = named.axes[0].values;  // "chunk"
  const bool builds =
      std::find(cs.begin(), cs.end(), chunk) != cs.end() &&
      named.is_buildable(with_value(named, named.default_point, "chunk", chunk), arch);
  if (builds) return named;
  QLA_REQUIRE(!plan.explicit_point, "the gdn.fwd_plan point names " << named.kernel
                                                                    << ", which does not build at "
                                                                       "chunk size "
                                                                    << chunk << " on "
                                                                    << arch.sm_name());
  return space_of_id(untuned);  // a looked-up point from elsewhere: the untuned rule
}

// The shared chunk size C and the chunk-forward family's point at C (PlanOptions' precedence,
// plan.hpp); `given` is false when the point is the family's default (the plan applies the untuned
// BV rule to it).
Point choose_fused_at_shared_chunk(const SpaceDecl& fspace, const Problem& problem,
                                   const cuda::DeviceInfo& device, const PlanOptions& options,
                                   const PlanPoint& plan, bool& given) {
  Point fused_point = fspace.default_point;
  given = false;
  if (auto it = options.configs.find(fspace.kernel); it != options.configs.end()) {
    fused_point = choose(fspace, problem, device, options);
    const int c = value_of(fspace, fused_point, "chunk");
    QLA_REQUIRE(!plan.explicit_point || plan.config->chunk == c,
                "config " << fspace.label(fused_point) << " of " << fspace.kernel
                          << " has chunk size " << c << " but the gdn.fwd_plan config says "
                          << plan.config->chunk);
    given = true;
    return fused_point;
  }
  if (options.lookup) {
    if (auto p = options.lookup(fspace.kernel, problem, device.arch); p && fspace.contains(*p)) {
      fused_point = *p;
      given = true;
    }
  }
  std::optional<int> chunk;
  if (plan.config && plan.explicit_point) chunk = plan.config->chunk;
  for (const SpaceDecl* other :
       {&cumsum_space(), &kkt_solve_space(), &state_pass_space(), &state_pass_wgmma_space()}) {
    if (chunk) break;
    auto it = options.configs.find(other->kernel);
    if (it != options.configs.end() && !it->second.empty())
      chunk = value_of(*other, it->second, "chunk");
  }
  if (!chunk && plan.config) chunk = plan.config->chunk;
  if (!chunk || *chunk == value_of(fspace, fused_point, "chunk")) return fused_point;
  // A looked-up config at another chunk size belongs to another tuning: the default at C runs
  // instead.
  given = false;
  QLA_REQUIRE(fspace.contains(with_value(fspace, fspace.default_point, "chunk", *chunk)),
              fspace.kernel << " has no chunk size " << *chunk);
  const Point moved = with_value(fspace, fspace.default_point, "chunk", *chunk);
  QLA_REQUIRE(fspace.is_buildable(moved, device.arch),
              fspace.kernel << " has no buildable default with chunk size " << *chunk);
  return moved;
}

// The fused path: configs of every kernel (one chunk size C), the CP decision and split, kernels
// resolved, metadata uploaded, workspace laid out. Returns false (with im.not_implemented set) when
// it cannot run.
bool plan_fused(Plan::Impl& im, const cuda::DeviceInfo& device, const PlanOptions& options) {
  const Problem& problem = im.problem;
  // The fused kernels read g_cum (always fp32, from the cumsum kernel) and already-normalised q/k.
  Problem kernel_problem = problem;
  kernel_problem.gate_dtype = DType::kF32;
  kernel_problem.l2norm_qk = false;

  // The chunk forward first: its chunk size is everyone's. BV follows the V-split rule unless a
  // config was given.
  const PlanPoint plan_point = find_plan_point(problem, device, options);
  const SpaceDecl& fspace = choose_chunk_fwd_family(options, plan_point, device.arch);
  bool fused_given = false;
  const Point fused_point =
      choose_fused_at_shared_chunk(fspace, problem, device, options, plan_point, fused_given);
  im.fused = fused_fwd_config(fspace.kernel, fused_point);
  const int c = im.fused.chunk;
  CpMode mode = CpMode::kAuto;
  int piece_option = 0;
  std::string plan_label;
  const int variant =
      static_cast<int>(std::find_if(std::begin(kChunkFwdVariants), std::end(kChunkFwdVariants),
                                    [&](const char* id) { return fspace.kernel == id; }) -
                       std::begin(kChunkFwdVariants));
  const SpaceDecl& sspace = choose_state_pass_family(options, plan_point, device.arch, c);
  const int state_variant =
      static_cast<int>(std::find_if(std::begin(kStatePassVariants), std::end(kStatePassVariants),
                                    [&](const char* id) { return sspace.kernel == id; }) -
                       std::begin(kStatePassVariants));
  choose_cp_knobs(plan_point, c, variant, state_variant, options, mode, piece_option,
                  im.cp_threshold, plan_label);
  im.labels[fwd_plan_space().kernel] = plan_label;
  im.chunk = c;

  // CP: decided on the representative's sequences in chunks of C; on only where it really cuts a
  // sequence. Calls split their own sequences with the same piece length.
  const auto split = decide_cp(problem, im.max_sequences, c, mode, piece_option, device.arch);
  if (split) {
    im.cp = true;
    im.cp_pieces = split->first.pieces();
    im.cp_piece_chunks = split->second;
  }
  const bool cp = im.cp;
  if (!fused_given)
    im.fused = fused_fwd_config(fspace.kernel,
                                with_untuned_block_v(fspace, fused_point, problem,
                                                     split ? &split->first : nullptr, device.arch));
  im.labels[fspace.kernel] = fspace.label(im.fused.to_point());

  im.cumsum =
      CumsumConfig::from_point(choose_at_chunk(cumsum_space(), c, problem, device, options));
  const Point kkt_untuned = untuned_kkt_solve_point(problem);
  im.kkt = KktSolveConfig::from_point(
      choose_at_chunk(kkt_solve_space(), c, problem, device, options, &kkt_untuned));
  im.labels[cumsum_space().kernel] = cumsum_space().label(im.cumsum.to_point());
  im.labels[kkt_solve_space().kernel] = kkt_solve_space().label(im.kkt.to_point());
  if (cp) {
    im.state_on_wgmma = sspace.kernel == StatePassWgmmaFamily::kId;
    const Point state_point = choose_at_chunk(sspace, c, problem, device, options);
    if (im.state_on_wgmma)
      im.state_wgmma = qla::from_point<StatePassWgmmaFamily>(state_point);
    else
      im.state = StatePassConfig::from_point(state_point);
    im.labels[sspace.kernel] = sspace.label(state_point);
    const Point correct_untuned = untuned_cp_correct_point(device.arch);
    im.correct = CpCorrectConfig::from_point(
        choose(cp_correct_space(), problem, device, options, &correct_untuned));
    im.labels[cp_correct_space().kernel] = cp_correct_space().label(im.correct.to_point());
  }

  for (std::string why :
       {cumsum_can_implement(problem, im.cumsum), can_implement(kernel_problem, im.kkt),
        can_implement(kernel_problem, im.fused),
        !cp                 ? std::string()
        : im.state_on_wgmma ? can_implement(kernel_problem, im.state_wgmma)
                            : can_implement(kernel_problem, im.state)}) {
    if (!why.empty()) {
      im.not_implemented = why;
      return false;
    }
  }

  auto& cache = cuda::KernelCache::global();
  if (!im.kkt.fuse_cumsum)  // else kkt_solve writes g_cum
    im.cumsum_kernel = &cache.get(cumsum_spec(im.cumsum, false, problem.gate_dtype));
  im.kkt_kernel = &cache.get(kkt_solve_spec(im.kkt, problem.qkv_dtype, problem.beta_dtype));
  im.fused_kernel = &cache.get(fused_fwd_spec(im.fused, problem.qkv_dtype, problem.beta_dtype));
  if (cp) {
    im.state_kernel = &cache.get(
        im.state_on_wgmma
            ? state_pass_wgmma_spec(im.state_wgmma, problem.qkv_dtype, problem.beta_dtype)
            : state_pass_spec(im.state, problem.qkv_dtype, problem.beta_dtype));
    if (!im.state_on_wgmma)  // the wgmma state pass walks the warm-up windows itself
      im.warmup_kernel = &cache.get(cp_warmup_spec());
    im.correct_kernel = &cache.get(cp_correct_spec(im.correct));
  }
  // Programmatic dependent launch needs the GPU (sm_90+) and, in every kernel it chains, the
  // griddepcontrol.wait that code compiled for an older architecture (then JIT-ed) lacks.
  im.pdl = options.programmatic_dependent_launch && device.arch.cc_major >= 9;
  im.sm_count = device.arch.sm_count;
  // kkt_solve's persistent grid (b16): as many CTAs as the SMs hold at once (4 of c64.b16.w4 a SM,
  // 10 of c64.b16.w1 on an H200, whose shared memory bounds it).
  if (im.kkt_kernel && im.kkt.block == 16 && im.sm_count > 0)
    im.kkt_resident_ctas = im.sm_count * im.kkt_kernel->resident_ctas_per_sm(
                                             32 * im.kkt.warps, kkt_solve_smem_bytes(im.kkt));
  for (const cuda::Kernel* k : {im.cumsum_kernel, im.kkt_kernel, im.fused_kernel, im.state_kernel,
                                im.warmup_kernel, im.correct_kernel})
    if (k && k->ptx_version() < 90) im.pdl = false;
  // On the CP path only the launches the options name. Its side passes are small, latency-bound
  // grids (the correction walks the pieces serially, one CTA per head and value slice); launched
  // early, the next kernel's CTAs sit resident beside them and slow them: on an H200 (2026-11-29,
  // CUDA graph) with every launch chained the correction went from 133 to about 230 us at 2/8
  // 1x32768 and the op from 0.499 to 0.675 ms, while the path without CP gained 1-4 %.
  if (cp) {
    im.cp_pdl = im.pdl ? (options.cp_programmatic_launches & kCpLaunchAll) : 0u;
    im.pdl = false;
  }

  // Workspace after the l2norm copies and the work lists: g_cum, A_r, then the CP buffers of every
  // piece a call of the class can have.
  const auto rows = static_cast<std::size_t>(im.max_rows);
  const auto hv = static_cast<std::size_t>(problem.h_v);
  std::size_t at = im.algo_offset;
  auto take = [&at](std::size_t bytes) {
    const std::size_t off = at;
    at += align_up(bytes);
    return off;
  };
  FusedWorkspaceLayout& w = im.fused_ws;
  w.g_cum = take(rows * hv * sizeof(float));
  w.a_r = take(rows * hv * static_cast<std::size_t>(c) * dtype_size(problem.qkv_dtype));
  if (cp) {
    const auto ph =
        static_cast<std::size_t>(
            work_list_capacity(im.max_rows, im.max_sequences, c, im.cp_piece_chunks).max_pieces) *
        hv;
    const std::size_t state = 128 * 128 * sizeof(float);
    w.num_warmup = take(ph * sizeof(int));
    w.fallback = take(ph * sizeof(int));
    w.cp_ht = take(ph * state);
    w.cp_m = take(ph * state);
    w.cp_h0 = take(ph * state);
    w.cp_states = ph;
  }
  im.algo_bytes = at - im.algo_offset;
  return true;
}

// The work lists of the largest call after `at`; sets the workspace's total size.
void lay_out_work_lists(Plan::Impl& im, std::size_t at) {
  const WorkListCapacity cap =
      work_list_capacity(im.max_rows, im.max_sequences, im.chunk, im.piece_chunks_of_lists());
  auto take = [&at](std::size_t ints) {
    const std::size_t off = at;
    at += align_up(ints * sizeof(int));
    return off;
  };
  const auto n = static_cast<std::size_t>(im.max_sequences);
  const auto chunks = static_cast<std::size_t>(cap.max_chunks);
  const auto pieces = static_cast<std::size_t>(cap.max_pieces);
  WorkListLayout& l = im.lists;
  l.error = take(1);
  l.cu = take(n + 1);
  l.chunk_index = take(2 * chunks);
  l.chunk_offset = take(n + 1);
  if (im.piece_chunks_of_lists() > 0) {
    l.piece_cu = take(pieces + 1);
    l.piece_chunk_index = take(2 * chunks);
    l.piece_chunk_offset = take(pieces + 1);
    l.piece_is_last = take(pieces);
    l.ht_index = take(pieces);
    l.raw_first_piece = take(n + 1);
  }
  im.workspace = at;
}

}  // namespace

const char* untuned_chunk_fwd_family(const ArchInfo& arch, int chunk) {
  for (const SpaceDecl* space : {&fused_fwd_wgmma_space(), &fused_fwd_ws_space()}) {
    const auto& cs = space->axes[0].values;  // every chunk-forward family's first axis is "chunk"
    if (std::find(cs.begin(), cs.end(), chunk) == cs.end()) continue;
    if (space->is_buildable(with_value(*space, space->default_point, "chunk", chunk), arch))
      return space->kernel.c_str();
  }
  return FusedFwdFamily::kId;
}

const char* untuned_state_pass_family(const ArchInfo& arch, int chunk) {
  const SpaceDecl& w = state_pass_wgmma_space();
  const auto& cs = w.axes[0].values;  // "chunk"
  if (std::find(cs.begin(), cs.end(), chunk) != cs.end() &&
      w.is_buildable(with_value(w, w.default_point, "chunk", chunk), arch))
    return StatePassWgmmaFamily::kId;
  return StatePassFamily::kId;
}

Point untuned_fused_point(const std::string& kernel, const Problem& problem, const ArchInfo& arch) {
  const SpaceDecl* space = fused_fwd_family_space(kernel);
  QLA_REQUIRE(space != nullptr, kernel << " is not a chunk-forward family");
  const auto split =
      decide_cp(problem, problem.num_sequences(), value_of(*space, space->default_point, "chunk"),
                CpMode::kAuto, 0, arch);
  return with_untuned_block_v(*space, space->default_point, problem,
                              split ? &split->first : nullptr, arch);
}

bool untuned_op_runs_cp(const Problem& problem, const ArchInfo& arch) {
  return std::any_of(std::begin(kFwdPlanChunkValues), std::end(kFwdPlanChunkValues), [&](int c) {
    return decide_cp(problem, problem.num_sequences(), c, CpMode::kAuto, 0, arch).has_value();
  });
}

std::optional<Point> other_cp_plan_point(const Problem& problem, const ArchInfo& arch) {
  FwdPlanConfig c = FwdPlanConfig::from_point(fwd_plan_space().default_point);
  const auto cuts = [&](CpMode mode, int piece_chunks) {
    return decide_cp(problem, problem.num_sequences(), c.chunk, mode, piece_chunks, arch)
        .has_value();
  };
  if (cuts(CpMode::kAuto, 0)) {  // the untuned plan runs CP
    c.cp = 0;
    return c.to_point();
  }
  c.cp = 1;
  if (arch.sm_count > 0 && cuts(CpMode::kOn, 0)) return c.to_point();  // pc0: the untuned length
  for (auto l = std::rbegin(kFwdPlanPieceChunksValues); l != std::rend(kFwdPlanPieceChunksValues);
       ++l)
    if (*l > 0 && cuts(CpMode::kOn, *l)) {
      c.piece_chunks = *l;
      return c.to_point();
    }
  return std::nullopt;
}

Point canonical_plan_point(const Problem& problem, const Point& point, const ArchInfo& arch) {
  FwdPlanConfig c = FwdPlanConfig::from_point(point);
  const FwdPlanConfig d = FwdPlanConfig::from_point(fwd_plan_space().default_point);
  const CpMode mode = c.cp == 0   ? CpMode::kOff
                      : c.cp == 1 ? CpMode::kOn
                      : c.cp == 3 ? CpMode::kFlashQla
                                  : CpMode::kAuto;
  const auto decide = [&](CpMode m, int piece_chunks) {
    return decide_cp(problem, problem.num_sequences(), c.chunk, m, piece_chunks, arch);
  };
  if (c.variant != 0 &&
      std::string(kChunkFwdVariants[c.variant]) == untuned_chunk_fwd_family(arch, c.chunk))
    c.variant = 0;
  const auto split = decide(mode, c.piece_chunks);
  if (!split) {
    c.cp = decide(CpMode::kAuto, 0) ? 0 : 2;
    c.piece_chunks = d.piece_chunks;
    c.threshold = d.threshold;
    c.state_variant = d.state_variant;
    return c.to_point();
  }
  const int l = split->second;
  if (c.state_variant != 0 &&
      std::string(kStatePassVariants[c.state_variant]) == untuned_state_pass_family(arch, c.chunk))
    c.state_variant = 0;
  const auto by_rule = decide(CpMode::kAuto, 0);
  const auto untuned_length = decide(CpMode::kOn, 0);
  if (by_rule && by_rule->second == l) {
    c.cp = 2;
    c.piece_chunks = 0;
  } else if (untuned_length && untuned_length->second == l) {
    c.cp = 1;
    c.piece_chunks = 0;
  } else if (std::find(std::begin(kFwdPlanPieceChunksValues), std::end(kFwdPlanPieceChunksValues),
                       l) != std::end(kFwdPlanPieceChunksValues)) {
    c.cp = 1;
    c.piece_chunks = l;
  }  // else FlashQLA's length, which no listed one equals: cp and pc stay
  return c.to_point();
}

std::string untuned_op_signature(const ArchInfo& arch) {
  std::ostringstream out;
  out << kFwdPlanRules;
  const auto label = [](const SpaceDecl& s, const Point& p) { return s.label(p); };
  for (const auto& [cu, h_qk, h_v] :
       {std::tuple<std::vector<std::int64_t>, int, int>{{0, 2048}, 2, 8},
        {{0, 32768}, 2, 8},
        {{0, 32768}, 16, 64},
        {{0, 8192, 16384, 24576, 32768}, 4, 16},
        {{0, 28672, 32768}, 16, 48}})
    for (DType gate : {DType::kF32, DType::kBF16}) {
      Problem p;
      p.tokens = cu.back();
      p.cu_seqlens = cu;
      p.h_qk = h_qk;
      p.h_v = h_v;
      p.gate_dtype = gate;
      out << '|' << p.label() << ':' << label(kkt_solve_space(), untuned_kkt_solve_point(p));
      for (int chunk : kFwdPlanChunkValues) {
        const char* fused = untuned_chunk_fwd_family(arch, chunk);
        out << ',' << chunk << ':' << fused << '=';
        try {
          out << label(*fused_fwd_family_space(fused), untuned_fused_point(fused, p, arch));
        } catch (const UserError&) {
          out << "none";
        }
        const auto split = decide_cp(p, p.num_sequences(), chunk, CpMode::kAuto, 0, arch);
        out << ",cp" << (split ? split->second : 0) << ','
            << untuned_state_pass_family(arch, chunk);
      }
    }
  out << '|' << cp_correct_space().label(untuned_cp_correct_point(arch));
  return out.str();
}

void force_config(PlanOptions& options, const std::string& text) {
  const auto eq = text.find('=');
  std::vector<const SpaceDecl*> spaces{&fwd_plan_space()};
  for (const auto& family : cuda::kernel_families()) spaces.push_back(family.space);
  for (const SpaceDecl* space : spaces) {
    if (eq != std::string::npos && text.substr(0, eq) != space->kernel) continue;
    if (auto p = space->parse(eq == std::string::npos ? text : text.substr(eq + 1))) {
      options.configs[space->kernel] = *p;
      return;
    }
  }
  throw UserError("config " + text +
                  ": not a config label of any kernel space (use KERNEL=LABEL, e.g. "
                  "gdn.naive_fwd=bv32.ks4)");
}

Plan make_plan(const Problem& problem, const cuda::DeviceInfo& device, const PlanOptions& options) {
  problem.validate();
  Plan plan;
  Plan::Impl& im = plan.impl();
  im.problem = problem;
  im.algorithm = options.algorithm;
  im.max_rows = std::max<long long>(options.max_rows, problem.total_tokens());
  im.max_sequences = std::max<long long>(options.max_sequences, problem.num_sequences());
  QLA_REQUIRE(im.max_sequences <= std::numeric_limits<int>::max() - 1 &&
                  im.max_rows <= std::numeric_limits<int>::max(),
              "a plan's calls hold at most 2^31 - 1 token rows and sequences (offsets are int32)");

  if (problem.k_dim != 128 || problem.v_dim != 128) {
    im.not_implemented =
        "only K = V = 128 is implemented (got K = " + std::to_string(problem.k_dim) +
        ", V = " + std::to_string(problem.v_dim) + ")";
    return plan;
  }
  if (problem.l2norm_qk) {
    im.l2norm = L2NormConfig::from_point(choose(l2norm_space(), problem, device, options));
    im.labels[l2norm_space().kernel] = l2norm_space().label(im.l2norm.to_point());
    if (auto why = l2norm_can_implement(problem, im.l2norm); !why.empty()) {
      im.not_implemented = why;
      return plan;
    }
    im.l2norm_kernel = &cuda::KernelCache::global().get(l2norm_spec(im.l2norm, problem.qkv_dtype));
    im.l2norm_bytes = align_up(static_cast<std::size_t>(im.max_rows) * problem.h_qk * 128 *
                               dtype_size(problem.qkv_dtype));
  }
  im.algo_offset = 2 * im.l2norm_bytes;

  switch (options.algorithm) {
    case Algorithm::kNaive: {
      im.naive = NaiveFwdConfig::from_point(choose(naive_fwd_space(), problem, device, options));
      im.labels[naive_fwd_space().kernel] = naive_fwd_space().label(im.naive.to_point());
      if (auto why = naive_fwd_can_implement(problem, im.naive); !why.empty()) {
        im.not_implemented = why;
        return plan;
      }
      im.naive_kernel = &cuda::KernelCache::global().get(
          naive_fwd_spec(im.naive, problem.qkv_dtype, problem.gate_dtype, problem.beta_dtype));
      break;
    }
    case Algorithm::kUnfused: {
      im.unfused = UnfusedConfig::from_point(choose(unfused_space(), problem, device, options));
      im.labels[unfused_space().kernel] = unfused_space().label(im.unfused.to_point());
      Problem without_l2 = problem;
      without_l2.l2norm_qk = false;  // our own l2norm kernel runs first
      if (auto why = can_implement(without_l2, im.unfused); !why.empty()) {
        im.not_implemented = why;
        return plan;
      }
      im.algo_bytes = unfused_workspace_bytes(
          work_list_capacity(im.max_rows, im.max_sequences, kChunk, 0).max_chunks, problem.h_v);
      break;
    }
    case Algorithm::kFused:
      if (!plan_fused(im, device, options)) return plan;
      break;
  }
  lay_out_work_lists(im, im.algo_offset + align_up(im.algo_bytes));
  im.work_list_kernel = &cuda::KernelCache::global().get(work_list_spec());
  return plan;
}

unsigned parse_cp_launches(const std::string& list) {
  static constexpr std::pair<std::string_view, unsigned> kNames[] = {
      {"prep", kCpLaunchPrep},
      {"warmup", kCpLaunchWarmup},
      {"state", kCpLaunchStatePass},
      {"correct", kCpLaunchCorrection},
      {"forward", kCpLaunchChunkForward}};
  if (list == "none") return 0u;
  if (list == "all") return kCpLaunchAll;
  if (list.empty()) throw UserError("CP launch list is empty: give none, all or a comma list");
  unsigned mask = 0;
  for (std::size_t begin = 0;;) {
    const std::size_t end = std::min(list.find(',', begin), list.size());
    const std::string_view name = std::string_view(list).substr(begin, end - begin);
    const auto* it = std::find_if(std::begin(kNames), std::end(kNames),
                                  [&](const auto& n) { return n.first == name; });
    if (it == std::end(kNames))
      throw UserError("CP launch list \"" + list + "\": \"" + std::string(name) +
                      "\" is none of prep, warmup, state, correct, forward (or give none or all)");
    mask |= it->second;
    if (end == list.size()) return mask;
    begin = end + 1;
  }
}

}  // namespace qla::gdn
