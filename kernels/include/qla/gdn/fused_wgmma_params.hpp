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
  /// o: dim 128, H_v heads (one box at the V-slice, stored); unset (zeros) in the state pass
  cuda::TensorMap o_map;
  FusedFwdParams f;
  /// Token rows of a box: 64, or T when a batch row holds fewer tokens (a box may not exceed the
  /// tensor); the tile rows past it are masked like a partial chunk's.
  int box_rows;
  // The state-only instantiation (the CP state pass; q, o and scale unused), as StatePassParams:
  // grid (N · H_v, 2 or 4): CTA y owns columns [64y, 64y + 64) of [S | M] (the state's V = 128,
  // then the transition's 128 when m is non-null).
  /// [N · H_v] chunks to run per (sequence, head): the last n (clamped); null = all. A head starts
  /// from h0 only when it runs all chunks, otherwise from zero. Read, or written where
  /// piece_is_last is set.
  int* num_warmup;
  /// CP: when set, each CTA finds its window itself, by the walk of cp_warmup_counts_kernel
  /// (gdn/cp_warmup.cuh) over its piece's chunk totals in g, and CTA y = 0 of each (piece, head)
  /// writes num_warmup and fallback for the correction: no warm-up launch before the state pass.
  const int* piece_is_last;  ///< [N] 1 where the piece ends its raw sequence
  int* fallback;             ///< [N · H_v] out: 1 where the walk never reached the threshold
  float threshold;           ///< the walk's threshold (log space, e.g. -10)
  /// out [N, H_v, 128, 128] fp32 or null: M = M_n ⋯ M_1 where a head runs all its chunks, zeros
  /// elsewhere.
  float* m;
};

/// Shared memory of fused_fwd_wgmma_kernel, offsets from a 1024-byte aligned base. Per input stage
/// four SW128 tiles (q and k 64 × 128 as two 8 KB boxes each, the V-slice and A_r 64 × 64) and the
/// chunk's gates; an aux ring of two slots of A_g and P_g (64 × 64 SW128 each); an O staging ring
/// of two 64 × 64 SW128 tiles (the o map's box: a full chunk leaves by one TMA store); the
/// mbarriers.
struct FusedWgmmaLayout {
  static constexpr int kBox = 64 * 64 * 2;  ///< one SW128 box
  int stage_bytes;                          ///< q, k, v, a tiles of one stage
  int q, k, v, a;                           ///< offsets inside a stage
  int aux;                                  ///< aux ring: slot i at aux + i · 2 · kBox (A_g, P_g)
  static constexpr int kOSlot = kBox;       ///< one O staging tile
  int o;                                    ///< O staging ring: slot i at o + i · kOSlot
  int gates;  ///< per stage: g, β, e^g, scale·e^g, Γ (64 floats each), the decay (float), rows
              ///< (int)
  /// mbarriers: full, empty [stages]; aux full, aux empty [2]; loaded [stages]; O full, O empty
  /// [2]
  int bars;
  int bytes;  ///< total, plus 1024 for the base alignment
};
/// The phases of fused_fwd_wgmma_kernel's loops that a cycle probe (common/cycle_probe.cuh) times:
/// counters [role][phase], each the cycles one warpgroup spent between the previous mark and that
/// phase's, summed over its chunks (one warp of each role reports).
struct FusedWgmmaProbe {
  enum Role : int { kProducer = 0, kAux = 1, kState = 2, kStore = 3, kRoles = 4 };
  enum Phase : int {
    // the producer's TMA lane
    kLoadWaitSlot = 0,  ///< waiting for a free input stage
    kLoadIssue = 1,     ///< expect_tx and the six box loads
    // the producer's store warp
    kStoreWait = 0,  ///< waiting for a staged O tile
    kStoreCopy = 1,  ///< a full tile's TMA store until its source is read, or a partial one's rows
    // the aux warpgroup
    kAuxWaitInputs = 0,  ///< waiting for the stage (TMA, gates, conversion)
    kAuxWaitSlot = 1,    ///< waiting for a free aux slot (the state warpgroup's release)
    kAuxQk = 2,          ///< Q Kᵀ issued and waited
    kAuxMask = 3,        ///< decay mask, A_g and P_g through stmatrix, fence, arrive
    // the state warpgroup
    kStateWaitInputs = 0,  ///< waiting for the stage
    kStateU = 1,           ///< S → A fragments, U issued
    kStateW = 2,           ///< O₁ issued, column factors, the V tile read, U waited, W
    kStateWaitAux = 3,     ///< waiting for A_g and P_g
    kStateVd = 4,          ///< V_d issued, chunk c−1's O staged, S and O₁ scaled, V_d waited
    kStateScale = 5,       ///< V_d packed, tail rows of K zeroed
    kStateUpdate = 6,      ///< the state update and O₂ issued and waited
    kStateOut = 7,         ///< (unused: O is staged under the next chunk's V_d)
    kPhases = 8
  };
};

inline constexpr int kFusedWgmmaGateBytes = 5 * 64 * 4 + 16;  ///< one stage's gates and factors
QLA_HOST_DEVICE constexpr FusedWgmmaLayout fused_wgmma_layout(int stages) {
  FusedWgmmaLayout l{};
  l.q = 0;
  l.k = 2 * FusedWgmmaLayout::kBox;
  l.v = 4 * FusedWgmmaLayout::kBox;
  l.a = 5 * FusedWgmmaLayout::kBox;
  l.stage_bytes = 6 * FusedWgmmaLayout::kBox;
  l.aux = stages * l.stage_bytes;
  l.o = l.aux + 2 * 2 * FusedWgmmaLayout::kBox;
  l.gates = l.o + 2 * FusedWgmmaLayout::kOSlot;
  l.bars = l.gates + stages * kFusedWgmmaGateBytes;
  l.bytes = l.bars + (3 * stages + 8) * 8 + 1024;
  return l;
}

/// Shared memory of fused_fwd_wgmma_2c_kernel (two chains a CTA, 128 value columns), offsets from
/// a 1024-byte aligned base: per input stage seven SW128 boxes (q and k two each, the two V-slices,
/// A_r) and the chunk's gates; the aux ring of two slots of A_g and P_g; one slot a chain of the
/// published Sᵀ (two boxes: 64 value rows × 128 keys) and of the published V_dᵀ (one box); one O
/// staging box a chain; the mbarriers. Two stages take 212 KiB; three do not fit an sm_90 block.
struct FusedWgmma2cLayout {
  static constexpr int kBox = FusedWgmmaLayout::kBox;
  int stage_bytes;  ///< q, k, v (two boxes), a of one stage
  int q, k, v, a;   ///< offsets inside a stage (chain b's V-slice at v + b · kBox)
  int aux;          ///< aux ring: slot i at aux + i · 2 · kBox (A_g, P_g)
  int s;            ///< published Sᵀ of chain b at s + b · 2 · kBox
  int vd;           ///< published V_dᵀ of chain b at vd + b · kBox
  int o;            ///< O staging of chain b at o + b · kBox
  int gates;        ///< per stage, as FusedWgmmaLayout's
  /// mbarriers: full, empty [stages]; aux full, aux empty [2]; S full, S empty, V_d full, V_d
  /// empty, O full, O empty [2 chains]
  int bars;
  int bytes;  ///< total, plus 1024 for the base alignment
};

QLA_HOST_DEVICE constexpr FusedWgmma2cLayout fused_wgmma_2c_layout(int stages) {
  constexpr int kBox = FusedWgmma2cLayout::kBox;
  FusedWgmma2cLayout l{};
  l.q = 0;
  l.k = 2 * kBox;
  l.v = 4 * kBox;
  l.a = 6 * kBox;
  l.stage_bytes = 7 * kBox;
  l.aux = stages * l.stage_bytes;
  l.s = l.aux + 2 * 2 * kBox;
  l.vd = l.s + 2 * 2 * kBox;
  l.o = l.vd + 2 * kBox;
  l.gates = l.o + 2 * kBox;
  l.bars = l.gates + stages * kFusedWgmmaGateBytes;
  l.bytes = l.bars + (2 * stages + 2 * 2 + 6 * 2) * 8 + 1024;
  return l;
}

}  // namespace qla::gdn
