// Unfused pipeline, kernel 2 of 5: FLA's gated UT matrix per (chunk, value head)
//   L = StrictLower(diag(β) (K Kᵀ) ⊙ Γ),  Γ[s,t] = e^{g_s − g_t};   A = (I + L)⁻¹  (unit lower
//   triangular)
// Grid (NC, H), 128 threads. KKᵀ on TF32 tensor cores (4 warps x 16 rows); the inverse by
// column-wise forward substitution in fp32 (two threads per column, even/odd terms): A[s,j] = −Σ_{j
// ≤ r < s} L[s,r] A[r,j].
#pragma once

#include "gdn/unfused_common.cuh"

namespace qla::gdn {

template <class T>
__global__ void __launch_bounds__(128) unfused_kkt_solve_kernel(UnfusedParams p) {
  using namespace unfused;
  constexpr int kKPitch = 136;  // 16-bit K tile pitch (elements)
  constexpr int kLPitch = 65;  // fp32 L and A pitch: column walks and row walks both conflict-light
  constexpr int kKBytes = kChunk * kKPitch * 2;
  constexpr int kLBytes = kChunk * kLPitch * 4;
  static_assert(kChunk * kLPitch * 4 <= kKBytes, "A aliases the K tile");
  __shared__ alignas(16) unsigned char smem[kKBytes + kLBytes];
  T* ks = reinterpret_cast<T*>(smem);                    // (C, K) 16-bit, 17 KB
  float* ls = reinterpret_cast<float*>(smem + kKBytes);  // (C, C) fp32, 16.3 KB
  float* as = reinterpret_cast<float*>(smem);  // (C, C) fp32, aliases ks once KKᵀ is done
  __shared__ float gs[kChunk];
  __shared__ float bs[kChunk];

  const int c = blockIdx.x;
  const int head = blockIdx.y;
  const int group = p.h_v / p.h_qk;
  const ChunkRange r = chunk_range(p.seq, c);
  load_token_tile_async<kKPitch>(ks, p.k, r, head / group, p.seq.tokens_per_row);
  cp_async_commit();
  const long long vec = (static_cast<long long>(c) * p.h_v + head) * kChunk;
  if (threadIdx.x < kChunk) {
    gs[threadIdx.x] = p.g_cum[vec + threadIdx.x];
    bs[threadIdx.x] = p.beta_f[vec + threadIdx.x];
  }
  cp_async_wait<0>();
  __syncthreads();

  const int warp = threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  {
    float acc[1][8][4];
    zero_acc(acc);
    // P = K Kᵀ: A(i,k) = K[i][k], B(k,j) = K[j][k].
    cuda::warp_mma_tf32<1, 8, kHeadDim, kKPitch, 1, 1, kKPitch>(acc, ks + 16 * warp * kKPitch, ks);
#pragma unroll
    for (int nt = 0; nt < 8; ++nt)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int s = 16 * warp + lane / 4 + 8 * (e / 2);
        const int t = 8 * nt + 2 * (lane % 4) + e % 2;
        ls[s * kLPitch + t] = s > t ? bs[s] * __expf(gs[s] - gs[t]) * acc[0][nt][e] : 0.f;
      }
  }
  __syncthreads();

  // Column j of A by forward substitution; column entries above the diagonal are 0, the diagonal 1.
  const int j = threadIdx.x / 2;
  const int half = threadIdx.x % 2;
  for (int s = half; s < kChunk; s += 2) as[s * kLPitch + j] = s == j ? 1.f : 0.f;
  __syncwarp();
  for (int s = 1; s < kChunk; ++s) {
    float sum = 0.f;
    for (int q = half; q < s; q += 2) sum += ls[s * kLPitch + q] * as[q * kLPitch + j];
    sum += __shfl_xor_sync(0xffffffffu, sum, 1);
    if (half == 0 && s > j) as[s * kLPitch + j] = -sum;
    __syncwarp();
  }
  __syncthreads();
  float* out = p.a + (static_cast<long long>(c) * p.h_v + head) * kChunk * kChunk;
  for (int i = threadIdx.x; i < kChunk * kChunk; i += kThreads)
    out[i] = as[(i / kChunk) * kLPitch + i % kChunk];
}

}  // namespace qla::gdn
