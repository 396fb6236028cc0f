// Host side of the unfused baseline pipeline: its space, kernel specs, launch shapes, checks and the forward.
#include "qla/gdn/unfused.hpp"

#include <cuda_runtime_api.h>

#include <cstdint>
#include <iterator>
#include <sstream>

#include "qla/cuda/aot_registry.hpp"
#include "qla/cuda/check.hpp"
#include "qla/cuda/kernel_catalog.hpp"
#include "qla/cuda/launcher.hpp"
#include "qla/error.hpp"

namespace qla::gdn {
namespace {

namespace L = unfused_layout;
constexpr unsigned kThreads = 128;

const char* device_type(DType t) {
  switch (t) {
    case DType::kBF16: return "__nv_bfloat16";
    case DType::kF16: return "__half";
    case DType::kF32: return "float";
    default: break;
  }
  throw UserError(std::string("unfused pipeline: unsupported dtype ") + std::string(dtype_name(t)));
}

const char* stage_source(UnfusedStage stage) {
  switch (stage) {
    case UnfusedStage::kCumsum: return "gdn/unfused_cumsum.cuh";
    case UnfusedStage::kKktSolve: return "gdn/unfused_kkt_solve.cuh";
    case UnfusedStage::kWu: return "gdn/unfused_wu.cuh";
    case UnfusedStage::kH: return "gdn/unfused_h.cuh";
    case UnfusedStage::kO: return "gdn/unfused_o.cuh";
  }
  return "";
}

bool buildable(const Point& p, const ArchInfo& arch) {
  if (p.size() != 3) return false;
  return L::h_smem_bytes(p[0]) <= arch.smem_per_block_optin && L::o_smem_bytes(p[2]) <= arch.smem_per_block_optin &&
         L::kWuSmemBytes <= arch.smem_per_block_optin;
}

// Every KernelSpec a point compiles to, for the catalog (NVRTC compile test, tuner).
std::vector<cuda::KernelSpec> specs_of(const Point& p) {
  const UnfusedConfig config = UnfusedConfig::from_point(p);
  std::vector<cuda::KernelSpec> out;
  for (DType gate : {DType::kF32, DType::kBF16})
    for (DType beta : {DType::kF32, DType::kBF16})
      out.push_back(unfused_spec(UnfusedStage::kCumsum, config, DType::kBF16, gate, beta));
  for (DType qkv : {DType::kBF16, DType::kF16})
    for (UnfusedStage stage : {UnfusedStage::kKktSolve, UnfusedStage::kWu, UnfusedStage::kH, UnfusedStage::kO})
      out.push_back(unfused_spec(stage, config, qkv));
  return out;
}

[[maybe_unused]] const bool kRegistered = cuda::register_kernel_family({&unfused_space(), specs_of});

unsigned grid_dim(long long n, const char* what) {
  QLA_REQUIRE(n >= 0 && n <= 0x7fffffffLL, "unfused pipeline: " << what << " = " << n << " exceeds the grid limit");
  return static_cast<unsigned>(n);
}

bool aligned16(const void* p) { return reinterpret_cast<std::uintptr_t>(p) % 16 == 0; }

void check_token_tensor(const TokenTensor& t, const char* name, bool vector_rows) {
  QLA_REQUIRE(t.data != nullptr, "unfused_forward: tensor " << name << " is null");
  if (vector_rows) {
    QLA_REQUIRE(aligned16(t.data), "unfused_forward: tensor " << name << " must be 16-byte aligned");
    QLA_REQUIRE(t.stride_batch % 8 == 0 && t.stride_token % 8 == 0 && t.stride_head % 8 == 0,
                "unfused_forward: strides of " << name << " must be multiples of 8 elements (16-byte rows), got "
                                               << t.stride_batch << ", " << t.stride_token << ", " << t.stride_head);
  }
}

}  // namespace

static_assert(unfused_in_space(UnfusedConfig{}.h_block_v, UnfusedConfig{}.h_warps, UnfusedConfig{}.o_block_v),
              "the default config must lie in the declared axes");

UnfusedConfig UnfusedConfig::from_point(const Point& p) {
  QLA_REQUIRE(unfused_space().contains(p), "not a point of space " << unfused_space().kernel);
  return {p[0], p[1], p[2]};
}

std::string UnfusedConfig::label() const { return unfused_space().label(to_point()); }

const SpaceDecl& unfused_space() {
  static const SpaceDecl space = [] {
    SpaceDecl s;
    s.kernel = "gdn.unfused";
    s.axes = {
        {"h_block_v", "hbv", std::vector<int>(std::begin(kUnfusedHBlockVValues), std::end(kUnfusedHBlockVValues)),
         "V-slice width of the state (h) kernel, columns per CTA"},
        {"h_warps", "hw", std::vector<int>(std::begin(kUnfusedHWarpsValues), std::end(kUnfusedHWarpsValues)),
         "warps of the state (h) kernel"},
        {"o_block_v", "obv", std::vector<int>(std::begin(kUnfusedOBlockVValues), std::end(kUnfusedOBlockVValues)),
         "V-slice width of the output (o) kernel, columns per CTA"},
    };
    s.default_point = UnfusedConfig{}.to_point();
    s.buildable = buildable;
    return s;
  }();
  return space;
}

const char* unfused_stage_name(UnfusedStage stage) {
  switch (stage) {
    case UnfusedStage::kCumsum: return "cumsum";
    case UnfusedStage::kKktSolve: return "kkt_solve";
    case UnfusedStage::kWu: return "wu";
    case UnfusedStage::kH: return "h";
    case UnfusedStage::kO: return "o";
  }
  return "?";
}

cuda::KernelSpec unfused_spec(UnfusedStage stage, const UnfusedConfig& config, DType qkv, DType gate, DType beta) {
  QLA_REQUIRE(qkv == DType::kBF16 || qkv == DType::kF16, "unfused pipeline: q/k/v must be bf16 or f16");
  std::ostringstream name;
  name << "qla::gdn::";
  switch (stage) {
    case UnfusedStage::kCumsum:
      QLA_REQUIRE(gate == DType::kF32 || gate == DType::kBF16, "unfused pipeline: g must be f32 or bf16");
      QLA_REQUIRE(beta == DType::kF32 || beta == DType::kBF16, "unfused pipeline: beta must be f32 or bf16");
      name << "unfused_cumsum_kernel<" << device_type(gate) << ", " << device_type(beta) << ">";
      break;
    case UnfusedStage::kKktSolve: name << "unfused_kkt_solve_kernel<" << device_type(qkv) << ">"; break;
    case UnfusedStage::kWu: name << "unfused_wu_kernel<" << device_type(qkv) << ">"; break;
    case UnfusedStage::kH: name << "unfused_h_kernel<" << device_type(qkv) << ", " << config.h_block_v << ", " << config.h_warps << ">";
      break;
    case UnfusedStage::kO: name << "unfused_o_kernel<" << device_type(qkv) << ", " << config.o_block_v << ">"; break;
  }
  return {stage_source(stage), name.str(), cuda::params_layout<UnfusedParams>()};
}

cuda::LaunchShape unfused_shape(UnfusedStage stage, const UnfusedConfig& config, long long num_chunks,
                                long long num_sequences, int h_v) {
  cuda::LaunchShape s;
  s.block = {kThreads, 1, 1};
  const unsigned nc = grid_dim(num_chunks, "chunks");
  const unsigned heads = static_cast<unsigned>(h_v);
  switch (stage) {
    case UnfusedStage::kCumsum:
      // At least one CTA: the cumsum kernel also zeroes o's padding rows, even when there are no chunks.
      s.grid = {nc > 0 ? nc : 1u, (heads + 1) / 2, 1};
      break;
    case UnfusedStage::kKktSolve: s.grid = {nc, heads, 1}; break;
    case UnfusedStage::kWu:
      s.grid = {nc, heads, 1};
      s.dynamic_smem = L::kWuSmemBytes;
      break;
    case UnfusedStage::kH:
      s.grid = {static_cast<unsigned>(L::kDim / config.h_block_v), heads, grid_dim(num_sequences, "sequences")};
      s.block = {32u * static_cast<unsigned>(config.h_warps), 1, 1};
      s.dynamic_smem = static_cast<std::size_t>(L::h_smem_bytes(config.h_block_v));
      break;
    case UnfusedStage::kO:
      s.grid = {nc, heads, static_cast<unsigned>(L::kDim / config.o_block_v)};
      s.dynamic_smem = static_cast<std::size_t>(L::o_smem_bytes(config.o_block_v));
      break;
  }
  return s;
}

std::string can_implement(const Problem& problem, const UnfusedConfig& config) {
  std::ostringstream why;
  if (problem.k_dim != 128 || problem.v_dim != 128)
    why << "the unfused pipeline needs K = V = 128, got K = " << problem.k_dim << ", V = " << problem.v_dim;
  else if (problem.qkv_dtype != DType::kBF16 && problem.qkv_dtype != DType::kF16)
    why << "the unfused pipeline needs bf16 or f16 q/k/v, got " << dtype_name(problem.qkv_dtype);
  else if (problem.gate_dtype != DType::kF32 && problem.gate_dtype != DType::kBF16)
    why << "the unfused pipeline needs f32 or bf16 g, got " << dtype_name(problem.gate_dtype);
  else if (problem.beta_dtype != DType::kF32 && problem.beta_dtype != DType::kBF16)
    why << "the unfused pipeline needs f32 or bf16 beta, got " << dtype_name(problem.beta_dtype);
  else if (problem.h_qk <= 0 || problem.h_v <= 0 || problem.h_v % problem.h_qk != 0)
    why << "h_v (" << problem.h_v << ") must be a positive multiple of h_qk (" << problem.h_qk << ")";
  else if (problem.h_v > 65535)
    why << "the unfused pipeline supports at most 65535 value heads, got " << problem.h_v;
  else if (problem.l2norm_qk)
    why << "the unfused pipeline does not fuse q/k l2 normalisation; normalise q and k first";
  else if (!unfused_space().contains(config.to_point()))
    why << "config " << unfused_space().label(config.to_point()) << " is not in space gdn.unfused";
  else if (unfused_num_chunks(problem) > 0x7fffffffLL)
    why << "the problem has more chunks than the grid allows";
  return why.str();
}

long long unfused_num_chunks(const Problem& problem) {
  long long nc = 0;
  for (std::int64_t n = 0; n < problem.num_sequences(); ++n) nc += (problem.seq_length(n) + L::kChunk - 1) / L::kChunk;
  return nc;
}

std::size_t unfused_workspace_bytes(long long num_chunks, int h_v) {
  const std::size_t per_chunk_head = 2 * L::kChunk + L::kChunk * L::kChunk + 2 * L::kChunk * L::kDim + L::kDim * L::kDim;
  return static_cast<std::size_t>(num_chunks) * static_cast<std::size_t>(h_v) * per_chunk_head * sizeof(float);
}

std::size_t unfused_workspace_bytes(const Problem& problem) {
  return unfused_workspace_bytes(unfused_num_chunks(problem), problem.h_v);
}

namespace {

// Checks the arguments and returns the kernel parameters with the workspace carved in.
UnfusedParams checked_params(const UnfusedArgs& args, const UnfusedConfig& config, void* workspace,
                             std::size_t workspace_bytes) {
  UnfusedParams p = args.tensors;
  QLA_REQUIRE(unfused_space().contains(config.to_point()),
              "unfused_forward: config " << unfused_space().label(config.to_point()) << " is not in gdn.unfused");
  QLA_REQUIRE(p.h_qk > 0 && p.h_v > 0 && p.h_v % p.h_qk == 0,
              "unfused_forward: h_v (" << p.h_v << ") must be a positive multiple of h_qk (" << p.h_qk << ")");
  check_token_tensor(p.q, "q", true);
  check_token_tensor(p.k, "k", true);
  check_token_tensor(p.v, "v", true);
  check_token_tensor(p.o, "o", true);
  check_token_tensor(p.g, "g", false);
  check_token_tensor(p.beta, "beta", false);
  QLA_REQUIRE(p.seq.cu_seqlens && p.seq.chunk_offset && (p.seq.chunk_index || p.seq.num_chunks == 0),
              "unfused_forward: the sequence view (cu_seqlens, chunk_index, chunk_offset) is incomplete");
  QLA_REQUIRE(p.seq.num_sequences >= 0 && p.seq.num_chunks >= 0 && p.seq.tokens_per_row > 0,
              "unfused_forward: bad sequence view sizes");
  QLA_REQUIRE(!p.h0.data || aligned16(p.h0.data), "unfused_forward: h0 must be 16-byte aligned");
  QLA_REQUIRE(!p.ht.data || aligned16(p.ht.data), "unfused_forward: the final state must be 16-byte aligned");
  const std::size_t need = unfused_workspace_bytes(p.seq.num_chunks, p.h_v);
  QLA_REQUIRE(workspace_bytes >= need,
              "unfused_forward: workspace holds " << workspace_bytes << " bytes, needs " << need);
  QLA_REQUIRE(need == 0 || reinterpret_cast<std::uintptr_t>(workspace) % 256 == 0,
              "unfused_forward: workspace must be 256-byte aligned");

  // Carve the workspace (every region is a multiple of 256 bytes).
  const std::size_t ch = static_cast<std::size_t>(p.seq.num_chunks) * static_cast<std::size_t>(p.h_v);
  float* ws = static_cast<float*>(workspace);
  p.g_cum = ws;
  p.beta_f = p.g_cum + ch * L::kChunk;
  p.a = p.beta_f + ch * L::kChunk;
  p.w = p.a + ch * L::kChunk * L::kChunk;
  p.u = p.w + ch * L::kChunk * L::kDim;
  p.h = p.u + ch * L::kChunk * L::kDim;
  return p;
}

void launch(UnfusedParams p, const UnfusedArgs& args, const UnfusedConfig& config, UnfusedStage stage,
            CUstream_st* stream) {
  const bool needs_chunks = stage == UnfusedStage::kKktSolve || stage == UnfusedStage::kWu || stage == UnfusedStage::kO;
  if (needs_chunks && p.seq.num_chunks == 0) return;
  if (stage == UnfusedStage::kH && p.seq.num_sequences == 0) return;
  const cuda::KernelSpec spec = unfused_spec(stage, config, args.qkv_dtype, args.gate_dtype, args.beta_dtype);
  if (!cuda::find_aot_kernel(spec.source, spec.name_expression))
    raise_api_error("qla", __FILE__, __LINE__, "unfused_forward",
                    "kernel " + spec.name_expression + " is not compiled ahead of time");
  cuda::KernelCache::global().get(spec).launch(
      unfused_shape(stage, config, p.seq.num_chunks, p.seq.num_sequences, p.h_v), &p, stream);
}

}  // namespace

void unfused_forward(const UnfusedArgs& args, const UnfusedConfig& config, void* workspace,
                     std::size_t workspace_bytes, CUstream_st* stream) {
  const UnfusedParams p = checked_params(args, config, workspace, workspace_bytes);
  for (UnfusedStage stage : kUnfusedStages) launch(p, args, config, stage, stream);
}

void unfused_launch_stage(const UnfusedArgs& args, const UnfusedConfig& config, void* workspace,
                          std::size_t workspace_bytes, UnfusedStage stage, CUstream_st* stream) {
  launch(checked_params(args, config, workspace, workspace_bytes), args, config, stage, stream);
}

}  // namespace qla::gdn
