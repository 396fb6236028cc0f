# Host tensors, .npy I/O, problem folders and input generators (headers in include/qla/io/).
target_sources(qla_reference PRIVATE
  src/io_tensor.cpp
  src/io_npy.cpp
  src/io_generate.cpp
  src/io_validate.cpp
  src/io_problem_files.cpp)
# problem.json is parsed here only; nlohmann_json stays out of the public headers.
target_link_libraries(qla_reference PRIVATE nlohmann_json::nlohmann_json)
