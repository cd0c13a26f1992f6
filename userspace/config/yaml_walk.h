// The generic half of reading the configuration: the YAML tree walked with a Section per map.
// Every key is one read() call that decodes the value into its field and runs the key's checks,
// and finish() reports the keys nobody read. Each Value carries its dotted path and where it came
// from (the file's line and column, or the --set that gave it), so every error names the key and
// its position. The keys themselves live in the section files (*_config.cpp, listed in schema.h);
// this header knows none of them.
#pragma once

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "common/result.h"

namespace nodepulse::config_detail {

// Unknown keys closer than this (in edits) to a known key are reported as likely typos.
inline constexpr std::size_t kTypoDistance = 2;

std::string join_path(std::string_view parent, std::string_view key);
std::string index_path(std::string_view parent, std::size_t index);
// True if `path` is `ancestor` itself or lies inside it ("a.b[0]" is inside "a.b" and "a").
bool is_within(std::string_view path, std::string_view ancestor);
std::string join(const std::vector<std::string>& items, std::string_view separator);
std::string in_quotes(std::string_view text);
// "a map", "a list", or the scalar in quotes: what an error says it got.
std::string describe(const YAML::Node& node);
std::string format_mark(std::string_view source_name, const YAML::Mark& mark);
std::size_t edit_distance(std::string_view from, std::string_view to);

// Where each part of the merged YAML tree came from: the file (its marks) or an override.
class Provenance {
 public:
  explicit Provenance(std::string_view source_name) : source_name_(source_name) {}

  void add_override(std::string key_path) { override_paths_.push_back(std::move(key_path)); }

  // "FILE:LINE:COLUMN" or "--set KEY" for the node at `path`.
  std::string locate(std::string_view path, const YAML::Mark& mark) const {
    if (auto key = last_override([&](std::string_view set) { return is_within(path, set); })) {
      return "--set " + *key;
    }
    if (!mark.is_null()) return format_mark(source_name_, mark);
    // Only nodes made while applying an override below them (intermediate maps) have no mark.
    if (auto key = last_override([&](std::string_view set) { return is_within(set, path); })) {
      return "--set " + *key;
    }
    return source_name_;
  }

 private:
  // A later override replaces what an earlier one set, so the last match is the source.
  template <class Predicate>
  std::optional<std::string> last_override(Predicate matches) const {
    for (auto it = override_paths_.rbegin(); it != override_paths_.rend(); ++it) {
      if (matches(*it)) return *it;
    }
    return std::nullopt;
  }

  std::string source_name_;
  std::vector<std::string> override_paths_;
};

// A YAML node with its dotted path, so that every error can name the key and its position.
class Value {
 public:
  Value(YAML::Node node, std::string path, const Provenance& provenance)
      : node_(std::move(node)), path_(std::move(path)), provenance_(&provenance) {}

  const YAML::Node& node() const { return node_; }
  const std::string& path() const { return path_; }

  Value child(std::string_view key, const YAML::Node& node) const {
    return Value(node, join_path(path_, key), *provenance_);
  }

  Value element(std::size_t index) const {
    return Value(node_[index], index_path(path_, index), *provenance_);
  }

  // The value of `key` in this map; this node itself (with the key's path) if it is absent.
  Value member(std::string_view key) const {
    if (node_.IsMap()) {
      for (const auto& entry : node_) {
        if (entry.first.IsScalar() && entry.first.Scalar() == key) return child(key, entry.second);
      }
    }
    return child(key, node_);
  }

  // "POSITION: KEY: problem", without repeating the key when the position is "--set KEY".
  Error error(std::string_view problem) const {
    const std::string position = provenance_->locate(path_, node_.Mark());
    std::string message = position + ": ";
    if (!path_.empty() && position != "--set " + path_) message += path_ + ": ";
    return Error{message + std::string(problem)};
  }

  const Provenance& provenance() const { return *provenance_; }

 private:
  YAML::Node node_;
  std::string path_;
  const Provenance* provenance_;
};

// ---- Decoders: YAML node → C++ field, by the field's type. Decoders of a section's own types
// (a list element that is a map) live in that section's file and are found by argument-dependent
// lookup, so they are declared in this namespace.

Result<void> decode(const Value& value, std::string& text);
// YAML 1.2 core booleans only: "yes"/"on" are strings in YAML 1.2, and 0/1 are numbers.
Result<void> decode(const Value& value, bool& flag);
Result<void> decode(const Value& value, double& number);

template <std::unsigned_integral Number>
  requires(!std::same_as<Number, bool>)  // a bool needs true/false, not 0/1: give it a decoder
Result<void> decode(const Value& value, Number& number) {
  const uint64_t max = std::numeric_limits<Number>::max();
  const auto wrong = [&] {
    return value.error("expected a whole number 0-" + std::to_string(max) + ", got " +
                       describe(value.node()));
  };
  if (!value.node().IsScalar()) return wrong();
  const std::string& text = value.node().Scalar();
  uint64_t parsed = 0;
  const auto [end, status] = std::from_chars(text.data(), text.data() + text.size(), parsed);
  if (text.empty() || status != std::errc{} || end != text.data() + text.size() || parsed > max) {
    return wrong();
  }
  number = static_cast<Number>(parsed);
  return ok();
}

template <std::signed_integral Number>
Result<void> decode(const Value& value, Number& number) {
  const int64_t min = std::numeric_limits<Number>::min();
  const int64_t max = std::numeric_limits<Number>::max();
  const auto wrong = [&] {
    return value.error("expected a whole number " + std::to_string(min) + " to " + std::to_string(max) +
                       ", got " + describe(value.node()));
  };
  if (!value.node().IsScalar()) return wrong();
  std::string_view text = value.node().Scalar();
  if (text.starts_with('+')) text.remove_prefix(1);  // from_chars takes '-' but not '+'
  int64_t parsed = 0;
  const auto [end, status] = std::from_chars(text.data(), text.data() + text.size(), parsed);
  if (text.empty() || status != std::errc{} || end != text.data() + text.size() || parsed < min || parsed > max) {
    return wrong();
  }
  number = static_cast<Number>(parsed);
  return ok();
}

template <class Element>
Result<void> decode(const Value& value, std::vector<Element>& elements) {
  elements.clear();
  if (value.node().IsNull()) return ok();
  if (!value.node().IsSequence()) return value.error("expected a list, got " + describe(value.node()));
  for (std::size_t i = 0; i < value.node().size(); ++i) {
    Element element{};
    if (Result<void> outcome = decode(value.element(i), element); !outcome.ok()) return outcome;
    elements.push_back(std::move(element));
  }
  return ok();
}

// Each check runs only if decoding and the checks before it succeeded.
template <class Field, class... Checks>
Result<void> decode_and_check(const Value& value, Field& field, const Checks&... checks) {
  Result<void> outcome = decode(value, field);
  ((outcome = outcome.ok() ? Result<void>(checks(value, field)) : outcome), ...);
  return outcome;
}

// The keys of one YAML map. Keys are claimed by read()/require()/section() as the schema is
// walked; finish() then reports the first error, or the first key that no one claimed.
class Section {
 public:
  explicit Section(const Value& value) : value_(value) {
    if (value.node().IsNull()) return;  // "network:" with nothing under it: all defaults
    if (!value.node().IsMap()) {
      error_ = value.error("expected a map, got " + describe(value.node()));
      return;
    }
    for (const auto& entry : value.node()) add_entry(entry.first, entry.second);
  }

  // Decodes `key` into `field` and runs `checks` (each: Result<void>(const Value&, const T&)).
  // An absent key keeps the field's default.
  template <class Field, class... Checks>
  void read(std::string_view key, Field& field, const Checks&... checks) {
    read_key(key, /*required=*/false, field, checks...);
  }

  // As read(), but an absent key is an error.
  template <class Field, class... Checks>
  void require(std::string_view key, Field& field, const Checks&... checks) {
    read_key(key, /*required=*/true, field, checks...);
  }

  // A nested map, whose keys `fill` reads from the Section it is given.
  template <class Fill>
  void section(std::string_view key, Fill fill) {
    const Entry* entry = claim(key);
    if (entry == nullptr) return;
    Section nested(value_.child(key, entry->value));
    fill(nested);
    record(nested.finish());
  }

  bool has(std::string_view key) { return find(key) != nullptr; }

  // A rule between keys of this map (e.g. warn below fail), reported at `key`'s position, or
  // at the map's when `key` was not given.
  void check(std::string_view key, bool holds, const std::string& message) {
    if (holds || error_) return;
    const Entry* entry = find(key);
    error_ = entry ? value_.child(key, entry->value).error(message) : value_.error(message);
  }

  Result<void> finish() const {
    if (error_) return *error_;
    for (const Entry& entry : entries_) {
      if (!entry.claimed) return value_.child(entry.key, entry.key_node).error(unknown_key(entry.key));
    }
    return ok();
  }

 private:
  struct Entry {
    std::string key;
    YAML::Node key_node;
    YAML::Node value;
    bool claimed = false;
  };

  void add_entry(const YAML::Node& key_node, const YAML::Node& value) {
    if (error_) return;
    if (!key_node.IsScalar()) {
      error_ = value_.child("?", key_node).error("expected a key name, got " + describe(key_node));
      return;
    }
    const std::string& key = key_node.Scalar();
    if (const Entry* earlier = find(key)) {
      const std::string first = value_.provenance().locate("", earlier->key_node.Mark());
      error_ = value_.child(key, key_node).error("duplicate key (first given at " + first + ")");
      return;
    }
    entries_.push_back(Entry{key, key_node, value});
  }

  template <class Field, class... Checks>
  void read_key(std::string_view key, bool required, Field& field, const Checks&... checks) {
    const Entry* entry = claim(key);
    if (entry == nullptr) {
      if (required && !error_) error_ = value_.child(key, value_.node()).error("missing; it is required");
      return;
    }
    Field decoded{};
    Result<void> outcome = decode_and_check(value_.child(key, entry->value), decoded, checks...);
    if (outcome.ok()) field = std::move(decoded);
    record(std::move(outcome));
  }

  // The entry for `key`, or nullptr if it is absent or an error already ended this section.
  const Entry* claim(std::string_view key) {
    known_keys_.emplace_back(key);
    if (error_) return nullptr;
    Entry* entry = find(key);
    if (entry != nullptr) entry->claimed = true;
    return entry;
  }

  Entry* find(std::string_view key) {
    auto it = std::ranges::find(entries_, key, &Entry::key);
    return it == entries_.end() ? nullptr : &*it;
  }

  void record(Result<void> outcome) {
    if (!outcome.ok() && !error_) error_ = outcome.error();
  }

  std::string unknown_key(std::string_view key) const {
    std::string message = "unknown key; ";
    message += value_.path().empty() ? "the top-level keys are: "
                                     : "the keys of " + value_.path() + " are: ";
    message += join(known_keys_, ", ");
    if (auto suggestion = closest_known_key(key)) message += " (did you mean " + in_quotes(*suggestion) + "?)";
    return message;
  }

  std::optional<std::string> closest_known_key(std::string_view key) const {
    std::optional<std::string> closest;
    std::size_t closest_distance = kTypoDistance + 1;
    for (const std::string& known : known_keys_) {
      const std::size_t distance = edit_distance(key, known);
      if (distance < closest_distance) {
        closest = known;
        closest_distance = distance;
      }
    }
    return closest;
  }

  Value value_;
  std::vector<Entry> entries_;
  std::vector<std::string> known_keys_;
  std::optional<Error> error_;
};

// ---- Checks every section may use: Result<void>(const Value& where, const T& decoded).

// Lets "" through (it means "off" or "find it out") and checks anything else.
template <class Check>
auto empty_or(Check check) {
  return [check](const Value& at, const std::string& text) -> Result<void> {
    if (text.empty()) return ok();
    return check(at, text);
  };
}

inline auto one_of(std::vector<std::string> allowed) {
  return [allowed = std::move(allowed)](const Value& at, const std::string& text) -> Result<void> {
    if (std::ranges::find(allowed, text) != allowed.end()) return ok();
    std::vector<std::string> shown;
    for (const std::string& option : allowed) shown.push_back("\"" + option + "\"");
    return at.error("expected one of " + join(shown, ", ") + ", got " + in_quotes(text));
  };
}

inline auto between(uint64_t low, uint64_t high) {
  return [low, high](const Value& at, uint64_t number) -> Result<void> {
    if (number >= low && number <= high) return ok();
    return at.error("expected " + std::to_string(low) + "-" + std::to_string(high) + ", got " +
                    std::to_string(number));
  };
}

inline auto between_signed(int64_t low, int64_t high) {
  return [low, high](const Value& at, int64_t number) -> Result<void> {
    if (number >= low && number <= high) return ok();
    return at.error("expected " + std::to_string(low) + " to " + std::to_string(high) + ", got " +
                    std::to_string(number));
  };
}

Result<void> not_empty(const Value& at, const std::string& text);
Result<void> fraction(const Value& at, double number);

template <class Check>
auto each(Check check) {
  return [check](const Value& at, const auto& elements) -> Result<void> {
    for (std::size_t i = 0; i < elements.size(); ++i) {
      if (Result<void> outcome = check(at.element(i), elements[i]); !outcome.ok()) return outcome;
    }
    return ok();
  };
}

inline constexpr auto no_duplicates = [](const Value& at, const auto& elements) -> Result<void> {
  std::map<std::decay_t<decltype(elements[0])>, std::size_t> first_index;
  for (std::size_t i = 0; i < elements.size(); ++i) {
    auto [earlier, inserted] = first_index.emplace(elements[i], i);
    if (!inserted) return at.element(i).error("duplicate of " + index_path(at.path(), earlier->second));
  }
  return ok();
};

// No two elements of a list of maps share the string at `key` (`field`, called `what` in the
// error, which names the second one and where the first is).
template <class Element>
auto unique_member(const char* key, std::string Element::*field, const char* what) {
  return [=](const Value& at, const std::vector<Element>& elements) -> Result<void> {
    std::map<std::string, std::size_t> first_index;
    for (std::size_t i = 0; i < elements.size(); ++i) {
      auto [earlier, inserted] = first_index.emplace(elements[i].*field, i);
      if (!inserted) {
        return at.element(i).member(key).error("duplicate " + std::string(what) + " " + in_quotes(elements[i].*field) +
                                               " (also " + index_path(at.path(), earlier->second) + ")");
      }
    }
    return ok();
  };
}

// ---- Rendering (to_yaml).

// Text with a control or a non-ASCII character is double-quoted, each such character escaped
// (to_yaml sets EscapeNonAscii): yaml-cpp would write a CR or a U+2028 raw into a plain value,
// and libyaml, which reads the config first, takes both for line breaks.
void emit(YAML::Emitter& out, std::string_view key, const std::string& text);
void emit(YAML::Emitter& out, std::string_view key, uint32_t number);
void emit(YAML::Emitter& out, std::string_view key, int32_t number);
void emit(YAML::Emitter& out, std::string_view key, bool flag);
void emit(YAML::Emitter& out, std::string_view key, double number);

// A list of maps: `emit_fields(out, item)` writes one item's keys.
template <class Item, class EmitFields>
void emit_list(YAML::Emitter& out, std::string_view key, const std::vector<Item>& items, EmitFields emit_fields) {
  out << YAML::Key << std::string(key) << YAML::Value << YAML::BeginSeq;
  for (const Item& item : items) {
    out << YAML::BeginMap;
    emit_fields(out, item);
    out << YAML::EndMap;
  }
  out << YAML::EndSeq;
}

template <class Fill>
void emit_section(YAML::Emitter& out, std::string_view key, Fill fill) {
  out << YAML::Key << std::string(key) << YAML::Value << YAML::BeginMap;
  fill();
  out << YAML::EndMap;
}

}  // namespace nodepulse::config_detail
