// fused_fwd_wgmma: the chunk forward on Hopper warpgroup MMA (sm_90a). Same work item, inputs and
// math as fused_fwd (fused_fwd_step.cuh's header states the chunk step), restructured so that the
// serial chain never leaves registers: the state is held transposed, Sᵀ (64 value columns × 128
// keys, fp32), as a wgmma accumulator, and each GEMM of the chain takes the previous result as its
// A operand in registers (wgmma RS). Three warpgroups:
//  * producer (56 registers): warp 0 issues the TMA loads of a stage (q, k, the V-slice and A_r as
//    128-byte-swizzled 64 × 64 boxes); warp 1 writes the chunk's gates g (padded rows: the last
//    valid row's), β (0 on padded rows) and the state warpgroup's per-token factors; warp 2 stores
//    each staged O tile (a full chunk by one TMA store, a partial one by row copies). With fp16
//    operands for bf16 inputs, warps 1 and 3 convert the landed q and k tiles in place
//    (element-wise, so the swizzle does not matter; v and A_r are read as bf16 and meet the operand
//    type in registers), off the chain: the intermediates the chain rounds to the operand type (Sᵀ,
//    Wᵀ, V_dᵀ, A_g, P_g) then keep 11 bits instead of bf16's 8. The mixed form (TM below) keeps
//    the bf16 inputs and their products, and only the two products of intermediates (V_d, O₂) on
//    fp16 operands: W, V_d, A_g and P_g keep 11 bits with no conversion; Sᵀ and V_d ⊙ Γ stay bf16;
//  * aux (one chunk ahead of the state warpgroup): P = Q Kᵀ (wgmma SS), the decay mask
//    G[s,t] = 2^{(g_s − g_t) log2 e} (s ≥ t, both valid), P_g = scale · G ⊙ P and
//    A_g = G ⊙ A_r ⊙ β_t, written as swizzled tiles (stmatrix) into a two-slot ring;
//  * state (256 registers): per chunk
//      Uᵀ = Sᵀ Kᵀ,  O₁ᵀ = Sᵀ Qᵀ                      (RS, A = bf16/fp16(Sᵀ))
//      Wᵀ = Vᵀ − Uᵀ ⊙ e^{g_t}  (columns t ≥ valid rows: 0)
//      V_dᵀ = Wᵀ A_gᵀ                                (RS, TM)
//      Oᵀ = scale · e^{g_s} ⊙ O₁ᵀ + V_dᵀ P_gᵀ         (RS, TM)
//      Sᵀ = e^{g_L} Sᵀ + (V_dᵀ ⊙ Γ) K,  Γ_t = e^{g_L − g_t} (0 past the valid rows)   (RS, MN-major
//      K)
//    Only U → W → V_d → S is serial. The decay e^{g_L} scales Sᵀ while U and O₁ run (they read
//    its packed copy). O₁ is issued behind U and waited behind V_d; O₂ is issued
//    before the state update, so the tensor pipe runs it while Γ is applied for
//    the update, and waited with it (ptxas will not keep it in flight across the loop's back
//    edge); Oᵀ is packed then and staged (stmatrix.trans) under the next chunk's V_d into a
//    two-slot ring that the store warp stores.
// A partial last chunk loads whole boxes (rows of the next sequence, or zeros past the tensor;
// with fewer than 64 tokens per batch row the boxes are that short and the tile rows past them
// stale); every product that reads those rows is masked by a select, and the K rows the state
// update reads are zeroed first, so nothing non-finite there can reach a valid output. C = 64,
// BV = 64.
// The state-only instantiation (kStateOnly) is the CP state pass on the same chain: no Q, no O₁/O₂
// and no store warp; the aux warpgroup forms A_g only. CTA (sequence, head, y) runs the last n
// chunks of its sequence (num_warmup, or the CP warm-up walk of gdn/cp_warmup.cuh, which each of
// its warps runs on its own in the prologue) and owns 64 columns of [S | M]: y < 2 a slice of S
// (from h0 when it runs every chunk, else from zero), y ≥ 2 a slice of the transition M (v = 0,
// from the identity; zeros unless the head runs every chunk). Its final state goes to ht or m.
// Compiles under nvcc and NVRTC.
#pragma once

#include "common/convert.cuh"
#include "common/cycle_probe.cuh"
#include "common/griddep.cuh"
#include "common/tma.cuh"
#include "common/warp_roles.cuh"
#include "common/wgmma.cuh"
#include "gdn/cp_warmup.cuh"
#include "gdn/fused_fwd_step.cuh"
#include "qla/gdn/fused_wgmma_params.hpp"

namespace qla::gdn {
namespace fused_wgmma {

constexpr int kC = 64, kBV = 64, kD = kFusedHeadDim;
constexpr unsigned kBox = FusedWgmmaLayout::kBox;
constexpr float kLog2e = 1.4426950408889634f;
// With 56 registers the producer's converters keep up to five 16-byte loads in flight (two with
// 40, SASS); the aux warpgroup needs fewer than 192 (no spill).
constexpr int kProducerRegs = 56, kAuxRegs = 192, kStateRegs = 256;  // 56 + 192 + 256 = 3 · 168

/// Where a work item (a sequence, or a piece of one) starts. An item lies in one batch row: that
/// row and the item's first token in it are computed once, so no loop divides by the row length (a
/// 64-bit division a chunk held the TMA issue ~900 cycles behind the slot's release on an H200).
struct ItemOrigin {
  int b;           // batch row
  long long tok0;  // first token within the row
  __device__ __forceinline__ ItemOrigin(long long start, long long tokens_per_row)
      : b(tokens_per_row > 0 ? static_cast<int>(start / tokens_per_row)
                             : 0),  // no tokens: no chunks
        tok0(start - static_cast<long long>(b) * tokens_per_row) {}
  /// The element offset of (b, tok0, head) in x.
  __device__ __forceinline__ long long offset(const TokenTensor& x, int head) const {
    return static_cast<long long>(b) * x.stride_batch + tok0 * x.stride_token +
           static_cast<long long>(head) * x.stride_head;
  }
};

/// One staged O tile (64 rows x 64 columns, 128B-swizzled) to global memory, by the warp that
/// stores O: a full chunk (and a full box) by one TMA store that lane 0 issues and waits to have
/// read the tile, so it may be staged again; a sequence's partial last chunk by row copies of its
/// valid rows only (they must not reach the next sequence's), 16 bytes a lane. out: row 0 of the
/// chunk at the tile's first column plus this lane's 8 (lane % 8). The token stride is read from
/// the parameters here (passed by value, ptxas kept it live across the callers' loops).
template <class TIn>
__device__ __forceinline__ void store_o_tile(const FusedFwdWgmmaParams& pw,
                                             const unsigned char* tile, TIn* out, int rows, int v0,
                                             int head, int tok, int b, int lane) {
  if (rows == kC && pw.box_rows == kC) {
    if (lane == 0) {
      cuda::tma_store_4d(&pw.o_map, tile, v0, head, tok, b);
      cuda::tma_store_commit();
      cuda::tma_store_wait_read<0>();
    }
  } else {
#pragma unroll 1
    for (int r = lane / 8; r < rows; r += 4)
      *reinterpret_cast<uint4*>(out + r * pw.f.o.stride_token) =
          *reinterpret_cast<const uint4*>(tile + cuda::swizzle_128b(r, (lane % 8) * 8));
  }
}

/// One stage's gates, written by the gate warp: g_cum (padded rows repeat the last valid row), β (0
/// on padded rows), and the state warpgroup's per-token factors, so no exponential is on its
/// chain: e_t = e^{g_t}, scale · e_t, Γ_t = e^{g_L − g_t} (0 past the valid rows) and the chunk's
/// decay e^{g_L} (g_L: the last valid row's), each computed as the state warpgroup would.
struct Gates {
  float g[kC];
  float beta[kC];
  float e[kC];
  float es[kC];
  float gam[kC];
  float decay;
  int rows;
};
static_assert(sizeof(Gates) <= kFusedWgmmaGateBytes,
              "the layout's gate bytes hold a stage's Gates");

/// Lane addresses for ldmatrix/stmatrix x4 of the 16 × 16 block at (r0, c0) in fragment order:
/// matrices (rows r0.., cols c0..), (r0+8.., c0..), (r0.., c0+8..), (r0+8.., c0+8..).
__device__ __forceinline__ int x4_row(int r0, int lane) {
  return r0 + lane % 8 + ((lane / 8) % 2) * 8;
}
__device__ __forceinline__ int x4_col(int c0, int lane) { return c0 + (lane / 16) * 8; }
/// The same for the transposed form (.trans): memory rows r0 + (lane % 8) + 8·(matrix / 2).
__device__ __forceinline__ int x4t_row(int r0, int lane) { return r0 + lane % 8 + (lane / 16) * 8; }
__device__ __forceinline__ int x4t_col(int c0, int lane) { return c0 + ((lane / 8) % 2) * 8; }

/// A gate stage's factors of this thread's columns t = 8j + 2·t4 + e (tokens of the chunk), at
/// out[2j + e].
__device__ __forceinline__ void column_factors(const float* factor, int t4, float (&out)[16]) {
#pragma unroll
  for (int j = 0; j < 8; ++j) {
    const float2 f = *reinterpret_cast<const float2*>(factor + 8 * j + 2 * t4);
    out[2 * j] = f.x;
    out[2 * j + 1] = f.y;
  }
}

/// Wᵀ = Vᵀ − Uᵀ ⊙ e^{g_t} as V_d's A operand (TM), from the V tile's fragments (TIn) and U's
/// accumulator. Columns past the valid rows are 0 (U there reads stale K rows): selects only where
/// kFull is false, so a full chunk has none on the chain.
template <bool kFull, class TIn, class TM>
__device__ __forceinline__ void form_w(const unsigned (&vt)[4][4], const float (&u)[32],
                                       const float (&ecol)[16], int rows, int t4,
                                       unsigned (&aw)[4][4]) {
#pragma unroll
  for (int q = 0; q < 4; ++q)
#pragma unroll
    for (int m = 0; m < 4; ++m) {
      const int j = 2 * q + m / 2, idx = 8 * q + 2 * m;
      float v0, v1;
      cuda::unpack2<TIn>(vt[q][m], v0, v1);
      const int tc = 8 * j + 2 * t4;
      const float w0 = v0 - u[idx] * ecol[2 * j];
      const float w1 = v1 - u[idx + 1] * ecol[2 * j + 1];
      aw[q][m] = cuda::pack2<TM>(kFull || tc < rows ? w0 : 0.f, kFull || tc + 1 < rows ? w1 : 0.f);
    }
}

/// This thread's part of a 64-column Sᵀ accumulator into an fp32 [K][V] state whose slice starts at
/// `out` (rows v_row and v_row + 8 of the slice).
__device__ __forceinline__ void store_state_slice(const float (&st)[64], float* out, int v_row,
                                                  int t4) {
#pragma unroll
  for (int j = 0; j < 16; ++j)
#pragma unroll
    for (int e = 0; e < 2; ++e) {
      const int k = 8 * j + 2 * t4 + e;
      out[k * kD + v_row] = st[4 * j + e];
      out[k * kD + v_row + 8] = st[4 * j + 2 + e];
    }
}

/// The last sequence's CTA of a head: o's padding rows after cu_seqlens[N] are zero in columns
/// v0 .. v0 + 63 (128 threads, this one `tid`).
template <class TIn>
__device__ __forceinline__ void zero_padding_rows(const FusedFwdParams& p, int head, int v0,
                                                  int tid) {
  const long long pad0 = p.seq.cu_seqlens[p.seq.num_sequences];
  TIn* obase = static_cast<TIn*>(p.o.data);
  for (long long i = tid; i < (p.seq.total_tokens - pad0) * (kBV / 8); i += 128) {
    const long long f = pad0 + i / (kBV / 8);
    const int part = static_cast<int>(i % (kBV / 8));
    *reinterpret_cast<uint4*>(obase + cuda::token_offset(p.o, f, head, p.seq.tokens_per_row) + v0 +
                              part * 8) = make_uint4(0u, 0u, 0u, 0u);
  }
}

}  // namespace fused_wgmma

/// kStages: input ring depth (2 or 3); TIn: q/k/v dtype; T: the operand type of the products that
/// read an input tile (Q Kᵀ, U, O₁ and the state update: TIn, or __half for bf16 inputs, which
/// are then converted in shared memory); TM: the operand type of the two products of
/// intermediates only, V_d = W A_g and O₂ = V_d P_g (T, or __half where T is bf16: the chain's W,
/// V_d and the aux's A_g, P_g then keep 11 bits with no conversion of any input); BetaT: float or
/// TIn; Probe: a cycle probe of the loops' phases (FusedWgmmaProbe; the library builds NoProbe);
/// kStateOnly: the CP state pass (see above).
template <int kStages, class TIn, class T, class TM, class BetaT, class Probe = cuda::NoProbe,
          bool kStateOnly = false>
__global__ void __launch_bounds__(384, 1)
    fused_fwd_wgmma_kernel(const __grid_constant__ FusedFwdWgmmaParams pw) {
  cuda::griddep_chain();  // programmatic dependent launch (common/griddep.cuh)
  using namespace fused_wgmma;
  static_assert(kStages >= 2 && kStages <= 3, "stages");
  constexpr bool kConvert = !cuda::IsSame<TIn, T>::value;
  static_assert(
      !kConvert || (cuda::IsSame<TIn, __nv_bfloat16>::value && cuda::IsSame<T, __half>::value),
      "operands: the input type, or fp16 for bf16 inputs");
  static_assert(cuda::IsSame<TM, T>::value ||
                    (cuda::IsSame<T, __nv_bfloat16>::value && cuda::IsSame<TM, __half>::value),
                "intermediate operands: the input products' type, or fp16 beside bf16");
  constexpr FusedWgmmaLayout kL = fused_wgmma_layout(kStages);
  const FusedFwdParams& p = pw.f;
  extern __shared__ unsigned char smem_raw[];
  unsigned char* smem = smem_raw + ((1024 - cuda::smem_u32(smem_raw) % 1024) % 1024);
  auto* bars = reinterpret_cast<unsigned long long*>(smem + kL.bars);
  unsigned long long* full = bars;                    // TMA bytes + the gate warp (or 2 converters)
  unsigned long long* empty = bars + kStages;         // one elected lane per aux and state warp
  unsigned long long* aux_full = bars + 2 * kStages;  // aux → state, per slot
  unsigned long long* aux_empty = aux_full + 2;       // state → aux, per slot
  unsigned long long* loaded = aux_empty + 2;         // TMA bytes, before the conversion
  unsigned long long* o_full = loaded + kStages;      // state → store warp, per O slot
  unsigned long long* o_empty = o_full + 2;           // store warp → state
  auto stage = [&](int s) { return smem + s * kL.stage_bytes; };
  auto gates = [&](int s) {
    return reinterpret_cast<Gates*>(smem + kL.gates + s * kFusedWgmmaGateBytes);
  };
  auto o_slot = [&](int c) { return smem + kL.o + (c & 1) * FusedWgmmaLayout::kOSlot; };
  FusedFwdTile t;
  bool m_slice = false;  // state-only: this CTA's columns are M's
  bool full_run = true;  // state-only: the head runs every chunk of its sequence
  if constexpr (!kStateOnly) {
    t = fused_fwd_tile<kC, kBV>(p);
  } else {
    t.head = static_cast<int>(blockIdx.x) % p.heads_v;
    t.seq = static_cast<int>(blockIdx.x) / p.heads_v;
    t.qk_head = t.head / p.group;
    t.v0 = (static_cast<int>(blockIdx.y) % 2) * kBV;
    m_slice = blockIdx.y >= 2;
    t.start = p.seq.cu_seqlens[t.seq];
    t.len = p.seq.cu_seqlens[t.seq + 1] - t.start;
    t.nchunks = static_cast<int>((t.len + kC - 1) / kC);
    const int at = t.seq * p.heads_v + t.head;
    int n = t.nchunks;
    if (pw.piece_is_last) {  // every warp walks the same window (no barrier); one thread writes it
      const CpWarmupWindow w =
          cp_warmup_walk(p.g, t.start, t.start + t.len, pw.piece_is_last[t.seq] != 0, t.head, kC,
                         pw.threshold, p.seq.tokens_per_row, static_cast<int>(threadIdx.x % 32));
      n = w.n;
      if (blockIdx.y == 0 && threadIdx.x == 0) {
        pw.num_warmup[at] = w.n;
        pw.fallback[at] = w.fallback;
      }
    } else if (pw.num_warmup) {
      n = pw.num_warmup[at];
    }
    n = n < 0 ? 0 : (n > t.nchunks ? t.nchunks : n);
    const long long out = (static_cast<long long>(t.seq) * p.heads_v + t.head) * kD * kD + t.v0;
    if (m_slice && n != t.nchunks) {  // no transition needed: M's slice is zero
      for (int i = threadIdx.x; i < kD * kBV; i += 384) pw.m[out + (i / kBV) * kD + i % kBV] = 0.f;
      return;
    }
    full_run = n == t.nchunks;
    // The window: the last n chunks (chunk boundaries stay the sequence's).
    const int c_begin = t.nchunks - n;
    t.start += static_cast<long long>(c_begin) * kC;
    t.len -= static_cast<long long>(c_begin) * kC;
    t.nchunks = n;
  }
  const ItemOrigin item(t.start, p.seq.tokens_per_row);
  const int wg = cuda::warpgroup_index();
  const int lane = threadIdx.x % 32;
  const int warp = (threadIdx.x / 32) % 4;  // warp inside its warpgroup
  using Ph = FusedWgmmaProbe;
  Probe probe;

  if (threadIdx.x == 0) {
    for (int s = 0; s < kStages; ++s) {
      cuda::mbar_init(&full[s], 2);  // (TMA or converter warp 3) + gate warp
      cuda::mbar_init(&empty[s], 8);
      cuda::mbar_init(&loaded[s], 1);
    }
    for (int i = 0; i < 2; ++i) {
      cuda::mbar_init(&aux_full[i], 4);
      cuda::mbar_init(&aux_empty[i], 4);
      cuda::mbar_init(&o_full[i], 4);
      cuda::mbar_init(&o_empty[i], 1);
    }
    cuda::fence_barrier_init();
  }
  __syncthreads();  // the only CTA-wide barrier: the roles part here

  if (wg == 0) {  // ---------------------------------------------------------------- producer
    cuda::reg_dealloc<kProducerRegs>();
    // bf16 → fp16 in place of half of the q and k tiles (two of the four boxes).
    const auto convert_half = [&](unsigned char* st, int half) {
      uint4* tile = reinterpret_cast<uint4*>(st + kL.q) + half * (2 * kBox / 16);
      for (int i = lane; i < static_cast<int>(2 * kBox / 16); i += 128) {
        uint4 x[4];
#pragma unroll
        for (int u = 0; u < 4; ++u) x[u] = tile[i + 32 * u];
#pragma unroll
        for (int u = 0; u < 4; ++u) tile[i + 32 * u] = cuda::bf16x8_as_f16x8(x[u]);
      }
      cuda::fence_proxy_async_shared();  // read next by wgmma (async proxy)
    };
    if (warp == 0) {
      if (lane == 0) {
        if constexpr (!kStateOnly) cuda::tma_prefetch_descriptor(&pw.q_map);
        cuda::tma_prefetch_descriptor(&pw.k_map);
        cuda::tma_prefetch_descriptor(&pw.v_map);
        cuda::tma_prefetch_descriptor(&pw.a_map);
        probe.start();
        for (int c = 0; c < t.nchunks; ++c) {
          const int s = c % kStages;
          cuda::mbar_wait(&empty[s], ((c / kStages) & 1) ^ 1);
          probe.mark(Ph::kLoadWaitSlot);
          const int b = item.b, tok = static_cast<int>(item.tok0) + c * kC;
          unsigned char* st = stage(s);
          unsigned long long* bar = kConvert ? &loaded[s] : &full[s];
          // The state pass reads no q, and an M slice no v.
          const unsigned boxes = kStateOnly ? (m_slice ? 3u : 4u) : 6u;
          cuda::mbar_arrive_expect_tx(bar, boxes * 128u * static_cast<unsigned>(pw.box_rows));
          for (int h = 0; h < 2; ++h) {
            if constexpr (!kStateOnly)
              cuda::tma_load_4d(st + kL.q + h * kBox, &pw.q_map, bar, 64 * h, t.qk_head, tok, b);
            cuda::tma_load_4d(st + kL.k + h * kBox, &pw.k_map, bar, 64 * h, t.qk_head, tok, b);
          }
          if (!m_slice) cuda::tma_load_4d(st + kL.v, &pw.v_map, bar, t.v0, t.head, tok, b);
          cuda::tma_load_4d(st + kL.a, &pw.a_map, bar, 0, t.head, tok, b);
          probe.mark(Ph::kLoadIssue);
        }
      }
      __syncwarp();
      probe.finish(Ph::kProducer);
    } else if (warp == 1) {  // the gates (and half of the conversion)
      const float* g0 = static_cast<const float*>(p.g.data) + item.offset(p.g, t.head);
      const BetaT* beta0 = static_cast<const BetaT*>(p.beta.data) + item.offset(p.beta, t.head);
      for (int c = 0; c < t.nchunks; ++c) {
        const int s = c % kStages;
        const long long left = t.len - static_cast<long long>(c) * kC;
        const int rows = left < kC ? static_cast<int>(left) : kC;
        const float* g = g0 + static_cast<long long>(c) * kC * p.g.stride_token;
        const BetaT* beta = beta0 + static_cast<long long>(c) * kC * p.beta.stride_token;
        // The loads come before the wait for the slot, so their latency hides under it (and under
        // the conversion). Without a conversion the factors are formed there too; with one they
        // wait until after it: live across it, they leave the converter fewer registers for
        // 16-byte loads in flight (with 40 registers a warp, one instead of two, SASS), which made
        // the inputs of fp16 operands ~1000 cycles a chunk later on an H200.
        float gv[kC / 32], bv[kC / 32], ev[kC / 32], gam[kC / 32], decay;
#pragma unroll
        for (int i = 0; i < kC / 32; ++i) {
          const int r = lane + 32 * i, rr = r < rows ? r : rows - 1;
          gv[i] = g[rr * p.g.stride_token];
          bv[i] = r < rows ? cuda::to_float(beta[rr * p.beta.stride_token]) : 0.f;
        }
        const auto factors = [&] {
          // g_L·log2 e from the lane holding row rows − 1 (every padded row holds it too).
          const float gl = __shfl_sync(0xffffffffu, gv[kC / 32 - 1], 31) * kLog2e;
#pragma unroll
          for (int i = 0; i < kC / 32; ++i) {
            const float gr = gv[i] * kLog2e;
            ev[i] = cuda::exp2_approx(gr);
            gam[i] = lane + 32 * i < rows ? cuda::exp2_approx(gl - gr) : 0.f;
          }
          decay = cuda::exp2_approx(gl);
        };
        constexpr bool kConvertsQ = kConvert && !kStateOnly;  // the state pass reads no q
        if constexpr (!kConvertsQ) factors();
        cuda::mbar_wait(&empty[s], ((c / kStages) & 1) ^ 1);
        Gates* gt = gates(s);
        if constexpr (kConvertsQ) {
          cuda::mbar_wait(&loaded[s], (c / kStages) & 1);
          convert_half(stage(s), 0);
          factors();
        }
#pragma unroll
        for (int i = 0; i < kC / 32; ++i) {
          const int r = lane + 32 * i;
          gt->g[r] = gv[i];
          gt->beta[r] = bv[i];
          gt->e[r] = ev[i];
          gt->es[r] = p.scale * ev[i];
          gt->gam[r] = gam[i];
        }
        if (lane == 0) {
          gt->decay = decay;
          gt->rows = rows;
        }
        __syncwarp();
        if (lane == 0) cuda::mbar_arrive(&full[s]);
      }
    } else if (warp == 2 && !kStateOnly) {  // O: each staged tile to global memory
      // A full chunk (and a full box) leaves by one TMA store of the tile; a sequence's partial
      // last chunk by row copies of its valid rows, which must not reach the next sequence's.
      TIn* const obase =
          static_cast<TIn*>(p.o.data) + item.offset(p.o, t.head) + t.v0 + (lane % 8) * 8;
      if (lane == 0) cuda::tma_prefetch_descriptor(&pw.o_map);
      probe.start();
      for (int c = 0; c < t.nchunks; ++c) {
        cuda::mbar_wait(&o_full[c & 1], (c >> 1) & 1);
        probe.mark(Ph::kStoreWait);
        const unsigned char* ost = o_slot(c);
        const long long left = t.len - static_cast<long long>(c) * kC;
        const int rows = left < kC ? static_cast<int>(left) : kC;
        store_o_tile(pw, ost, obase + static_cast<long long>(c) * kC * p.o.stride_token, rows, t.v0,
                     t.head, static_cast<int>(item.tok0) + c * kC, item.b, lane);
        __syncwarp();  // every lane's reads of the slot are done
        if (lane == 0) cuda::mbar_arrive(&o_empty[c & 1]);
        probe.mark(Ph::kStoreCopy);
      }
      if (lane == 0) cuda::tma_store_wait_all();  // the stores performed before the CTA exits
      probe.finish(Ph::kStore);
    } else if (warp == 3 && kConvert) {  // the other half of the conversion
      for (int c = 0; c < t.nchunks; ++c) {
        const int s = c % kStages;
        cuda::mbar_wait(&loaded[s], (c / kStages) & 1);
        convert_half(stage(s), 1);
        __syncwarp();
        if (lane == 0) cuda::mbar_arrive(&full[s]);
      }
    }
    return;
  }

  const int g4 = lane / 4, t4 = lane % 4;

  if (wg == 2) {  // ---------------------------------------------------------------- aux
    cuda::reg_alloc<kAuxRegs>();
    const int s0 = 16 * warp + g4;  // P rows s0 and s0 + 8
    probe.start();
    for (int c = 0; c < t.nchunks; ++c) {
      const int s = c % kStages, slot = c & 1;
      cuda::mbar_wait(&full[s], (c / kStages) & 1);
      probe.mark(Ph::kAuxWaitInputs);
      cuda::mbar_wait(&aux_empty[slot], ((c >> 1) & 1) ^ 1);
      probe.mark(Ph::kAuxWaitSlot);
      unsigned char* st = stage(s);
      const Gates* gt = gates(s);
      float pacc[32];
      if constexpr (!kStateOnly) {  // the state pass needs A_g only
        cuda::wgmma_fence();
#pragma unroll
        for (int q = 0; q < 8; ++q)
          cuda::Wgmma<64, T, false>::ss(pacc, cuda::k_major_sw128(st + kL.q, q, kBox),
                                        cuda::k_major_sw128(st + kL.k, q, kBox), q > 0);
        cuda::wgmma_commit();
      }
      // The column factors of this thread's columns t = 16q + 8h + 2·t4 + e while QKᵀ runs.
      const int rows = gt->rows;
      const float gs[2] = {gt->g[s0] * kLog2e, gt->g[s0 + 8] * kLog2e};
      float gcol[16], bcol[16];
#pragma unroll
      for (int i = 0; i < 16; ++i) {
        const int tc = 8 * (i / 2) + 2 * t4 + i % 2;
        gcol[i] = gt->g[tc] * kLog2e;
        bcol[i] = gt->beta[tc];
      }
      if constexpr (!kStateOnly) {
        cuda::wgmma_wait<0>();
        cuda::fence_operands(pacc);
      }
      probe.mark(Ph::kAuxQk);
      unsigned char* ag = smem + kL.aux + slot * 2 * kBox;
      unsigned char* pg = ag + kBox;
#pragma unroll
      for (int q = 0; q < 4; ++q) {  // columns t = 16q .. 16q + 15
        const unsigned at = cuda::swizzle_128b(x4_row(16 * warp, lane), x4_col(16 * q, lane));
        unsigned ar[4], pa[4], aa[4];
        cuda::ldmatrix_x4(ar, st + kL.a + at);
#pragma unroll
        for (int m = 0; m < 4; ++m) {
          const int srow = s0 + (m % 2) * 8, j = 2 * q + m / 2, t0 = 8 * j + 2 * t4;
          float a_r[2], pv[2], av[2];
          cuda::unpack2<TIn>(ar[m], a_r[0], a_r[1]);
#pragma unroll
          for (int e = 0; e < 2; ++e) {
            const bool keep = srow >= t0 + e && srow < rows;
            const float decay = cuda::exp2_approx(gs[m % 2] - gcol[2 * j + e]);
            if constexpr (!kStateOnly)
              pv[e] = keep ? p.scale * decay * pacc[8 * q + 2 * m + e] : 0.f;
            av[e] = keep ? decay * a_r[e] * bcol[2 * j + e] : 0.f;
          }
          if constexpr (!kStateOnly) pa[m] = cuda::pack2<TM>(pv[0], pv[1]);
          aa[m] = cuda::pack2<TM>(av[0], av[1]);
        }
        cuda::stmatrix_x4(ag + at, aa);
        if constexpr (!kStateOnly) cuda::stmatrix_x4(pg + at, pa);
      }
      cuda::fence_proxy_async_shared();  // the tiles are read by the state warpgroup's wgmma
      __syncwarp();
      if (lane == 0) {
        cuda::mbar_arrive(&aux_full[slot]);
        cuda::mbar_arrive(&empty[s]);
      }
      probe.mark(Ph::kAuxMask);
    }
    if (warp == 0) probe.finish(Ph::kAux);
    return;
  }

  // ------------------------------------------------------------------------------------- state
  cuda::reg_alloc<kStateRegs>();
  const int tid = threadIdx.x - 128;
  const int v_row = 16 * warp + g4;  // value rows v_row and v_row + 8 of the slice
  float st[64];  // Sᵀ: (v, k = 8j + 2·t4 + e) at st[4j + e], (v + 8, k) at +2
  {
    // (The state pass starts from h0 only when the head runs every chunk, and M from I.)
    int row = p.h0 ? (p.h0_index ? p.h0_index[t.seq] : t.seq) : -1;
    if constexpr (kStateOnly)
      row = p.h0 && full_run && !m_slice ? t.seq : -1;  // as ht: by sequence
    const float* h0 =
        row >= 0 ? p.h0 + (static_cast<long long>(row) * p.heads_v + t.head) * kD * kD + t.v0
                 : nullptr;
#pragma unroll
    for (int j = 0; j < 16; ++j)
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        const int k = 8 * j + 2 * t4 + e;
        if (m_slice) {  // Mᵀ's rows v_row, v_row + 8 of the identity's columns t.v0..
          st[4 * j + e] = k == t.v0 + v_row ? 1.f : 0.f;
          st[4 * j + 2 + e] = k == t.v0 + v_row + 8 ? 1.f : 0.f;
        } else {
          st[4 * j + e] = h0 ? h0[k * kD + v_row] : 0.f;
          st[4 * j + 2 + e] = h0 ? h0[k * kD + v_row + 8] : 0.f;
        }
      }
  }
  float o[32];  // Oᵀ of the chunk: (v, s = 8j + 2·t4 + e) at o[4j + e], (v + 8, s) at +2
  // The finished Oᵀ, packed to the output type: read under the next chunk's V_d. (Reading o itself
  // there, while wgmmas are in flight, makes ptxas wait for them first.)
  unsigned ao[4][4];
  // ao → staging [s][v] of chunk c's slot (stmatrix.trans into the SW128 box the o map stores),
  // for the store warp; the fence makes the writes visible to its TMA store (async proxy).
  const auto stage_o = [&](int c) {
    cuda::mbar_wait(&o_empty[c & 1], ((c >> 1) & 1) ^ 1);
    unsigned char* ost = o_slot(c);
#pragma unroll
    for (int q = 0; q < 4; ++q)
      cuda::stmatrix_x4_trans(
          ost + cuda::swizzle_128b(x4t_row(16 * q, lane), x4t_col(16 * warp, lane)), ao[q]);
    cuda::fence_proxy_async_shared();
    __syncwarp();
    if (lane == 0) cuda::mbar_arrive(&o_full[c & 1]);
  };

  probe.start();
  for (int c = 0; c < t.nchunks; ++c) {
    const int s = c % kStages, slot = c & 1;
    unsigned char* stg = stage(s);
    const Gates* gt = gates(s);
    cuda::mbar_wait(&full[s], (c / kStages) & 1);
    probe.mark(Ph::kStateWaitInputs);
    unsigned as[8][4];
#pragma unroll
    for (int q = 0; q < 8; ++q) cuda::accumulator_to_a<T>(st, q, as[q]);
    float u[32];
    cuda::wgmma_fence();
#pragma unroll
    for (int q = 0; q < 8; ++q)
      cuda::Wgmma<64, T, false>::rs(u, as[q], cuda::k_major_sw128(stg + kL.k, q, kBox), q > 0);
    cuda::wgmma_commit();
    probe.mark(Ph::kStateU);
    if constexpr (!kStateOnly) {
      cuda::wgmma_fence();
#pragma unroll
      for (int q = 0; q < 8; ++q)
        cuda::Wgmma<64, T, false>::rs(o, as[q], cuda::k_major_sw128(stg + kL.q, q, kBox), q > 0);
      cuda::wgmma_commit();
    }

    // The state's decay, e^{g_L}, while U and O₁ run: Sᵀ is read only through its packed copy
    // until the update, so the 64 multiplies leave the chain (they sat between V_d and the update).
    {
      const float decay = gt->decay;
#pragma unroll
      for (int i = 0; i < 64; ++i) st[i] *= decay;
    }
    const int rows = gt->rows;
    float ecol[16];
    column_factors(gt->e, t4, ecol);
    unsigned vt[4][4] = {};  // an M slice evolves with v = 0 (its v tile is never loaded)
    if (!m_slice) {
#pragma unroll
      for (int q = 0; q < 4; ++q)
        cuda::ldmatrix_x4_trans(
            vt[q],
            stg + kL.v + cuda::swizzle_128b(x4t_row(16 * q, lane), x4t_col(16 * warp, lane)));
    }

    if constexpr (kStateOnly)
      cuda::wgmma_wait<0>();  // U done
    else
      cuda::wgmma_wait<1>();  // U done (O₁ may run on)
    cuda::fence_operands(u);
    unsigned aw[4][4];
    if (rows == kC)  // the uniform branch: a full chunk has no selects on the chain
      form_w<true, TIn, TM>(vt, u, ecol, rows, t4, aw);
    else
      form_w<false, TIn, TM>(vt, u, ecol, rows, t4, aw);
    probe.mark(Ph::kStateW);

    cuda::mbar_wait(&aux_full[slot], (c >> 1) & 1);
    probe.mark(Ph::kStateWaitAux);
    unsigned char* ag = smem + kL.aux + slot * 2 * kBox;
    unsigned char* pg = ag + kBox;
    float vd[32];
    cuda::wgmma_fence();
#pragma unroll
    for (int q = 0; q < 4; ++q)
      cuda::Wgmma<64, TM, false>::rs(vd, aw[q], cuda::k_major_sw128(ag, q, kBox), q > 0);
    cuda::wgmma_commit();
    // The previous chunk's O under V_d (it only has to precede the pack of this chunk's O), so
    // nothing but the pack of Sᵀ stands between the inputs and U, and O₁ issues right behind U.
    if constexpr (!kStateOnly) {
      if (c > 0) stage_o(c - 1);
    }
    float gam[16];
    column_factors(gt->gam, t4, gam);
    if constexpr (!kStateOnly) {
      cuda::wgmma_wait<1>();  // O₁ done
      cuda::fence_operands(o);
#pragma unroll
      for (int j = 0; j < 8; ++j) {
        const float2 f = *reinterpret_cast<const float2*>(&gt->es[8 * j + 2 * t4]);
        o[4 * j] *= f.x;
        o[4 * j + 1] *= f.y;
        o[4 * j + 2] *= f.x;
        o[4 * j + 3] *= f.y;
      }
    }
    cuda::wgmma_wait<0>();  // V_d done
    cuda::fence_operands(vd);
    probe.mark(Ph::kStateVd);

    // O₂ first: the tensor pipe runs it while the decay and Γ are applied for the update, which
    // follows it; the one wait below is the update's. (Issued after the update, O₂'s tensor time
    // was on the chain: ptxas cannot keep it in flight across the loop's back edge.)
    if constexpr (!kStateOnly) {
      unsigned avd[4][4];
#pragma unroll
      for (int q = 0; q < 4; ++q)
#pragma unroll
        for (int r = 0; r < 4; ++r)
          avd[q][r] = cuda::pack2<TM>(vd[8 * q + 2 * r], vd[8 * q + 2 * r + 1]);
      cuda::wgmma_fence();
#pragma unroll
      for (int q = 0; q < 4; ++q)
        cuda::Wgmma<64, TM, false>::rs(o, avd[q], cuda::k_major_sw128(pg, q, kBox), 1);
      cuda::wgmma_commit();
    }
    unsigned avg[4][4];
#pragma unroll
    for (int q = 0; q < 4; ++q)
#pragma unroll
      for (int r = 0; r < 4; ++r) {
        const int idx = 8 * q + 2 * r, j = idx / 4;
        avg[q][r] = cuda::pack2<T>(vd[idx] * gam[2 * j], vd[idx + 1] * gam[2 * j + 1]);
      }
    if (rows < kC) {  // the state update reads K's rows past the chunk: make them finite (zero)
      for (int i = tid; i < (kC - rows) * 16; i += 128) {
        const int r = rows + i / 16, h = (i / 8) % 2, unit = i % 8;
        *reinterpret_cast<uint4*>(stg + kL.k + h * kBox + r * 128 + unit * 16) =
            make_uint4(0u, 0u, 0u, 0u);
      }
      cuda::fence_proxy_async_shared();
      cuda::named_barrier_sync<1, 128>();
    }
    probe.mark(Ph::kStateScale);
    cuda::wgmma_fence();
#pragma unroll
    for (int q = 0; q < 4; ++q)
      cuda::Wgmma<128, T, true>::rs(st, avg[q], cuda::mn_major_sw128(stg + kL.k, q, kBox), 1);
    cuda::wgmma_commit();
    cuda::wgmma_wait<0>();
    cuda::fence_operands(st);
    if constexpr (!kStateOnly) {
      cuda::fence_operands(o);
#pragma unroll
      for (int q = 0; q < 4; ++q) cuda::accumulator_to_a<TIn>(o, q, ao[q]);
    }
    __syncwarp();
    if (lane == 0) {
      cuda::mbar_arrive(&empty[s]);  // q, k, v and A_r of the stage are read
      cuda::mbar_arrive(&aux_empty[slot]);
    }
    probe.mark(Ph::kStateUpdate);
  }
  if constexpr (!kStateOnly) {
    if (t.nchunks > 0) stage_o(t.nchunks - 1);
  }
  if (warp == 0) probe.finish(Ph::kState);

  // This thread's part of Sᵀ into row `row` (a sequence or piece) of a [rows, H_v, K, V] state.
  const auto store_state = [&](float* base, int row) {
    store_state_slice(
        st, base + (static_cast<long long>(row) * p.heads_v + t.head) * kD * kD + t.v0, v_row, t4);
  };
  if constexpr (kStateOnly) {  // the slice of S or M; nothing else
    store_state(m_slice ? pw.m : p.ht, t.seq);
    return;
  }
  const int ht_row = p.ht ? (p.ht_index ? p.ht_index[t.seq] : t.seq) : -1;
  if (ht_row >= 0) store_state(p.ht, ht_row);
  if (t.seq == p.seq.num_sequences - 1) zero_padding_rows<TIn>(p, t.head, t.v0, tid);
}

}  // namespace qla::gdn
