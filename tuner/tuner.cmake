# qla_tuner: search, store, lookup, measurement, worker isolation and the tuning loop (DESIGN.md, "The tuner").
# The `qla tune` and `qla db` subcommands are added to the `qla` executable at the end.
add_library(qla_tuner STATIC
  src/trial.cpp
  src/search.cpp
  src/fingerprint.cpp
  src/problem_json.cpp
  src/store.cpp
  src/runner.cpp
  src/worker.cpp
  src/fake_kernel.cpp
  src/compile_queue.cpp
  src/tuner.cpp
  src/efficiency.cpp
  src/lookup.cpp
  src/measure_stats.cpp
  src/measure.cpp
  src/suites.cpp
  src/shape_matrix.cpp
  src/repeatability.cpp)
target_include_directories(qla_tuner PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include)
target_link_libraries(qla_tuner
  PUBLIC qla::core nlohmann_json::nlohmann_json
  PUBLIC CUDA::cudart_static
  PRIVATE qla::reference qla::cuda_headers qla_device_report SQLiteCpp CUDA::nvrtc Threads::Threads ${CMAKE_DL_LIBS}
          qla_warnings)
# QLA_WITH_CUPTI (default ON): kernel times from CUPTI activity records; OFF: CUDA events only, no libcupti.
if(QLA_WITH_CUPTI)
  target_link_libraries(qla_tuner PRIVATE CUDA::cupti)
  target_compile_definitions(qla_tuner PRIVATE QLA_WITH_CUPTI=1)
else()
  target_compile_definitions(qla_tuner PRIVATE QLA_WITH_CUPTI=0)
endif()
add_library(qla::tuner ALIAS qla_tuner)

# The real-kernel adapter (gdn_adapter.hpp): depends on the kernels and the reference, so it is its own library
# and the tuner library above stays testable without them.
add_library(qla_tuner_gdn STATIC src/gdn_adapter.cpp)
target_link_libraries(qla_tuner_gdn
  PUBLIC qla_tuner
  PRIVATE qla::kernels qla::reference Threads::Threads qla_warnings)

# The commit every tuning run records (qla_git_commit.hpp, regenerated at each build; "-dirty" for a modified tree).
add_custom_target(qla_git_commit
  COMMAND ${CMAKE_COMMAND} -DSOURCE_DIR=${PROJECT_SOURCE_DIR} -DOUT=${CMAKE_CURRENT_BINARY_DIR}/generated/qla_git_commit.hpp
          -P ${PROJECT_SOURCE_DIR}/cmake/GitCommit.cmake
  BYPRODUCTS ${CMAKE_CURRENT_BINARY_DIR}/generated/qla_git_commit.hpp
  COMMENT "Recording the git commit"
  VERBATIM)
target_sources(qla PRIVATE cli/cmd_tune.cpp cli/cmd_db.cpp)
target_include_directories(qla PRIVATE ${CMAKE_CURRENT_BINARY_DIR}/generated)
add_dependencies(qla qla_git_commit)
target_link_libraries(qla PRIVATE qla_tuner qla_tuner_gdn)
