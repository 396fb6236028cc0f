# One interface target carries the project's warning flags; every qla target links it.
# QLA_WARNINGS_AS_ERRORS (on in the `ci` preset) turns them into errors.
add_library(qla_warnings INTERFACE)
target_compile_options(qla_warnings INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
                            -Wimplicit-fallthrough>
  $<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-Wall,-Wextra>)
if(QLA_WARNINGS_AS_ERRORS)
  target_compile_options(qla_warnings INTERFACE
    $<$<COMPILE_LANGUAGE:CXX>:-Werror>
    $<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-Werror --Werror=all-warnings>)
endif()
