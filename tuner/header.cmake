# `qla header`: the header generator library and its subcommand. The library reads stores through
# qla::tuner and the kernel families' spaces through qla_kernels (linked whole, as every consumer of it must be).
add_library(qla_header STATIC header/header_generator.cpp header/header_kernels.cpp)
target_include_directories(qla_header PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/header)
target_link_libraries(qla_header PUBLIC qla::tuner qla::core PRIVATE qla::kernels nlohmann_json::nlohmann_json
                                 qla_warnings)
add_library(qla::header ALIAS qla_header)

target_sources(qla PRIVATE cli/cmd_header.cpp)
target_link_libraries(qla PRIVATE qla_header)
