// The Hopper launch layer on the GPU: a box loaded by TMA through a host-encoded tensor map lands
// in shared memory bit for bit where the host says (plain and 128-byte swizzled, out-of-bounds rows
// zero-filled); cluster dimensions and programmatic dependent launch reach AOT kernels through the
// kernel cache; launches capture into a CUDA graph.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "common/tma.cuh"
#include "gpu_guard.hpp"
#include "qla/cuda/aot_registry.hpp"
#include "qla/cuda/check.hpp"
#include "qla/cuda/device_buffer.hpp"
#include "qla/cuda/device_info.hpp"
#include "qla/cuda/launcher.hpp"
#include "qla/cuda/tensor_map_encode.hpp"

namespace qla::test {

/// Copies one TMA box of 16-bit elements into `out`, byte for byte as it lies in shared memory.
struct TmaBoxParams {
  cuda::TensorMap map;
  unsigned short* out;
  int c0, c1;      ///< box coordinates, elements
  unsigned bytes;  ///< box bytes
};

__global__ void tma_box_kernel(const __grid_constant__ TmaBoxParams p) {
  extern __shared__ unsigned char smem_raw[];
  __shared__ unsigned long long bar;
  // A 128-byte-swizzled box needs a 1024-byte-aligned destination.
  unsigned char* box = smem_raw + ((1024 - cuda::smem_u32(smem_raw) % 1024) % 1024);
  if (threadIdx.x == 0) {
    cuda::tma_prefetch_descriptor(&p.map);
    cuda::mbar_init(&bar, 1);
    cuda::fence_barrier_init();
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    cuda::mbar_arrive_expect_tx(&bar, p.bytes);
    cuda::tma_load_2d(box, &p.map, &bar, p.c0, p.c1);
  }
  cuda::mbar_wait(&bar, 0);
  const auto* words = reinterpret_cast<const unsigned short*>(box);
  for (unsigned i = threadIdx.x; i < p.bytes / 2; i += blockDim.x) p.out[i] = words[i];
}

/// Writes each CTA's cluster rank and the cluster size; with PDL, waits for the previous kernel
/// first and adds what it wrote.
struct ClusterParams {
  int* out;          ///< [2 * gridDim.x]
  const int* prior;  ///< null, or [gridDim.x] written by the kernel before this one
};

__global__ void cluster_rank_kernel(const __grid_constant__ ClusterParams p) {
  if (threadIdx.x != 0) return;
  cuda::griddep_wait();
  const int add = p.prior ? p.prior[blockIdx.x] : 0;
  p.out[2 * blockIdx.x] = static_cast<int>(cuda::cluster_ctarank()) + add;
  p.out[2 * blockIdx.x + 1] = static_cast<int>(cuda::cluster_nctarank());
}

struct FillParams {
  int* out;
  int value;
};

__global__ void fill_kernel(const __grid_constant__ FillParams p) {
  // Long enough that a dependent launched early would read unwritten memory without griddep_wait.
  long long t0 = clock64();
  while (clock64() - t0 < 200000) {
  }
  p.out[blockIdx.x] = p.value + static_cast<int>(blockIdx.x);
  cuda::griddep_launch_dependents();
}

}  // namespace qla::test

QLA_REGISTER_AOT_KERNEL("test/launch_gpu_test", (qla::test::tma_box_kernel));
QLA_REGISTER_AOT_KERNEL("test/launch_gpu_test", (qla::test::cluster_rank_kernel));
QLA_REGISTER_AOT_KERNEL("test/launch_gpu_test", (qla::test::fill_kernel));

namespace qla::test {
namespace {

using cuda::DeviceBuffer;

constexpr int kRows = 100, kCols = 128;  // a [100, 128] 16-bit tensor, 256-byte rows

const cuda::Kernel& kernel(const char* name, cuda::ParamsLayout params) {
  return cuda::KernelCache::global().get({"test/launch_gpu_test", name, params});
}

/// The box (64 columns × 32 rows at c0, c1) as the TMA unit lays it out: row r's 16-byte unit j at
/// unit j ^ (r % 8) for the 128-byte swizzle; rows past the tensor read as zero.
std::vector<unsigned short> expected_box(const std::vector<unsigned short>& t, int c0, int c1,
                                         bool swizzle) {
  std::vector<unsigned short> box(64 * 32, 0);
  for (int r = 0; r < 32; ++r)
    for (int c = 0; c < 64; ++c) {
      const int row = c1 + r, col = c0 + c;
      const unsigned short v = row < kRows && col < kCols ? t[row * kCols + col] : 0;
      const int unit = c / 8, in_unit = c % 8;
      const int placed = swizzle ? (unit ^ (r % 8)) : unit;
      box[r * 64 + placed * 8 + in_unit] = v;
    }
  return box;
}

TEST(TmaLoad, BoxLandsWhereTheHostSaysPlainSwizzledAndOutOfBounds) {
  QLA_REQUIRE_GPU();
  const auto dev = cuda::current_device();
  ASSERT_TRUE(dev);
  if (dev->arch.cc_major < 9) GTEST_SKIP() << "TMA needs sm_90";
  std::vector<unsigned short> host(kRows * kCols);
  for (int i = 0; i < kRows * kCols; ++i)
    host[i] = static_cast<unsigned short>(i * 2654435761u >> 16);
  DeviceBuffer in = DeviceBuffer::from_host(host);
  DeviceBuffer out(64 * 32 * sizeof(unsigned short));
  const cuda::Kernel& k = kernel("qla::test::tma_box_kernel", cuda::params_layout<TmaBoxParams>());
  for (bool swizzle : {false, true})
    for (auto [c0, c1] :
         {std::pair{0, 0}, {64, 8}, {64, 80}}) {  // the last box runs 12 rows past the end
      cuda::TensorMapDesc d;
      d.base = in.get();
      d.dtype = DType::kBF16;
      d.rank = 2;
      d.extent = {kCols, kRows, 0, 0, 0};
      d.stride_bytes = {0, kCols * 2, 0, 0, 0};
      d.box = {64, 32, 0, 0, 0};
      d.swizzle = swizzle ? cuda::TmaSwizzle::k128B : cuda::TmaSwizzle::kNone;
      TmaBoxParams p{cuda::encode_tensor_map(d), static_cast<unsigned short*>(out.get()), c0, c1,
                     cuda::tensor_map_box_bytes(d)};
      QLA_CUDA_CHECK(cudaMemset(out.get(), 0xff, out.bytes()));
      cuda::LaunchShape shape;
      shape.block = {128, 1, 1};
      shape.dynamic_smem = p.bytes + 1024;
      k.launch(shape, &p, nullptr);
      QLA_CUDA_CHECK(cudaDeviceSynchronize());
      const auto got = out.to_host<unsigned short>();
      EXPECT_EQ(got, expected_box(host, c0, c1, swizzle))
          << "swizzle " << swizzle << " box at " << c0 << ", " << c1;
    }
}

TEST(LaunchAttributes, ClusterDimensionsAndDependentLaunchReachTheKernel) {
  QLA_REQUIRE_GPU();
  const auto dev = cuda::current_device();
  ASSERT_TRUE(dev);
  if (dev->arch.cc_major < 9) GTEST_SKIP() << "clusters and PDL need sm_90";
  constexpr int kBlocks = 8;
  DeviceBuffer ranks(2 * kBlocks * sizeof(int)), prior(kBlocks * sizeof(int));
  const cuda::Kernel& rank =
      kernel("qla::test::cluster_rank_kernel", cuda::params_layout<ClusterParams>());
  const cuda::Kernel& fill = kernel("qla::test::fill_kernel", cuda::params_layout<FillParams>());

  cudaStream_t stream = nullptr;
  QLA_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  cudaGraph_t graph = nullptr;
  cudaGraphExec_t exec = nullptr;
  // Cluster of 2 then of 4, each after a fill the rank kernel depends on through PDL; the second
  // pair is captured into a graph and replayed.
  for (unsigned cluster : {2u, 4u}) {
    const bool captured = cluster == 4;
    QLA_CUDA_CHECK(cudaMemset(ranks.get(), 0xff, ranks.bytes()));
    if (captured) QLA_CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
    FillParams fp{static_cast<int*>(prior.get()), 100 * static_cast<int>(cluster)};
    cuda::LaunchShape fs;
    fs.grid = {kBlocks, 1, 1};
    fs.block = {32, 1, 1};
    fill.launch(fs, &fp, stream);
    ClusterParams cp{static_cast<int*>(ranks.get()), static_cast<const int*>(prior.get())};
    cuda::LaunchShape rs;
    rs.grid = {kBlocks, 1, 1};
    rs.block = {32, 1, 1};
    rs.cluster = {cluster, 1, 1};
    rs.programmatic_dependent_launch = true;
    rank.launch(rs, &cp, stream);
    if (captured) {
      QLA_CUDA_CHECK(cudaStreamEndCapture(stream, &graph));
      QLA_CUDA_CHECK(cudaGraphInstantiate(&exec, graph, 0));
      QLA_CUDA_CHECK(cudaGraphLaunch(exec, stream));
    }
    QLA_CUDA_CHECK(cudaStreamSynchronize(stream));
    const auto got = ranks.to_host<int>();
    for (int b = 0; b < kBlocks; ++b) {
      EXPECT_EQ(got[2 * b], b % static_cast<int>(cluster) + 100 * static_cast<int>(cluster) + b)
          << "block " << b;
      EXPECT_EQ(got[2 * b + 1], static_cast<int>(cluster)) << "block " << b;
    }
  }
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(graph);
  cudaStreamDestroy(stream);
}

}  // namespace
}  // namespace qla::test
