# The sanitizer and fuzz tree (scripts/test builds it into build-sanitize/):
#
#   NODEPULSE_SANITIZE=ON  AddressSanitizer + UndefinedBehaviorSanitizer (+ LeakSanitizer, which
#                          ASan runs at exit) on every C/C++ file; undefined behaviour aborts, so it
#                          fails the test instead of printing a line nobody reads.
#   NODEPULSE_FUZZ=ON      also the libFuzzer targets in fuzz/ (clang only), and libFuzzer's
#                          coverage instrumentation on the libraries they exercise.
#
# One clang tree does both, so CI compiles the code once more, not twice. The BPF objects are
# compiled by their own custom commands (cmake/BpfObject.cmake) and never see these flags.
# Include this after the project's warning options: its -Wno-error must come last.
# clang's runtimes come from Debian's libclang-rt-14-dev (scripts/setup).

option(NODEPULSE_SANITIZE "Build with AddressSanitizer, UndefinedBehaviorSanitizer and LeakSanitizer" OFF)
option(NODEPULSE_FUZZ "Build the libFuzzer targets in fuzz/ (clang; implies NODEPULSE_SANITIZE)" OFF)

if(NODEPULSE_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang" OR NOT CMAKE_C_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "NODEPULSE_FUZZ needs clang (libFuzzer): configure with "
                        "-DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++")
  endif()
  set(NODEPULSE_SANITIZE ON CACHE BOOL "" FORCE)
endif()

if(NODEPULSE_SANITIZE)
  set(_sanitizers -fsanitize=address,undefined -fno-sanitize-recover=undefined
                  # Readable stacks in reports, and LeakSanitizer's fast unwinder needs frame pointers.
                  -fno-omit-frame-pointer)
  add_compile_options(${_sanitizers})
  # After the build type's -O2 -g, so these win: -O1 compiles much faster under the sanitizers'
  # instrumentation and keeps stacks honest; line tables are all a report's stack needs.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    add_compile_options(-O1 -gline-tables-only)
  else()
    add_compile_options(-O1 -g1)
  endif()
  add_link_options(-fsanitize=address,undefined)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    # The gcc tree (build/) enforces -Werror; clang warns about other things, and a clang-only
    # warning must not stop the sanitizers from running.
    add_compile_options($<$<COMPILE_LANGUAGE:CXX>:-Wno-error>)
  endif()
  message(STATUS "Sanitizers: address, undefined (no recover), leak")
endif()

if(NODEPULSE_FUZZ)
  # Coverage feedback for libFuzzer from every library a fuzz target links; the targets
  # themselves add -fsanitize=fuzzer (libFuzzer's main).
  add_compile_options(-fsanitize=fuzzer-no-link)
  message(STATUS "libFuzzer targets: fuzz/")
endif()
