#include "card_ceilings.hpp"

#include <cublas_api.h>
#include <cuda_runtime_api.h>
#include <dlfcn.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "qla/cuda/check.hpp"
#include "qla/cuda/device_buffer.hpp"
#include "qla/cuda/handles.hpp"
#include "qla/error.hpp"

namespace qla::bench {
namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n == 0 ? 0.0 : n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// The four cuBLAS entry points the GEMM needs, typed from cublas_api.h's declarations (cublasGemmEx
// is overloaded in C++ there, so its pointer type is spelled out).
using CreateFn = cublasStatus_t (*)(cublasHandle_t*);
using DestroyFn = cublasStatus_t (*)(cublasHandle_t);
using SetStreamFn = cublasStatus_t (*)(cublasHandle_t, cudaStream_t);
using GemmExFn = cublasStatus_t (*)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int,
                                    int, const void*, const void*, cudaDataType, int, const void*,
                                    cudaDataType, int, const void*, void*, cudaDataType, int,
                                    cublasComputeType_t, cublasGemmAlgo_t);

/// dlopen'ed libcublas, closed on destruction.
class CublasLibrary {
 public:
  CublasLibrary() {
    for (const char* name :
         {"libcublas.so.13", "libcublas.so.12", "libcublas.so",
          "/usr/local/cuda/lib64/libcublas.so.13", "/usr/local/cuda/lib64/libcublas.so"}) {
      handle_ = dlopen(name, RTLD_NOW | RTLD_LOCAL);
      if (handle_) {
        name_ = name;
        break;
      }
      if (const char* e = dlerror()) error_ = e;
    }
    if (!handle_) return;
    create = reinterpret_cast<CreateFn>(dlsym(handle_, "cublasCreate_v2"));
    destroy = reinterpret_cast<DestroyFn>(dlsym(handle_, "cublasDestroy_v2"));
    set_stream = reinterpret_cast<SetStreamFn>(dlsym(handle_, "cublasSetStream_v2"));
    gemm_ex = reinterpret_cast<GemmExFn>(dlsym(handle_, "cublasGemmEx"));
    if (!create || !destroy || !set_stream || !gemm_ex)
      error_ = std::string(name_) + " lacks a needed symbol";
  }
  CublasLibrary(const CublasLibrary&) = delete;
  CublasLibrary& operator=(const CublasLibrary&) = delete;
  ~CublasLibrary() {
    if (handle_) dlclose(handle_);
  }

  /// Empty when usable; else why not.
  std::string unusable() const {
    if (!handle_) return "libcublas could not be loaded (" + error_ + ")";
    return create && destroy && set_stream && gemm_ex ? std::string() : error_;
  }
  const char* name() const { return name_; }

  CreateFn create = nullptr;
  DestroyFn destroy = nullptr;
  SetStreamFn set_stream = nullptr;
  GemmExFn gemm_ex = nullptr;

 private:
  void* handle_ = nullptr;
  const char* name_ = "";
  std::string error_;
};

void check_cublas(cublasStatus_t s, const char* call) {
  if (s != CUBLAS_STATUS_SUCCESS) {
    raise_api_error("cuBLAS", __FILE__, __LINE__, call,
                    "status " + std::to_string(static_cast<int>(s)));
  }
}

/// A cuBLAS handle of a loaded library.
class CublasHandle {
 public:
  explicit CublasHandle(const CublasLibrary& lib) : lib_(lib) {
    check_cublas(lib_.create(&handle_), "cublasCreate");
  }
  CublasHandle(const CublasHandle&) = delete;
  CublasHandle& operator=(const CublasHandle&) = delete;
  ~CublasHandle() {
    if (handle_) lib_.destroy(handle_);
  }
  cublasHandle_t get() const { return handle_; }

 private:
  const CublasLibrary& lib_;
  cublasHandle_t handle_ = nullptr;
};

/// n×n bf16 matrix of uniform values in [-1, 1) (xorshift64, fixed seed), as raw bits.
std::vector<std::uint16_t> random_bf16(std::size_t count, std::uint64_t seed) {
  std::vector<std::uint16_t> out(count);
  std::uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
  for (auto& x : out) {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    const float f =
        static_cast<float>(static_cast<double>(s >> 11) / 4503599627370496.0 - 1.0);  // [-1, 1)
    std::uint32_t u;
    std::memcpy(&u, &f, sizeof u);
    x = static_cast<std::uint16_t>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
  }
  return out;
}

}  // namespace

double measure_copy_gbps(int device, int reps) {
  QLA_CUDA_CHECK(cudaSetDevice(device));
  constexpr std::size_t kBytes = std::size_t{1} << 30;
  cuda::DeviceBuffer src(kBytes), dst(kBytes);
  QLA_CUDA_CHECK(cudaMemset(src.get(), 1, kBytes));
  cuda::Stream stream;
  cuda::Event start, stop;
  for (int i = 0; i < 2; ++i) {
    QLA_CUDA_CHECK(
        cudaMemcpyAsync(dst.get(), src.get(), kBytes, cudaMemcpyDeviceToDevice, stream.get()));
  }
  std::vector<double> gbps;
  for (int i = 0; i < reps; ++i) {
    QLA_CUDA_CHECK(cudaEventRecord(start.get(), stream.get()));
    QLA_CUDA_CHECK(
        cudaMemcpyAsync(dst.get(), src.get(), kBytes, cudaMemcpyDeviceToDevice, stream.get()));
    QLA_CUDA_CHECK(cudaEventRecord(stop.get(), stream.get()));
    const double ms = cuda::elapsed_ms(start, stop);
    gbps.push_back(2.0 * static_cast<double>(kBytes) / (ms * 1e-3) / 1e9);
  }
  return median(gbps);
}

double measure_matmul_tflops(int device, std::string& how, int n, int reps) {
  CublasLibrary lib;
  if (std::string why = lib.unusable(); !why.empty()) {
    how = "not measured: " + why;
    return 0;
  }
  try {
    QLA_CUDA_CHECK(cudaSetDevice(device));
    const std::size_t count = static_cast<std::size_t>(n) * static_cast<std::size_t>(n);
    const cuda::DeviceBuffer a = cuda::DeviceBuffer::from_host(random_bf16(count, 1));
    const cuda::DeviceBuffer b = cuda::DeviceBuffer::from_host(random_bf16(count, 2));
    cuda::DeviceBuffer c(count * sizeof(std::uint16_t));
    cuda::Stream stream;
    cuda::Event start, stop;
    CublasHandle handle(lib);
    check_cublas(lib.set_stream(handle.get(), stream.get()), "cublasSetStream");
    const float alpha = 1.f, beta = 0.f;
    auto gemm = [&] {
      check_cublas(lib.gemm_ex(handle.get(), CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &alpha, a.get(),
                               CUDA_R_16BF, n, b.get(), CUDA_R_16BF, n, &beta, c.get(), CUDA_R_16BF,
                               n, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
                   "cublasGemmEx");
    };
    for (int i = 0; i < 3; ++i) gemm();
    std::vector<double> tflops;
    const double flops = 2.0 * n * static_cast<double>(n) * n;
    for (int i = 0; i < reps; ++i) {
      QLA_CUDA_CHECK(cudaEventRecord(start.get(), stream.get()));
      gemm();
      QLA_CUDA_CHECK(cudaEventRecord(stop.get(), stream.get()));
      tflops.push_back(flops / (cuda::elapsed_ms(start, stop) * 1e-3) / 1e12);
    }
    how = std::string("cublasGemmEx (") + lib.name() + ") bf16 " + std::to_string(n) +
          "^3, fp32 accumulate, random data, median of " + std::to_string(reps);
    return median(tflops);
  } catch (const ApiError& e) {
    how = std::string("not measured: ") + e.what();
    return 0;
  }
}

Ceilings measure_ceilings(int device) {
  Ceilings c;
  c.copy_gbps = measure_copy_gbps(device);
  c.matmul_tflops = measure_matmul_tflops(device, c.matmul_how);
  return c;
}

}  // namespace qla::bench
