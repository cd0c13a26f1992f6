// `nodepulse status` as an operator runs it: the binary through the shell, stdout captured,
// stderr dropped, with its exit code.
#pragma once

#include <sys/wait.h>

#include <cstdio>
#include <string>

namespace nodepulse::testing {

struct StatusRun {
  int exit_code = -1;
  std::string out;
};

inline StatusRun run_status(const std::string& arguments) {
  StatusRun run;
  const std::string command = std::string(NODEPULSE_BINARY) + " status " + arguments + " 2>/dev/null";
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return run;
  char buffer[4096];
  std::size_t count;
  while ((count = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) run.out.append(buffer, count);
  const int status = ::pclose(pipe);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

}  // namespace nodepulse::testing
