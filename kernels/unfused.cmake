# K3: baseline (b), the unfused FLA-style chunk pipeline (kernels/include/qla/gdn/unfused.hpp).
# unfused_aot.cu instantiates every config of gdn.unfused (6 points, bf16/fp16) and registers them.
target_sources(qla_kernels PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/src/gdn/unfused.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/gdn/unfused_aot.cu)
