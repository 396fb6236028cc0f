// Params and shared-memory layout of the wgmma chunk forward (gdn/fused_fwd_wgmma.cuh). Builtin
// types only (host, nvcc and NVRTC).
#pragma once

#include "qla/cuda/tensor_map.hpp"
#include "qla/gdn/fused_params.hpp"

namespace qla::gdn {

/// fused_fwd_wgmma_kernel's parameters: the chunk forward's (FusedFwdParams; the same grid) and
/// TMA views of its 16-bit inputs. Each map is a 4-D view [B][T][heads][dim] (dimension 0 = dim)
/// with 128-byte swizzle and a box of 64 dim-elements × 1 head × box_rows tokens × 1 batch row, so
/// a chunk that runs past its batch row reads zeros.
struct FusedFwdWgmmaParams {
  cuda::TensorMap q_map;  ///< q: dim 128, H_qk heads (two boxes per chunk)
  cuda::TensorMap k_map;  ///< k: dim 128, H_qk heads (two boxes)
  cuda::TensorMap v_map;  ///< v: dim 128, H_v heads (one box at the V-slice)
  cuda::TensorMap a_map;  ///< A_r: dim C = 64, H_v heads (one box)
  FusedFwdParams f;
  /// Token rows of a box: 64, or T when a batch row holds fewer tokens (a box may not exceed the
  /// tensor); the tile rows past it are masked like a partial chunk's.
  int box_rows;
};

/// Shared memory of fused_fwd_wgmma_kernel, offsets from a 1024-byte aligned base. Per input stage
/// four SW128 tiles (q and k 64 × 128 as two 8 KB boxes each, the V-slice and A_r 64 × 64) and the
/// chunk's gates; an aux ring of two slots of A_g and P_g (64 × 64 SW128 each); the O staging tile
/// (64 × 64, pitch 72); the mbarriers.
struct FusedWgmmaLayout {
  static constexpr int kBox = 64 * 64 * 2;  ///< one SW128 box
  int stage_bytes;                          ///< q, k, v, a tiles of one stage
  int q, k, v, a;                           ///< offsets inside a stage
  int aux;                                  ///< aux ring: slot i at aux + i · 2 · kBox (A_g, P_g)
  int o;                                    ///< O staging (64 rows × 72 16-bit)
  int gates;                                ///< per stage: g[64], beta[64] floats, rows (int)
  int bars;   ///< mbarriers: full, empty [stages]; aux full, aux empty [2]; loaded [stages]
  int bytes;  ///< total, plus 1024 for the base alignment
};
inline constexpr int kFusedWgmmaGateBytes = 2 * 64 * 4 + 16;  ///< one stage's gates
QLA_HOST_DEVICE constexpr FusedWgmmaLayout fused_wgmma_layout(int stages) {
  FusedWgmmaLayout l{};
  l.q = 0;
  l.k = 2 * FusedWgmmaLayout::kBox;
  l.v = 4 * FusedWgmmaLayout::kBox;
  l.a = 5 * FusedWgmmaLayout::kBox;
  l.stage_bytes = 6 * FusedWgmmaLayout::kBox;
  l.aux = stages * l.stage_bytes;
  l.o = l.aux + 2 * 2 * FusedWgmmaLayout::kBox;
  l.gates = l.o + 64 * 72 * 2;
  l.bars = l.gates + stages * kFusedWgmmaGateBytes;
  l.bytes = l.bars + (3 * stages + 4) * 8 + 1024;
  return l;
}

}  // namespace qla::gdn
