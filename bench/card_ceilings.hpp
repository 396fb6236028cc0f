// The card's own floors, measured at the start of every bench run so each row's "fraction of the
// ceiling" is relative to this card in this state: a 1 GiB device-to-device copy (memory) and a
// bf16 8192³ GEMM through cuBLAS (compute).
//
// cuBLAS is loaded with dlopen (libcublas.so.13, .12, or from /usr/local/cuda/lib64) rather than
// linked: the bench must start where the toolkit's 500 MB of cuBLAS is absent and then reports the
// matmul ceiling as not measured instead of failing to start.
#pragma once

#include "bench_document.hpp"

namespace qla::bench {

/// Median rate of `reps` 1 GiB cudaMemcpyAsync device-to-device copies on device `device` (after 2
/// warm-up copies), counting bytes read plus bytes written. Throws ApiError on a CUDA failure.
double measure_copy_gbps(int device, int reps = 10);

/// Median rate of `reps` bf16 GEMMs C = A·B (n×n×n, fp32 accumulate, bf16 out, random data in [-1,
/// 1]) through cuBLAS, after 3 warm-ups. Returns 0 and sets `how` to the reason when cuBLAS cannot
/// be loaded or fails; on success `how` names what was run.
double measure_matmul_tflops(int device, std::string& how, int n = 8192, int reps = 10);

/// Both, as the document records them.
Ceilings measure_ceilings(int device);

}  // namespace qla::bench
