#include "config/yaml_walk.h"

#include <array>

namespace nodepulse::config_detail {

std::string join_path(std::string_view parent, std::string_view key) {
  if (parent.empty()) return std::string(key);
  return std::string(parent) + "." + std::string(key);
}

std::string index_path(std::string_view parent, std::size_t index) {
  return std::string(parent) + "[" + std::to_string(index) + "]";
}

bool is_within(std::string_view path, std::string_view ancestor) {
  if (!path.starts_with(ancestor)) return false;
  if (path.size() == ancestor.size()) return true;
  const char next = path[ancestor.size()];
  return next == '.' || next == '[';
}

std::string join(const std::vector<std::string>& items, std::string_view separator) {
  std::string joined;
  for (const std::string& item : items) {
    if (!joined.empty()) joined += separator;
    joined += item;
  }
  return joined;
}

std::string in_quotes(std::string_view text) { return "'" + std::string(text) + "'"; }

std::string describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return in_quotes(node.Scalar());
    default:
      return "nothing";
  }
}

std::string format_mark(std::string_view source_name, const YAML::Mark& mark) {
  return std::string(source_name) + ":" + std::to_string(mark.line + 1) + ":" +
         std::to_string(mark.column + 1);
}

std::size_t edit_distance(std::string_view from, std::string_view to) {
  std::vector<std::size_t> previous(to.size() + 1);
  std::vector<std::size_t> current(to.size() + 1);
  for (std::size_t j = 0; j <= to.size(); ++j) previous[j] = j;
  for (std::size_t i = 1; i <= from.size(); ++i) {
    current[0] = i;
    for (std::size_t j = 1; j <= to.size(); ++j) {
      const std::size_t substitution = previous[j - 1] + (from[i - 1] == to[j - 1] ? 0 : 1);
      current[j] = std::min({previous[j] + 1, current[j - 1] + 1, substitution});
    }
    std::swap(previous, current);
  }
  return previous[to.size()];
}

Result<void> decode(const Value& value, std::string& text) {
  if (value.node().IsNull()) {  // "key:" with nothing after it
    text.clear();
    return ok();
  }
  if (!value.node().IsScalar()) return value.error("expected a string, got " + describe(value.node()));
  text = value.node().Scalar();
  return ok();
}

Result<void> decode(const Value& value, bool& flag) {
  const std::string text = value.node().IsScalar() ? value.node().Scalar() : "";
  if (text == "true" || text == "True" || text == "TRUE") {
    flag = true;
  } else if (text == "false" || text == "False" || text == "FALSE") {
    flag = false;
  } else {
    return value.error("expected true or false, got " + describe(value.node()));
  }
  return ok();
}

Result<void> decode(const Value& value, double& number) {
  const auto wrong = [&] { return value.error("expected a number, got " + describe(value.node())); };
  if (!value.node().IsScalar()) return wrong();
  const std::string& text = value.node().Scalar();
  double parsed = 0;
  const auto [end, status] = std::from_chars(text.data(), text.data() + text.size(), parsed);
  if (text.empty() || status != std::errc{} || end != text.data() + text.size() || parsed != parsed) return wrong();
  number = parsed;
  return ok();
}

Result<void> not_empty(const Value& at, const std::string& text) {
  if (!text.empty()) return ok();
  return at.error("must not be empty");
}

Result<void> fraction(const Value& at, double number) {
  if (number >= 0 && number <= 1) return ok();
  return at.error("expected a fraction 0-1, got " + at.node().Scalar());
}

void emit(YAML::Emitter& out, std::string_view key, const std::string& text) {
  const bool printable_ascii = std::all_of(text.begin(), text.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
  out << YAML::Key << std::string(key) << YAML::Value;
  if (!printable_ascii) out << YAML::DoubleQuoted;
  out << text;
}

void emit(YAML::Emitter& out, std::string_view key, uint32_t number) {
  out << YAML::Key << std::string(key) << YAML::Value << number;
}

void emit(YAML::Emitter& out, std::string_view key, int32_t number) {
  out << YAML::Key << std::string(key) << YAML::Value << number;
}

void emit(YAML::Emitter& out, std::string_view key, bool flag) {
  out << YAML::Key << std::string(key) << YAML::Value << (flag ? "true" : "false");
}

void emit(YAML::Emitter& out, std::string_view key, double number) {
  std::array<char, 64> text{};
  const auto end = std::to_chars(text.data(), text.data() + text.size(), number).ptr;  // shortest round trip
  out << YAML::Key << std::string(key) << YAML::Value << std::string(text.data(), end);
}

}  // namespace nodepulse::config_detail
