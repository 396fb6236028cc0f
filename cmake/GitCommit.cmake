# Writes OUT, a header defining QLA_GIT_COMMIT: the checkout's commit, with "-dirty" when tracked files (other
# than results/ and reports/) differ from it, or "unknown" outside a git checkout. Run at every build (not only
# at configure time), and OUT is rewritten only when its text changes, so nothing recompiles needlessly.
#   cmake -DSOURCE_DIR=<repo> -DOUT=<header> -P GitCommit.cmake
execute_process(COMMAND git rev-parse --short=12 HEAD WORKING_DIRECTORY ${SOURCE_DIR}
                OUTPUT_VARIABLE commit OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR commit STREQUAL "")
  set(commit "unknown")
else()
  execute_process(COMMAND git diff --quiet HEAD -- . ":!results" ":!reports" WORKING_DIRECTORY ${SOURCE_DIR}
                  RESULT_VARIABLE dirty ERROR_QUIET)
  if(NOT dirty EQUAL 0)
    string(APPEND commit "-dirty")
  endif()
endif()
set(text "// Generated at build time by cmake/GitCommit.cmake; do not edit.\n#pragma once\n#define QLA_GIT_COMMIT \"${commit}\"\n")
if(EXISTS ${OUT})
  file(READ ${OUT} old)
endif()
if(NOT old STREQUAL text)
  file(WRITE ${OUT} "${text}")
endif()
