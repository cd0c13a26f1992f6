# Finds every tool and library nodepulse builds with, and checks the versions it relies on,
# so a wrong machine fails at configure time with a message instead of at compile time.

function(nodepulse_require_version what found minimum hint)
  if(found VERSION_LESS minimum)
    message(FATAL_ERROR "${what} ${found} is too old: nodepulse needs ${minimum} or newer. ${hint}")
  endif()
  message(STATUS "${what} ${found}")
endfunction()

find_program(NODEPULSE_BPF_CLANG NAMES clang clang-14 clang-15 clang-16 REQUIRED)
execute_process(COMMAND ${NODEPULSE_BPF_CLANG} --version OUTPUT_VARIABLE _clang_version_text)
string(REGEX MATCH "clang version ([0-9]+\\.[0-9]+)" _ "${_clang_version_text}")
# CO-RE relocations and BTF-typed tracepoint arguments need clang 11; Debian 12 ships 14.
nodepulse_require_version("clang (BPF target)" "${CMAKE_MATCH_1}" 11 "Run scripts/setup.")

find_program(NODEPULSE_BPFTOOL NAMES bpftool PATHS /usr/sbin /usr/local/sbin REQUIRED)
execute_process(COMMAND ${NODEPULSE_BPFTOOL} version OUTPUT_VARIABLE _bpftool_version_text)
string(REGEX MATCH "v([0-9]+\\.[0-9]+)" _ "${_bpftool_version_text}")
# `bpftool gen object` (the BPF static linker) arrived with bpftool 5.13.
nodepulse_require_version("bpftool" "${CMAKE_MATCH_1}" 5.13 "Run scripts/setup.")

find_package(PkgConfig REQUIRED)
pkg_check_modules(LIBBPF REQUIRED IMPORTED_TARGET libbpf>=1.0)
nodepulse_require_version("libbpf" "${LIBBPF_VERSION}" 1.0 "Run scripts/setup.")
# libcap: the agent drops its capabilities after start-up (userspace/common/privileges.h).
pkg_check_modules(LIBCAP REQUIRED IMPORTED_TARGET libcap)
# libyaml checks config syntax before yaml-cpp sees it (userspace/config/yaml_syntax.h).
pkg_check_modules(LIBYAML REQUIRED IMPORTED_TARGET yaml-0.1)

# libcurl (OpenSSL flavour) speaks to Trino's own API, which is often https with basic auth
# (userspace/trino/trino_client.h).
find_package(CURL 7.85 REQUIRED)  # CURLOPT_PROTOCOLS_STR

find_package(Threads REQUIRED)
find_package(spdlog 1.9 REQUIRED)
find_package(yaml-cpp 0.7 REQUIRED)
find_package(CLI11 2.1 REQUIRED)
find_package(nlohmann_json 3.10 REQUIRED)
# Debian's prometheus-cpp config carries no version; 1.0 (Histogram::ObserveMultiple) is what we use.
find_package(prometheus-cpp REQUIRED)
find_package(civetweb REQUIRED)
find_package(GTest 1.11 REQUIRED)

# The ZooKeeper C client ships no CMake or pkg-config file.
find_path(ZOOKEEPER_INCLUDE_DIR zookeeper/zookeeper.h REQUIRED)
find_library(ZOOKEEPER_MT_LIBRARY zookeeper_mt REQUIRED)
add_library(zookeeper_mt INTERFACE)
target_include_directories(zookeeper_mt SYSTEM INTERFACE ${ZOOKEEPER_INCLUDE_DIR})
target_link_libraries(zookeeper_mt INTERFACE ${ZOOKEEPER_MT_LIBRARY})
# Without THREADED the synchronous API is not declared.
target_compile_definitions(zookeeper_mt INTERFACE THREADED)
