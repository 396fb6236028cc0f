# K2: kkt_solve, the fused forward and the state-only pass (host side and AOT default instantiations).
target_sources(qla_kernels PRIVATE
  src/gdn/fused_fwd.cpp
  src/gdn/fused_fwd_aot.cu
  src/gdn/kkt_solve.cpp
  src/gdn/kkt_solve_aot.cu
  src/gdn/state_pass.cpp
  src/gdn/state_pass_aot.cu)
