// Serial correction of the CP pieces' initial states, fp32: per raw sequence, h ← h0, then for each
// piece j in order cp_h0[j] = h, h = ht[j] + (fallback[j] ? M[j] h : 0). CTA = (V-slice of BV,
// head, raw sequence); thread r owns state row r of the slice. The pieces are a serial chain, so
// everything a step reads from global memory is fetched one piece ahead: row r of ht[j+1], M[j+1]
// where piece j+1 falls back, and the fallback flag two pieces ahead (it decides that M fetch).
// What is left on the chain is the 128 x BV multiply against the running state in shared memory,
// which every thread of a warp reads at the same address (a broadcast), and two barriers. A small
// BV spreads a head over more CTAs and shortens each step.
//
// kSplitK threads share a state row: thread r + 128·s sums columns [s, s + 1)·128/kSplitK of M's
// row r (its part of the rows' dot products), the parts s > 0 leave their sums in shared memory,
// and thread r (the row's owner: the running row, ht, cp_h0) adds them after a barrier, in the
// order s = 1, 2, …. One warp per scheduler leaves every shared load's latency on the chain (an
// H200 measured 3.1 µs per step at BV = 8 with 128 threads, about 3x the FMA count); kSplitK warps
// per scheduler hide it and cut each thread's chain by kSplitK.
//
// kRowsPerThread = 4 (with M staged, one thread per row slot): each thread multiplies 4 rows by a
// quarter of the columns of M and the 4 lanes of a row group reduce by shuffles, so a state load
// feeds 4 rows instead of 1 (an H200's profiler put the 1-row step on the shared-memory pipe: L1
// 61 % busy at BV = 8 with 4 threads per row, 81 % at BV = 16, while L2 and the FMA pipes idled).
//
// kRowsPerThread = 16 (M staged, two threads per row slot): warp w multiplies rows 16w.. of M by
// the state on tensor cores (mma.sync m16n8k8 TF32; each operand split into a TF32 high part and
// the TF32 rest, three products, so the sum keeps about fp32's accuracy) and writes its 16 x BV
// block to the partial-sum buffer, which the row owners add after the combine's barrier. The
// per-thread multiply is a chain of 128 / sk shared loads and FMAs; this one is 16 k-steps of
// three MMAs.
//
// Where M waits (kStageM):
//   0  in registers: each thread loads its part of its row of M (128 / kSplitK floats, each
//      float4 refilled once piece j has used it). Across a warp those loads are 512 B apart, one
//      cache line per thread: 32 lines per load instruction.
//   1  in shared memory, two buffers of [128][kMPitch] floats filled by cp.async, every warp
//      reading 512 contiguous bytes (one row per warp per copy). A thread then reads its part of
//      its row as float4; the pitch of 132 floats puts the 8 rows of a quarter warp on 8 distinct
//      16-byte bank groups (conflict-free). Needs sm_80+.
//   2  in shared memory, two 1024-byte-aligned buffers of [128][128] floats, each filled by four
//      tensor copies (TMA: boxes of 32 columns x 128 rows, 128-byte swizzle) that thread 0 issues
//      and that complete on the buffer's mbarrier, so the 64 KB of a step's M cost the other
//      threads no load instructions. Float4 f of row r sits in box f / 8 at 16-byte unit (f % 8)
//      ^ (r % 8) of the row: the 8 rows of a quarter warp again hit 8 distinct bank groups. An
//      H200 measured a call 23 % shorter than the best cp.async config (8 heads x 32 pieces,
//      2026-12-01). Needs sm_90+, one row a thread, and the map of M in the params.
// Each needs the dynamic shared memory of cp_correct_dynamic_smem().
#pragma once

#include "common/cycle_probe.cuh"
#include "common/griddep.cuh"
#include "common/mma.cuh"  // cp.async
#include "common/tma.cuh"
#include "qla/gdn/cp_params.hpp"

namespace qla::gdn {

/// The phases of a correction step a cycle probe times (common/cycle_probe.cuh;
/// bench/cp_correct_profile.cu), summed over the pieces: the step's head (this piece's outputs, the
/// next piece's loads issued), the wait for M and the running state (a barrier), the multiply, and
/// the combine of the parts (a barrier). Role 0 is warp 0 (it owns rows), role 1 the CTA's last
/// warp.
struct CpCorrectProbe {
  static constexpr int kRoles = 2;
  static constexpr int kPhases = 4;
  enum Phase { kHead, kWait, kMultiply, kCombine };
};

template <int BV, int kStageM, int kSplitK, int kRowsPerThread, class Probe = cuda::NoProbe>
__global__ void __launch_bounds__(kCpStateRows* kSplitK, 1)
    cp_correct_states_kernel(const __grid_constant__ CpCorrectParams p) {
  constexpr bool kTma = kStageM == 2;
  // M's mbarriers (kTma), one a staging buffer: a phase completes when its four copies land.
  __shared__ __align__(8) unsigned long long m_full[2];
  if constexpr (kTma) {
    if (threadIdx.x == 0) {
      cuda::mbar_init(&m_full[0], 1);
      cuda::mbar_init(&m_full[1], 1);
      cuda::fence_barrier_init();
      cuda::tma_prefetch_descriptor(&p.m_map);
    }
    __syncthreads();
  }
  cuda::griddep_chain();  // programmatic dependent launch (common/griddep.cuh)
  Probe probe;
  probe.start();
  constexpr int kK = kCpStateRows;  // state rows (keys); M is kK x kK
  constexpr int kThreads = kK * kSplitK;
  // float4 per staged row of M: padded for cp.async, swizzled boxes for TMA.
  constexpr int kMPitch4 = kTma ? kK / 4 : kCpStagedMPitch / 4;
  constexpr int kV = 128;
  constexpr int kQ = BV / 4;                // float4 per row slice
  constexpr int kPart4 = kK / 4 / kSplitK;  // float4 of a row of M per thread
  static_assert(kV % BV == 0 && BV % 4 == 0 && BV <= 32,
                "BV divides 128, a multiple of 4, at most 32");
  static_assert(kSplitK == 1 || kSplitK == 2 || kSplitK == 4, "1, 2 or 4 threads per row");
  static_assert(kStageM >= 0 && kStageM <= 2, "M in registers (0), by cp.async (1) or TMA (2)");
  constexpr bool kTiled = kRowsPerThread == 4;
  constexpr bool kMma = kRowsPerThread == 16;
  static_assert(kRowsPerThread == 1 || (kTiled && kStageM == 1 && kSplitK == 1 && BV <= 16) ||
                    (kMma && kStageM == 1 && kSplitK == 2 && BV <= 16 && BV % 8 == 0),
                "4 rows a thread: M staged, no split rows, BV 8 or 16; 16 rows a warp: M staged, "
                "two threads a row, BV 8 or 16");
  __shared__ __align__(16) float4 h_s[kK][kQ];  // (K, BV) fp32 running state slice
  // kStageM: [2][kK][kMPitch4] staged M (kTma: from the first 1024-byte boundary, as a 128-byte
  // swizzle needs); then [kSplitK − 1][kK][kQ] the parts' sums.
  extern __shared__ __align__(16) float4 dyn_smem[];
  float4* const m_stage =
      kTma ? dyn_smem + ((1024u - cuda::smem_u32(dyn_smem) % 1024u) % 1024u) / 16 : dyn_smem;
  float4* const partial = m_stage + (kStageM ? 2 * kK * kMPitch4 : 0);

  const int v0 = blockIdx.x * BV;
  const int head = blockIdx.y;
  const int raw = blockIdx.z;
  // The row this thread owns (its running state row, ht, cp_h0). Tiled: lane l of warp w multiplies
  // rows w·32 + l/4 + 8e (e = 0..3) over the columns i ≡ l (mod 4) of M, and after the reduction
  // across those four lanes owns row w·32 + l/4 + 8·(l % 4).
  const int r = kTiled ? (threadIdx.x / 32) * 32 + (threadIdx.x % 32) / 4 + 8 * (threadIdx.x % 4)
                       : threadIdx.x % kK;
  const int part = kTiled ? 0 : threadIdx.x / kK;  // warp-uniform
  const int i4_0 = part * kPart4;                  // first float4 of M's row this thread sums over
  const bool owner = part == 0;
  const long long head_state = static_cast<long long>(kK) * kV;
  auto base_of = [&](int j) { return (static_cast<long long>(j) * p.heads + head) * head_state; };
  float4 row[kQ];  // the owner: the running state row; the other parts: their sums of a step
  {
    const float4* h0 =
        p.h0 && owner
            ? reinterpret_cast<const float4*>(
                  p.h0 + (static_cast<long long>(raw) * p.heads + head) * head_state + r * kV + v0)
            : nullptr;
#pragma unroll
    for (int q = 0; q < kQ; ++q) row[q] = h0 ? h0[q] : make_float4(0.f, 0.f, 0.f, 0.f);
  }
  const int first = p.raw_first_piece[raw], end = p.raw_first_piece[raw + 1];
  auto m_part = [&](int j) {
    return reinterpret_cast<const float4*>(p.m + base_of(j) + static_cast<long long>(r) * kK) +
           i4_0;
  };
  auto ht_row = [&](int j) {
    return reinterpret_cast<const float4*>(p.ht + base_of(j) + r * kV + v0);
  };
  // M[j] into staging buffer j % 2. cp.async: float4 f = tid + kThreads·n of the 64 KB matrix,
  // row f / 32. TMA: thread 0 arms the buffer's mbarrier with the matrix's bytes and issues its
  // four boxes (coordinates: column, row, piece·heads + head).
  auto stage_m = [&](int j) {
    float4* dst = m_stage + (j & 1) * kK * kMPitch4;
    if constexpr (kTma) {
      if (threadIdx.x == 0) {
        unsigned long long* bar = &m_full[j & 1];
        cuda::mbar_arrive_expect_tx(bar, static_cast<unsigned>(kK * kK * sizeof(float)));
#pragma unroll
        for (int b = 0; b < kCpMBoxes; ++b)
          cuda::tma_load_3d(dst + b * kK * kCpMBoxCols / 4, &p.m_map, bar, b * kCpMBoxCols, 0,
                            j * p.heads + head);
      }
    } else {
      const float4* src = reinterpret_cast<const float4*>(p.m + base_of(j));
#pragma unroll 8
      for (int n = 0; n < kK * kK / 4 / kThreads; ++n) {
        const int f = threadIdx.x + kThreads * n;
        cuda::cp_async16(dst + (f >> 5) * kMPitch4 + (f & 31), src + f, true);
      }
    }
  };
  // Float4 f of row r of staged buffer `buf` (kTma: through the swizzle).
  auto staged_m = [&](const float4* buf, int row, int f) {
    if constexpr (kTma)
      return buf[(f / 8) * kK * kCpMBoxCols / 4 + row * 8 + ((f % 8) ^ (row % 8))];
    else
      return buf[row * kMPitch4 + f];
  };
  unsigned m_phase = 0;  // kTma: bit b is the parity of buffer b's next phase
  // Piece j's inputs, fetched during piece j − 1 (its flag during piece j − 2).
  auto flag = [&](int j) { return j < end && p.fallback[j * p.heads + head] != 0; };
  bool fb = false, fb_next = false;
  float4 mrow[kStageM ? 1 : kPart4];
  float4 next[kQ];
  if (first < end) {
    fb = flag(first);
    fb_next = flag(first + 1);
    if constexpr (kStageM != 0) {
      if (fb) stage_m(first);
      if constexpr (!kTma)
        cuda::cp_async_commit();  // one group a piece, empty where it does
                                  // not fall back
    } else if (fb) {
      const float4* m = m_part(first);
#pragma unroll
      for (int i = 0; i < kPart4; ++i) mrow[i] = m[i];
    }
    if (owner) {
      const float4* ht = ht_row(first);
#pragma unroll
      for (int q = 0; q < kQ; ++q) next[q] = ht[q];
    }
  }
  // row[q] += Σ_i M[r][i] h[i][4q..4q+3], the four i of float4 i4 of row r of M.
  auto accumulate = [&](const float4 m4, int i4) {
    const float mi[4] = {m4.x, m4.y, m4.z, m4.w};
#pragma unroll
    for (int e = 0; e < 4; ++e) {
#pragma unroll
      for (int q = 0; q < kQ; ++q) {
        const float4 h = h_s[4 * i4 + e][q];
        row[q].x += mi[e] * h.x;
        row[q].y += mi[e] * h.y;
        row[q].z += mi[e] * h.z;
        row[q].w += mi[e] * h.w;
      }
    }
  };
  // Tiled: row += Σ_i M[r][i] h[i][·] with the thread's 4 rows x BV over its quarter of i in
  // registers, then a reduce-scatter across the 4 lanes of a row group (shuffles, 2 steps), after
  // which each lane holds the full sum of the row it owns. Each state load serves 4 rows (a warp's
  // loads hit 4 distinct rows of h_s at once), and the staged M is read conflict-free (rows 8 apart
  // at a pitch of 132 floats: lane l reads bank 4·(l/4) + l % 4 + 4n).
  auto multiply_tiled = [&](int j) {
    const int lane = threadIdx.x % 32;
    const int b = lane % 4;
    const float* m = reinterpret_cast<const float*>(m_stage + (j & 1) * kK * kMPitch4) +
                     ((threadIdx.x / 32) * 32 + lane / 4) * kCpStagedMPitch + b;
    float4 acc[4][kQ];
#pragma unroll
    for (int e = 0; e < 4; ++e)
#pragma unroll
      for (int q = 0; q < kQ; ++q) acc[e][q] = make_float4(0.f, 0.f, 0.f, 0.f);
#pragma unroll 8
    for (int n = 0; n < kK / 4; ++n) {
      float4 h[kQ];
#pragma unroll
      for (int q = 0; q < kQ; ++q) h[q] = h_s[4 * n + b][q];
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const float me = m[8 * e * kCpStagedMPitch + 4 * n];
#pragma unroll
        for (int q = 0; q < kQ; ++q) {
          acc[e][q].x += me * h[q].x;
          acc[e][q].y += me * h[q].y;
          acc[e][q].z += me * h[q].z;
          acc[e][q].w += me * h[q].w;
        }
      }
    }
    const auto plus_from = [](float4 a, const float4 give, int lane_mask) {
      a.x += __shfl_xor_sync(0xffffffffu, give.x, lane_mask);
      a.y += __shfl_xor_sync(0xffffffffu, give.y, lane_mask);
      a.z += __shfl_xor_sync(0xffffffffu, give.z, lane_mask);
      a.w += __shfl_xor_sync(0xffffffffu, give.w, lane_mask);
      return a;
    };
    // Step 1 (lanes b, b ^ 2): b & 2 keeps rows e = 2, 3, else 0, 1, and gives the partner the
    // other two. Step 2 (lanes b, b ^ 1): b & 1 keeps the second of its two. Lane b ends with row e
    // = b.
    const bool hi = (b & 2) != 0, odd = (b & 1) != 0;
    float4 keep[2][kQ];
#pragma unroll
    for (int s = 0; s < 2; ++s)
#pragma unroll
      for (int q = 0; q < kQ; ++q)
        keep[s][q] = plus_from(acc[hi ? 2 + s : s][q], acc[hi ? s : 2 + s][q], 2);
#pragma unroll
    for (int q = 0; q < kQ; ++q) {
      const float4 sum = plus_from(keep[odd ? 1 : 0][q], keep[odd ? 0 : 1][q], 1);
      row[q].x += sum.x;
      row[q].y += sum.y;
      row[q].z += sum.z;
      row[q].w += sum.w;
    }
  };
  // Tensor cores: Y = M[j] h for rows 16·warp.. into the partial-sum buffer ([kK][BV] floats), with
  // M = Mh + Ml and h = hh + hl in TF32, Y ≈ (Ml hh + Mh hl) + Mh hh (Ml hl is dropped). Each of
  // the three products has accumulators of its own for even and odd k-steps, so an MMA chain is 8
  // deep (one accumulator made a warp's 48 MMAs one dependent chain: 3.1 K cycles a step on an
  // H200, as slow as the FMAs).
  auto multiply_mma = [&](int j) {
    const int lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
    const int r0 = 16 * (threadIdx.x / 32);
    const float* m = reinterpret_cast<const float*>(m_stage + (j & 1) * kK * kMPitch4);
    const float* h = reinterpret_cast<const float*>(&h_s[0][0]);
    const auto split = [](float x, unsigned& hi, unsigned& lo) {
      hi = cuda::to_tf32(x);
      lo = cuda::to_tf32(x - __uint_as_float(hi));
    };
    float acc[3][2][BV / 8][4] = {};  // [Ml hh, Mh hl, Mh hh][k-step parity][n][fragment]
#pragma unroll
    for (int k0 = 0; k0 < kK; k0 += 8) {
      const int par = (k0 / 8) % 2;
      unsigned ah[4], al[4];
      split(m[(r0 + g) * kCpStagedMPitch + k0 + t], ah[0], al[0]);
      split(m[(r0 + g + 8) * kCpStagedMPitch + k0 + t], ah[1], al[1]);
      split(m[(r0 + g) * kCpStagedMPitch + k0 + t + 4], ah[2], al[2]);
      split(m[(r0 + g + 8) * kCpStagedMPitch + k0 + t + 4], ah[3], al[3]);
#pragma unroll
      for (int n = 0; n < BV / 8; ++n) {
        unsigned bh[2], bl[2];
        split(h[(k0 + t) * BV + 8 * n + g], bh[0], bl[0]);
        split(h[(k0 + t + 4) * BV + 8 * n + g], bh[1], bl[1]);
        cuda::mma_tf32(acc[0][par][n], al, bh);
        cuda::mma_tf32(acc[1][par][n], ah, bl);
        cuda::mma_tf32(acc[2][par][n], ah, bh);
      }
    }
    float* y = reinterpret_cast<float*>(partial);
#pragma unroll
    for (int n = 0; n < BV / 8; ++n) {
      const int c = 8 * n + 2 * t;
      float sum[4];
#pragma unroll
      for (int e = 0; e < 4; ++e)
        sum[e] = ((acc[0][0][n][e] + acc[0][1][n][e]) + (acc[1][0][n][e] + acc[1][1][n][e])) +
                 (acc[2][0][n][e] + acc[2][1][n][e]);
      y[(r0 + g) * BV + c] = sum[0];
      y[(r0 + g) * BV + c + 1] = sum[1];
      y[(r0 + g + 8) * BV + c] = sum[2];
      y[(r0 + g + 8) * BV + c + 1] = sum[3];
    }
  };
  // After a multiply: the parts' sums to shared memory (the MMA wrote them there itself), a barrier
  // (which also ends every read of h_s and of the staged M), the owner adds them.
  auto combine = [&]() {
    if (kSplitK > 1 && !owner && !kMma) {
#pragma unroll
      for (int q = 0; q < kQ; ++q) partial[((part - 1) * kK + r) * kQ + q] = row[q];
    }
    __syncthreads();
    if (kSplitK > 1 && owner) {
#pragma unroll
      for (int s = 1; s < kSplitK; ++s)
#pragma unroll
        for (int q = 0; q < kQ; ++q) {
          const float4 x = partial[((s - 1) * kK + r) * kQ + q];
          row[q].x += x.x;
          row[q].y += x.y;
          row[q].z += x.z;
          row[q].w += x.w;
        }
    }
  };
  for (int j = first; j < end; ++j) {
    if (owner) {
      float4* cp_h0 = reinterpret_cast<float4*>(p.cp_h0 + base_of(j) + r * kV + v0);
#pragma unroll
      for (int q = 0; q < kQ; ++q) {
        cp_h0[q] = row[q];
        h_s[r][q] = row[q];
        row[q] = next[q];
      }
    } else {
#pragma unroll
      for (int q = 0; q < kQ; ++q) row[q] = make_float4(0.f, 0.f, 0.f, 0.f);
    }
    const bool more = j + 1 < end;
    const bool fb_after = flag(j + 2);  // used by the next step; its latency hides under this one
    if (owner && more) {
      const float4* ht = ht_row(j + 1);
#pragma unroll
      for (int q = 0; q < kQ; ++q) next[q] = ht[q];
    }
    if constexpr (kStageM != 0) {
      // Buffer (j+1) % 2 was last read by piece j − 1's multiply, which ended at a barrier.
      if (fb_next) stage_m(j + 1);
      if constexpr (!kTma) cuda::cp_async_commit();
      probe.mark(CpCorrectProbe::kHead);
      if (fb) {
        if constexpr (kTma) {
          cuda::mbar_wait(&m_full[j & 1], (m_phase >> (j & 1)) & 1u);  // M[j] has landed
          m_phase ^= 1u << (j & 1);
        } else {
          cuda::cp_async_wait<1>();  // M[j]'s group has landed (only piece j+1's may be in flight)
        }
        __syncthreads();  // h_s and every thread's part of M[j] complete
        probe.mark(CpCorrectProbe::kWait);
        if constexpr (kTiled) {
          multiply_tiled(j);
        } else if constexpr (kMma) {
          multiply_mma(j);
        } else {
          const float4* m = m_stage + (j & 1) * kK * kMPitch4;
#pragma unroll
          for (int i4 = 0; i4 < kPart4; ++i4) accumulate(staged_m(m, r, i4_0 + i4), i4_0 + i4);
        }
        probe.mark(CpCorrectProbe::kMultiply);
        combine();
        probe.mark(CpCorrectProbe::kCombine);
      }
    } else if (fb) {
      const float4* m_next = m_part(fb_next ? j + 1 : j);
      probe.mark(CpCorrectProbe::kHead);
      __syncthreads();  // h_s complete
      probe.mark(CpCorrectProbe::kWait);
#pragma unroll
      for (int i4 = 0; i4 < kPart4; ++i4) {
        accumulate(mrow[i4], i4_0 + i4);
        if (fb_next) mrow[i4] = m_next[i4];
      }
      probe.mark(CpCorrectProbe::kMultiply);
      combine();
      probe.mark(CpCorrectProbe::kCombine);
    } else if (fb_next) {
      const float4* m_next = m_part(j + 1);
#pragma unroll
      for (int i = 0; i < kPart4; ++i) mrow[i] = m_next[i];
    }
    fb = fb_next;
    fb_next = fb_after;
  }
  if constexpr (kStageM == 1) cuda::cp_async_wait<0>();  // nothing left in flight at exit
  if (threadIdx.x / 32 == 0) probe.finish(0);
  if (threadIdx.x / 32 == kThreads / 32 - 1) probe.finish(1);
}

}  // namespace qla::gdn
