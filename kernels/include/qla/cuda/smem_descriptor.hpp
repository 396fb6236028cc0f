// The wgmma shared-memory matrix descriptor (PTX ISA, "Matrix Descriptor Format" of the
// asynchronous warpgroup MMA): a 64-bit word with the start address in bits 0-13, the
// leading-dimension byte offset in bits 16-29 and the stride-dimension byte offset in bits 32-45
// (each a byte count >> 4), a base offset of 0 in bits 49-51 (1024-byte aligned atoms) and the
// swizzle mode in bits 62-63. Builtin types only: the host (tests), nvcc and NVRTC compile it.
#pragma once

#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
#define QLA_SMEM_DESC_FN __host__ __device__ constexpr
#else
#define QLA_SMEM_DESC_FN constexpr
#endif

namespace qla::cuda {

/// The swizzle a descriptor declares (bits 62-63).
enum class SmemLayout : unsigned {
  kInterleave = 0,
  kSwizzle128B = 1,
  kSwizzle64B = 2,
  kSwizzle32B = 3
};

/// The descriptor of an operand starting at shared-memory address `addr` (16-byte aligned), with
/// leading- and stride-dimension byte offsets (multiples of 16).
QLA_SMEM_DESC_FN unsigned long long smem_descriptor_at(unsigned addr, unsigned lbo_bytes,
                                                       unsigned sbo_bytes, SmemLayout layout) {
  return static_cast<unsigned long long>((addr & 0x3FFFFu) >> 4) |
         static_cast<unsigned long long>((lbo_bytes >> 4) & 0x3FFFu) << 16 |
         static_cast<unsigned long long>((sbo_bytes >> 4) & 0x3FFFu) << 32 |
         static_cast<unsigned long long>(layout) << 62;
}

/// The descriptor of the same operand `bytes` (a multiple of 16) further on: a 32-bit add to the
/// start address field. Shared memory ends below 256 KiB, so the sum cannot carry out of the
/// 14-bit field, and the result is smem_descriptor_at of the moved start. A loop over
/// k-slices then computes one descriptor per tile, not one per wgmma.
QLA_SMEM_DESC_FN unsigned long long descriptor_plus(unsigned long long desc, unsigned bytes) {
  return (desc & 0xFFFFFFFF00000000ull) |
         static_cast<unsigned>(static_cast<unsigned>(desc) + (bytes >> 4));
}

}  // namespace qla::cuda

#undef QLA_SMEM_DESC_FN
