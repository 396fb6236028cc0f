// qla_two_chain_probe: times the chunk step of a proposed layout of the wgmma chunk forward before
// it is written: two chains a CTA (128 value columns, two state warpgroups of 64 columns each on
// the same head) with O moved out of the state warpgroups into the aux warpgroup, so that two
// chains fit the register file (today's state warpgroup needs at least 232 registers with O; two
// of them and an aux do not fit 512 a thread-slot).
//
// Timing only, on synthetic tiles that stay in shared memory (no TMA, no global inputs or outputs,
// no check of any result): what it measures is the structure's cycles a chunk, the number to set
// beside today's kernel (qla_chunk_step_profile) before building the real one. Per chunk c:
//  * state warpgroup b (columns 64b..): publishes Sᵀ_{c−1} (its packed A operand, stmatrix into a
//    SW128 tile), U = Sᵀ Kᵀ, W = Vᵀ − U ⊙ e, V_d = W A_gᵀ (A_g from the aux), publishes V_dᵀ, the
//    update Sᵀ = γ Sᵀ + (V_d ⊙ Γ)ᵀ K. Nothing of O.
//  * aux warpgroup: QKᵀ of chunk c + 1 and its mask into A_g (for both states) and P_g (kept in
//    registers), then O of chunk c for each chain: Q S_{c−1} (SS, from the published Sᵀ) scaled by
//    e^{g}, plus P_g V_d (RS, from the published V_dᵀ), packed and staged (stmatrix).
//  * warpgroup 0 stands for the producer: it gives its registers back and leaves.
// The aux runs in one of two orders: serial (QKᵀ and the mask of chunk c + 1, then O of chunk c:
// each GEMM waited for before the next step) or overlapped (QKᵀ of chunk c + 1 and Q S of chunk c
// issued together, the mask of chunk c + 1 computed while Q S runs on the tensor pipe; P_g then
// goes through shared memory, a ring slot beside A_g's, and P_g V_d is an SS product, which keeps
// the aux's registers within 136 with two O accumulators live).
// Registers (setmaxnreg): two chains 24 + 136 + 2 x 176 = 512; one chain 40 + 232 + 232 = 504.
// Prints cycles a chunk per role (warp 0 of each, averaged over the CTAs) and µs a chunk from
// CUDA events, for one and two chains, on one CTA a SM.
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <vector>

#include "common/convert.cuh"
#include "common/mma.cuh"
#include "common/tma.cuh"
#include "common/warp_roles.cuh"
#include "common/wgmma.cuh"
#include "gdn/fused_fwd_wgmma.cuh"
#include "qla/cuda/check.hpp"
#include "qla/cuda/device_buffer.hpp"
#include "qla/error.hpp"

namespace {

using T = __nv_bfloat16;
namespace cuda = qla::cuda;
namespace fw = qla::gdn::fused_wgmma;  // the chunk forward's fragment addressing

constexpr unsigned kBox = 64 * 128;  // bytes of a SW128 box of 64 rows
// Shared memory, 1024-byte aligned boxes: Q and K (two boxes each: 128 keys), V (one box a chain),
// A_r, the A_g ring (two slots), the published Sᵀ ([chain][slot], two boxes each), the published
// V_dᵀ ([chain][slot]), the O staging (one box a chain), the P_g ring (two slots, the overlapped
// aux's), then the barriers.
constexpr unsigned kQ = 0, kK = 2 * kBox, kV = 4 * kBox, kA = 6 * kBox, kAg = 7 * kBox;
constexpr unsigned kS = 9 * kBox, kVd = 17 * kBox, kO = 21 * kBox, kPg = 23 * kBox;
constexpr unsigned kBars = 25 * kBox;
constexpr unsigned kFactors = kBars + 256;  // e_t and Γ_t, 64 floats each (the gate stage's)
constexpr unsigned kSmemBytes = kFactors + 512 + 1024;  // + alignment slack
// The real kernel's shared memory holds more than this probe's: an input ring of at least two
// stages (Q and K two boxes each, V two, A_r one: 7 boxes a stage) where the probe has one set of
// tiles. With two publish slots a chain (Sᵀ two boxes, V_dᵀ one) that is 14 + 4 (the A_g and P_g
// ring) + 8 + 4 + 2 (O) = 32 boxes, 256 KiB, past the 227 KiB a block may have on sm_90; with one
// slot a chain, 26 boxes (208 KiB) with room for the gates and barriers. The probe times both.
constexpr unsigned kFitBoxes = 2 * 7 + 4 + 2 * 2 + 2 * 1 + 2;
static_assert(kFitBoxes * kBox + 4096 <= 232448, "one publish slot a chain fits an sm_90 block");
static_assert((2 * 7 + 4 + 2 * 2 * 2 + 2 * 2 + 2) * kBox > 232448, "two slots do not: kept honest");

// The column factors the real kernel reads from its gate stage, fixed here: e_t, Γ_t, γ.
__device__ __forceinline__ float e_of(int t) { return 1.f - 0.002f * t; }
__device__ __forceinline__ float gamma_of(int t) { return 0.9f + 0.001f * t; }
constexpr float kDecay = 0.9f;

/// The lane address of matrix-ordered x4 fragments of the 16 x 16 block at (r0, c0) of a box, as
/// the chunk forward addresses them (plain and transposed).
__device__ __forceinline__ unsigned x4_at(int r0, int c0, int lane) {
  return cuda::swizzle_128b(fw::x4_row(r0, lane), fw::x4_col(c0, lane));
}
__device__ __forceinline__ unsigned x4t_at(int r0, int c0, int lane) {
  return cuda::swizzle_128b(fw::x4t_row(r0, lane), fw::x4t_col(c0, lane));
}

template <int kChains>
struct Regs;
template <>
struct Regs<1> {
  static constexpr int kProducer = 40, kAux = 232, kState = 232;
};
// Two chains: nvcc 13.0 spills the states at 168 (20 bytes, with the producer at 40) and nothing at
// 176 with the aux at 136 (120: 164 bytes): the producer here does nothing and keeps 24.
template <>
struct Regs<2> {
  static constexpr int kProducer = 24, kAux = 136, kState = 176;
};

/// Issues QKᵀ of the chunk (8 SS k-steps over the Q and K boxes) into pacc as one group.
__device__ __forceinline__ void issue_qk(const unsigned char* smem, float (&pacc)[32]) {
  cuda::wgmma_fence();
#pragma unroll
  for (int q = 0; q < 8; ++q)
    cuda::Wgmma<64, T, false>::ss(pacc, cuda::k_major_sw128(smem + kQ, q, kBox),
                                  cuda::k_major_sw128(smem + kK, q, kBox), q > 0);
  cuda::wgmma_commit();
}

/// The mask of key columns 16q.. of this lane's rows of a landed QKᵀ: the P_g and A_g fragments
/// (P_g = scale · e^{g_s − g_t} QKᵀ, A_g = e^{g_s − g_t} A_r β_t, zero above the diagonal), with
/// the synthetic gates g_s = −0.01 s, β = 0.5 and scale 0.088 standing for the gate stage's.
__device__ __forceinline__ void mask_block(const unsigned char* smem, const float (&pacc)[32],
                                           int q, int warp, int lane, unsigned (&pp)[4],
                                           unsigned (&aa)[4]) {
  const int s0 = 16 * warp + lane / 4, t4 = lane % 4;
  unsigned ar[4];
  cuda::ldmatrix_x4(ar, smem + kA + x4_at(16 * warp, 16 * q, lane));
#pragma unroll
  for (int m = 0; m < 4; ++m) {
    const int srow = s0 + (m % 2) * 8, j = 2 * q + m / 2, t0 = 8 * j + 2 * t4;
    float a_r[2], pv[2], av[2];
    cuda::unpack2<T>(ar[m], a_r[0], a_r[1]);
#pragma unroll
    for (int e = 0; e < 2; ++e) {
      const bool keep = srow >= t0 + e;
      const float decay = cuda::exp2_approx(-0.01f * srow + 0.01f * (t0 + e));
      pv[e] = keep ? 0.088f * decay * pacc[8 * q + 2 * m + e] : 0.f;
      av[e] = keep ? decay * a_r[e] * 0.5f : 0.f;
    }
    pp[m] = cuda::pack2<T>(pv[0], pv[1]);
    aa[m] = cuda::pack2<T>(av[0], av[1]);
  }
}

template <int kChains, bool kOverlap, int kSlots>
__global__ void __launch_bounds__(128 * (2 + kChains), 1)
    two_chain_kernel(int nchunks, unsigned long long* cycles) {
  static_assert(kSlots == 1 || kSlots == 2, "publish slots a chain");
  // Chain b's publish slot of chunk c (Sᵀ and V_dᵀ), and the parity of its c / kSlots-th use.
  const auto pub = [](int b, int c) { return 2 * b + c % kSlots; };
  const auto pub_phase = [](int c) { return (c / kSlots) & 1; };
  extern __shared__ unsigned char smem_raw[];
  unsigned char* smem = smem_raw + ((1024 - cuda::smem_u32(smem_raw) % 1024) % 1024);
  auto* bars = reinterpret_cast<unsigned long long*>(smem + kBars);
  unsigned long long* ag_full = bars;        // [slot]   aux → states, 4 arrivals
  unsigned long long* ag_empty = bars + 2;   // [slot]   states → aux, 4 a chain
  unsigned long long* s_full = bars + 4;     // [b][slot] state b → aux, 4
  unsigned long long* s_empty = bars + 8;    // [b][slot] aux → state b, 4
  unsigned long long* vd_full = bars + 12;   // [b][slot]
  unsigned long long* vd_empty = bars + 16;  // [b][slot]
  const int wg = cuda::warpgroup_index();
  const int lane = threadIdx.x % 32, warp = (threadIdx.x / 32) % 4;
  const int t4 = lane % 4;

  // Small bf16 values in every tile (generic-proxy writes, read by wgmma: the fence before the
  // CTA barrier).
  for (unsigned i = threadIdx.x; i < kBars / 2; i += blockDim.x)
    reinterpret_cast<T*>(smem)[i] =
        __float2bfloat16(static_cast<float>(static_cast<int>(i * 37u % 17u) - 8) / 256.f);
  float* const fac_e = reinterpret_cast<float*>(smem + kFactors);
  float* const fac_gam = fac_e + 64;
  for (int t = threadIdx.x; t < 64; t += blockDim.x) {
    fac_e[t] = e_of(t);
    fac_gam[t] = gamma_of(t);
  }
  if (threadIdx.x == 0) {
    for (int i = 0; i < 2; ++i) {
      cuda::mbar_init(&ag_full[i], 4);
      cuda::mbar_init(&ag_empty[i], 4 * kChains);
    }
    for (int i = 0; i < 4; ++i) {
      cuda::mbar_init(&s_full[i], 4);
      cuda::mbar_init(&s_empty[i], 4);
      cuda::mbar_init(&vd_full[i], 4);
      cuda::mbar_init(&vd_empty[i], 4);
    }
    cuda::fence_barrier_init();
  }
  cuda::fence_proxy_async_shared();
  __syncthreads();

  if (wg == 0) {
    cuda::reg_dealloc<Regs<kChains>::kProducer>();
    return;
  }
  const auto arrive = [&](unsigned long long* bar) {
    __syncwarp();
    if (lane == 0) cuda::mbar_arrive(bar);
  };

  // O of chunk c for chain b, the aux's in both orders: Q S_{c−1} from the chain's published Sᵀ
  // (SS); once that has landed, Sᵀ's slot released and the rows scaled by scale · e^{g_s}; + P_g
  // V_d (the orders differ there); once that has landed, V_dᵀ's slot released and O staged ([t][v],
  // a store warp would take it from here).
  const auto issue_qs = [&](int c, int b, float(&o)[32]) {
    cuda::mbar_wait(&s_full[pub(b, c)], pub_phase(c));
    unsigned char* sp = smem + kS + pub(b, c) * 2 * kBox;
    cuda::wgmma_fence();
#pragma unroll
    for (int q = 0; q < 8; ++q)
      cuda::Wgmma<64, T, false>::ss(o, cuda::k_major_sw128(smem + kQ, q, kBox),
                                    cuda::k_major_sw128(sp, q, kBox), q > 0);
    cuda::wgmma_commit();
  };
  const auto scale_qs = [&](int c, int b, float(&o)[32]) {
    cuda::fence_operands(o);
    arrive(&s_empty[pub(b, c)]);
#pragma unroll
    for (int j = 0; j < 8; ++j) {  // scale · e^{g_s}: rows s0, s0 + 8
      o[4 * j] *= 0.088f;
      o[4 * j + 1] *= 0.088f;
      o[4 * j + 2] *= 0.087f;
      o[4 * j + 3] *= 0.087f;
    }
  };
  const auto stage_o = [&](int c, int b, float(&o)[32]) {
    cuda::fence_operands(o);
    arrive(&vd_empty[pub(b, c)]);
#pragma unroll
    for (int q = 0; q < 4; ++q) {
      unsigned ao[4];
      cuda::accumulator_to_a<T>(o, q, ao);
      cuda::stmatrix_x4(smem + kO + b * kBox + x4_at(16 * warp, 16 * q, lane), ao);
    }
  };

  if (wg == 1 && kOverlap) {  // ---------------------------------------------- aux, overlapped
    cuda::reg_alloc<Regs<kChains>::kAux>();
    // The mask of chunk c from its landed QKᵀ: A_g and P_g into their slots c & 1, 16 columns at a
    // time.
    const auto mask = [&](int c, float(&pacc)[32]) {
      cuda::fence_operands(pacc);
      cuda::mbar_wait(&ag_empty[c & 1], ((c >> 1) & 1) ^ 1);
#pragma unroll
      for (int q = 0; q < 4; ++q) {
        unsigned aa[4], pp[4];
        mask_block(smem, pacc, q, warp, lane, pp, aa);
        cuda::stmatrix_x4(smem + kAg + (c & 1) * kBox + x4_at(16 * warp, 16 * q, lane), aa);
        cuda::stmatrix_x4(smem + kPg + (c & 1) * kBox + x4_at(16 * warp, 16 * q, lane), pp);
      }
      cuda::fence_proxy_async_shared();
      arrive(&ag_full[c & 1]);
    };
    // + P_g V_d as an SS product (P_g from its slot, [s][t]; the published V_dᵀ, [v][t]). Each
    // step waits only for the group it reads, so one chain's epilogue runs under the other's
    // product.
    const auto issue_pv = [&](int c, int b, float(&o)[32]) {
      scale_qs(c, b, o);
      cuda::mbar_wait(&vd_full[pub(b, c)], pub_phase(c));
      cuda::wgmma_fence();
#pragma unroll
      for (int q = 0; q < 4; ++q)
        cuda::Wgmma<64, T, false>::ss(o, cuda::k_major_sw128(smem + kPg + (c & 1) * kBox, q, kBox),
                                      cuda::k_major_sw128(smem + kVd + pub(b, c) * kBox, q, kBox),
                                      1);
      cuda::wgmma_commit();
    };
    float pacc[32];
    issue_qk(smem, pacc);
    cuda::wgmma_wait<0>();
    mask(0, pacc);
    const long long t0 = clock64();
    // Groups in flight, oldest first, in each step's comment. After the last chunk one QKᵀ and
    // mask more run, unused (no branch: ptxas serialises wgmma where the groups in flight differ
    // between paths).
    for (int c = 0; c < nchunks; ++c) {
      float o0[32], o1[32];
      issue_qk(smem, pacc);  // QKᵀ(c + 1)
      issue_qs(c, 0, o0);    // QKᵀ(c + 1), QS0
      cuda::wgmma_wait<1>();
      mask(c + 1, pacc);  // under QS0
      if constexpr (kChains == 2) {
        issue_qs(c, 1, o1);  // QS0, QS1
        cuda::wgmma_wait<1>();
        issue_pv(c, 0, o0);  // QS1, PV0
        cuda::wgmma_wait<1>();
        issue_pv(c, 1, o1);  // PV0, PV1
        cuda::wgmma_wait<1>();
        stage_o(c, 0, o0);  // PV1
        cuda::wgmma_wait<0>();
        stage_o(c, 1, o1);
      } else {
        cuda::wgmma_wait<0>();
        issue_pv(c, 0, o0);
        cuda::wgmma_wait<0>();
        stage_o(c, 0, o0);
      }
    }
    if (warp == 0 && lane == 0) cycles[blockIdx.x * 3 + 0] = clock64() - t0;
    return;
  }
  if (wg == 1) {  // -------------------------------------------------------------- aux, serial
    cuda::reg_alloc<Regs<kChains>::kAux>();
    // QKᵀ of chunk c and its mask: A_g published into slot c & 1, P_g returned in registers.
    const auto form = [&](int c, unsigned(&pa)[4][4]) {
      float pacc[32];
      issue_qk(smem, pacc);
      cuda::wgmma_wait<0>();
      cuda::fence_operands(pacc);
      unsigned aa[4][4];
#pragma unroll
      for (int q = 0; q < 4; ++q) mask_block(smem, pacc, q, warp, lane, pa[q], aa[q]);
      cuda::mbar_wait(&ag_empty[c & 1], ((c >> 1) & 1) ^ 1);
#pragma unroll
      for (int q = 0; q < 4; ++q)
        cuda::stmatrix_x4(smem + kAg + (c & 1) * kBox + x4_at(16 * warp, 16 * q, lane), aa[q]);
      cuda::fence_proxy_async_shared();
      arrive(&ag_full[c & 1]);
    };
    unsigned pa[4][4], pa_next[4][4];
    form(0, pa);
    const long long t0 = clock64();
    for (int c = 0; c < nchunks; ++c) {
      if (c + 1 < nchunks) form(c + 1, pa_next);
      float o[kChains][32];
#pragma unroll
      for (int b = 0; b < kChains; ++b) issue_qs(c, b, o[b]);
      cuda::wgmma_wait<0>();
#pragma unroll
      for (int b = 0; b < kChains; ++b) scale_qs(c, b, o[b]);
        // + P_g V_d as an RS product (P_g in registers; the published V_dᵀ, [v][t]).
#pragma unroll
      for (int b = 0; b < kChains; ++b) {
        cuda::mbar_wait(&vd_full[pub(b, c)], pub_phase(c));
        cuda::wgmma_fence();
#pragma unroll
        for (int q = 0; q < 4; ++q)
          cuda::Wgmma<64, T, false>::rs(
              o[b], pa[q], cuda::k_major_sw128(smem + kVd + pub(b, c) * kBox, q, kBox), 1);
        cuda::wgmma_commit();
      }
      cuda::wgmma_wait<0>();
#pragma unroll
      for (int b = 0; b < kChains; ++b) stage_o(c, b, o[b]);
#pragma unroll
      for (int q = 0; q < 4; ++q)
#pragma unroll
        for (int m = 0; m < 4; ++m) pa[q][m] = pa_next[q][m];
    }
    if (warp == 0 && lane == 0) cycles[blockIdx.x * 3 + 0] = clock64() - t0;
    return;
  }

  // --------------------------------------------------------------------------------- state b
  cuda::reg_alloc<Regs<kChains>::kState>();
  const int b = wg - 2;
  float st[64];
#pragma unroll
  for (int i = 0; i < 64; ++i) st[i] = 0.01f * ((i * 7 + lane) % 5);
  // Column factors are read where they are used (as the real kernel reads its gate stage):
  // registers held across the chunk would not fit 168.
  const long long t0 = clock64();
  for (int c = 0; c < nchunks; ++c) {
    const int slot = c & 1;
    // Sᵀ_{c−1} packed: U's A operand, and published for the aux's Q S.
    unsigned as[8][4];
#pragma unroll
    for (int q = 0; q < 8; ++q) cuda::accumulator_to_a<T>(st, q, as[q]);
    float u[32];
    cuda::wgmma_fence();
#pragma unroll
    for (int q = 0; q < 8; ++q)
      cuda::Wgmma<64, T, false>::rs(u, as[q], cuda::k_major_sw128(smem + kK, q, kBox), q > 0);
    cuda::wgmma_commit();
    cuda::mbar_wait(&s_empty[pub(b, c)], pub_phase(c) ^ 1);
    unsigned char* sp = smem + kS + pub(b, c) * 2 * kBox;
#pragma unroll
    for (int q = 0; q < 8; ++q)
      cuda::stmatrix_x4(sp + (q / 4) * kBox + x4_at(16 * warp, 16 * (q % 4), lane), as[q]);
    cuda::fence_proxy_async_shared();
    arrive(&s_full[pub(b, c)]);
    unsigned vt[4][4];
#pragma unroll
    for (int q = 0; q < 4; ++q)
      cuda::ldmatrix_x4_trans(vt[q], smem + kV + b * kBox + x4t_at(16 * q, 16 * warp, lane));
    float ecol[16];
    fw::column_factors(fac_e, t4, ecol);
    cuda::wgmma_wait<0>();
    cuda::fence_operands(u);
    unsigned aw[4][4];
    fw::form_w<true, T, T>(vt, u, ecol, 64, t4, aw);
    cuda::mbar_wait(&ag_full[slot], (c >> 1) & 1);
    float vd[32];
    cuda::wgmma_fence();
#pragma unroll
    for (int q = 0; q < 4; ++q)
      cuda::Wgmma<64, T, false>::rs(vd, aw[q],
                                    cuda::k_major_sw128(smem + kAg + slot * kBox, q, kBox), q > 0);
    cuda::wgmma_commit();
#pragma unroll
    for (int i = 0; i < 64; ++i) st[i] *= kDecay;  // under V_d
    cuda::wgmma_wait<0>();
    cuda::fence_operands(vd);
    arrive(&ag_empty[slot]);
    float gam[16];
    fw::column_factors(fac_gam, t4, gam);
    unsigned avg[4][4], avd[4][4];
#pragma unroll
    for (int q = 0; q < 4; ++q)
#pragma unroll
      for (int r = 0; r < 4; ++r) {
        const int idx = 8 * q + 2 * r, j = idx / 4;
        avg[q][r] = cuda::pack2<T>(vd[idx] * gam[2 * j], vd[idx + 1] * gam[2 * j + 1]);
        avd[q][r] = cuda::pack2<T>(vd[idx], vd[idx + 1]);
      }
    cuda::wgmma_fence();
#pragma unroll
    for (int q = 0; q < 4; ++q)
      cuda::Wgmma<128, T, true>::rs(st, avg[q], cuda::mn_major_sw128(smem + kK, q, kBox), 1);
    cuda::wgmma_commit();
    // V_dᵀ published for the aux's P_g V_d while the update runs.
    cuda::mbar_wait(&vd_empty[pub(b, c)], pub_phase(c) ^ 1);
#pragma unroll
    for (int q = 0; q < 4; ++q)
      cuda::stmatrix_x4(smem + kVd + pub(b, c) * kBox + x4_at(16 * warp, 16 * q, lane), avd[q]);
    cuda::fence_proxy_async_shared();
    arrive(&vd_full[pub(b, c)]);
    cuda::wgmma_wait<0>();
    cuda::fence_operands(st);
  }
  if (warp == 0 && lane == 0) cycles[blockIdx.x * 3 + 1 + b] = clock64() - t0;
}

template <int kChains, bool kOverlap, int kSlots = 2>
void run(int ctas, int nchunks) {
  const auto kernel = two_chain_kernel<kChains, kOverlap, kSlots>;
  QLA_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                      static_cast<int>(kSmemBytes)));
  qla::cuda::DeviceBuffer cycles(static_cast<std::size_t>(ctas) * 3 * sizeof(unsigned long long));
  QLA_CUDA_CHECK(cudaMemset(cycles.get(), 0, cycles.bytes()));
  auto* out = cycles.as<unsigned long long>();
  kernel<<<ctas, 128 * (2 + kChains), kSmemBytes>>>(nchunks, out);  // warm-up
  QLA_CUDA_CHECK(cudaGetLastError());
  QLA_CUDA_CHECK(cudaDeviceSynchronize());
  cudaEvent_t start, stop;
  QLA_CUDA_CHECK(cudaEventCreate(&start));
  QLA_CUDA_CHECK(cudaEventCreate(&stop));
  constexpr int kReps = 5;
  QLA_CUDA_CHECK(cudaEventRecord(start));
  for (int r = 0; r < kReps; ++r) kernel<<<ctas, 128 * (2 + kChains), kSmemBytes>>>(nchunks, out);
  QLA_CUDA_CHECK(cudaEventRecord(stop));
  QLA_CUDA_CHECK(cudaEventSynchronize(stop));
  float ms = 0;
  QLA_CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
  std::vector<unsigned long long> host(static_cast<std::size_t>(ctas) * 3);
  QLA_CUDA_CHECK(cudaMemcpy(host.data(), out, cycles.bytes(), cudaMemcpyDeviceToHost));
  double sum[3] = {};
  for (int i = 0; i < ctas; ++i)
    for (int r = 0; r < 3; ++r) sum[r] += static_cast<double>(host[3 * i + r]);
  const double per = static_cast<double>(ctas) * nchunks;
  std::printf(
      "%d chain%s (%d columns a CTA), aux %s, %d publish slot%s a chain, %d CTAs x %d chunks: "
      "%.3f us a chunk (events); cycles a chunk: aux %.0f, state 0 %.0f",
      kChains, kChains > 1 ? "s" : "", 64 * kChains, kOverlap ? "overlapped" : "serial", kSlots,
      kSlots > 1 ? "s" : "", ctas, nchunks, 1e3 * ms / kReps / nchunks, sum[0] / per, sum[1] / per);
  if (kChains > 1) std::printf(", state 1 %.0f", sum[2] / per);
  std::printf("; per 64 columns %.3f us\n", 1e3 * ms / kReps / nchunks / kChains);
  QLA_CUDA_CHECK(cudaEventDestroy(start));
  QLA_CUDA_CHECK(cudaEventDestroy(stop));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Times the two-chain layout of the wgmma chunk forward (O in the aux warpgroup) on "
      "synthetic shared-memory tiles: cycles a chunk per role, one and two chains, the aux "
      "serial and overlapped."};
  int nchunks = 512, ctas = 0;
  app.add_option("--chunks", nchunks, "chunks each CTA runs")->check(CLI::Range(1, 1 << 20));
  app.add_option("--ctas", ctas, "CTAs (default: one a SM)")->check(CLI::Range(0, 1 << 16));
  CLI11_PARSE(app, argc, argv);
  try {
    int dev = 0, sms = 0, major = 0;
    QLA_CUDA_CHECK(cudaGetDevice(&dev));
    QLA_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev));
    QLA_CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev));
    QLA_REQUIRE(major == 9, "qla_two_chain_probe needs an sm_90 GPU (wgmma)");
    if (ctas == 0) ctas = sms;
    run<1, false>(ctas, nchunks);
    run<2, false>(ctas, nchunks);
    run<1, true>(ctas, nchunks);
    run<2, true>(ctas, nchunks);
    // The layout a real kernel can have: one publish slot a chain (kFitBoxes).
    run<2, false, 1>(ctas, nchunks);
    run<2, true, 1>(ctas, nchunks);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "qla_two_chain_probe: %s\n", e.what());
    return 1;
  }
  return 0;
}
