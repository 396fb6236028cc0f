// qla_split_chain_probe: times the chunk step of a proposed layout of the wgmma chunk forward
// before it is written, beside today's layout on the same synthetic tiles: the state update taken
// off the serial chain by the cross-chunk identity
//   Uᵀ_c = Sᵀ_{c−1} K_cᵀ = γ_{c−1} Sᵀ_{c−2} K_cᵀ + (V_d,c−1 ⊙ Γ_{c−1})ᵀ G_{c,c−1}ᵀ,
//   G_{c,c−1} = K_c K_{c−1}ᵀ,
// so the chain of a chunk is two k64 products, U′ (onto γP, P = Sᵀ_{c−2} K_cᵀ computed a chunk
// early) and V_d, where today's is U (k128), V_d and the state update (n128).
//
// Timing only, on synthetic tiles that stay in shared memory (no TMA, no global inputs or outputs,
// no check of any result), one CTA a SM: cycles a chunk per role and µs a chunk. Layouts:
//  * today (3 warpgroups, as gdn/fused_fwd_wgmma.cuh orders its state warpgroup): the aux forms
//    QKᵀ and the mask (A_g, P_g) a chunk ahead; the state warpgroup runs U, O₁, W, V_d, O₂ and the
//    update, and stages O.
//  * split (4 warpgroups): the aux forms QKᵀ, G = K_c K_{c−1}ᵀ and the mask a chunk ahead; the
//    chain warpgroup loads γP_c (fp32, published by the state warpgroup), issues U′_c += (V_d ⊙
//    Γ)ᵀ_{c−1} Gᵀ (RS), publishes V_d,c−1 ⊙ Γ and V_d,c−1 under it, forms W, issues V_d (RS) and
//    packs; the state warpgroup, on each published V_d,j, updates Sᵀ_j (SS, A = the published
//    (V_d ⊙ Γ)ᵀ), issues P_{j+2} = Sᵀ_j K_{j+2}ᵀ (RS) and O₂_j (SS), publishes γP, stages O_j and
//    issues O₁_{j+1} (RS). Nothing of the chain's warpgroup is issued by another.
//  * split, G in: the same with G read as an input tile (kkt_solve, which loads K_c anyway, would
//    form K_c K_{c−1}ᵀ once a query/key head instead of once a CTA), so the aux forms no G.
// The aux ring has two slots as in today's kernel, or three: in the split layout the state
// warpgroup frees a slot (its P_g) a chunk after the chain does, which with two slots holds the
// aux to the chain's pace.
// Warpgroup 0 stands for the producer: it gives its registers back and leaves.
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
namespace fw = qla::gdn::fused_wgmma;  // the chunk forward's fragment addressing and W

constexpr unsigned kBox = 64 * 128;  // bytes of a SW128 box of 64 rows
// Shared memory, 1024-byte aligned: Q and K (two boxes each), V and A_r (one box each), then up to
// three slots each of A_g, P_g, G (the aux ring: aux → chain and state), two each of V_d ⊙ Γ and
// V_d (chain → state), O staging (one box), γP (fp32, two slots of 16 KB: state → chain), the
// column factors and the barriers.
constexpr int kMaxAuxSlots = 3;
constexpr unsigned kQ = 0, kK = 2 * kBox, kV = 4 * kBox, kA = 5 * kBox;
constexpr unsigned kAg = 6 * kBox, kPg = kAg + kMaxAuxSlots * kBox, kG = kPg + kMaxAuxSlots * kBox,
                   kVdg = kG + kMaxAuxSlots * kBox, kVd = kVdg + 2 * kBox, kO = kVd + 2 * kBox,
                   kP = kO + kBox;
constexpr unsigned kPSlot = 64 * 64 * 4;
constexpr unsigned kFactors = kP + 2 * kPSlot;
constexpr unsigned kBars = kFactors + 3 * 64 * 4;
constexpr unsigned kSmemBytes = kBars + 256 + 1024;  // + alignment slack
// A real kernel adds an input ring (7 boxes a stage): two stages and the split layout's 17 boxes
// (two aux slots) and 32 KB of γP are 248 KB, past sm_90's 227 KB a block; γP in 16 bits or a
// smaller ring would have to give. The probe times the structure, not that budget.
static_assert(kSmemBytes <= 232448, "the probe's layout fits an sm_90 block");

// The column factors a real kernel reads from its gate stage, fixed here: e_t, Γ_t, scale · e_s.
__device__ __forceinline__ float e_of(int t) { return 1.f - 0.002f * t; }
__device__ __forceinline__ float gamma_of(int t) { return 0.9f + 0.001f * t; }
constexpr float kDecay = 0.9f;

__device__ __forceinline__ unsigned x4_at(int r0, int c0, int lane) {
  return cuda::swizzle_128b(fw::x4_row(r0, lane), fw::x4_col(c0, lane));
}
__device__ __forceinline__ unsigned x4t_at(int r0, int c0, int lane) {
  return cuda::swizzle_128b(fw::x4t_row(r0, lane), fw::x4t_col(c0, lane));
}

/// Registers a thread-slot per role (setmaxnreg): today's kernel's 56 + 192 + 256 over 384
/// threads; the split layout's 24 + 136 + 160 + 192 = 512 over 512 (nvcc 13.0: no spill, no
/// serialised wgmma; the state warpgroup spills at 184 and the aux at 128).
template <bool kSplit>
struct Regs;
template <>
struct Regs<false> {
  static constexpr int kProducer = 56, kAux = 192, kChain = 256, kState = 24;  // no state role
};
template <>
struct Regs<true> {
  static constexpr int kProducer = 24, kAux = 136, kChain = 160, kState = 192;
};

/// Issues an SS product of two 64 × 128 K-major tiles (8 k-steps) into acc, uncommitted.
__device__ __forceinline__ void issue_ss128(float (&acc)[32], unsigned a_off, unsigned b_off,
                                            const unsigned char* smem) {
#pragma unroll
  for (int q = 0; q < 8; ++q)
    cuda::Wgmma<64, T, false>::ss(acc, cuda::k_major_sw128(smem + a_off, q, kBox),
                                  cuda::k_major_sw128(smem + b_off, q, kBox), q > 0);
}

/// The mask of key columns 16q.. of this lane's rows of a landed QKᵀ: P_g and A_g fragments, with
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

struct Bars {
  unsigned long long* aux_full;   // [aux slot] aux → consumers, 4 arrivals
  unsigned long long* aux_empty;  // [aux slot] consumers → aux, 4 a consuming warpgroup
  unsigned long long* vd_full;    // [slot] chain → state (split), 4
  unsigned long long* vd_empty;   // [slot] state → chain, 4
  unsigned long long* p_full;     // [slot] state → chain (split), 4
  unsigned long long* p_empty;    // [slot] chain → state, 4
};

template <bool kSplit, bool kAuxG, int kAuxSlots>
__global__ void __launch_bounds__(kSplit ? 512 : 384, 1)
    split_chain_kernel(int nchunks, unsigned long long* cycles) {
  static_assert(kAuxSlots >= 2 && kAuxSlots <= kMaxAuxSlots, "aux ring depth");
  constexpr int kRoles = kSplit ? 3 : 2;  // aux, chain(, state)
  // The aux ring's slot of chunk c and the parity of its c / kAuxSlots-th use.
  const auto aslot = [](int c) { return c % kAuxSlots; };
  const auto aphase = [](int c) { return static_cast<unsigned>((c / kAuxSlots) & 1); };
  extern __shared__ unsigned char smem_raw[];
  unsigned char* smem = smem_raw + ((1024 - cuda::smem_u32(smem_raw) % 1024) % 1024);
  auto* bar = reinterpret_cast<unsigned long long*>(smem + kBars);
  const Bars b{bar, bar + 3, bar + 6, bar + 8, bar + 10, bar + 12};
  const int wg = cuda::warpgroup_index();
  const int lane = threadIdx.x % 32, warp = (threadIdx.x / 32) % 4, t4 = lane % 4;

  // Small bf16 values in every 16-bit tile (generic-proxy writes read by wgmma: the fence before
  // the CTA barrier).
  for (unsigned i = threadIdx.x; i < kP / 2; i += blockDim.x)
    reinterpret_cast<T*>(smem)[i] =
        __float2bfloat16(static_cast<float>(static_cast<int>(i * 37u % 17u) - 8) / 256.f);
  float* const fac_e = reinterpret_cast<float*>(smem + kFactors);
  float* const fac_gam = fac_e + 64;
  float* const fac_es = fac_e + 128;
  for (int t = threadIdx.x; t < 64; t += blockDim.x) {
    fac_e[t] = e_of(t);
    fac_gam[t] = gamma_of(t);
    fac_es[t] = 0.088f * e_of(t);
  }
  if (threadIdx.x == 0) {
    for (int i = 0; i < kMaxAuxSlots; ++i) {
      cuda::mbar_init(&b.aux_full[i], 4);
      cuda::mbar_init(&b.aux_empty[i], 4 * (kRoles - 1));
    }
    for (int i = 0; i < 2; ++i) {
      cuda::mbar_init(&b.vd_full[i], 4);
      cuda::mbar_init(&b.vd_empty[i], 4);
      cuda::mbar_init(&b.p_full[i], 4);
      cuda::mbar_init(&b.p_empty[i], 4);
    }
    cuda::fence_barrier_init();
  }
  cuda::fence_proxy_async_shared();
  __syncthreads();

  if (wg == 0) {
    cuda::reg_dealloc<Regs<kSplit>::kProducer>();
    return;
  }
  const auto arrive = [&](unsigned long long* x) {
    __syncwarp();
    if (lane == 0) cuda::mbar_arrive(x);
  };
  const auto stmatrix4 = [&](unsigned off, const unsigned(&r)[4][4]) {
#pragma unroll
    for (int q = 0; q < 4; ++q)
      cuda::stmatrix_x4(smem + off + x4_at(16 * warp, 16 * q, lane), r[q]);
  };

  if (wg == 1) {  // ------------------------------------------------------------------------ aux
    cuda::reg_alloc<Regs<kSplit>::kAux>();
    // Chunks 0 .. nchunks (one more than the consumers read, so no branch splits the issue).
    const long long t0 = clock64();
    for (int c = 0; c <= nchunks; ++c) {
      const int slot = aslot(c);
      float pacc[32], gacc[32];
      cuda::wgmma_fence();
      issue_ss128(pacc, kQ, kK, smem);
      if constexpr (kSplit && kAuxG) issue_ss128(gacc, kK, kK, smem);  // G = K_c K_{c−1}ᵀ
      cuda::wgmma_commit();
      cuda::mbar_wait(&b.aux_empty[slot], aphase(c) ^ 1);
      cuda::wgmma_wait<0>();
      cuda::fence_operands(pacc);
      unsigned aa[4][4], pp[4][4];
#pragma unroll
      for (int q = 0; q < 4; ++q) mask_block(smem, pacc, q, warp, lane, pp[q], aa[q]);
      stmatrix4(kAg + slot * kBox, aa);
      stmatrix4(kPg + slot * kBox, pp);
      if constexpr (kSplit && kAuxG) {
        cuda::fence_operands(gacc);
        unsigned ga[4][4];
#pragma unroll
        for (int q = 0; q < 4; ++q) cuda::accumulator_to_a<T>(gacc, q, ga[q]);
        stmatrix4(kG + slot * kBox, ga);
      }
      cuda::fence_proxy_async_shared();
      arrive(&b.aux_full[slot]);
    }
    if (warp == 0 && lane == 0) cycles[blockIdx.x * 3 + 0] = clock64() - t0;
    return;
  }

  if (!kSplit) {  // --------------------------------------------------- state, today's order
    cuda::reg_alloc<Regs<kSplit>::kChain>();
    float st[64], o[32];
#pragma unroll
    for (int i = 0; i < 64; ++i) st[i] = 0.01f * ((i * 7 + lane) % 5);
    unsigned ao[4][4] = {};
    const long long t0 = clock64();
    for (int c = 0; c < nchunks; ++c) {
      const int slot = aslot(c);
      unsigned as[8][4];
#pragma unroll
      for (int q = 0; q < 8; ++q) cuda::accumulator_to_a<T>(st, q, as[q]);
      float u[32];
      cuda::wgmma_fence();
#pragma unroll
      for (int q = 0; q < 8; ++q)
        cuda::Wgmma<64, T, false>::rs(u, as[q], cuda::k_major_sw128(smem + kK, q, kBox), q > 0);
      cuda::wgmma_commit();
      cuda::wgmma_fence();
#pragma unroll
      for (int q = 0; q < 8; ++q)
        cuda::Wgmma<64, T, false>::rs(o, as[q], cuda::k_major_sw128(smem + kQ, q, kBox), q > 0);
      cuda::wgmma_commit();
#pragma unroll
      for (int i = 0; i < 64; ++i) st[i] *= kDecay;
      float ecol[16];
      fw::column_factors(fac_e, t4, ecol);
      unsigned vt[4][4];
#pragma unroll
      for (int q = 0; q < 4; ++q)
        cuda::ldmatrix_x4_trans(vt[q], smem + kV + x4t_at(16 * q, 16 * warp, lane));
      cuda::wgmma_wait<1>();
      cuda::fence_operands(u);
      unsigned aw[4][4];
      fw::form_w<true, T, T>(vt, u, ecol, 64, t4, aw);
      cuda::mbar_wait(&b.aux_full[slot], aphase(c));
      float vd[32];
      cuda::wgmma_fence();
#pragma unroll
      for (int q = 0; q < 4; ++q)
        cuda::Wgmma<64, T, false>::rs(
            vd, aw[q], cuda::k_major_sw128(smem + kAg + slot * kBox, q, kBox), q > 0);
      cuda::wgmma_commit();
      stmatrix4(kO, ao);  // the previous chunk's O staged under V_d
      float gam[16];
      fw::column_factors(fac_gam, t4, gam);
      cuda::wgmma_wait<1>();
      cuda::fence_operands(o);
#pragma unroll
      for (int j = 0; j < 8; ++j) {
        const float2 f = *reinterpret_cast<const float2*>(&fac_es[8 * j + 2 * t4]);
        o[4 * j] *= f.x;
        o[4 * j + 1] *= f.y;
        o[4 * j + 2] *= f.x;
        o[4 * j + 3] *= f.y;
      }
      cuda::wgmma_wait<0>();
      cuda::fence_operands(vd);
      unsigned avd[4][4], avg[4][4];
#pragma unroll
      for (int q = 0; q < 4; ++q)
#pragma unroll
        for (int r = 0; r < 4; ++r) {
          const int idx = 8 * q + 2 * r, j = idx / 4;
          avd[q][r] = cuda::pack2<T>(vd[idx], vd[idx + 1]);
          avg[q][r] = cuda::pack2<T>(vd[idx] * gam[2 * j], vd[idx + 1] * gam[2 * j + 1]);
        }
      cuda::wgmma_fence();
#pragma unroll
      for (int q = 0; q < 4; ++q)
        cuda::Wgmma<64, T, false>::rs(o, avd[q],
                                      cuda::k_major_sw128(smem + kPg + slot * kBox, q, kBox), 1);
      cuda::wgmma_commit();
      cuda::wgmma_fence();
#pragma unroll
      for (int q = 0; q < 4; ++q)
        cuda::Wgmma<128, T, true>::rs(st, avg[q], cuda::mn_major_sw128(smem + kK, q, kBox), 1);
      cuda::wgmma_commit();
      cuda::wgmma_wait<0>();
      cuda::fence_operands(st);
      cuda::fence_operands(o);
#pragma unroll
      for (int q = 0; q < 4; ++q) cuda::accumulator_to_a<T>(o, q, ao[q]);
      arrive(&b.aux_empty[slot]);
    }
    if (warp == 0 && lane == 0) cycles[blockIdx.x * 3 + 1] = clock64() - t0;
    return;
  }

  // γP of a chunk in fragment order: float4 i of thread tid at kP + slot · kPSlot + (i · 128 + tid)
  // · 16, so each of the 8 LDS.128 / STS.128 of a warp covers 512 contiguous bytes.
  const int tid = threadIdx.x % 128;
  const auto p_at = [&](int slot, int i) {
    return reinterpret_cast<float4*>(smem + kP + slot * kPSlot + (i * 128 + tid) * 16);
  };

  if (wg == 2) {  // ------------------------------------------------------------- chain (split)
    cuda::reg_alloc<Regs<kSplit>::kChain>();
    unsigned avg[4][4] = {}, avd[4][4] = {};  // V_d,c−1 ⊙ Γ and V_d,c−1 packed (zeros before 0)
    // V_d,m ⊙ Γ and V_d,m into slot m & 1 (no wgmma in it, so it may sit under a branch).
    const auto publish_vd = [&](int m) {
      cuda::mbar_wait(&b.vd_empty[m & 1], ((m >> 1) & 1) ^ 1);
      stmatrix4(kVdg + (m & 1) * kBox, avg);
      stmatrix4(kVd + (m & 1) * kBox, avd);
      cuda::fence_proxy_async_shared();
      arrive(&b.vd_full[m & 1]);
    };
    const long long t0 = clock64();
    for (int c = 0; c < nchunks; ++c) {
      const int slot = aslot(c), pslot = c & 1;
      float u[32];
      cuda::mbar_wait(&b.p_full[pslot], (c >> 1) & 1);
#pragma unroll
      for (int i = 0; i < 8; ++i) {
        const float4 f = *p_at(pslot, i);
        u[4 * i] = f.x;
        u[4 * i + 1] = f.y;
        u[4 * i + 2] = f.z;
        u[4 * i + 3] = f.w;
      }
      arrive(&b.p_empty[pslot]);
      cuda::mbar_wait(&b.aux_full[slot], aphase(c));
      cuda::wgmma_fence();
#pragma unroll
      for (int q = 0; q < 4; ++q)
        cuda::Wgmma<64, T, false>::rs(u, avg[q],
                                      cuda::k_major_sw128(smem + kG + slot * kBox, q, kBox), 1);
      cuda::wgmma_commit();
      // V_d,c−1 ⊙ Γ and V_d,c−1 published for the state warpgroup while U′ runs.
      if (c > 0) publish_vd(c - 1);
      float ecol[16];
      fw::column_factors(fac_e, t4, ecol);
      unsigned vt[4][4];
#pragma unroll
      for (int q = 0; q < 4; ++q)
        cuda::ldmatrix_x4_trans(vt[q], smem + kV + x4t_at(16 * q, 16 * warp, lane));
      cuda::wgmma_wait<0>();
      cuda::fence_operands(u);
      unsigned aw[4][4];
      fw::form_w<true, T, T>(vt, u, ecol, 64, t4, aw);
      float vd[32];
      cuda::wgmma_fence();
#pragma unroll
      for (int q = 0; q < 4; ++q)
        cuda::Wgmma<64, T, false>::rs(
            vd, aw[q], cuda::k_major_sw128(smem + kAg + slot * kBox, q, kBox), q > 0);
      cuda::wgmma_commit();
      float gam[16];
      fw::column_factors(fac_gam, t4, gam);
      cuda::wgmma_wait<0>();
      cuda::fence_operands(vd);
      arrive(&b.aux_empty[slot]);
#pragma unroll
      for (int q = 0; q < 4; ++q)
#pragma unroll
        for (int r = 0; r < 4; ++r) {
          const int idx = 8 * q + 2 * r, j = idx / 4;
          avd[q][r] = cuda::pack2<T>(vd[idx], vd[idx + 1]);
          avg[q][r] = cuda::pack2<T>(vd[idx] * gam[2 * j], vd[idx + 1] * gam[2 * j + 1]);
        }
    }
    publish_vd(nchunks - 1);  // the last chunk's, for the state warpgroup
    if (warp == 0 && lane == 0) cycles[blockIdx.x * 3 + 1] = clock64() - t0;
    return;
  }

  // ------------------------------------------------------------------------------ state (split)
  cuda::reg_alloc<Regs<kSplit>::kState>();
  float st[64], o[32], pacc[32];
#pragma unroll
  for (int i = 0; i < 64; ++i) st[i] = 0.01f * ((i * 7 + lane) % 5);
  // γ P of chunk `c` (from the packed state `as`) into its slot, for the chain.
  const auto publish_p = [&](int c) {
    cuda::fence_operands(pacc);
    cuda::mbar_wait(&b.p_empty[c & 1], ((c >> 1) & 1) ^ 1);
#pragma unroll
    for (int i = 0; i < 8; ++i)
      *p_at(c & 1, i) = make_float4(kDecay * pacc[4 * i], kDecay * pacc[4 * i + 1],
                                    kDecay * pacc[4 * i + 2], kDecay * pacc[4 * i + 3]);
    arrive(&b.p_full[c & 1]);
  };
  const auto issue_p = [&](const unsigned(&as)[8][4]) {
    cuda::wgmma_fence();
#pragma unroll
    for (int q = 0; q < 8; ++q)
      cuda::Wgmma<64, T, false>::rs(pacc, as[q], cuda::k_major_sw128(smem + kK, q, kBox), q > 0);
    cuda::wgmma_commit();
  };
  const auto issue_o1 = [&](const unsigned(&as)[8][4]) {
    cuda::wgmma_fence();
#pragma unroll
    for (int q = 0; q < 8; ++q)
      cuda::Wgmma<64, T, false>::rs(o, as[q], cuda::k_major_sw128(smem + kQ, q, kBox), q > 0);
    cuda::wgmma_commit();
  };
  const auto scale_o1 = [&] {
    cuda::fence_operands(o);
#pragma unroll
    for (int j = 0; j < 8; ++j) {
      const float2 f = *reinterpret_cast<const float2*>(&fac_es[8 * j + 2 * t4]);
      o[4 * j] *= f.x;
      o[4 * j + 1] *= f.y;
      o[4 * j + 2] *= f.x;
      o[4 * j + 3] *= f.y;
    }
  };
  {  // P_0, P_1 and O₁_0 from the initial state
    unsigned as[8][4];
#pragma unroll
    for (int q = 0; q < 8; ++q) cuda::accumulator_to_a<T>(st, q, as[q]);
    issue_p(as);
    cuda::wgmma_wait<0>();
    publish_p(0);
    issue_p(as);
    cuda::wgmma_wait<0>();
    publish_p(1);
    issue_o1(as);
    cuda::wgmma_wait<0>();
    scale_o1();
  }
  const long long t0 = clock64();
  // Chunk j: on V_d,j the update Sᵀ_j, then P_{j+2} and O₂_j, γP published, O_j staged, O₁_{j+1}.
  for (int j = 0; j < nchunks; ++j) {
    const int slot = j & 1, as_ = aslot(j);
    cuda::mbar_wait(&b.vd_full[slot], (j >> 1) & 1);
#pragma unroll
    for (int i = 0; i < 64; ++i) st[i] *= kDecay;
    cuda::wgmma_fence();
#pragma unroll
    for (int q = 0; q < 4; ++q)
      cuda::Wgmma<128, T, true>::ss(st, cuda::k_major_sw128(smem + kVdg + slot * kBox, q, kBox),
                                    cuda::mn_major_sw128(smem + kK, q, kBox), 1);
    cuda::wgmma_commit();
    cuda::wgmma_wait<0>();
    cuda::fence_operands(st);
    unsigned as[8][4];
#pragma unroll
    for (int q = 0; q < 8; ++q) cuda::accumulator_to_a<T>(st, q, as[q]);
    issue_p(as);
    cuda::mbar_wait(&b.aux_full[as_], aphase(j));  // P_g,j
    cuda::wgmma_fence();
#pragma unroll
    for (int q = 0; q < 4; ++q)
      cuda::Wgmma<64, T, false>::ss(o, cuda::k_major_sw128(smem + kVd + slot * kBox, q, kBox),
                                    cuda::k_major_sw128(smem + kPg + as_ * kBox, q, kBox), 1);
    cuda::wgmma_commit();
    cuda::wgmma_wait<1>();
    publish_p(j + 2);
    cuda::wgmma_wait<0>();
    cuda::fence_operands(o);
    arrive(&b.vd_empty[slot]);
    arrive(&b.aux_empty[as_]);
    unsigned ao[4][4];
#pragma unroll
    for (int q = 0; q < 4; ++q) cuda::accumulator_to_a<T>(o, q, ao[q]);
    stmatrix4(kO, ao);
    issue_o1(as);
    cuda::wgmma_wait<0>();
    scale_o1();
  }
  if (warp == 0 && lane == 0) cycles[blockIdx.x * 3 + 2] = clock64() - t0;
}

template <bool kSplit, bool kAuxG = true, int kAuxSlots = 2>
void run(int ctas, int nchunks) {
  const auto kernel = split_chain_kernel<kSplit, kAuxG, kAuxSlots>;
  const int threads = kSplit ? 512 : 384;
  QLA_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                      static_cast<int>(kSmemBytes)));
  qla::cuda::DeviceBuffer cycles(static_cast<std::size_t>(ctas) * 3 * sizeof(unsigned long long));
  QLA_CUDA_CHECK(cudaMemset(cycles.get(), 0, cycles.bytes()));
  auto* out = cycles.as<unsigned long long>();
  kernel<<<ctas, threads, kSmemBytes>>>(nchunks, out);  // warm-up
  QLA_CUDA_CHECK(cudaGetLastError());
  QLA_CUDA_CHECK(cudaDeviceSynchronize());
  cudaEvent_t start, stop;
  QLA_CUDA_CHECK(cudaEventCreate(&start));
  QLA_CUDA_CHECK(cudaEventCreate(&stop));
  constexpr int kReps = 5;
  QLA_CUDA_CHECK(cudaEventRecord(start));
  for (int r = 0; r < kReps; ++r) kernel<<<ctas, threads, kSmemBytes>>>(nchunks, out);
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
      "%-12s %d aux slots, %3d CTAs x %4d chunks: %.3f us a chunk (events); cycles a chunk: aux "
      "%.0f, %s %.0f",
      kSplit ? (kAuxG ? "split" : "split, G in") : "today", kAuxSlots, ctas, nchunks,
      1e3 * ms / kReps / nchunks, sum[0] / per, kSplit ? "chain" : "state", sum[1] / per);
  if (kSplit) std::printf(", state %.0f", sum[2] / per);
  std::printf("\n");
  QLA_CUDA_CHECK(cudaEventDestroy(start));
  QLA_CUDA_CHECK(cudaEventDestroy(stop));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Times the split-chain layout of the wgmma chunk forward (the state update, P = S K_next and "
      "O in a warpgroup of their own; the chain U' -> W -> V_d) beside today's layout on "
      "synthetic shared-memory tiles: cycles a chunk per role and us a chunk."};
  int nchunks = 512;
  std::vector<int> ctas_list;
  app.add_option("--chunks", nchunks, "chunks each CTA runs")->check(CLI::Range(1, 1 << 20));
  app.add_option("--ctas", ctas_list, "CTA counts to run (default: 16 and one a SM)");
  CLI11_PARSE(app, argc, argv);
  try {
    int dev = 0, sms = 0, major = 0;
    QLA_CUDA_CHECK(cudaGetDevice(&dev));
    QLA_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev));
    QLA_CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev));
    QLA_REQUIRE(major == 9, "qla_split_chain_probe needs an sm_90 GPU (wgmma)");
    if (ctas_list.empty()) ctas_list = {16, sms};
    for (int ctas : ctas_list) {
      run<false>(ctas, nchunks);
      run<true>(ctas, nchunks);
      run<true, true, 3>(ctas, nchunks);
      run<true, false>(ctas, nchunks);
      run<true, false, 3>(ctas, nchunks);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "qla_split_chain_probe: %s\n", e.what());
    return 1;
  }
  return 0;
}
