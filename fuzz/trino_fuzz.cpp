// Trino's files as nodepulse reads them (config/trino.h): node.properties / config.properties
// (java.util.Properties grammar), jvm.config, the sizes in them, and a Trino process's command
// line. These come from another product's config and from /proc: never trusted, never fatal.
//
// Input: properties text "\n@@\n" jvm.config text "\n@@\n" a command line (NULs or spaces).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "config/trino.h"
#include "fuzz_support.h"

using namespace nodepulse;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::vector<std::string_view> fields = fuzz::split_fields(fuzz::as_text(data, size), 3);
  std::vector<std::string> warnings;

  const JavaProperties properties = parse_java_properties(fields[0], "config.properties", warnings);
  for (const auto& [key, property] : properties) {
    if (property.line == 0) fuzz::fail("a property without its line number: " + key);
    // Every value may be a size (query.max-memory-per-node): it parses or is an error, never UB.
    const Result<uint64_t> bytes = parse_size_bytes(property.value);
    if (!bytes.ok() && bytes.error().message.empty()) fuzz::fail("a size error without a message");
  }
  if (fields.size() > 1) (void)parse_jvm_config(fields[1], "jvm.config", warnings);
  if (fields.size() > 2) (void)etc_dir_from_cmdline(fields[2]);
  for (const std::string& warning : warnings) {
    if (warning.empty()) fuzz::fail("an empty warning");
  }
  return 0;
}
