// Unfused pipeline, kernel 5 of 5: the output per (chunk, value head, V-slice of width BV)
//   O = scale·(e^g ⊙ Q) h[c] + (scale·Γ ⊙ Q Kᵀ) v_new,   Γ[s,t] = e^{g_s − g_t} for s ≥ t, else 0
// Grid (NC, H, V/BV), 128 threads, dynamic shared memory unfused_layout::o_smem_bytes(BV). Q Kᵀ
// (recomputed per V-slice), Q h and P v_new on TF32 tensor cores, 4 warps x 16 rows. Only the
// chunk's valid rows are written.
#pragma once

#include "gdn/unfused_common.cuh"

namespace qla::gdn {

namespace unfused {
constexpr int kOQPitch = unfused_layout::kHalfPitch;     // 16-bit (C, K) Q and K tiles
constexpr int kOPPitch = unfused_layout::kF32RowPitchC;  // fp32 (C, C) P tile, read along k
}  // namespace unfused

template <class T, int BV>
__global__ void __launch_bounds__(128) unfused_o_kernel(UnfusedParams p) {
  using namespace unfused;
  static_assert(BV % 8 == 0 && kHeadDim % BV == 0, "BV divides V");
  constexpr int kXPitch =
      unfused_layout::f32_col_pitch(BV);  // fp32 h and v_new slices, read along the output index
  constexpr int kNT = BV / 8;
  extern __shared__ __align__(16) unsigned char smem[];
  T* qs = reinterpret_cast<T*>(smem);                            // (C, K) 16-bit, 17 KB
  T* ks = qs + kChunk * kOQPitch;                                // (C, K) 16-bit, 17 KB
  float* hs = reinterpret_cast<float*>(ks + kChunk * kOQPitch);  // (K, BV) fp32
  float* vs = hs + kHeadDim * kXPitch;                           // (C, BV) fp32 v_new
  float* ps = vs + kChunk * kXPitch;   // (C, C) fp32 scale·Γ ⊙ Q Kᵀ, 17 KB
  float* gs = ps + kChunk * kOPPitch;  // (C) fp32 g cumsum

  const int c = blockIdx.x;
  const int head = blockIdx.y;
  const int v0 = blockIdx.z * BV;
  const int group = p.h_v / p.h_qk;
  const ChunkRange r = chunk_range(p.seq, c);
  const long long ch = static_cast<long long>(c) * p.h_v + head;
  load_token_tile_async<kOQPitch>(qs, p.q, r, head / group, p.seq.tokens_per_row);
  load_token_tile_async<kOQPitch>(ks, p.k, r, head / group, p.seq.tokens_per_row);
  load_f32_tile_async<kHeadDim, BV, kXPitch>(hs, p.h + ch * kHeadDim * kHeadDim + v0, kHeadDim);
  load_f32_tile_async<kChunk, BV, kXPitch>(vs, p.u + ch * kChunk * kHeadDim + v0, kHeadDim);
  if (threadIdx.x < kChunk / 4)
    cp_async16(gs + 4 * threadIdx.x, p.g_cum + ch * kChunk + 4 * threadIdx.x, true);
  cp_async_commit();
  cp_async_wait<0>();
  __syncthreads();

  const int warp = threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  {
    float acc[1][8][4];
    zero_acc(acc);
    cuda::warp_mma_tf32<1, 8, kHeadDim, kOQPitch, 1, 1, kOQPitch>(acc, qs + 16 * warp * kOQPitch,
                                                                  ks);  // Q Kᵀ
#pragma unroll
    for (int nt = 0; nt < 8; ++nt)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int s = 16 * warp + lane / 4 + 8 * (e / 2);
        const int t = 8 * nt + 2 * (lane % 4) + e % 2;
        ps[s * kOPPitch + t] = s >= t ? p.scale * __expf(gs[s] - gs[t]) * acc[0][nt][e] : 0.f;
      }
  }
  float acc[1][kNT][4];
  zero_acc(acc);
  cuda::warp_mma_tf32<1, kNT, kHeadDim, kOQPitch, 1, kXPitch, 1>(acc, qs + 16 * warp * kOQPitch,
                                                                 hs);  // Q h
  float row_scale[2];
#pragma unroll
  for (int hr = 0; hr < 2; ++hr)
    row_scale[hr] = p.scale * __expf(gs[16 * warp + lane / 4 + 8 * hr]);
#pragma unroll
  for (int nt = 0; nt < kNT; ++nt)
#pragma unroll
    for (int e = 0; e < 4; ++e) acc[0][nt][e] *= row_scale[e / 2];
  __syncthreads();
  cuda::warp_mma_tf32<1, kNT, kChunk, kOPPitch, 1, kXPitch, 1>(acc, ps + 16 * warp * kOPPitch,
                                                               vs);  // + P v_new

  T* o = static_cast<T*>(p.o.data);
#pragma unroll
  for (int hr = 0; hr < 2; ++hr) {
    const int s = 16 * warp + lane / 4 + 8 * hr;
    if (s >= r.rows) continue;
    T* row = o + token_offset(p.o, r.first_token + s, head, p.seq.tokens_per_row) + v0;
#pragma unroll
    for (int nt = 0; nt < kNT; ++nt) {
      const int col = 8 * nt + 2 * (lane % 4);
      row[col] = from_float<T>(acc[0][nt][2 * hr]);
      row[col + 1] = from_float<T>(acc[0][nt][2 * hr + 1]);
    }
  }
}

}  // namespace qla::gdn
