// A TMA tensor map (CUtensorMap) as kernel Params can hold it: 128 opaque bytes, 64-byte aligned.
// Builtin types only, no includes, so the same header compiles on the host, under nvcc and under
// NVRTC. Encoded on the host by qla/cuda/tensor_map_encode.hpp; a kernel receives it inside its
// by-value Params (`const __grid_constant__` keeps it in parameter space, where
// cp.async.bulk.tensor may read it) and passes its address to TMA.
#pragma once

namespace qla::cuda {

/// An encoded tensor map; opaque to everything but the driver and the TMA unit.
struct alignas(64) TensorMap {
  unsigned long long opaque[16];
};

static_assert(sizeof(TensorMap) == 128, "a CUtensorMap is 128 bytes");
static_assert(alignof(TensorMap) == 64, "TMA needs the descriptor 64-byte aligned");

}  // namespace qla::cuda
