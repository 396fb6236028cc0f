// Plan::Impl, the state a plan holds (configs, resolved kernels, workspace layout), shared by the
// planning (plan.cpp) and the call (forward.cpp). Private to the library.
#pragma once

#include <cstddef>
#include <map>
#include <string>

#include "qla/cuda/launcher.hpp"
#include "qla/gdn/cp.hpp"
#include "qla/gdn/cumsum.hpp"
#include "qla/gdn/forward.hpp"
#include "qla/gdn/fused_fwd.hpp"
#include "qla/gdn/kkt_solve.hpp"
#include "qla/gdn/l2norm.hpp"
#include "qla/gdn/naive_fwd.hpp"
#include "qla/gdn/state_pass.hpp"
#include "qla/gdn/state_pass_wgmma.hpp"
#include "qla/gdn/unfused.hpp"
#include "qla/gdn/work_list.hpp"

namespace qla::gdn {

inline constexpr int kChunk = 64;  // the work list's chunk size of the naive and unfused paths
inline constexpr std::size_t kAlign = 256;  // workspace sub-buffer alignment
inline std::size_t align_up(std::size_t x) { return (x + kAlign - 1) / kAlign * kAlign; }

struct Plan::Impl {
  Problem problem;
  long long max_rows = 0;
  long long max_sequences = 0;
  Algorithm algorithm = Algorithm::kFused;
  std::string not_implemented;
  std::map<std::string, std::string> labels;
  int chunk = kChunk;
  bool cp = false;
  int cp_pieces = 0;
  int cp_piece_chunks = 0;
  float cp_threshold = -10.f;
  bool pdl = false;  // the fused path's launches after the first use programmatic dependent launch
  unsigned cp_pdl = 0;        // with CP, the launches that do (a CpLaunch mask; pdl is then false)
  int sm_count = 0;           // the device's SMs (persistent grids)
  int kkt_resident_ctas = 0;  // kkt_solve's persistent grid (b16 configs; 0: a CTA an item)
  // Configs and resolved kernels.
  NaiveFwdConfig naive;
  L2NormConfig l2norm;
  UnfusedConfig unfused;
  CumsumConfig cumsum;
  KktSolveConfig kkt;
  FusedFwdConfig fused;
  StatePassConfig state;
  FusedFwdConfig state_wgmma;   // the state pass's config when it runs on the wgmma chain
  bool state_on_wgmma = false;  // gdn.state_pass_wgmma fills the state pass (else gdn.state_pass)
  CpCorrectConfig correct;
  const cuda::Kernel* work_list_kernel = nullptr;
  const cuda::Kernel* naive_kernel = nullptr;
  const cuda::Kernel* l2norm_kernel = nullptr;
  const cuda::Kernel* cumsum_kernel = nullptr;
  const cuda::Kernel* kkt_kernel = nullptr;
  const cuda::Kernel* fused_kernel = nullptr;
  const cuda::Kernel* state_kernel = nullptr;
  const cuda::Kernel* warmup_kernel = nullptr;
  const cuda::Kernel* correct_kernel = nullptr;
  // Workspace layout: the l2norm copies, the work lists, then the algorithm's scratch.
  std::size_t l2norm_bytes = 0;  // one normalised q or k copy
  WorkListLayout lists;
  std::size_t algo_offset = 0;
  std::size_t algo_bytes = 0;
  FusedWorkspaceLayout fused_ws;
  std::size_t workspace = 0;

  int piece_chunks_of_lists() const { return cp ? cp_piece_chunks : 0; }
};

}  // namespace qla::gdn
