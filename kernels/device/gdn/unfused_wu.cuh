// Unfused pipeline, kernel 3 of 5: the WY representation per (chunk, value head)
//   w = A (β e^g ⊙ K) = (A diag(β e^g)) K,    u = A (β ⊙ V) = (A diag(β)) V
// Grid (NC, H), 128 threads, dynamic shared memory unfused_layout::kWuSmemBytes. The row scalings
// are folded into A's columns in fp32 so that K and V stay exact 16-bit tiles; both GEMMs (C x C x
// 128) on TF32 tensor cores, 4 warps x 16 rows.
#pragma once

#include "gdn/unfused_common.cuh"

namespace qla::gdn {

namespace unfused {
constexpr int kWuAPitch = unfused_layout::kF32RowPitchC;  // fp32 (C, C) A tiles, read along k
constexpr int kWuXPitch = unfused_layout::kHalfPitch;     // 16-bit (C, 128) K and V tiles
}  // namespace unfused

template <class T>
__global__ void __launch_bounds__(128) unfused_wu_kernel(UnfusedParams p) {
  using namespace unfused;
  extern __shared__ __align__(16) unsigned char smem[];
  float* aw = reinterpret_cast<float*>(smem);             // (C, C) fp32 A diag(β e^g), 17 KB
  float* au = aw + kChunk * kWuAPitch;                    // (C, C) fp32 A diag(β), 17 KB
  T* ks = reinterpret_cast<T*>(au + kChunk * kWuAPitch);  // (C, K) 16-bit, 17 KB
  T* vs = ks + kChunk * kWuXPitch;                        // (C, V) 16-bit, 17 KB
  float* gs = reinterpret_cast<float*>(vs + kChunk * kWuXPitch);
  float* bs = gs + kChunk;

  const int c = blockIdx.x;
  const int head = blockIdx.y;
  const int group = p.h_v / p.h_qk;
  const ChunkRange r = chunk_range(p.seq, c);
  const long long ch = static_cast<long long>(c) * p.h_v + head;
  load_f32_tile_async<kChunk, kChunk, kWuAPitch>(aw, p.a + ch * kChunk * kChunk, kChunk);
  load_token_tile_async<kWuXPitch>(ks, p.k, r, head / group, p.seq.tokens_per_row);
  load_token_tile_async<kWuXPitch>(vs, p.v, r, head, p.seq.tokens_per_row);
  cp_async_commit();
  if (threadIdx.x < kChunk) {
    gs[threadIdx.x] = p.g_cum[ch * kChunk + threadIdx.x];
    bs[threadIdx.x] = p.beta_f[ch * kChunk + threadIdx.x];
  }
  cp_async_wait<0>();
  __syncthreads();
  for (int i = threadIdx.x; i < kChunk * kChunk; i += kThreads) {
    const int s = i / kChunk;
    const int t = i % kChunk;
    const float ab = aw[s * kWuAPitch + t] * bs[t];
    au[s * kWuAPitch + t] = ab;
    aw[s * kWuAPitch + t] = ab * __expf(gs[t]);
  }
  __syncthreads();

  const int warp = threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  for (int which = 0; which < 2; ++which) {
    float acc[1][16][4];
    zero_acc(acc);
    const float* a_tile = (which == 0 ? aw : au) + 16 * warp * kWuAPitch;
    // A(i,k) = a[i][k] (row pitch 68); B(k,j) = X[k][j] (token rows, pitch 136).
    cuda::warp_mma_tf32<1, 16, kChunk, kWuAPitch, 1, kWuXPitch, 1>(acc, a_tile,
                                                                   which == 0 ? ks : vs);
    float* out = (which == 0 ? p.w : p.u) + ch * kChunk * kHeadDim;
#pragma unroll
    for (int nt = 0; nt < 16; ++nt)
#pragma unroll
      for (int hr = 0; hr < 2; ++hr) {
        const int s = 16 * warp + lane / 4 + 8 * hr;
        const int col = 8 * nt + 2 * (lane % 4);
        *reinterpret_cast<float2*>(out + s * kHeadDim + col) =
            make_float2(acc[0][nt][2 * hr], acc[0][nt][2 * hr + 1]);
      }
  }
}

}  // namespace qla::gdn
