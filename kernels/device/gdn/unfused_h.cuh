// Unfused pipeline, kernel 4 of 5: the inter-chunk state recurrence, per (sequence, value head,
// V-slice of width BV), serial over the sequence's chunks. With S the state at the chunk start (K x
// BV slice):
//   h[c] = S;   v_new = u − w S;   S ← e^{g_L} S + (e^{g_L − g} ⊙ K)ᵀ v_new
// writes every chunk-start state h (fp32), v_new over u (fp32), and the final state.
// Grid (V/BV, H, N), 32·W threads (W = 4 or 8 warps), dynamic shared memory
// unfused_layout::h_smem_bytes(BV). S lives in registers as TF32 MMA accumulators (warp w owns rows
// [(128/W)·w, (128/W)·(w+1))); w, K, u and g of chunk i+1 are fetched with cp.async while chunk i
// computes (2 stages).
#pragma once

#include "gdn/unfused_common.cuh"

namespace qla::gdn {

namespace unfused {
constexpr int kHWPitch = unfused_layout::kF32RowPitchK;  // fp32 (C, K) w tile, read along k
constexpr int kHKPitch = unfused_layout::kHalfPitch;     // 16-bit (C, K) K tile
using unfused_layout::h_stage_bytes;
}  // namespace unfused

template <class T, int BV, int W>
__global__ void __launch_bounds__(32 * W) unfused_h_kernel(UnfusedParams p) {
  using namespace unfused;
  static_assert(BV % 32 == 0 && kHeadDim % BV == 0, "BV divides V, multiple of 32");
  static_assert(W == 4 || W == 8, "4 or 8 warps");
  constexpr int kSRows = kHeadDim / W;  // state rows per warp
  constexpr int kSMT = kSRows / 16;     // their m16 tiles
  constexpr int kColGroups =
      W / 4;  // v_new (C x BV): 4 row tiles x kColGroups column groups of warps
  constexpr int kVNT = BV / 8 / kColGroups;
  constexpr int kUPitch = unfused_layout::f32_col_pitch(
      BV);  // fp32 (C, BV) u / v_new tile, read along the output index
  constexpr int kNT = BV / 8;
  extern __shared__ __align__(16) unsigned char smem[];
  float* ss =
      reinterpret_cast<float*>(smem + 2 * h_stage_bytes(BV));  // (K, BV) fp32 chunk-start state

  const int v0 = blockIdx.x * BV;
  const int head = blockIdx.y;
  const int n = blockIdx.z;
  const int group = p.h_v / p.h_qk;
  const int first = p.seq.chunk_offset[n];
  const int chunks = p.seq.chunk_offset[n + 1] - first;
  const int warp = threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  const long long kv = static_cast<long long>(kHeadDim) * kHeadDim;

  auto stage_ptrs = [&](int stage, float*& ws, T*& ks, float*& us, float*& gs) {
    unsigned char* base = smem + stage * h_stage_bytes(BV);
    ws = reinterpret_cast<float*>(base);                // (C, K) fp32, 33 KB
    ks = reinterpret_cast<T*>(ws + kChunk * kHWPitch);  // (C, K) 16-bit, 17 KB
    us =
        reinterpret_cast<float*>(ks + kChunk * kHKPitch);  // (C, BV) fp32 u, then e^{g_L−g} ⊙ v_new
    gs = us + kChunk * kUPitch;                            // (C) fp32 g cumsum
  };
  auto load_chunk = [&](int i) {
    float *ws, *us, *gs;
    T* ks;
    stage_ptrs(i % 2, ws, ks, us, gs);
    const int c = first + i;
    const long long ch = static_cast<long long>(c) * p.h_v + head;
    load_f32_tile_async<kChunk, kHeadDim, kHWPitch>(ws, p.w + ch * kChunk * kHeadDim, kHeadDim);
    load_token_tile_async<kHKPitch>(ks, p.k, chunk_range(p.seq, c), head / group,
                                    p.seq.tokens_per_row);
    load_f32_tile_async<kChunk, BV, kUPitch>(us, p.u + ch * kChunk * kHeadDim + v0, kHeadDim);
    if (threadIdx.x < kChunk / 4)
      cp_async16(gs + 4 * threadIdx.x, p.g_cum + ch * kChunk + 4 * threadIdx.x, true);
  };

  // S (K x BV slice): acc[mt][nt][e] is row kSRows·warp + 16·mt + lane/4 + 8·(e/2), column 8·nt +
  // 2·(lane%4) + e%2.
  float s[kSMT][kNT][4];
  const long long state = (static_cast<long long>(n) * p.h_v + head) * kv;
  const float* h0 = static_cast<const float*>(p.h0.data);
#pragma unroll
  for (int mt = 0; mt < kSMT; ++mt)
#pragma unroll
    for (int nt = 0; nt < kNT; ++nt)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int row = kSRows * warp + 16 * mt + lane / 4 + 8 * (e / 2);
        const int col = 8 * nt + 2 * (lane % 4) + e % 2;
        s[mt][nt][e] = h0 ? h0[state + row * kHeadDim + v0 + col] : 0.f;
      }

  if (chunks > 0) load_chunk(0);
  cp_async_commit();
  for (int i = 0; i < chunks; ++i) {
    if (i + 1 < chunks) load_chunk(i + 1);
    cp_async_commit();
    float *ws, *us, *gs;
    T* ks;
    stage_ptrs(i % 2, ws, ks, us, gs);
    const long long ch = static_cast<long long>(first + i) * p.h_v + head;

    // h[c] = S, to global (fp32) and to shared memory as the B operand of w S.
    float* hc = p.h + ch * kv + v0;
#pragma unroll
    for (int mt = 0; mt < kSMT; ++mt)
#pragma unroll
      for (int nt = 0; nt < kNT; ++nt)
#pragma unroll
        for (int hr = 0; hr < 2; ++hr) {
          const int row = kSRows * warp + 16 * mt + lane / 4 + 8 * hr;
          const int col = 8 * nt + 2 * (lane % 4);
          const float2 x = make_float2(s[mt][nt][2 * hr], s[mt][nt][2 * hr + 1]);
          *reinterpret_cast<float2*>(ss + row * kUPitch + col) = x;
          *reinterpret_cast<float2*>(hc + row * kHeadDim + col) = x;
        }
    cp_async_wait<1>();
    __syncthreads();

    // v_new = u − w S (C x BV; warp w: rows [16·(w%4), +16), columns [(BV/kColGroups)·(w/4),
    // +BV/kColGroups)); v_new → global (over u), e^{g_L−g} ⊙ v_new → us.
    const float gl = gs[kChunk - 1];
    {
      const int row0 = 16 * (warp % 4);
      const int col0 = 8 * kVNT * (warp / 4);
      float acc[1][kVNT][4];
      zero_acc(acc);
      cuda::warp_mma_tf32<1, kVNT, kHeadDim, kHWPitch, 1, kUPitch, 1>(acc, ws + row0 * kHWPitch,
                                                                      ss + col0);
      float* vn = p.u + ch * kChunk * kHeadDim + v0;
#pragma unroll
      for (int nt = 0; nt < kVNT; ++nt)
#pragma unroll
        for (int hr = 0; hr < 2; ++hr) {
          const int row = row0 + lane / 4 + 8 * hr;
          const int col = col0 + 8 * nt + 2 * (lane % 4);
          float2* u2 = reinterpret_cast<float2*>(us + row * kUPitch + col);
          const float2 u = *u2;
          const float2 x = make_float2(u.x - acc[0][nt][2 * hr], u.y - acc[0][nt][2 * hr + 1]);
          *reinterpret_cast<float2*>(vn + row * kHeadDim + col) = x;
          const float decay = __expf(gl - gs[row]);
          *u2 = make_float2(x.x * decay, x.y * decay);
        }
    }
    const float chunk_decay = __expf(gl);
#pragma unroll
    for (int mt = 0; mt < kSMT; ++mt)
#pragma unroll
      for (int nt = 0; nt < kNT; ++nt)
#pragma unroll
        for (int e = 0; e < 4; ++e) s[mt][nt][e] *= chunk_decay;
    __syncthreads();
    // S += Kᵀ (e^{g_L−g} ⊙ v_new): A(i,k) = K[k][i] (rows kSRows·warp of the K dim), B(k,j) =
    // us[k][j].
    cuda::warp_mma_tf32<kSMT, kNT, kChunk, 1, kHKPitch, kUPitch, 1>(s, ks + kSRows * warp, us);
    __syncthreads();
  }
  cp_async_wait<0>();

  if (p.ht.data) {
    float* ht = static_cast<float*>(p.ht.data) + state + v0;
#pragma unroll
    for (int mt = 0; mt < kSMT; ++mt)
#pragma unroll
      for (int nt = 0; nt < kNT; ++nt)
#pragma unroll
        for (int hr = 0; hr < 2; ++hr) {
          const int row = kSRows * warp + 16 * mt + lane / 4 + 8 * hr;
          const int col = 8 * nt + 2 * (lane % 4);
          *reinterpret_cast<float2*>(ht + row * kHeadDim + col) =
              make_float2(s[mt][nt][2 * hr], s[mt][nt][2 * hr + 1]);
        }
  }
}

}  // namespace qla::gdn
