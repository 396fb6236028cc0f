// The Hopper PTX layer on the GPU (sm_90a): a TMA-loaded 128-byte-swizzled tile read back through
// ldmatrix, and written through stmatrix + a TMA store, equals the host bit for bit; one wgmma GEMM
// of each form the GDN chain issues (SS and RS with a K-major B, RS with an MN-major B, and an
// accumulator chained into the next A operand in registers) equals the host GEMM: bit for bit on
// small-integer data (every partial sum exact in fp32 and bf16), within fp32 rounding on random
// data.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "common/tma.cuh"
#include "common/wgmma.cuh"
#include "gpu_guard.hpp"
#include "qla/cuda/check.hpp"
#include "qla/cuda/device_buffer.hpp"
#include "qla/cuda/device_info.hpp"
#include "qla/cuda/tensor_map_encode.hpp"

namespace qla::test {

using bf16 = __nv_bfloat16;
constexpr unsigned kBoxBytes = 64 * 64 * 2;  // one SW128 box: 64 rows × 64 bf16

struct GemmParams {
  cuda::TensorMap a_map, b_map;  ///< [64][K] A (SS only); B as the test lays it out
  const bf16* a;                 ///< the same A in global memory (RS loads its fragments)
  float* d;                      ///< [64][N] out
  int a_boxes, b_boxes;          ///< 64-column boxes of A and B
};

/// Loads `boxes` SW128 boxes of `map` (64 rows each, columns 64·i) to `dst`, 8 KB apart.
__device__ void load_boxes(unsigned char* dst, const cuda::TensorMap* map, int boxes,
                           unsigned long long* bar) {
  cuda::mbar_arrive_expect_tx(bar, boxes * kBoxBytes);
  for (int i = 0; i < boxes; ++i) cuda::tma_load_2d(dst + i * kBoxBytes, map, bar, 64 * i, 0);
}

/// The A fragment of k-slice q straight from row-major global A [64][lda] (ld.global, so loaded
/// before the batch's wgmma_fence).
__device__ void a_fragment(const bf16* a, int lda, int q, unsigned (&r)[4]) {
  const int lane = threadIdx.x % 32, row = 16 * (threadIdx.x / 32) + lane / 4;
  const int k = 16 * q + 2 * (lane % 4);
  auto pair = [&](int rr, int kk) { return *reinterpret_cast<const unsigned*>(a + rr * lda + kk); };
  r[0] = pair(row, k);
  r[1] = pair(row + 8, k);
  r[2] = pair(row, k + 8);
  r[3] = pair(row + 8, k + 8);
}

template <int N>
__device__ void store_accumulator(const float (&d)[N / 2], float* out) {
  const int lane = threadIdx.x % 32, row = 16 * (threadIdx.x / 32) + lane / 4;
#pragma unroll
  for (int j = 0; j < N / 8; ++j) {
    const int col = 8 * j + 2 * (lane % 4);
    out[row * N + col] = d[4 * j];
    out[row * N + col + 1] = d[4 * j + 1];
    out[(row + 8) * N + col] = d[4 * j + 2];
    out[(row + 8) * N + col + 1] = d[4 * j + 3];
  }
}

enum class Form { kSS, kRS, kRSTransB, kChain };

/// D [64][N] of one form; one warpgroup.
///  kSS, kRS:   D = A Bᵀ, A [64][K], B [N][K] (both K-major).
///  kRSTransB:  D = A B,  A [64][K], B [K][N] (MN-major), N = 128.
///  kChain:     D1 = A B1ᵀ (A [64][64], B1 = the first 64 columns of B [64][...]: K-major), then
///              D = bf16(D1) B2 with B2 the MN-major boxes after B1 (b_boxes = 1 + 2).
template <Form kForm, int N, int K>
__global__ void __launch_bounds__(128) gemm_kernel(const __grid_constant__ GemmParams p) {
  extern __shared__ unsigned char smem_raw[];
  __shared__ unsigned long long bar;
  unsigned char* smem = smem_raw + ((1024 - cuda::smem_u32(smem_raw) % 1024) % 1024);
  unsigned char* a_s = smem;
  unsigned char* b_s = smem + p.a_boxes * kBoxBytes;
  if (threadIdx.x == 0) {
    cuda::mbar_init(&bar, 1);
    cuda::fence_barrier_init();
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    cuda::mbar_arrive_expect_tx(&bar, (p.a_boxes + p.b_boxes) * kBoxBytes);
    for (int i = 0; i < p.a_boxes; ++i)
      cuda::tma_load_2d(a_s + i * kBoxBytes, &p.a_map, &bar, 64 * i, 0);
    for (int i = 0; i < p.b_boxes; ++i)
      cuda::tma_load_2d(b_s + i * kBoxBytes, &p.b_map, &bar, 64 * i, 0);
  }
  cuda::mbar_wait(&bar, 0);

  // Every A fragment is in registers before the batch's fence, and the first wgmma overwrites the
  // accumulators (scale_d 0), so nothing but wgmma touches them inside the batch.
  constexpr int kK16 = K / 16;
  float d[N / 2];
  unsigned a[kK16][4];
  if constexpr (kForm == Form::kSS || kForm == Form::kRS) {
    if constexpr (kForm == Form::kRS)
      for (int q = 0; q < kK16; ++q) a_fragment(p.a, K, q, a[q]);
    cuda::wgmma_fence();
#pragma unroll
    for (int q = 0; q < kK16; ++q) {
      const unsigned long long db = cuda::k_major_sw128(b_s, q, kBoxBytes);
      if constexpr (kForm == Form::kSS)
        cuda::Wgmma<N, bf16, false>::ss(d, cuda::k_major_sw128(a_s, q, kBoxBytes), db, q > 0);
      else
        cuda::Wgmma<N, bf16, false>::rs(d, a[q], db, q > 0);
    }
    cuda::wgmma_commit();
    cuda::wgmma_wait<0>();
    cuda::fence_operands(d);
  } else if constexpr (kForm == Form::kRSTransB) {
    for (int q = 0; q < kK16; ++q) a_fragment(p.a, K, q, a[q]);
    cuda::wgmma_fence();
#pragma unroll
    for (int q = 0; q < kK16; ++q)
      cuda::Wgmma<N, bf16, true>::rs(d, a[q], cuda::mn_major_sw128(b_s, q, kBoxBytes), q > 0);
    cuda::wgmma_commit();
    cuda::wgmma_wait<0>();
    cuda::fence_operands(d);
  } else {
    float d1[32];
    for (int q = 0; q < kK16; ++q) a_fragment(p.a, K, q, a[q]);
    cuda::wgmma_fence();
#pragma unroll
    for (int q = 0; q < kK16; ++q)
      cuda::Wgmma<64, bf16, false>::rs(d1, a[q], cuda::k_major_sw128(b_s, q, kBoxBytes), q > 0);
    cuda::wgmma_commit();
    cuda::wgmma_wait<0>();
    cuda::fence_operands(d1);
#pragma unroll
    for (int q = 0; q < 4; ++q) cuda::accumulator_to_a<bf16>(d1, q, a[q]);
    cuda::wgmma_fence();
#pragma unroll
    for (int q = 0; q < 4; ++q)
      cuda::Wgmma<N, bf16, true>::rs(d, a[q], cuda::mn_major_sw128(b_s + kBoxBytes, q, kBoxBytes),
                                     q > 0);
    cuda::wgmma_commit();
    cuda::wgmma_wait<0>();
    cuda::fence_operands(d);
  }
  store_accumulator<N>(d, p.d);
}

struct SwizzleParams {
  cuda::TensorMap in_map, out_map;  ///< [64][64] bf16, SW128 boxes
  unsigned short* read_back;        ///< [64][64]: the tile as ldmatrix returns it, logical order
};

/// One warp: TMA-loads the tile, reads every 16×16 block with ldmatrix_x4 through swizzled
/// addresses into logical order; writes the blocks back with stmatrix_x4 into a second swizzled
/// tile, which a TMA store copies out.
__global__ void swizzle_kernel(const __grid_constant__ SwizzleParams p) {
  extern __shared__ unsigned char smem_raw[];
  __shared__ unsigned long long bar;
  unsigned char* in = smem_raw + ((1024 - cuda::smem_u32(smem_raw) % 1024) % 1024);
  unsigned char* out = in + kBoxBytes;
  const int lane = threadIdx.x;
  if (lane == 0) {
    cuda::mbar_init(&bar, 1);
    cuda::fence_barrier_init();
  }
  __syncwarp();
  if (lane == 0) {
    cuda::mbar_arrive_expect_tx(&bar, kBoxBytes);
    cuda::tma_load_2d(in, &p.in_map, &bar, 0, 0);
  }
  cuda::mbar_wait(&bar, 0);
  for (int blk = 0; blk < 16; ++blk) {
    const int r0 = 16 * (blk / 4), c0 = 16 * (blk % 4);
    const int row = r0 + lane % 8 + ((lane / 8) % 2) * 8, col = c0 + (lane / 16) * 8;
    unsigned r[4];
    cuda::ldmatrix_x4(r, in + cuda::swizzle_128b(row, col));
    for (int i = 0; i < 4; ++i) {
      const int rr = r0 + lane / 4 + (i % 2) * 8, cc = c0 + 2 * (lane % 4) + (i / 2) * 8;
      p.read_back[rr * 64 + cc] = static_cast<unsigned short>(r[i] & 0xffffu);
      p.read_back[rr * 64 + cc + 1] = static_cast<unsigned short>(r[i] >> 16);
    }
    cuda::stmatrix_x4(out + cuda::swizzle_128b(row, col), r);
  }
  cuda::fence_proxy_async_shared();
  __syncwarp();
  if (lane == 0) {
    cuda::tma_store_2d(&p.out_map, out, 0, 0);
    cuda::tma_store_commit();
    cuda::tma_store_wait_read<0>();
  }
}

namespace {

using cuda::DeviceBuffer;

std::uint16_t to_bf16_bits(float x) {  // x exactly representable, or rounded to nearest even
  std::uint32_t u;
  std::memcpy(&u, &x, 4);
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<std::uint16_t>(u >> 16);
}
float from_bf16_bits(std::uint16_t b) {
  const std::uint32_t u = static_cast<std::uint32_t>(b) << 16;
  float x;
  std::memcpy(&x, &u, 4);
  return x;
}

/// A [rows][cols] bf16 matrix: small integers in {-1, 0, 1} (exact), or normal random values.
std::vector<std::uint16_t> matrix(int rows, int cols, bool integers, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> n01;
  std::vector<std::uint16_t> m(static_cast<std::size_t>(rows) * cols);
  for (auto& x : m)
    x = to_bf16_bits(integers ? static_cast<float>(static_cast<int>(rng() % 3) - 1) : n01(rng));
  return m;
}

cuda::TensorMap map_of(const DeviceBuffer& b, int rows, int cols) {
  cuda::TensorMapDesc d;
  d.base = b.get();
  d.dtype = DType::kBF16;
  d.rank = 2;
  d.extent = {static_cast<std::uint64_t>(cols), static_cast<std::uint64_t>(rows), 0, 0, 0};
  d.stride_bytes = {0, static_cast<std::uint64_t>(cols) * 2, 0, 0, 0};
  d.box = {64, 64, 0, 0, 0};
  d.swizzle = cuda::TmaSwizzle::k128B;
  return cuda::encode_tensor_map(d);
}

/// out[i][j] = Σ_k a(i, k) b(k, j) in double, each operand read through its accessor.
template <class A, class B>
std::vector<float> host_gemm(int n, int k, A a, B b) {
  std::vector<float> out(static_cast<std::size_t>(64) * n);
  for (int i = 0; i < 64; ++i)
    for (int j = 0; j < n; ++j) {
      double s = 0;
      for (int x = 0; x < k; ++x) s += static_cast<double>(a(i, x)) * b(x, j);
      out[static_cast<std::size_t>(i) * n + j] = static_cast<float>(s);
    }
  return out;
}

bool have_sm90a() {
  const auto dev = cuda::current_device();
  return dev && dev->arch.has_wgmma();
}

template <Form kForm, int N, int K>
std::vector<float> run_gemm(const std::vector<std::uint16_t>& a, int a_cols,
                            const std::vector<std::uint16_t>& b, int b_rows, int b_cols) {
  DeviceBuffer da = DeviceBuffer::from_host(a), db = DeviceBuffer::from_host(b);
  DeviceBuffer dd(static_cast<std::size_t>(64) * N * 4);
  QLA_CUDA_CHECK(cudaMemset(dd.get(), 0xff, dd.bytes()));
  GemmParams p{map_of(da, 64, a_cols),
               map_of(db, b_rows, b_cols),
               da.as<const bf16>(),
               dd.as<float>(),
               a_cols / 64,
               b_cols / 64};
  const std::size_t smem = static_cast<std::size_t>(p.a_boxes + p.b_boxes) * kBoxBytes + 1024;
  QLA_CUDA_CHECK(cudaFuncSetAttribute(gemm_kernel<kForm, N, K>,
                                      cudaFuncAttributeMaxDynamicSharedMemorySize,
                                      static_cast<int>(smem)));
  gemm_kernel<kForm, N, K><<<1, 128, smem>>>(p);
  QLA_CUDA_CHECK(cudaGetLastError());
  QLA_CUDA_CHECK(cudaDeviceSynchronize());
  return dd.to_host<float>();
}

double max_rel(const std::vector<float>& got, const std::vector<float>& want) {
  double num = 0, den = 0;
  for (std::size_t i = 0; i < want.size(); ++i) {
    num = std::max(num, std::fabs(static_cast<double>(got[i]) - want[i]));
    den = std::max(den, std::fabs(static_cast<double>(want[i])));
  }
  return den > 0 ? num / den : num;
}

TEST(SwizzledTile, TmaLoadLdmatrixStmatrixTmaStoreRoundTripBitForBit) {
  QLA_REQUIRE_GPU();
  if (!have_sm90a()) GTEST_SKIP() << "needs sm_90a";
  const auto host = matrix(64, 64, false, 3);
  DeviceBuffer in = DeviceBuffer::from_host(host), out(host.size() * 2), back(host.size() * 2);
  QLA_CUDA_CHECK(cudaMemset(out.get(), 0xff, out.bytes()));
  SwizzleParams p{map_of(in, 64, 64), map_of(out, 64, 64), back.as<unsigned short>()};
  swizzle_kernel<<<1, 32, 2 * kBoxBytes + 1024>>>(p);
  QLA_CUDA_CHECK(cudaGetLastError());
  QLA_CUDA_CHECK(cudaDeviceSynchronize());
  EXPECT_EQ(back.to_host<std::uint16_t>(), host) << "ldmatrix through swizzle_128b";
  EXPECT_EQ(out.to_host<std::uint16_t>(), host) << "stmatrix through swizzle_128b + TMA store";
}

// U = S·Kᵀ and the QKᵀ form: 64×64×128, B K-major, A from shared memory and from registers.
TEST(Wgmma, KMajorBFromSharedAndFromRegistersEqualsTheHost) {
  QLA_REQUIRE_GPU();
  if (!have_sm90a()) GTEST_SKIP() << "needs sm_90a";
  for (bool integers : {true, false}) {
    const auto a = matrix(64, 128, integers, 1), b = matrix(64, 128, integers, 2);
    const auto want = host_gemm(
        64, 128, [&](int i, int k) { return from_bf16_bits(a[i * 128 + k]); },
        [&](int k, int j) { return from_bf16_bits(b[j * 128 + k]); });
    const auto ss = run_gemm<Form::kSS, 64, 128>(a, 128, b, 64, 128);
    const auto rs = run_gemm<Form::kRS, 64, 128>(a, 128, b, 64, 128);
    if (integers) {
      EXPECT_EQ(ss, want) << "SS on integers";
      EXPECT_EQ(rs, want) << "RS on integers";
    } else {
      EXPECT_LE(max_rel(ss, want), 1e-5) << "SS";
      EXPECT_LE(max_rel(rs, want), 1e-5) << "RS";
    }
  }
}

// The state update S += V_dᵀ·K: 64×128×64, B MN-major (transposed), A from registers.
TEST(Wgmma, MnMajorBTransposedEqualsTheHost) {
  QLA_REQUIRE_GPU();
  if (!have_sm90a()) GTEST_SKIP() << "needs sm_90a";
  for (bool integers : {true, false}) {
    const auto a = matrix(64, 64, integers, 4), b = matrix(64, 128, integers, 5);
    const auto want = host_gemm(
        128, 64, [&](int i, int k) { return from_bf16_bits(a[i * 64 + k]); },
        [&](int k, int j) { return from_bf16_bits(b[k * 128 + j]); });
    const auto got = run_gemm<Form::kRSTransB, 128, 64>(a, 64, b, 64, 128);
    if (integers)
      EXPECT_EQ(got, want);
    else
      EXPECT_LE(max_rel(got, want), 1e-5);
  }
}

// The chain in registers: D1 = A B1ᵀ, then D = bf16(D1) B2 with D1's accumulators as the A operand.
TEST(Wgmma, AccumulatorChainsIntoTheNextAOperand) {
  QLA_REQUIRE_GPU();
  if (!have_sm90a()) GTEST_SKIP() << "needs sm_90a";
  // B holds B1 [64 n][64 k] in columns 0..63 and B2 [64 k][128 n] in columns 64..191.
  const auto a = matrix(64, 64, true, 6), b = matrix(64, 192, true, 7);
  const auto d1 = host_gemm(
      64, 64, [&](int i, int k) { return from_bf16_bits(a[i * 64 + k]); },
      [&](int k, int j) { return from_bf16_bits(b[j * 192 + k]); });
  const auto want = host_gemm(
      128, 64, [&](int i, int k) { return d1[i * 64 + k]; },
      [&](int k, int j) { return from_bf16_bits(b[k * 192 + 64 + j]); });
  EXPECT_EQ((run_gemm<Form::kChain, 128, 64>(a, 64, b, 64, 192)), want);
}

}  // namespace
}  // namespace qla::test
