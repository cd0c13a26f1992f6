#include "config/yaml_syntax.h"

#include <yaml.h>

#include <algorithm>
#include <memory>

namespace nodepulse {

namespace {

constexpr std::size_t kMaxDepth = 64;

struct ParserDeleter {
  void operator()(yaml_parser_t* parser) const {
    yaml_parser_delete(parser);
    delete parser;
  }
};

struct EventDeleter {
  void operator()(yaml_event_t* event) const { yaml_event_delete(event); }
};

// yaml-cpp 0.7 also never returns on some valid YAML with an anchor or a tag, which it ends
// elsewhere than libyaml does: "&i:$,x}" is an anchor "i" on the scalar ":$,x}" to libyaml, an
// anchor "i:$" and then a ',' to yaml-cpp ("! k\n," too; both found by fuzz/config_fuzz.cpp).
// No setting needs anchors, aliases or tags, so they are refused, and that whole class with them.
std::optional<YamlSyntaxError> property_of(const yaml_event_t& event) {
  const yaml_char_t* anchor = nullptr;
  const yaml_char_t* tag = nullptr;
  switch (event.type) {
    case YAML_ALIAS_EVENT:
      anchor = event.data.alias.anchor;
      break;
    case YAML_SCALAR_EVENT:
      anchor = event.data.scalar.anchor;
      tag = event.data.scalar.tag;
      break;
    case YAML_SEQUENCE_START_EVENT:
      anchor = event.data.sequence_start.anchor;
      tag = event.data.sequence_start.tag;
      break;
    case YAML_MAPPING_START_EVENT:
      anchor = event.data.mapping_start.anchor;
      tag = event.data.mapping_start.tag;
      break;
    case YAML_DOCUMENT_START_EVENT:
      if (event.data.document_start.tag_directives.start != event.data.document_start.tag_directives.end) {
        tag = event.data.document_start.tag_directives.start->prefix;
      }
      break;
    default:
      break;
  }
  if (!anchor && !tag) return std::nullopt;
  const char* what = event.type == YAML_ALIAS_EVENT ? "an alias (*)" : anchor ? "an anchor (&)" : "a tag (!)";
  return YamlSyntaxError{event.start_mark.line + 1, event.start_mark.column + 1,
                         std::string(what) + ": anchors, aliases and tags are not supported in a nodepulse config"};
}

}  // namespace

std::optional<YamlSyntaxError> yaml_syntax_error(std::string_view text) {
  std::unique_ptr<yaml_parser_t, ParserDeleter> parser(new yaml_parser_t{});
  if (!yaml_parser_initialize(parser.get())) return YamlSyntaxError{1, 1, "out of memory"};
  static const unsigned char kNothing[1] = {0};  // libyaml asserts on a null input, which an empty view may have
  yaml_parser_set_input_string(parser.get(), text.empty() ? kNothing : reinterpret_cast<const unsigned char*>(text.data()),
                               text.size());
  // Events, not yaml_parser_load: the event parser keeps its own stack and never recurses, so
  // "[[[[..." cannot overflow ours.
  std::size_t depth = 0;
  for (;;) {
    yaml_event_t event;
    if (!yaml_parser_parse(parser.get(), &event)) break;
    const std::unique_ptr<yaml_event_t, EventDeleter> owned(&event);
    if (auto error = property_of(event)) return error;
    switch (event.type) {
      case YAML_STREAM_END_EVENT:
        return std::nullopt;
      case YAML_SEQUENCE_START_EVENT:
      case YAML_MAPPING_START_EVENT:
        // libyaml's time grows with the square of the nesting depth ("[" * 100000 takes it
        // ~50 s): stop long before that. No nodepulse setting is nested more than 4 deep.
        if (++depth > kMaxDepth) {
          return YamlSyntaxError{event.start_mark.line + 1, event.start_mark.column + 1,
                                 "lists and maps nested more than " + std::to_string(kMaxDepth) + " deep"};
        }
        break;
      case YAML_SEQUENCE_END_EVENT:
      case YAML_MAPPING_END_EVENT:
        --depth;
        break;
      default:
        break;
    }
  }
  const yaml_parser_t& failed = *parser;
  YamlSyntaxError error;
  if (failed.error == YAML_READER_ERROR) {  // bad bytes: libyaml gives only their offset
    const std::string_view before = text.substr(0, std::min(failed.problem_offset, text.size()));
    const std::size_t last_newline = before.rfind('\n');
    error.line = 1 + static_cast<std::size_t>(std::count(before.begin(), before.end(), '\n'));
    error.column = 1 + before.size() - (last_newline == std::string_view::npos ? 0 : last_newline + 1);
  } else {
    error.line = failed.problem_mark.line + 1;
    error.column = failed.problem_mark.column + 1;
  }
  error.problem = failed.problem ? failed.problem : "invalid YAML";
  if (failed.context) {
    error.problem += std::string(" (") + failed.context + " started at " + std::to_string(failed.context_mark.line + 1) +
                     ":" + std::to_string(failed.context_mark.column + 1) + ")";
  }
  return error;
}

}  // namespace nodepulse
