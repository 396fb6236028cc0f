// fused_fwd_wgmma_2c: the wgmma chunk forward with two chains a CTA (128 value columns of one
// head, sm_90a). The same work item, inputs and math as fused_fwd_wgmma (its header states the
// chain), laid out so that one SM runs two serial chains on shared inputs: where the chunk forward
// has more CTAs than SMs, one chain an SM leaves the tensor pipe idle for most of a step, and a
// second chain's products fill it. O leaves the state warpgroups (two of them and an aux do not
// fit the register file with it) for the aux, which forms it from the chains' published Sᵀ and
// V_dᵀ. Four warpgroups, setmaxnreg 24 / 136 / 176 / 176:
//  * producer: warp 0 issues the TMA loads of a stage (q, k, both V-slices, A_r: seven SW128
//    boxes), warp 1 writes the chunk's gates and factors (as fused_fwd_wgmma's gate warp), warp 2
//    stores each chain's staged O tile;
//  * aux, one chunk ahead of the chains for the mask, one behind for O: P = Q Kᵀ of chunk c + 1
//    and its decay mask into A_g and P_g (a two-slot ring, shared by both chains), then for each
//    chain b O_b = scale · e^{g_s} ⊙ (Q S_b) + P_g V_d,b (SS products from the published tiles),
//    staged for the store warp;
//  * state b (columns 64b..64b + 63): per chunk Uᵀ = Sᵀ Kᵀ (RS), Sᵀ published (one slot: the aux's
//    Q S of the previous chunk must have landed), Wᵀ = Vᵀ − Uᵀ ⊙ e^{g_t}, V_dᵀ = Wᵀ A_gᵀ (RS, TM),
//    the update Sᵀ = e^{g_L} Sᵀ + (V_dᵀ ⊙ Γ) K (RS, MN-major K), V_dᵀ published (one slot) under
//    it.
// One publish slot a chain keeps the layout within an sm_90 block beside a two-stage input ring
// (fused_wgmma_2c_layout). Partial chunks are masked as in fused_fwd_wgmma (selects on W, the
// mask's row and column tests, K's tail rows zeroed before each chain's update). Operands: the
// input type, and TM for the two products of intermediates (V_d = W A_g, P_g V_d). No state-only
// form: the CP state pass keeps fused_fwd_wgmma's. Compiles under nvcc and NVRTC.
#pragma once

#include "gdn/fused_fwd_wgmma.cuh"

namespace qla::gdn {
namespace fused_wgmma_2c {

constexpr int kChains = 2;
// 24 + 136 + 2 · 176 = 512: the register file of one 512-thread CTA a SM.
constexpr int kProducerRegs2c = 24, kAuxRegs2c = 136, kStateRegs2c = 176;

}  // namespace fused_wgmma_2c

/// kStages: input ring depth (2: three do not fit); TIn: q/k/v dtype, the operand type of every
/// product that reads an input tile or Sᵀ; TM: of V_d = W A_g and P_g V_d (TIn, or __half beside
/// bf16 inputs); BetaT: float or TIn.
template <int kStages, class TIn, class TM, class BetaT>
__global__ void __launch_bounds__(512, 1)
    fused_fwd_wgmma_2c_kernel(const __grid_constant__ FusedFwdWgmmaParams pw) {
  cuda::griddep_chain();  // programmatic dependent launch (common/griddep.cuh)
  using namespace fused_wgmma;
  using namespace fused_wgmma_2c;
  using T = TIn;
  static_assert(kStages == 2, "stages: three do not fit an sm_90 block");
  static_assert(cuda::IsSame<TM, T>::value ||
                    (cuda::IsSame<T, __nv_bfloat16>::value && cuda::IsSame<TM, __half>::value),
                "intermediate operands: the input type, or fp16 beside bf16");
  constexpr FusedWgmma2cLayout kL = fused_wgmma_2c_layout(kStages);
  const FusedFwdParams& p = pw.f;
  extern __shared__ unsigned char smem_raw[];
  unsigned char* smem = smem_raw + ((1024 - cuda::smem_u32(smem_raw) % 1024) % 1024);
  auto* bars = reinterpret_cast<unsigned long long*>(smem + kL.bars);
  unsigned long long* full = bars;                // [stage] TMA bytes + the gate warp
  unsigned long long* empty = full + kStages;     // [stage] 4 aux warps + 8 state warps
  unsigned long long* ag_full = empty + kStages;  // [slot] aux → chains
  unsigned long long* ag_empty = ag_full + 2;     // [slot] both chains → aux
  unsigned long long* s_full = ag_empty + 2;      // [chain] Sᵀ published → aux
  unsigned long long* s_empty = s_full + 2;       // [chain] aux's Q S landed → chain
  unsigned long long* vd_full = s_empty + 2;      // [chain] V_dᵀ published → aux
  unsigned long long* vd_empty = vd_full + 2;     // [chain] aux's P_g V_d landed → chain
  unsigned long long* o_full = vd_empty + 2;      // [chain] O staged → store warp
  unsigned long long* o_empty = o_full + 2;       // [chain] store warp → aux
  auto stage = [&](int s) { return smem + s * kL.stage_bytes; };
  auto gates = [&](int s) {
    return reinterpret_cast<Gates*>(smem + kL.gates + s * kFusedWgmmaGateBytes);
  };
  const FusedFwdTile t = fused_fwd_tile<kC, kChains * kBV>(p);
  const int n = t.nchunks;
  const ItemOrigin item(t.start, p.seq.tokens_per_row);
  const int wg = cuda::warpgroup_index();
  const int lane = threadIdx.x % 32;
  const int warp = (threadIdx.x / 32) % 4;  // warp inside its warpgroup
  const auto arrive = [&](unsigned long long* bar) {
    __syncwarp();
    if (lane == 0) cuda::mbar_arrive(bar);
  };

  if (threadIdx.x == 0) {
    for (int s = 0; s < kStages; ++s) {
      cuda::mbar_init(&full[s], 2);
      cuda::mbar_init(&empty[s], 4 + 4 * kChains);
    }
    for (int i = 0; i < 2; ++i) {
      cuda::mbar_init(&ag_full[i], 4);
      cuda::mbar_init(&ag_empty[i], 4 * kChains);
      cuda::mbar_init(&s_full[i], 4);
      cuda::mbar_init(&s_empty[i], 4);
      cuda::mbar_init(&vd_full[i], 4);
      cuda::mbar_init(&vd_empty[i], 4);
      cuda::mbar_init(&o_full[i], 4);
      cuda::mbar_init(&o_empty[i], 1);
    }
    cuda::fence_barrier_init();
  }
  __syncthreads();  // the only CTA-wide barrier: the roles part here

  if (wg == 0) {  // ---------------------------------------------------------------- producer
    cuda::reg_dealloc<kProducerRegs2c>();
    if (warp == 0) {
      if (lane == 0) {
        cuda::tma_prefetch_descriptor(&pw.q_map);
        cuda::tma_prefetch_descriptor(&pw.k_map);
        cuda::tma_prefetch_descriptor(&pw.v_map);
        cuda::tma_prefetch_descriptor(&pw.a_map);
#pragma unroll 1  // unrolled, the loads' coordinates spill at 24 registers
        for (int c = 0; c < n; ++c) {
          const int s = c % kStages;
          cuda::mbar_wait(&empty[s], ((c / kStages) & 1) ^ 1);
          const int tok = static_cast<int>(item.tok0) + c * kC;
          unsigned char* st = stage(s);
          cuda::mbar_arrive_expect_tx(&full[s], 7u * 128u * static_cast<unsigned>(pw.box_rows));
          for (int h = 0; h < 2; ++h) {
            cuda::tma_load_4d(st + kL.q + h * kBox, &pw.q_map, &full[s], 64 * h, t.qk_head, tok,
                              item.b);
            cuda::tma_load_4d(st + kL.k + h * kBox, &pw.k_map, &full[s], 64 * h, t.qk_head, tok,
                              item.b);
            cuda::tma_load_4d(st + kL.v + h * kBox, &pw.v_map, &full[s], t.v0 + kBV * h, t.head,
                              tok, item.b);
          }
          cuda::tma_load_4d(st + kL.a, &pw.a_map, &full[s], 0, t.head, tok, item.b);
        }
      }
      __syncwarp();
    } else if (warp == 1) {  // the gates, as fused_fwd_wgmma's gate warp (no conversion)
      // 24 registers a thread: pointers advance a chunk at a time, rows are 32-bit, and the
      // strides are read from the parameters where they are used.
      const float* g = static_cast<const float*>(p.g.data) + item.offset(p.g, t.head);
      const BetaT* beta = static_cast<const BetaT*>(p.beta.data) + item.offset(p.beta, t.head);
      const int last_rows = static_cast<int>(t.len - static_cast<long long>(n - 1) * kC);
      for (int c = 0; c < n; ++c) {
        const int s = c % kStages;
        const int rows = c + 1 < n ? kC : last_rows;
        float gv[kC / 32], bv[kC / 32];
#pragma unroll
        for (int i = 0; i < kC / 32; ++i) {
          const int r = lane + 32 * i, rr = r < rows ? r : rows - 1;
          gv[i] = g[rr * p.g.stride_token];
          bv[i] = r < rows ? cuda::to_float(beta[rr * p.beta.stride_token]) : 0.f;
        }
        g += kC * p.g.stride_token;
        beta += kC * p.beta.stride_token;
        const float gl = __shfl_sync(0xffffffffu, gv[kC / 32 - 1], 31) * kLog2e;
        cuda::mbar_wait(&empty[s], ((c / kStages) & 1) ^ 1);
        Gates* gt = gates(s);
#pragma unroll
        for (int i = 0; i < kC / 32; ++i) {
          const int r = lane + 32 * i;
          const float gr = gv[i] * kLog2e, ev = cuda::exp2_approx(gr);
          gt->g[r] = gv[i];
          gt->beta[r] = bv[i];
          gt->e[r] = ev;
          gt->es[r] = p.scale * ev;
          gt->gam[r] = r < rows ? cuda::exp2_approx(gl - gr) : 0.f;
        }
        if (lane == 0) {
          gt->decay = cuda::exp2_approx(gl);
          gt->rows = rows;
        }
        arrive(&full[s]);
      }
    } else if (warp == 2) {  // O: each chain's staged tile to global memory
      TIn* out = static_cast<TIn*>(p.o.data) + item.offset(p.o, t.head) + t.v0 + (lane % 8) * 8;
      const int last_rows = static_cast<int>(t.len - static_cast<long long>(n - 1) * kC);
      if (lane == 0) cuda::tma_prefetch_descriptor(&pw.o_map);
      for (int c = 0; c < n; ++c, out += kC * p.o.stride_token) {
        const int rows = c + 1 < n ? kC : last_rows;
        for (int b = 0; b < kChains; ++b) {
          cuda::mbar_wait(&o_full[b], c & 1);
          const unsigned char* ost = smem + kL.o + b * kBox;
          store_o_tile(pw, ost, out + kBV * b, rows, t.v0 + kBV * b, t.head,
                       static_cast<int>(item.tok0) + c * kC, item.b, lane);
          arrive(&o_empty[b]);
        }
      }
      if (lane == 0) cuda::tma_store_wait_all();  // the stores performed before the CTA exits
    }
    return;
  }

  const int g4 = lane / 4, t4 = lane % 4;

  if (wg == 1) {  // ---------------------------------------------------------------- aux
    cuda::reg_alloc<kAuxRegs2c>();
    const int s0 = 16 * warp + g4;  // rows s0 and s0 + 8 of P, A_g, P_g and O
    const auto issue_qk = [&](int s, float(&pacc)[32]) {
      const unsigned char* st = stage(s);
      cuda::wgmma_fence();
#pragma unroll
      for (int q = 0; q < 8; ++q)
        cuda::Wgmma<64, T, false>::ss(pacc, cuda::k_major_sw128(st + kL.q, q, kBox),
                                      cuda::k_major_sw128(st + kL.k, q, kBox), q > 0);
      cuda::wgmma_commit();
    };
    // Chunk c's decay mask from its landed Q Kᵀ: A_g = G ⊙ A_r ⊙ β_t and P_g = scale · G ⊙ P into
    // aux slot c & 1 (G[s,t] = 2^{(g_s − g_t) log2 e}, s ≥ t, both valid).
    const auto mask = [&](int c, float(&pacc)[32]) {
      const int slot = c & 1;
      cuda::fence_operands(pacc);
      cuda::mbar_wait(&ag_empty[slot], ((c >> 1) & 1) ^ 1);
      const unsigned char* st = stage(c % kStages);
      const Gates* gt = gates(c % kStages);
      const int rows = gt->rows;
      const float gs[2] = {gt->g[s0] * kLog2e, gt->g[s0 + 8] * kLog2e};
      unsigned char* ag = smem + kL.aux + slot * 2 * kBox;
      unsigned char* pg = ag + kBox;
#pragma unroll
      for (int q = 0; q < 4; ++q) {  // columns t = 16q .. 16q + 15
        const unsigned at = cuda::swizzle_128b(x4_row(16 * warp, lane), x4_col(16 * q, lane));
        unsigned ar[4], pa[4], aa[4];
        cuda::ldmatrix_x4(ar, st + kL.a + at);
#pragma unroll
        for (int m = 0; m < 4; ++m) {
          const int srow = s0 + (m % 2) * 8, t0 = 8 * (2 * q + m / 2) + 2 * t4;
          const float2 gc = *reinterpret_cast<const float2*>(&gt->g[t0]);
          const float2 bc = *reinterpret_cast<const float2*>(&gt->beta[t0]);
          float a_r[2], pv[2], av[2];
          cuda::unpack2<TIn>(ar[m], a_r[0], a_r[1]);
#pragma unroll
          for (int e = 0; e < 2; ++e) {
            const bool keep = srow >= t0 + e && srow < rows;
            const float decay = cuda::exp2_approx(gs[m % 2] - (e ? gc.y : gc.x) * kLog2e);
            pv[e] = keep ? p.scale * decay * pacc[8 * q + 2 * m + e] : 0.f;
            av[e] = keep ? decay * a_r[e] * (e ? bc.y : bc.x) : 0.f;
          }
          pa[m] = cuda::pack2<TM>(pv[0], pv[1]);
          aa[m] = cuda::pack2<TM>(av[0], av[1]);
        }
        cuda::stmatrix_x4(ag + at, aa);
        cuda::stmatrix_x4(pg + at, pa);
      }
      cuda::fence_proxy_async_shared();  // read by the chains' and this warpgroup's wgmma
      arrive(&ag_full[slot]);
    };
    // O of chunk c for chain b: Q S_b (SS, from the published Sᵀ: [v][k]) ...
    const auto issue_qs = [&](int c, int b, float(&o)[32]) {
      cuda::mbar_wait(&s_full[b], c & 1);
      const unsigned char* st = stage(c % kStages);
      const unsigned char* sp = smem + kL.s + b * 2 * kBox;
      cuda::wgmma_fence();
#pragma unroll
      for (int q = 0; q < 8; ++q)
        cuda::Wgmma<64, T, false>::ss(o, cuda::k_major_sw128(st + kL.q, q, kBox),
                                      cuda::k_major_sw128(sp, q, kBox), q > 0);
      cuda::wgmma_commit();
    };
    // ... once landed, Sᵀ's slot released and the rows scaled by scale · e^{g_s} (the last read
    // of chunk c's gates here) ...
    const auto finish_qs = [&](int c, int b, float(&o)[32]) {
      cuda::fence_operands(o);
      arrive(&s_empty[b]);
      const Gates* gt = gates(c % kStages);
      const float f0 = gt->es[s0], f1 = gt->es[s0 + 8];
#pragma unroll
      for (int j = 0; j < 8; ++j) {
        o[4 * j] *= f0;
        o[4 * j + 1] *= f0;
        o[4 * j + 2] *= f1;
        o[4 * j + 3] *= f1;
      }
    };
    // ... + P_g V_d,b (SS, P_g [s][t] from the aux slot, the published V_dᵀ [v][t]).
    const auto issue_pv = [&](int c, int b, float(&o)[32]) {
      cuda::mbar_wait(&vd_full[b], c & 1);
      const unsigned char* pg = smem + kL.aux + (c & 1) * 2 * kBox + kBox;
      const unsigned char* vd = smem + kL.vd + b * kBox;
      cuda::wgmma_fence();
#pragma unroll
      for (int q = 0; q < 4; ++q)
        cuda::Wgmma<64, TM, false>::ss(o, cuda::k_major_sw128(pg, q, kBox),
                                       cuda::k_major_sw128(vd, q, kBox), 1);
      cuda::wgmma_commit();
    };
    // Once P_g V_d,b has landed, V_dᵀ's slot released and O ([s][v], the o map's box) staged.
    const auto stage_o = [&](int c, int b, float(&o)[32]) {
      cuda::fence_operands(o);
      arrive(&vd_empty[b]);
      cuda::mbar_wait(&o_empty[b], (c & 1) ^ 1);
      unsigned char* ost = smem + kL.o + b * kBox;
#pragma unroll
      for (int q = 0; q < 4; ++q) {
        unsigned ao[4];
        cuda::accumulator_to_a<TIn>(o, q, ao);
        cuda::stmatrix_x4(ost + cuda::swizzle_128b(x4_row(16 * warp, lane), x4_col(16 * q, lane)),
                          ao);
      }
      cuda::fence_proxy_async_shared();  // read by the store warp's TMA store
      arrive(&o_full[b]);
    };

    float pacc[32];
    if (n > 0) {
      cuda::mbar_wait(&full[0], 0);
      issue_qk(0, pacc);
      cuda::wgmma_wait<0>();
      mask(0, pacc);
    }
    // Groups in flight, oldest first, in each step's comment. Chunk c's Q S comes first and its
    // stage is released before the aux waits for anything of chunk c + 1: the stage of chunk
    // c + 2 then loads while the chains finish chunk c, and the aux's wait for chunk c + 1's
    // inputs overlaps the chains' step instead of adding a load to every step (the load starts
    // once both chains release the stage two chunks back). Past the last chunk one Q Kᵀ and
    // mask more run on a stale stage, unused: a branch around them would leave different groups
    // in flight on the two paths, and ptxas serialises wgmma then.
    for (int c = 0; c < n; ++c) {
      float o0[32], o1[32];
      const int s1 = (c + 1) % kStages;
      issue_qs(c, 0, o0);  // QS0
      issue_qs(c, 1, o1);  // QS0, QS1
      if (c + 1 < n) cuda::mbar_wait(&full[s1], ((c + 1) / kStages) & 1);
      issue_qk(s1, pacc);  // QS0, QS1, QKᵀ(c + 1)
      cuda::wgmma_wait<1>();
      finish_qs(c, 0, o0);  // QKᵀ(c + 1)
      finish_qs(c, 1, o1);
      arrive(&empty[c % kStages]);  // Q and the gates of chunk c are read (A_r by mask(c))
      cuda::wgmma_wait<0>();
      mask(c + 1, pacc);
      issue_pv(c, 0, o0);  // PV0
      issue_pv(c, 1, o1);  // PV0, PV1
      cuda::wgmma_wait<1>();
      stage_o(c, 0, o0);  // PV1
      cuda::wgmma_wait<0>();
      stage_o(c, 1, o1);
    }
    return;
  }

  // ------------------------------------------------------------------------------ state b
  cuda::reg_alloc<kStateRegs2c>();
  const int b = wg - 2;
  const int tid = threadIdx.x - 128 * wg;
  const int v0 = t.v0 + kBV * b;     // this chain's first value column
  const int v_row = 16 * warp + g4;  // value rows v_row and v_row + 8 of the slice
  float st[64];  // Sᵀ: (v, k = 8j + 2·t4 + e) at st[4j + e], (v + 8, k) at +2
  {
    const int row = p.h0 ? (p.h0_index ? p.h0_index[t.seq] : t.seq) : -1;
    const float* h0 = row >= 0
                          ? p.h0 + (static_cast<long long>(row) * p.heads_v + t.head) * kD * kD + v0
                          : nullptr;
#pragma unroll
    for (int j = 0; j < 16; ++j)
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        const int k = 8 * j + 2 * t4 + e;
        st[4 * j + e] = h0 ? h0[k * kD + v_row] : 0.f;
        st[4 * j + 2 + e] = h0 ? h0[k * kD + v_row + 8] : 0.f;
      }
  }
  for (int c = 0; c < n; ++c) {
    const int s = c % kStages, slot = c & 1;
    unsigned char* stg = stage(s);
    const Gates* gt = gates(s);
    cuda::mbar_wait(&full[s], (c / kStages) & 1);
    unsigned as[8][4];  // Sᵀ_{c−1} packed: U's A operand, and published for the aux's Q S
#pragma unroll
    for (int q = 0; q < 8; ++q) cuda::accumulator_to_a<T>(st, q, as[q]);
    float u[32];
    cuda::wgmma_fence();
#pragma unroll
    for (int q = 0; q < 8; ++q)
      cuda::Wgmma<64, T, false>::rs(u, as[q], cuda::k_major_sw128(stg + kL.k, q, kBox), q > 0);
    cuda::wgmma_commit();
    cuda::mbar_wait(&s_empty[b], (c & 1) ^ 1);
    unsigned char* sp = smem + kL.s + b * 2 * kBox;
#pragma unroll
    for (int q = 0; q < 8; ++q)
      cuda::stmatrix_x4(sp + (q / 4) * kBox +
                            cuda::swizzle_128b(x4_row(16 * warp, lane), x4_col(16 * (q % 4), lane)),
                        as[q]);
    cuda::fence_proxy_async_shared();
    arrive(&s_full[b]);
    const int rows = gt->rows;
    float ecol[16];
    column_factors(gt->e, t4, ecol);
    unsigned vt[4][4];
#pragma unroll
    for (int q = 0; q < 4; ++q)
      cuda::ldmatrix_x4_trans(
          vt[q], stg + kL.v + b * kBox +
                     cuda::swizzle_128b(x4t_row(16 * q, lane), x4t_col(16 * warp, lane)));
    cuda::wgmma_wait<0>();  // U done
    cuda::fence_operands(u);
    unsigned aw[4][4];
    if (rows == kC)  // the uniform branch: a full chunk has no selects on the chain
      form_w<true, TIn, TM>(vt, u, ecol, rows, t4, aw);
    else
      form_w<false, TIn, TM>(vt, u, ecol, rows, t4, aw);

    cuda::mbar_wait(&ag_full[slot], (c >> 1) & 1);
    const unsigned char* ag = smem + kL.aux + slot * 2 * kBox;
    float vd[32];
    cuda::wgmma_fence();
#pragma unroll
    for (int q = 0; q < 4; ++q)
      cuda::Wgmma<64, TM, false>::rs(vd, aw[q], cuda::k_major_sw128(ag, q, kBox), q > 0);
    cuda::wgmma_commit();
    {  // the chunk's decay while V_d runs (Sᵀ is read through its packed copy until the update;
       // applied while U runs, with U's operands in flight, ptxas injects a wait at 176 registers)
      const float decay = gt->decay;
#pragma unroll
      for (int i = 0; i < 64; ++i) st[i] *= decay;
    }
    float gam[16];
    column_factors(gt->gam, t4, gam);
    cuda::wgmma_wait<0>();  // V_d done
    cuda::fence_operands(vd);
    arrive(&ag_empty[slot]);  // A_g read
    unsigned avg[4][4], avd[4][4];
#pragma unroll
    for (int q = 0; q < 4; ++q)
#pragma unroll
      for (int r = 0; r < 4; ++r) {
        const int idx = 8 * q + 2 * r, j = idx / 4;
        avg[q][r] = cuda::pack2<T>(vd[idx] * gam[2 * j], vd[idx + 1] * gam[2 * j + 1]);
        avd[q][r] = cuda::pack2<TM>(vd[idx], vd[idx + 1]);
      }
    if (rows < kC) {  // the update reads K's rows past the chunk: make them finite (zero)
      for (int i = tid; i < (kC - rows) * 16; i += 128) {
        const int r = rows + i / 16, h = (i / 8) % 2, unit = i % 8;
        *reinterpret_cast<uint4*>(stg + kL.k + h * kBox + r * 128 + unit * 16) =
            make_uint4(0u, 0u, 0u, 0u);
      }
      cuda::fence_proxy_async_shared();
      if (b == 0)
        cuda::named_barrier_sync<1, 128>();
      else
        cuda::named_barrier_sync<2, 128>();
    }
    cuda::wgmma_fence();
#pragma unroll
    for (int q = 0; q < 4; ++q)
      cuda::Wgmma<128, T, true>::rs(st, avg[q], cuda::mn_major_sw128(stg + kL.k, q, kBox), 1);
    cuda::wgmma_commit();
    // V_dᵀ ([v][t]) published for the aux's P_g V_d while the update runs.
    cuda::mbar_wait(&vd_empty[b], (c & 1) ^ 1);
#pragma unroll
    for (int q = 0; q < 4; ++q)
      cuda::stmatrix_x4(smem + kL.vd + b * kBox +
                            cuda::swizzle_128b(x4_row(16 * warp, lane), x4_col(16 * q, lane)),
                        avd[q]);
    cuda::fence_proxy_async_shared();
    arrive(&vd_full[b]);
    cuda::wgmma_wait<0>();
    cuda::fence_operands(st);
    arrive(&empty[s]);  // k, this chain's v and the gates of the stage are read
  }

  // This chain's part of the final Sᵀ; the padding rows of o past cu_seqlens[N].
  const int ht_row = p.ht ? (p.ht_index ? p.ht_index[t.seq] : t.seq) : -1;
  if (ht_row >= 0)
    store_state_slice(
        st, p.ht + (static_cast<long long>(ht_row) * p.heads_v + t.head) * kD * kD + v0, v_row, t4);
  if (t.seq == p.seq.num_sequences - 1) zero_padding_rows<TIn>(p, t.head, v0, tid);
}

}  // namespace qla::gdn
