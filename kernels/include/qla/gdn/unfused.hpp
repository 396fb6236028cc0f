// Baseline (b): the unfused FLA-style chunk pipeline. Five kernels, each writing its
// intermediates to global memory (the decomposition FlashQLA fuses away):
//   1. cumsum     g → chunk-local cumsum g_cum, β → fp32                      (unfused_cumsum.cuh)
//   2. kkt_solve  A = (I + StrictLower(diag(β)(KKᵀ)⊙Γ))⁻¹ per chunk (unfused_kkt_solve.cuh)
//   3. wu         w = A(βe^g⊙K), u = A(β⊙V)                                  (unfused_wu.cuh)
//   4. h          per (sequence, head, V-slice), serial over chunks: h[c] = S, v_new = u − wS,
//                 S ← e^{g_L}S + (e^{g_L−g}⊙K)ᵀ v_new; final state            (unfused_h.cuh)
//   5. o          O = scale·(e^g⊙Q)h[c] + (scale·Γ⊙QKᵀ) v_new                 (unfused_o.cuh)
// All GEMMs on TF32 tensor cores (mma.sync m16n8k8); all intermediates fp32 (see unfused_common.cuh
// for why). Plain C++17, no CUDA includes.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "qla/cuda/kernel_spec.hpp"
#include "qla/dtype.hpp"
#include "qla/family.hpp"
#include "qla/gdn/problem.hpp"
#include "qla/gdn/unfused_params.hpp"
#include "qla/space.hpp"

struct CUstream_st;  // cudaStream_t without the CUDA headers

namespace qla::gdn {

/// A point of the unfused pipeline's space. Chunk size (64), stages (h: 2) and the warps of the
/// kernels other than h (4) are fixed.
struct UnfusedConfig {
  int h_block_v = 32;  ///< BV of the h kernel: V-slice per CTA (32 or 64); grid V/BV x H x N
  int h_warps =
      8;  ///< warps of the h kernel (4 or 8): the K rows of the state are split among them
  int o_block_v = 128;  ///< BV of the o kernel: V-slice per CTA (32, 64 or 128); grid NC x H x V/BV

  Point to_point() const;
  /// Inverse of to_point(); throws UserError when `p` is not a point of unfused_space().
  static UnfusedConfig from_point(const Point& p);
  /// e.g. "hbv32.hw8.obv128".
  std::string label() const;
};

inline constexpr int kUnfusedHBlockVValues[] = {32, 64};       ///< BV of the h kernel, columns
inline constexpr int kUnfusedHWarpsValues[] = {4, 8};          ///< warps of the h kernel
inline constexpr int kUnfusedOBlockVValues[] = {32, 64, 128};  ///< BV of the o kernel, columns

/// The declaration of gdn.unfused (qla/family.hpp), default hbv32.hw8.obv128. The space is small:
/// every point is built ahead of time, so the pipeline runs without NVRTC.
struct UnfusedFamily {
  using Config = UnfusedConfig;
  static constexpr const char* kId = "gdn.unfused";
  static constexpr const char* kRole = "unfused_pipeline";
  static constexpr const char* kVariant = "mma";
  static constexpr AxisDecl<Config> kAxes[] = {
      axis("h_block_v", "hbv", &Config::h_block_v, kUnfusedHBlockVValues,
           "V-slice width of the state (h) kernel, columns per CTA"),
      axis("h_warps", "hw", &Config::h_warps, kUnfusedHWarpsValues,
           "warps of the state (h) kernel"),
      axis("o_block_v", "obv", &Config::o_block_v, kUnfusedOBlockVValues,
           "V-slice width of the output (o) kernel, columns per CTA"),
  };
  static constexpr Config kAot[] = {{32, 8, 128}, {32, 4, 32}, {32, 4, 64}, {32, 4, 128},
                                    {32, 8, 32},  {32, 8, 64}, {64, 4, 32}, {64, 4, 64},
                                    {64, 4, 128}, {64, 8, 32}, {64, 8, 64}, {64, 8, 128}};
  /// The h and o kernels' shared memory within the arch's opt-in limit.
  static bool buildable(const Config& c, const ArchInfo& arch);
  /// Every kernel of the pipeline: cumsum for f32/bf16 g and β, the others for bf16 and fp16 q/k/v.
  static std::vector<cuda::KernelSpec> specs(const Config& c);
  /// Served by `qla header` (qla/cuda/kernel_catalog.hpp), 6th; every point is built ahead of time
  /// (its AOT set), so a tuned row needs no instantiation of its own (no deploy_specs).
  static constexpr int kDeployOrder = 6;
  static constexpr const char* kDeployHeader = "qla/gdn/unfused.hpp";
  static constexpr const char* kDeployTrait = "qla::gdn::UnfusedFamily";
};

inline Point UnfusedConfig::to_point() const { return qla::to_point<UnfusedFamily>(*this); }
inline UnfusedConfig UnfusedConfig::from_point(const Point& p) {
  return qla::from_point<UnfusedFamily>(p);
}

/// The space "gdn.unfused" (space_of<UnfusedFamily>()).
inline const SpaceDecl& unfused_space() { return space_of<UnfusedFamily>(); }

/// The five kernels of the pipeline, in launch order.
enum class UnfusedStage { kCumsum, kKktSolve, kWu, kH, kO };
inline constexpr UnfusedStage kUnfusedStages[] = {UnfusedStage::kCumsum, UnfusedStage::kKktSolve,
                                                  UnfusedStage::kWu, UnfusedStage::kH,
                                                  UnfusedStage::kO};
/// "cumsum", "kkt_solve", "wu", "h", "o".
const char* unfused_stage_name(UnfusedStage stage);

/// The device kernel of `stage` for `config`: source under kernels/device and template-id. `qkv` is
/// bf16 or f16; `gate` and `beta` (f32 or bf16) matter only for the cumsum stage.
cuda::KernelSpec unfused_spec(UnfusedStage stage, const UnfusedConfig& config, DType qkv,
                              DType gate = DType::kF32, DType beta = DType::kF32);

/// Grid, block (128 threads; h: 32 x h_warps) and dynamic shared memory of `stage` for NC chunks, N
/// sequences, H value heads.
cuda::LaunchShape unfused_shape(UnfusedStage stage, const UnfusedConfig& config,
                                long long num_chunks, long long num_sequences, int h_v);

/// Empty when the pipeline can run `problem` with `config`, else the reason (K = V = 128 only,
/// bf16/fp16 q/k/v, f32/bf16 g and beta, no fused l2norm, config in the space).
std::string can_implement(const Problem& problem, const UnfusedConfig& config);

/// Chunks of the problem for C = 64: Σ_n ceil(len_n / 64).
long long unfused_num_chunks(const Problem& problem);
/// Workspace bytes of one forward: NC·H·(2·C + C·C + 2·C·128 + 128·128)·4 (g_cum, β, A, w, u/v_new,
/// h; fp32).
std::size_t unfused_workspace_bytes(const Problem& problem);
/// The same from the work-list sizes a plan holds.
std::size_t unfused_workspace_bytes(long long num_chunks, int h_v);

/// One forward call on device pointers.
struct UnfusedArgs {
  /// q, k, v, g, beta, o, h0, ht, sequences (cu_seqlens, chunk work list for C = 64), heads and
  /// scale. The workspace pointers in it are ignored: unfused_forward carves them out of
  /// `workspace`.
  UnfusedParams tensors{};
  DType qkv_dtype = DType::kBF16;  ///< q, k, v and o: bf16 or f16
  DType gate_dtype = DType::kF32;  ///< g: f32 or bf16
  DType beta_dtype = DType::kF32;  ///< beta: f32 or bf16
};

/// Enqueues the five kernels on `stream`. No host synchronisation and no allocation
/// (graph-capturable). `workspace` (256-byte aligned) must hold unfused_workspace_bytes(num_chunks,
/// h_v) bytes. Throws UserError for bad arguments (null tensors, misaligned pointers or strides,
/// small workspace) and ApiError when a kernel is not compiled in or fails to launch.
void unfused_forward(const UnfusedArgs& args, const UnfusedConfig& config, void* workspace,
                     std::size_t workspace_bytes, CUstream_st* stream);

/// Enqueues one kernel of the pipeline (same checks as unfused_forward), for per-kernel timing in
/// the bench. Stages read what the earlier stages left in `workspace`; kH replaces u by v_new, so
/// running kH twice on the same workspace gives wrong values (timing is unaffected).
void unfused_launch_stage(const UnfusedArgs& args, const UnfusedConfig& config, void* workspace,
                          std::size_t workspace_bytes, UnfusedStage stage, CUstream_st* stream);

}  // namespace qla::gdn
