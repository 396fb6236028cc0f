// make_plan and forward: the op-level orchestration of the GDN forward kernels.
#include "qla/gdn/forward.hpp"

#include <algorithm>
#include <cstdint>
#include <sstream>
#include <vector>

#include "qla/cuda/device_buffer.hpp"
#include "qla/cuda/launcher.hpp"
#include "qla/error.hpp"
#include "qla/gdn/cp.hpp"
#include "qla/gdn/l2norm.hpp"
#include "qla/gdn/naive_fwd.hpp"
#include "qla/gdn/unfused.hpp"

namespace qla::gdn {

namespace {
constexpr int kChunk = 64;               // the work list's chunk size (all chunked kernels use 64 today)
constexpr std::size_t kAlign = 256;      // workspace sub-buffer alignment
std::size_t align_up(std::size_t x) { return (x + kAlign - 1) / kAlign * kAlign; }
}  // namespace

struct Plan::Impl {
  Problem problem;
  Algorithm algorithm = Algorithm::kFused;
  std::string not_implemented;
  std::map<std::string, std::string> labels;
  cuda::DeviceBuffer cu_seqlens, chunk_index, chunk_offset;
  SequenceView seq{};
  int cp_pieces = 0;
  int cp_piece_chunks = 0;
  // Configs and resolved kernels.
  NaiveFwdConfig naive;
  L2NormConfig l2norm;
  UnfusedConfig unfused;
  const cuda::Kernel* naive_kernel = nullptr;
  const cuda::Kernel* l2norm_kernel = nullptr;
  // Workspace layout.
  std::size_t l2norm_bytes = 0;  // one normalised q or k copy
  std::size_t algo_offset = 0;
  std::size_t algo_bytes = 0;
  std::size_t workspace = 0;
};

Plan::Plan() : impl_(std::make_unique<Impl>()) {}
Plan::~Plan() = default;
Plan::Plan(Plan&&) noexcept = default;
Plan& Plan::operator=(Plan&&) noexcept = default;
const Problem& Plan::problem() const { return impl_->problem; }
Algorithm Plan::algorithm() const { return impl_->algorithm; }
std::size_t Plan::workspace_bytes() const { return impl_->workspace; }
const std::string& Plan::not_implemented_reason() const { return impl_->not_implemented; }
const std::map<std::string, std::string>& Plan::config_labels() const { return impl_->labels; }
int Plan::cp_pieces() const { return impl_->cp_pieces; }
int Plan::cp_piece_chunks() const { return impl_->cp_piece_chunks; }
const SequenceView& Plan::sequences() const { return impl_->seq; }

const char* algorithm_name(Algorithm a) {
  switch (a) {
    case Algorithm::kFused: return "fused";
    case Algorithm::kUnfused: return "unfused";
    case Algorithm::kNaive: return "naive";
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
    case Status::Code::kOk: return "ok";
    case Status::Code::kNotImplemented: return "not_implemented";
    case Status::Code::kInvalidArgument: return "invalid_argument";
    case Status::Code::kLaunchError: return "launch_error";
  }
  return "?";
}

TokenTensor contiguous_tensor(void* data, const Problem& p, int heads, int dim) {
  const long long row = static_cast<long long>(heads) * dim;
  return {data, p.tokens * row, row, dim};
}

namespace {

Point choose(const SpaceDecl& space, const Problem& problem, const cuda::DeviceInfo& device,
             const PlanOptions& options) {
  if (auto it = options.configs.find(space.kernel); it != options.configs.end()) {
    QLA_REQUIRE(space.contains(it->second), "config " << space.label(it->second) << " is not a point of "
                                                      << space.kernel);
    return it->second;
  }
  if (options.lookup) {
    if (auto p = options.lookup(space.kernel, problem, device.arch); p && space.contains(*p)) return *p;
  }
  return space.default_point;
}

// Sequence offsets (fixed-length: 0, T, 2T, ...) and the C = 64 chunk work list.
void build_sequences(Plan::Impl& plan) {
  const Problem& p = plan.problem;
  const long long n = p.num_sequences();
  std::vector<int> cu(static_cast<std::size_t>(n + 1));
  for (long long i = 0; i <= n; ++i) cu[static_cast<std::size_t>(i)] = static_cast<int>(i < n ? p.seq_begin(i) : p.seq_begin(n - 1) + p.seq_length(n - 1));
  std::vector<int> index, offset{0};
  for (long long i = 0; i < n; ++i) {
    const long long chunks = (p.seq_length(i) + kChunk - 1) / kChunk;
    for (long long c = 0; c < chunks; ++c) {
      index.push_back(static_cast<int>(i));
      index.push_back(static_cast<int>(c));
    }
    offset.push_back(static_cast<int>(index.size() / 2));
  }
  if (index.empty()) index = {0, 0};  // keep the buffer non-null; num_chunks stays 0
  plan.cu_seqlens = cuda::DeviceBuffer::from_host(cu);
  plan.chunk_index = cuda::DeviceBuffer::from_host(index);
  plan.chunk_offset = cuda::DeviceBuffer::from_host(offset);
  plan.seq.cu_seqlens = plan.cu_seqlens.as<const int>();
  plan.seq.chunk_index = plan.chunk_index.as<const int>();
  plan.seq.chunk_offset = plan.chunk_offset.as<const int>();
  plan.seq.num_sequences = static_cast<int>(n);
  plan.seq.num_chunks = offset.back();
  plan.seq.tokens_per_row = p.tokens;
  plan.seq.total_tokens = p.total_tokens();
}

void decide_cp(Plan::Impl& plan, const cuda::DeviceInfo& device, const PlanOptions& options) {
  const Problem& p = plan.problem;
  if (options.cp == CpMode::kOff) return;
  const long long total_chunks = plan.seq.num_chunks;
  const int l = options.cp_piece_chunks > 0 ? options.cp_piece_chunks
                                            : cp_piece_chunks_heuristic(p.h_v, total_chunks, device.arch.sm_count);
  // FlashQLA's auto rule: CP only when the grid is too small to fill the card (N·H below the SM count) and a
  // sequence is longer than one piece; `on` forces the split wherever a sequence has more than L chunks.
  const bool small_grid = p.num_sequences() * p.h_v < device.arch.sm_count;
  if (options.cp == CpMode::kAuto && !small_grid) return;
  int pieces = 0;
  bool split = false;
  for (long long i = 0; i < p.num_sequences(); ++i) {
    const long long chunks = (p.seq_length(i) + kChunk - 1) / kChunk;
    split = split || chunks > l;
    pieces += static_cast<int>(std::max<long long>(1, (chunks + l - 1) / l));
  }
  if (!split) return;
  plan.cp_pieces = pieces;
  plan.cp_piece_chunks = l;
}

}  // namespace

Plan make_plan(const Problem& problem, const cuda::DeviceInfo& device, const PlanOptions& options) {
  problem.validate();
  Plan plan;
  Plan::Impl& im = plan.impl();
  im.problem = problem;
  im.algorithm = options.algorithm;
  build_sequences(im);

  if (problem.k_dim != 128 || problem.v_dim != 128) {
    im.not_implemented = "only K = V = 128 is implemented (got K = " + std::to_string(problem.k_dim) +
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
    im.l2norm_bytes = align_up(static_cast<std::size_t>(problem.total_tokens()) * problem.h_qk * 128 *
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
      im.algo_bytes = unfused_workspace_bytes(im.seq.num_chunks, problem.h_v);
      break;
    }
    case Algorithm::kFused:
      decide_cp(im, device, options);
      im.not_implemented = "the fused forward (K2's kkt_solve / fused_fwd) is not wired into the plan yet";
      return plan;
  }
  im.workspace = im.algo_offset + align_up(im.algo_bytes);
  return plan;
}

namespace {

bool aligned16(const void* p) { return reinterpret_cast<std::uintptr_t>(p) % 16 == 0; }

std::string check_tensor(const char* name, const TokenTensor& t, int dim, std::size_t elem) {
  std::ostringstream os;
  if (t.data == nullptr) {
    os << "tensor " << name << " is null";
  } else if (!aligned16(t.data)) {
    os << "tensor " << name << " is not 16-byte aligned";
  } else if (dim > 1 && (t.stride_token < dim || t.stride_head < dim || t.stride_batch < 0)) {
    os << "tensor " << name << ": strides (" << t.stride_batch << ", " << t.stride_token << ", "
       << t.stride_head << ") overlap rows of " << dim << " elements";
  } else if (dim > 1 && ((t.stride_token * elem) % 16 || (t.stride_head * elem) % 16 ||
                         (t.stride_batch * elem) % 16)) {
    os << "tensor " << name << ": strides must be multiples of 16 bytes";
  }
  return os.str();
}

std::string validate(const ForwardArgs& a, const Problem& p) {
  const Problem& q = a.problem;
  if (q.batch != p.batch || q.tokens != p.tokens || q.cu_seqlens != p.cu_seqlens) {
    return "args.problem has other sequences than the plan (" + q.label() + " vs " + p.label() + ")";
  }
  if (q.h_qk != p.h_qk || q.h_v != p.h_v) return "head counts differ from the plan's (" + q.label() + ")";
  if (q.k_dim != p.k_dim || q.v_dim != p.v_dim) return "head dims differ from the plan's";
  if (q.qkv_dtype != p.qkv_dtype || q.gate_dtype != p.gate_dtype || q.beta_dtype != p.beta_dtype) {
    return "dtypes differ from the plan's";
  }
  if (q.initial_state != p.initial_state || q.final_state != p.final_state || q.l2norm_qk != p.l2norm_qk ||
      q.effective_scale() != p.effective_scale()) {
    return "flags (initial/final state, l2norm, scale) differ from the plan's";
  }
  const std::size_t e = dtype_size(p.qkv_dtype);
  for (auto [name, t, dim, size] : {std::tuple{"q", a.q, p.k_dim, e}, std::tuple{"k", a.k, p.k_dim, e},
                                    std::tuple{"v", a.v, p.v_dim, e}, std::tuple{"o", a.o, p.v_dim, e},
                                    std::tuple{"g", a.g, 1, dtype_size(p.gate_dtype)},
                                    std::tuple{"beta", a.beta, 1, dtype_size(p.beta_dtype)}}) {
    if (auto why = check_tensor(name, t, dim, size); !why.empty()) return why;
  }
  if (p.initial_state && (a.h0 == nullptr || !aligned16(a.h0))) return "h0 is null or not 16-byte aligned";
  if (!p.initial_state && a.h0 != nullptr) return "h0 given but the problem has no initial state";
  if (p.final_state && (a.ht == nullptr || !aligned16(a.ht))) return "ht is null or not 16-byte aligned";
  return {};
}

}  // namespace

Status forward(const ForwardArgs& args, const Plan& plan, void* workspace, cudaStream_t stream) {
  const Plan::Impl& im = plan.impl();
  if (!im.not_implemented.empty()) return Status::not_implemented(im.not_implemented);
  if (auto why = validate(args, im.problem); !why.empty()) return Status::invalid_argument(why);
  if (im.workspace > 0 && (workspace == nullptr || reinterpret_cast<std::uintptr_t>(workspace) % kAlign)) {
    return Status::invalid_argument("workspace is null or not 256-byte aligned (" +
                                    std::to_string(im.workspace) + " bytes needed)");
  }
  const Problem& p = im.problem;
  char* ws = static_cast<char*>(workspace);
  try {
    TokenTensor q = args.q, k = args.k;
    if (p.l2norm_qk) {
      L2NormParams lp{};
      lp.rows = p.total_tokens();
      lp.tokens_per_row = p.tokens;
      lp.heads = p.h_qk;
      lp.eps = 1e-6f;
      const auto shape = l2norm_shape(im.l2norm, lp.rows, lp.heads);
      lp.x = args.q;
      lp.y = q = contiguous_tensor(ws, p, p.h_qk, 128);
      im.l2norm_kernel->launch(shape, &lp, stream);
      lp.x = args.k;
      lp.y = k = contiguous_tensor(ws + im.l2norm_bytes, p, p.h_qk, 128);
      im.l2norm_kernel->launch(shape, &lp, stream);
    }
    switch (im.algorithm) {
      case Algorithm::kNaive: {
        NaiveFwdParams np{};
        np.q = q;
        np.k = k;
        np.v = args.v;
        np.g = args.g;
        np.beta = args.beta;
        np.o = args.o;
        np.h0.data = const_cast<float*>(args.h0);
        np.ht.data = p.final_state ? args.ht : nullptr;
        np.seq = im.seq;
        np.h_qk = p.h_qk;
        np.h_v = p.h_v;
        np.scale = static_cast<float>(p.effective_scale());
        im.naive_kernel->launch(naive_fwd_shape(im.naive, p.h_v, p.num_sequences()), &np, stream);
        break;
      }
      case Algorithm::kUnfused: {
        UnfusedArgs ua;
        UnfusedParams& t = ua.tensors;
        t.q = q;
        t.k = k;
        t.v = args.v;
        t.g = args.g;
        t.beta = args.beta;
        t.o = args.o;
        t.h0.data = const_cast<float*>(args.h0);
        t.ht.data = p.final_state ? args.ht : nullptr;
        t.seq = im.seq;
        t.h_qk = p.h_qk;
        t.h_v = p.h_v;
        t.scale = static_cast<float>(p.effective_scale());
        ua.qkv_dtype = p.qkv_dtype;
        ua.gate_dtype = p.gate_dtype;
        ua.beta_dtype = p.beta_dtype;
        unfused_forward(ua, im.unfused, ws + im.algo_offset, im.algo_bytes, stream);
        break;
      }
      case Algorithm::kFused:
        return Status::not_implemented("fused forward not wired");
    }
  } catch (const UserError& e) {
    return Status::invalid_argument(e.what());
  } catch (const ApiError& e) {
    return Status::launch_error(e.what());
  }
  return Status::success();
}

}  // namespace qla::gdn
