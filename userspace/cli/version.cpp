#include <bpf/libbpf.h>
#include <spdlog/version.h>

#include <cstdio>

#include "cli/commands.h"

namespace nodepulse {

const char* version_string() { return NODEPULSE_VERSION; }

int run_version() {
  std::printf("nodepulse %s\nlibbpf %u.%u, spdlog %d.%d.%d\n", NODEPULSE_VERSION, libbpf_major_version(),
              libbpf_minor_version(), SPDLOG_VER_MAJOR, SPDLOG_VER_MINOR, SPDLOG_VER_PATCH);
  return kExitOk;
}

}  // namespace nodepulse
