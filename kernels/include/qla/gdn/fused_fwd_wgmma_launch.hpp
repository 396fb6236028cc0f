// The host side of a gdn.fused_fwd_wgmma launch: its TMA views, encoded per call (the pointers are
// the call's) through the driver's cuTensorMapEncodeTiled.
#pragma once

#include "qla/gdn/fused_wgmma_params.hpp"

namespace qla::gdn {

/// The wgmma kernel's params for the chunk forward `f` of a call with `batch` rows of `tokens`
/// tokens and `heads_qk` query/key heads (A_r has f.a's chunk size 64). Throws UserError when a
/// tensor is not a view TMA can take (alignment, strides), ApiError when the driver refuses.
FusedFwdWgmmaParams make_fused_wgmma_params(const FusedFwdParams& f, long long batch,
                                            long long tokens, int heads_qk);

}  // namespace qla::gdn
