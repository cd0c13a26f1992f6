// Config YAML and --set overrides: parse_config must never crash or hang whatever the operator
// (or a config-management template gone wrong) writes, and whatever it accepts must render back
// (to_yaml) into YAML that parses to the same config: `nodepulse check` prints that YAML.
//
// Input: the YAML text, then optionally "\n@@\n" and one --set override per line.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "config/config.h"
#include "fuzz_support.h"

using namespace nodepulse;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::vector<std::string_view> fields = fuzz::split_fields(fuzz::as_text(data, size), 2);
  std::vector<std::string> overrides;
  if (fields.size() == 2) {
    std::string_view rest = fields[1];
    while (!rest.empty() && overrides.size() < 16) {
      const std::size_t newline = rest.find('\n');
      overrides.emplace_back(rest.substr(0, newline));
      rest = newline == std::string_view::npos ? std::string_view() : rest.substr(newline + 1);
    }
  }
  Result<Config> config = parse_config(fields[0], "fuzz.yaml", overrides);
  if (!config.ok()) {
    if (config.error().message.empty()) fuzz::fail("a config error without a message");
    return 0;
  }
  const std::string rendered = to_yaml(*config);
  Result<Config> again = parse_config(rendered, "rendered.yaml", {});
  if (!again.ok()) fuzz::fail("to_yaml wrote YAML that parse_config refuses: " + again.error().message + "\n" + rendered);
  if (to_yaml(*again) != rendered) fuzz::fail("to_yaml does not round-trip:\n" + rendered + "\n--- became ---\n" + to_yaml(*again));
  return 0;
}
