# Compiles a generated header in a tiny translation unit (syntax only) and checks the outcome; a ctest runs it
# with `cmake -P`. Variables:
#   COMPILER   the C++ compiler          INCLUDES, MORE_INCLUDES  include directories
#   HEADER     the generated header      EXPECT    "pass" or "fail"
#   TAMPER_FROM / TAMPER_TO  optional: the header is copied with the first TAMPER_FROM replaced by TAMPER_TO
#   MATCH      with EXPECT fail: a regex the compiler's output must contain (the failure must be the one meant)
#   WORK       scratch directory
file(MAKE_DIRECTORY ${WORK})
set(header ${HEADER})
if(DEFINED TAMPER_FROM)
  file(READ ${HEADER} text)
  string(FIND "${text}" "${TAMPER_FROM}" at)
  if(at LESS 0)
    message(FATAL_ERROR "compile_check: '${TAMPER_FROM}' not found in ${HEADER}: the fixture changed")
  endif()
  string(LENGTH "${TAMPER_FROM}" len)
  string(SUBSTRING "${text}" 0 ${at} head)
  math(EXPR rest_at "${at} + ${len}")
  string(SUBSTRING "${text}" ${rest_at} -1 tail)
  set(header ${WORK}/tampered.hpp)
  file(WRITE ${header} "${head}${TAMPER_TO}${tail}")
endif()
file(WRITE ${WORK}/use_header.cpp
  "#include \"${header}\"\n"
  "int main() {\n"
  "  const auto s = qla_tuned::select(qla_tuned::Query{}, 9, 0);\n"
  "  return s.fused_fwd.values[0] == 0 ? 1 : 0;\n"
  "}\n")
set(flags -std=c++17 -fsyntax-only -Wall -Wextra -Werror)
foreach(dir IN LISTS INCLUDES MORE_INCLUDES)
  list(APPEND flags -I${dir})
endforeach()
execute_process(COMMAND ${COMPILER} ${flags} ${WORK}/use_header.cpp
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(EXPECT STREQUAL "pass")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "compile_check: ${header} should compile but did not:\n${out}${err}")
  endif()
else()
  if(rc EQUAL 0)
    message(FATAL_ERROR "compile_check: ${header} should not compile (a row lies outside the space)")
  endif()
  if(DEFINED MATCH AND NOT "${out}${err}" MATCHES "${MATCH}")
    message(FATAL_ERROR "compile_check: the compile failed, but not with '${MATCH}':\n${out}${err}")
  endif()
endif()
message(STATUS "compile_check: ${EXPECT} as expected")
