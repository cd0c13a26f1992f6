// libyaml's verdict on YAML text, asked before yaml-cpp sees it.
//
// yaml-cpp 0.7 (Debian 12) never returns, allocating without bound, on many malformed documents
// (",", "[a],b", "!,[", "- a\n, b", "\0,", a '#' inside an unclosed flow list, ...: each found by
// fuzz/config_fuzz.cpp, one shape after another). libyaml, the YAML reference parser in C and
// fuzzed by OSS-Fuzz, reads any text in time linear in its length and refuses all of them, with
// a position and a clear problem. yaml-cpp also hangs on some valid YAML with anchors or tags,
// which it scans differently ("&i:$,x}"): a config needs neither, so they are refused here too.
// Only what passes goes on to yaml-cpp, whose node API and marks the config code is written against.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace nodepulse {

struct YamlSyntaxError {
  std::size_t line = 0;    // 1-based
  std::size_t column = 0;  // 1-based
  // libyaml's words, and where the construct it was reading began: "did not find expected ','
  // or ']' (while parsing a flow sequence started at 2:7)".
  std::string problem;
};

std::optional<YamlSyntaxError> yaml_syntax_error(std::string_view text);

}  // namespace nodepulse
