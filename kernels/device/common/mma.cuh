// Warp-level tensor-core helpers shared by the fused GDN kernels: mma.sync m16n8k16 (fp16/bf16
// operands, fp32 accumulators), ldmatrix fragment loads from padded shared-memory tiles, cp.async
// with zero fill (element conversion and token addressing: common/convert.cuh). Compiles under nvcc
// and NVRTC (no host standard headers).
//
// Shared-memory tiles are row-major 16-bit arrays with a row pitch that is a multiple of 8 elements
// and ≡ 8 (mod 64) elements (e.g. 136 for 128 columns, 72 for 64): ldmatrix then reads 8 rows from
// 8 distinct 16-byte bank groups, conflict-free, and every fragment row address is 16-byte aligned.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "common/convert.cuh"
#include "qla/gdn/tensor_views.hpp"

namespace qla::cuda {

__device__ __forceinline__ unsigned smem_u32(const void* p) {
  return static_cast<unsigned>(__cvta_generic_to_shared(p));
}

/// 16-byte asynchronous global→shared copy; `valid == false` writes zeros and reads nothing.
__device__ __forceinline__ void cp_async16(void* smem, const void* gmem, bool valid) {
  const int src_size = valid ? 16 : 0;
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_u32(smem)), "l"(gmem),
               "r"(src_size));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int kPending>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(kPending) : "memory");
}

__device__ __forceinline__ void ldmatrix_x4(unsigned (&r)[4], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_u32(p)));
}
__device__ __forceinline__ void ldmatrix_x4_trans(unsigned (&r)[4], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_u32(p)));
}
__device__ __forceinline__ void ldmatrix_x2(unsigned (&r)[2], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0,%1}, [%2];\n"
               : "=r"(r[0]), "=r"(r[1])
               : "r"(smem_u32(p)));
}
__device__ __forceinline__ void ldmatrix_x2_trans(unsigned (&r)[2], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%0,%1}, [%2];\n"
               : "=r"(r[0]), "=r"(r[1])
               : "r"(smem_u32(p)));
}

/// d += a·b for one m16n8k16 tile: row-major A, column-major B, fp32 accumulators; T = __half or
/// __nv_bfloat16.
template <class T>
__device__ __forceinline__ void mma_16816(float (&d)[4], const unsigned (&a)[4], unsigned b0,
                                          unsigned b1);
template <>
__device__ __forceinline__ void mma_16816<__half>(float (&d)[4], const unsigned (&a)[4],
                                                  unsigned b0, unsigned b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
template <>
__device__ __forceinline__ void mma_16816<__nv_bfloat16>(float (&d)[4], const unsigned (&a)[4],
                                                         unsigned b0, unsigned b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

/// How W warps tile an M x N output: WM warps along M (16-row steps), WN along N; each warp owns MT
/// x NT m16n8 tiles. Warp w sits at (w % WM, w / WM).
template <int M, int N, int W>
struct WarpTiling {
  static constexpr int kWM = W < M / 16 ? W : M / 16;
  static constexpr int kWN = W / kWM;
  static constexpr int kMT = M / 16 / kWM;
  static constexpr int kNT = N / 8 / kWN;
  static_assert(M % 16 == 0 && N % 8 == 0, "tile extents");
  static_assert(kWM * kWN == W && kMT * kWM * 16 == M && kNT * kWN * 8 == N,
                "warps must tile the output");
  __device__ static int m0(int warp) { return (warp % kWM) * kMT * 16; }
  __device__ static int n0(int warp) { return (warp / kWM) * kNT * 8; }
};

/// One warp: acc(16·MT x 8·NT at (m0, n0)) += A(m0.., 0..KD) · B(0..KD, n0..), from shared memory.
///   kATrans == false: A stored row-major [m][k] (pitch lda);  true: stored as Aᵀ, i.e. [k][m].
///   kBTrans == false: B stored as Bᵀ, i.e. [n][k] ("K-major");  true: stored row-major [k][n].
/// Accumulator fragment: acc[mt][nt][r] = C(m0 + 16·mt + lane/4 + 8·(r/2), n0 + 8·nt + 2·(lane%4) +
/// r%2).
template <class T, bool kATrans, bool kBTrans, int MT, int NT, int KD>
__device__ __forceinline__ void warp_mma(float (&acc)[MT][NT][4], const T* a, int lda, const T* b,
                                         int ldb, int m0, int n0) {
  static_assert(KD % 16 == 0, "k extent must be a multiple of 16");
  const int lane = threadIdx.x % 32;
  const int j = lane >> 3;
  const int r = lane & 7;
#pragma unroll
  for (int k0 = 0; k0 < KD; k0 += 16) {
    unsigned af[MT][4];
#pragma unroll
    for (int mt = 0; mt < MT; ++mt) {
      const int mb = m0 + 16 * mt;
      if constexpr (!kATrans) {
        ldmatrix_x4(af[mt], a + (mb + (lane & 15)) * lda + k0 + (lane >> 4) * 8);
      } else {
        ldmatrix_x4_trans(af[mt], a + (k0 + r + (j >> 1) * 8) * lda + mb + (j & 1) * 8);
      }
    }
#pragma unroll
    for (int np = 0; np < NT / 2; ++np) {
      const int nb = n0 + 16 * np;
      unsigned bf[4];
      if constexpr (!kBTrans) {
        ldmatrix_x4(bf, b + (nb + (j >> 1) * 8 + r) * ldb + k0 + (j & 1) * 8);
      } else {
        ldmatrix_x4_trans(bf, b + (k0 + (j & 1) * 8 + r) * ldb + nb + (j >> 1) * 8);
      }
#pragma unroll
      for (int mt = 0; mt < MT; ++mt) {
        mma_16816<T>(acc[mt][2 * np], af[mt], bf[0], bf[1]);
        mma_16816<T>(acc[mt][2 * np + 1], af[mt], bf[2], bf[3]);
      }
    }
    if constexpr (NT % 2 == 1) {
      const int nb = n0 + 8 * (NT - 1);
      const int jj = (lane >> 3) & 1;
      unsigned bf[2];
      if constexpr (!kBTrans) {
        ldmatrix_x2(bf, b + (nb + r) * ldb + k0 + jj * 8);
      } else {
        ldmatrix_x2_trans(bf, b + (k0 + jj * 8 + r) * ldb + nb);
      }
#pragma unroll
      for (int mt = 0; mt < MT; ++mt) mma_16816<T>(acc[mt][NT - 1], af[mt], bf[0], bf[1]);
    }
  }
}

template <int MT, int NT>
__device__ __forceinline__ void zero_acc(float (&acc)[MT][NT][4]) {
#pragma unroll
  for (int mt = 0; mt < MT; ++mt)
#pragma unroll
    for (int nt = 0; nt < NT; ++nt)
#pragma unroll
      for (int q = 0; q < 4; ++q) acc[mt][nt][q] = 0.f;
}

/// Calls f(row, col, value&) for every accumulator element of this lane (rows/cols relative to the
/// tile).
template <int MT, int NT, class F>
__device__ __forceinline__ void for_each_acc(float (&acc)[MT][NT][4], int m0, int n0, F&& f) {
  const int lane = threadIdx.x % 32;
#pragma unroll
  for (int mt = 0; mt < MT; ++mt)
#pragma unroll
    for (int nt = 0; nt < NT; ++nt)
#pragma unroll
      for (int q = 0; q < 4; ++q)
        f(m0 + 16 * mt + (lane >> 2) + 8 * (q >> 1), n0 + 8 * nt + 2 * (lane & 3) + (q & 1),
          acc[mt][nt][q]);
}

__device__ __forceinline__ unsigned to_tf32(float x) {
  unsigned r;
  asm("cvt.rna.tf32.f32 %0, %1;\n" : "=r"(r) : "f"(x));
  return r;
}

/// d += a·b for one 16x8x8 TF32 tile (row-major A, column-major B, fp32 accumulators).
__device__ __forceinline__ void mma_tf32(float (&d)[4], const unsigned (&a)[4],
                                         const unsigned (&b)[2]) {
  asm volatile(
      "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

/// One warp: acc(16·MT x 8·NT) += A(16·MT x KD) · B(KD x 8·NT), TF32 tensor cores, with the
/// operands as functions returning floats: A(i, k) = a(i, k), B(k, j) = b(k, j) (i, j, k within the
/// product), for layouts that no pair of strides describes (kkt_solve's swizzled tiles). The k loop
/// is unrolled kUnroll times. Accumulator fragment (m16n8 layout): acc[mt][nt][r] holds row
/// 16·mt + lane/4 + 8·(r/2), column 8·nt + 2·(lane%4) + r%2.
template <int MT, int NT, int KD, int kUnroll = 2, class FA, class FB>
__device__ __forceinline__ void warp_mma_tf32_fn(float (&acc)[MT][NT][4], const FA& a,
                                                 const FB& b) {
  static_assert(KD % 8 == 0, "k extent must be a multiple of 8");
  const int lane = threadIdx.x % 32;
  const int g = lane / 4;
  const int t = lane % 4;
#pragma unroll kUnroll
  for (int k0 = 0; k0 < KD; k0 += 8) {
    unsigned af[MT][4];
#pragma unroll
    for (int mt = 0; mt < MT; ++mt) {
      const int i = 16 * mt + g, k = k0 + t;
      af[mt][0] = to_tf32(a(i, k));
      af[mt][1] = to_tf32(a(i + 8, k));
      af[mt][2] = to_tf32(a(i, k + 4));
      af[mt][3] = to_tf32(a(i + 8, k + 4));
    }
#pragma unroll
    for (int nt = 0; nt < NT; ++nt) {
      const unsigned bf[2] = {to_tf32(b(k0 + t, 8 * nt + g)), to_tf32(b(k0 + t + 4, 8 * nt + g))};
#pragma unroll
      for (int mt = 0; mt < MT; ++mt) mma_tf32(acc[mt][nt], af[mt], bf);
    }
  }
}

/// The same on strided tiles: A(i, k) = a[i·kARow + k·kACol], B(k, j) = b[k·kBK + j·kBN] (shared
/// memory, any of float/bf16/half), so transposed operands are a matter of strides.
/// Bank-conflict-free strides: fp32 rows read along k need row pitch ≡ 4 (mod 32) words, fp32 rows
/// read along the output index need ≡ 8; 16-bit tiles with a pitch of 136 elements are
/// conflict-free both ways.
template <int MT, int NT, int KD, int kARow, int kACol, int kBK, int kBN, class TA, class TB>
__device__ __forceinline__ void warp_mma_tf32(float (&acc)[MT][NT][4], const TA* a, const TB* b) {
  warp_mma_tf32_fn<MT, NT, KD>(
      acc, [a](int i, int k) { return to_float(a[i * kARow + k * kACol]); },
      [b](int k, int j) { return to_float(b[k * kBK + j * kBN]); });
}

/// 8 bf16 values (16 bytes) as 8 fp16 values, rounded to nearest.
__device__ __forceinline__ uint4 bf16x8_as_f16x8(uint4 x) {
  unsigned* w = reinterpret_cast<unsigned*>(&x);
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const __nv_bfloat162 b = *reinterpret_cast<const __nv_bfloat162*>(&w[i]);
    const float2 f = __bfloat1622float2(b);
    w[i] = pack2<__half>(f.x, f.y);
  }
  return x;
}

/// Converts a 16-byte segment (8 elements) of bf16 in shared memory to fp16 in place.
__device__ __forceinline__ void bf16x8_to_f16x8(void* p) {
  uint4* v = static_cast<uint4*>(p);
  *v = bf16x8_as_f16x8(*v);
}

}  // namespace qla::cuda
