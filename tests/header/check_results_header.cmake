# The committed deployment header must be what `qla header` writes for the committed store (output is
# deterministic): regenerate it with the command at the top of the header whenever results/ changes.
#   cmake -DQLA=<qla> -DSTORE=<relative store> -DEXPECTED=<header> -DSOURCE_DIR=<repo> -P check_results_header.cmake
execute_process(COMMAND ${QLA} header --db ${STORE} --arch sm_90 -o ${CMAKE_CURRENT_BINARY_DIR}/regenerated.hpp
                WORKING_DIRECTORY ${SOURCE_DIR} RESULT_VARIABLE rc OUTPUT_QUIET)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "qla header failed (${rc}) on ${STORE}")
endif()
file(READ ${CMAKE_CURRENT_BINARY_DIR}/regenerated.hpp got)
file(READ ${EXPECTED} want)
if(NOT got STREQUAL want)
  message(FATAL_ERROR "${EXPECTED} is not what `qla header --db ${STORE} --arch sm_90` writes: regenerate it")
endif()
