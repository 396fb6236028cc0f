// The bits of a call's error word (one int32 in the plan's workspace), set on the device while the
// call runs and read afterwards by call_status(). Builtin types only (host, nvcc and NVRTC).
#pragma once

namespace qla::gdn {

/// gdn.work_list writes the word at the start of every call (or once, by prepare_lists()): this
/// bit, or 0.
/// The call's cu_seqlens is not a valid offset list (cu[0] = 0, non-decreasing, cu[N] ≤ B·T).
inline constexpr int kCallErrorOffsets = 1;
/// gdn.kkt_solve ORs this bit in: at some valid token β‖k‖² > 2, where the delta rule's transition
/// I − β k kᵀ expands the state (eigenvalue 1 − β‖k‖² < −1) and the chunked forward's 16-bit GEMM
/// operands cannot follow it. GDN's keys are L2-normalised (‖k‖ = 1, β ≤ 1 keeps β‖k‖² ≤ 1).
inline constexpr int kCallErrorExpansiveKeys = 2;

}  // namespace qla::gdn
