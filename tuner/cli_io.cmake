# qla devices | generate | reference
# The device fingerprint query is its own small library so the tuner can link it too.
add_library(qla_device_fingerprint STATIC cli/device_fingerprint.cpp)
target_include_directories(qla_device_fingerprint PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/cli)
target_link_libraries(qla_device_fingerprint
  PUBLIC CUDA::cudart_static
  PRIVATE qla::core CUDA::nvrtc nlohmann_json::nlohmann_json qla_warnings)
# qla/cuda/check.hpp (header-only) from the kernels' include tree; no kernel library is linked.
target_include_directories(qla_device_fingerprint PRIVATE $<TARGET_PROPERTY:qla_families,INTERFACE_INCLUDE_DIRECTORIES>)

target_sources(qla PRIVATE
  cli/cmd_devices.cpp
  cli/cmd_generate.cpp
  cli/cmd_reference.cpp
  cli/cli_parse_util.cpp)
target_link_libraries(qla PRIVATE qla_device_fingerprint)
