// A warp's inclusive prefix sum of 32·kPerLane floats, lane l holding positions
// [l·kPerLane, (l+1)·kPerLane): each lane adds its own in order, then the lanes' totals are scanned
// by shuffles (Hillis–Steele) and each lane adds the total of the lanes below it. The chunk-local
// cumsum (gdn/cumsum.cuh) and kkt_solve's fused copy of it (gdn/kkt_solve.cuh) both use it, so
// they give the same bits. Compiles under nvcc and NVRTC.
#pragma once

namespace qla::cuda {

/// In place: vals[e], the value at position lane·kPerLane + e, becomes the inclusive prefix sum
/// there.
template <int kPerLane>
__device__ __forceinline__ void warp_inclusive_scan(float (&vals)[kPerLane]) {
  const int lane = threadIdx.x % 32;
  float run = 0.f;
#pragma unroll
  for (int e = 0; e < kPerLane; ++e) {
    run += vals[e];
    vals[e] = run;
  }
  float incl = run;  // inclusive scan of the lane totals
#pragma unroll
  for (int off = 1; off < 32; off *= 2) {
    const float up = __shfl_up_sync(0xffffffffu, incl, off);
    if (lane >= off) incl += up;
  }
  const float before = incl - run;
#pragma unroll
  for (int e = 0; e < kPerLane; ++e) vals[e] += before;
}

/// vals[e] = the inclusive prefix sum at position lane·kPerLane + e of the values load(position).
template <int kPerLane, class Load>
__device__ __forceinline__ void warp_inclusive_scan(float (&vals)[kPerLane], Load load) {
  const int lane = threadIdx.x % 32;
#pragma unroll
  for (int e = 0; e < kPerLane; ++e) vals[e] = load(lane * kPerLane + e);
  warp_inclusive_scan(vals);
}

}  // namespace qla::cuda
