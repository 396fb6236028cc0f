# qla devices | generate | reference
# The device report (`qla devices`, and the facts of the tuner's device fingerprint) is its own small library:
# the tuner and the CLI link it.
add_library(qla_device_report STATIC src/device_report.cpp)
target_include_directories(qla_device_report PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include)
target_link_libraries(qla_device_report
  PUBLIC CUDA::cudart_static
  PRIVATE qla::core qla::cuda_headers CUDA::nvrtc nlohmann_json::nlohmann_json qla_warnings)

target_sources(qla PRIVATE
  cli/cmd_devices.cpp
  cli/cmd_generate.cpp
  cli/cmd_reference.cpp
  cli/cli_parse_util.cpp)
target_link_libraries(qla PRIVATE qla_device_report)
