# The layout rules of issue #14, kept true by CTest (label unit):
#   1. userspace/balancer/ never includes a header that lives under exporters/: the balancer reads
#      heartbeats through the shared modules (userspace/zk, userspace/http, userspace/heartbeat),
#      never through a sink's folder.
#   2. No source file of userspace/config/ is over 600 lines: each config section keeps its own file.
# Usage: cmake -DSOURCE_DIR=<repository root> -P check_layout.cmake
if(NOT SOURCE_DIR)
  message(FATAL_ERROR "usage: cmake -DSOURCE_DIR=<repository root> -P check_layout.cmake")
endif()

set(max_config_lines 600)
set(problems "")

file(GLOB_RECURSE balancer_files "${SOURCE_DIR}/userspace/balancer/*.h" "${SOURCE_DIR}/userspace/balancer/*.cpp")
foreach(file IN LISTS balancer_files)
  file(STRINGS "${file}" includes REGEX "^[ \t]*#[ \t]*include[ \t]*[\"<]")
  foreach(line IN LISTS includes)
    string(REGEX REPLACE "^[ \t]*#[ \t]*include[ \t]*[\"<]([^\">]+)[\">].*$" "\\1" header "${line}")
    if(EXISTS "${SOURCE_DIR}/exporters/${header}")
      file(RELATIVE_PATH shown "${SOURCE_DIR}" "${file}")
      list(APPEND problems "${shown} includes ${header}, which lives under exporters/")
    endif()
  endforeach()
endforeach()

file(GLOB config_files "${SOURCE_DIR}/userspace/config/*")
foreach(file IN LISTS config_files)
  if(IS_DIRECTORY "${file}" OR file MATCHES "CMakeLists.txt$")
    continue()
  endif()
  file(READ "${file}" text)
  string(REGEX MATCHALL "\n" newlines "${text}")
  list(LENGTH newlines line_count)
  if(line_count GREATER max_config_lines)
    file(RELATIVE_PATH shown "${SOURCE_DIR}" "${file}")
    list(APPEND problems "${shown} has ${line_count} lines (at most ${max_config_lines}): split it by section")
  endif()
endforeach()

if(problems)
  list(JOIN problems "\n  " shown)
  message(FATAL_ERROR "layout check failed:\n  ${shown}")
endif()
message(STATUS "layout check: balancer includes nothing from exporters/; config files within ${max_config_lines} lines")
