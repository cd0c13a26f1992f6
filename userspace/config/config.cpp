// The configuration is read by walking the YAML tree with a Section per map (yaml_walk.h), one
// schema part per group of keys (schema.h; each section's keys live in its own *_config.cpp).
// Overrides are merged into the tree first, so a value behaves the same whether it came from the
// file or from --set; only the position in the error differs.
#include "config/config.h"

#include <fcntl.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <charconv>
#include <cstddef>
#include <exception>
#include <utility>
#include <variant>

#include "common/unique_fd.h"
#include "config/schema.h"
#include "config/yaml_syntax.h"
#include "config/yaml_walk.h"

namespace nodepulse {
namespace {

using namespace config_detail;

// ---- Loading the YAML text.

Result<YAML::Node> load_document(std::string_view yaml_text, std::string_view source_name) {
  std::vector<YAML::Node> documents;
  if (const auto syntax = yaml_syntax_error(yaml_text)) {  // yaml-cpp may never return on it
    return Error{std::string(source_name) + ":" + std::to_string(syntax->line) + ":" + std::to_string(syntax->column) +
                 ": invalid YAML: " + syntax->problem};
  }
  try {
    documents = YAML::LoadAll(std::string(yaml_text));
  } catch (const YAML::ParserException& e) {
    return Error{format_mark(source_name, e.mark) + ": invalid YAML: " + e.msg};
  }
  if (documents.empty()) return YAML::Node(YAML::NodeType::Map);  // empty, or only comments
  if (documents.size() > 1) {
    return Error{format_mark(source_name, documents[1].Mark()) + ": expected one YAML document, found " +
                 std::to_string(documents.size())};
  }
  const YAML::Node& root = documents.front();
  if (root.IsNull()) return YAML::Node(YAML::NodeType::Map);
  if (!root.IsMap()) {
    return Error{format_mark(source_name, root.Mark()) + ": expected a map of settings at the top level, got " +
                 describe(root)};
  }
  return root;
}

// ---- Overrides: "key.path[index].key=value".

using PathStep = std::variant<std::string, std::size_t>;

struct Override {
  std::string key;  // canonical, e.g. "targets[0].comm", the form Value paths take
  std::vector<PathStep> steps;
  YAML::Node value;
};

std::string render_steps(const std::vector<PathStep>& steps, std::size_t count) {
  std::string path;
  for (std::size_t i = 0; i < count; ++i) {
    if (const auto* key = std::get_if<std::string>(&steps[i])) {
      path = join_path(path, *key);
    } else {
      path = index_path(path, std::get<std::size_t>(steps[i]));
    }
  }
  return path;
}

bool is_key_char(char c) { return c != '.' && c != '[' && c != ']' && c != '=' && c > ' '; }

// name ("[" digits "]")* ("." name ("[" digits "]")*)*
std::optional<std::vector<PathStep>> parse_key_path(std::string_view text) {
  std::vector<PathStep> steps;
  std::size_t at = 0;
  while (true) {
    const std::size_t start = at;
    while (at < text.size() && is_key_char(text[at])) ++at;
    if (at == start) return std::nullopt;
    steps.emplace_back(std::string(text.substr(start, at - start)));
    while (at < text.size() && text[at] == '[') {
      const std::size_t close = text.find(']', at);
      if (close == std::string_view::npos) return std::nullopt;
      std::size_t index = 0;
      const auto [end, status] = std::from_chars(text.data() + at + 1, text.data() + close, index);
      if (close == at + 1 || status != std::errc{} || end != text.data() + close) return std::nullopt;
      steps.emplace_back(index);
      at = close + 1;
    }
    if (at == text.size()) return steps;
    if (text[at] != '.') return std::nullopt;
    ++at;
  }
}

std::string_view trim(std::string_view text) {
  const std::size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(" \t\r\n") - first + 1);
}

// The value read as YAML, so that lists and maps can be given. Text that YAML would read as
// something else than meant — "[::1]:9477" is no YAML, "a: b" a map, "" nothing — stays the
// plain string it was typed as; a value written as a flow list or map ("[...]", "{...}") must parse.
Result<YAML::Node> parse_override_value(std::string_view key, std::string_view raw) {
  const std::string_view text = trim(raw);
  const bool is_flow_collection =
      (text.starts_with('[') && text.ends_with(']')) || (text.starts_with('{') && text.ends_with('}'));
  const bool multiline = text.find('\n') != std::string_view::npos;
  auto refused = [&](const std::string& problem) -> Result<YAML::Node> {
    if (is_flow_collection) return Error{"--set " + std::string(key) + ": invalid YAML value " + in_quotes(text) + ": " + problem};
    return YAML::Node(std::string(text));
  };
  // libyaml first: yaml-cpp may never return on what it refuses.
  if (const auto syntax = yaml_syntax_error(text)) return refused(syntax->problem);
  std::vector<YAML::Node> documents;
  try {
    documents = YAML::LoadAll(std::string(text));
  } catch (const YAML::ParserException& e) {
    return refused(e.msg);
  }
  if (documents.size() == 1) {
    const YAML::Node& parsed = documents.front();
    if (parsed.IsScalar()) return parsed;
    if ((parsed.IsSequence() || parsed.IsMap()) && (is_flow_collection || multiline)) return parsed;
  }
  return YAML::Node(std::string(text));
}

Result<Override> parse_override(std::string_view text) {
  const std::size_t equals = text.find('=');
  if (equals == std::string_view::npos) {
    return Error{"--set " + std::string(text) + ": expected KEY=VALUE, e.g. http.listen=0.0.0.0:9477"};
  }
  const std::string_view key_text = text.substr(0, equals);
  if (key_text.empty()) return Error{"--set " + std::string(text) + ": the key before '=' is empty"};
  auto steps = parse_key_path(key_text);
  if (!steps) {
    return Error{"--set " + std::string(key_text) +
                 ": malformed key; expected dotted names with optional [INDEX], e.g. targets[0].comm"};
  }
  const std::string key = render_steps(*steps, steps->size());
  Result<YAML::Node> value = parse_override_value(key, text.substr(equals + 1));
  if (!value.ok()) return value.error();
  return Override{key, std::move(*steps), std::move(value).value()};
}

// Walks `root` along the override's steps, creating maps for missing keys (a list element must
// already exist), and puts the value at the end. Nodes are rebound with reset(): a YAML::Node's
// operator= would overwrite the node it refers to instead.
Result<void> apply_override(YAML::Node root, const Override& override) {
  YAML::Node node;
  node.reset(root);
  for (std::size_t i = 0; i < override.steps.size(); ++i) {
    const bool last = i + 1 == override.steps.size();
    const std::string here = render_steps(override.steps, i);
    if (const auto* key = std::get_if<std::string>(&override.steps[i])) {
      if (!node.IsDefined() || node.IsNull()) node = YAML::Node(YAML::NodeType::Map);
      if (!node.IsMap()) {
        return Error{"--set " + override.key + ": cannot set a key inside " + here + ", which is " +
                     describe(node) + ", not a map"};
      }
      if (last) {
        node[*key] = override.value;
        return ok();
      }
      YAML::Node child = node[*key];
      node.reset(child);
    } else {
      const std::size_t index = std::get<std::size_t>(override.steps[i]);
      const std::size_t size = node.IsSequence() ? node.size() : 0;
      if (index >= size) {
        return Error{"--set " + override.key + ": " + here + " has no element [" + std::to_string(index) +
                     "] in the configuration (it has " + std::to_string(size) +
                     "); set the whole list instead, e.g. " + here + "=[...]"};
      }
      if (last) {
        node[index] = override.value;
        return ok();
      }
      YAML::Node child = node[index];
      node.reset(child);
    }
  }
  return ok();
}

Result<Config> parse_without_catching(std::string_view yaml_text, std::string_view source_name,
                                      const std::vector<std::string>& overrides) {
  Result<YAML::Node> root = load_document(yaml_text, source_name);
  if (!root.ok()) return root.error();
  Provenance provenance(source_name);
  for (const std::string& text : overrides) {
    Result<Override> override = parse_override(text);
    if (!override.ok()) return override.error();
    if (Result<void> applied = apply_override(root.value(), *override); !applied.ok()) return applied.error();
    provenance.add_override(override->key);
  }
  Config config;
  Section top(Value(root.value(), "", provenance));
  for (const SchemaPart& part : kSchema) part.read(top, config);
  if (Result<void> outcome = top.finish(); !outcome.ok()) return outcome.error();
  return config;
}

Result<std::string> read_file(const std::filesystem::path& file) {
  const std::string what = "cannot read config file " + file.string();
  UniqueFd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return errno_error(what, errno);
  std::string text;
  char chunk[65536];
  while (true) {
    const ssize_t count = ::read(fd.get(), chunk, sizeof chunk);
    if (count == 0) return text;
    if (count < 0 && errno == EINTR) continue;
    if (count < 0) return errno_error(what, errno);
    text.append(chunk, static_cast<std::size_t>(count));
  }
}

}  // namespace

Result<Config> parse_config(std::string_view yaml_text, std::string_view source_name,
                            const std::vector<std::string>& overrides) {
  try {
    return parse_without_catching(yaml_text, source_name, overrides);
  } catch (const YAML::Exception& e) {  // yaml-cpp throws from deep inside; the contract is a Result
    return Error{std::string(source_name) + ": " + e.what()};
  } catch (const std::exception& e) {
    return Error{std::string(source_name) + ": " + e.what()};
  }
}

Result<Config> load_config(const std::optional<std::filesystem::path>& file,
                           const std::vector<std::string>& overrides) {
  if (!file) return parse_config("", "(no config file)", overrides);
  Result<std::string> text = read_file(*file);
  if (!text.ok()) return text.error();
  return parse_config(*text, file->string(), overrides);
}

std::string to_yaml(const Config& config) {
  YAML::Emitter out;
  out.SetOutputCharset(YAML::EscapeNonAscii);  // see emit(text)
  out << YAML::BeginMap;
  for (const SchemaPart& part : kSchema) part.emit(out, config);
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

}  // namespace nodepulse
