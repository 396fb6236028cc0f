# Reference math: the float64 Eigen reference of the GDN operator (recurrence, chunked form, backward, CP).
target_sources(qla_reference PRIVATE
  src/ref_common.cpp
  src/ref_recurrent.cpp
  src/ref_chunked.cpp
  src/ref_backward.cpp
  src/ref_cp.cpp)
