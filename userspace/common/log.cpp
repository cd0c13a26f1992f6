#include "common/log.h"

#include <bpf/libbpf.h>
#include <spdlog/spdlog.h>

#include <array>
#include <cstdarg>
#include <cstdio>
#include <string>

namespace nodepulse {

Result<void> set_log_level(std::string_view level) {
  const auto parsed = spdlog::level::from_str(std::string(level));
  // from_str maps anything unknown to "off"; only accept "off" when it was asked for.
  if (parsed == spdlog::level::off && level != "off") {
    return Error{"unknown log level '" + std::string(level) +
                 "' (expected trace, debug, info, warn, error, critical or off)"};
  }
  spdlog::set_level(parsed);
  return ok();
}

namespace {

// libbpf calls this from its own C code: nothing may throw across it.
int libbpf_print(enum libbpf_print_level level, const char* format, va_list args) noexcept {
  try {
    std::array<char, 1024> line{};
    const int n = std::vsnprintf(line.data(), line.size(), format, args);
    if (n <= 0) return 0;
    std::string_view text(line.data(), std::min<size_t>(static_cast<size_t>(n), line.size() - 1));
    while (!text.empty() && text.back() == '\n') text.remove_suffix(1);
    switch (level) {
      case LIBBPF_WARN: spdlog::warn("libbpf: {}", text); break;
      case LIBBPF_INFO: spdlog::info("libbpf: {}", text); break;
      case LIBBPF_DEBUG: spdlog::debug("libbpf: {}", text); break;
    }
  } catch (...) {
  }
  return 0;
}

}  // namespace

void route_libbpf_log() { libbpf_set_print(libbpf_print); }

}  // namespace nodepulse
