// The configuration is read by walking the YAML tree with a Section per map: every key is one
// read() call that decodes the value into its field and runs the key's checks, and finish()
// reports the keys nobody read. Overrides are merged into the tree first, so a value behaves the
// same whether it came from the file or from --set; only the position in the error differs.
#include "config/config.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <concepts>
#include <cstddef>
#include <exception>
#include <limits>
#include <map>
#include <utility>
#include <variant>

#include "common/unique_fd.h"
#include "config/yaml_syntax.h"

namespace nodepulse {
namespace {

// The sched probe keeps one slot per target (NP_SCHED_MAX_TARGETS in bpf/sched.h).
constexpr std::size_t kMaxTargets = 15;
// The kernel's TASK_COMM_LEN is 16 including the NUL: a longer comm can never match.
constexpr std::size_t kMaxCommLength = 15;
// Unknown keys closer than this (in edits) to a known key are reported as likely typos.
constexpr std::size_t kTypoDistance = 2;

std::string join_path(std::string_view parent, std::string_view key) {
  if (parent.empty()) return std::string(key);
  return std::string(parent) + "." + std::string(key);
}

std::string index_path(std::string_view parent, std::size_t index) {
  return std::string(parent) + "[" + std::to_string(index) + "]";
}

// True if `path` is `ancestor` itself or lies inside it ("a.b[0]" is inside "a.b" and "a").
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

Result<void> decode(const Value& value, std::string& text);
Result<void> decode(const Value& value, bool& flag);
template <std::unsigned_integral Number>
  requires(!std::same_as<Number, bool>)  // a bool needs true/false, not 0/1: give it a decoder
Result<void> decode(const Value& value, Number& number);
template <std::signed_integral Number>
Result<void> decode(const Value& value, Number& number);
template <class Element>
Result<void> decode(const Value& value, std::vector<Element>& elements);
Result<void> decode(const Value& value, TargetSpec& target);
Result<void> decode(const Value& value, ExecHookSpec& hook);
Result<void> decode(const Value& value, WebhookSpec& webhook);
Result<void> decode(const Value& value, double& number);
Result<void> decode(const Value& value, BalancerServerSpec& server);

// Each check runs only if decoding and the checks before it succeeded.
template <class Field, class... Checks>
Result<void> decode_and_check(const Value& value, Field& field, const Checks&... checks) {
  Result<void> outcome = decode(value, field);
  ((outcome = outcome.ok() ? Result<void>(checks(value, field)) : outcome), ...);
  return outcome;
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

// ---- Decoders: YAML node → C++ field, by the field's type.

Result<void> decode(const Value& value, std::string& text) {
  if (value.node().IsNull()) {  // "key:" with nothing after it
    text.clear();
    return ok();
  }
  if (!value.node().IsScalar()) return value.error("expected a string, got " + describe(value.node()));
  text = value.node().Scalar();
  return ok();
}

// YAML 1.2 core booleans only: "yes"/"on" are strings in YAML 1.2, and 0/1 are numbers.
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

template <std::unsigned_integral Number>
  requires(!std::same_as<Number, bool>)
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

// ---- Checks: Result<void>(const Value& where, const T& decoded).

bool is_name(std::string_view text) {
  return !text.empty() && std::ranges::all_of(text, [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
  });
}

Result<void> metric_label_name(const Value& at, const std::string& name) {
  if (is_name(name)) return ok();
  return at.error("expected letters, digits, '_', '.' or '-', got " + in_quotes(name));
}

// ZooKeeper rejects "." and ".." as path components, though they pass the character rule.
Result<void> znode_name(const Value& at, const std::string& name) {
  if (is_name(name) && name != "." && name != "..") return ok();
  return at.error("expected letters, digits, '_', '.' or '-' (it becomes a ZooKeeper znode name), got " +
                  in_quotes(name));
}

// Lets "" through (it means "off" or "find it out") and checks anything else.
template <class Check>
auto empty_or(Check check) {
  return [check](const Value& at, const std::string& text) -> Result<void> {
    if (text.empty()) return ok();
    return check(at, text);
  };
}

auto one_of(std::vector<std::string> allowed) {
  return [allowed = std::move(allowed)](const Value& at, const std::string& text) -> Result<void> {
    if (std::ranges::find(allowed, text) != allowed.end()) return ok();
    std::vector<std::string> shown;
    for (const std::string& option : allowed) shown.push_back("\"" + option + "\"");
    return at.error("expected one of " + join(shown, ", ") + ", got " + in_quotes(text));
  };
}

auto between(uint64_t low, uint64_t high) {
  return [low, high](const Value& at, uint64_t number) -> Result<void> {
    if (number >= low && number <= high) return ok();
    return at.error("expected " + std::to_string(low) + "-" + std::to_string(high) + ", got " +
                    std::to_string(number));
  };
}

auto between_signed(int64_t low, int64_t high) {
  return [low, high](const Value& at, int64_t number) -> Result<void> {
    if (number >= low && number <= high) return ok();
    return at.error("expected " + std::to_string(low) + " to " + std::to_string(high) + ", got " +
                    std::to_string(number));
  };
}

Result<void> not_empty(const Value& at, const std::string& text) {
  if (!text.empty()) return ok();
  return at.error("must not be empty");
}

// A URL's scheme with its "://", lower-cased ("HTTP://h" -> "http://"); "" when it has none.
std::string url_scheme(const std::string& url) {
  const std::size_t separator = url.find("://");
  std::string scheme = separator == std::string::npos ? "" : url.substr(0, separator + 3);
  std::ranges::transform(scheme, scheme.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return scheme;
}

// Plain http:// only: the alert client speaks no TLS. The URL itself is never echoed, since
// webhook URLs often carry a token.
Result<void> http_url(const Value& at, const std::string& url) {
  const std::string scheme = url_scheme(url);
  if (scheme == "https://") {
    return at.error("https:// is not supported (nodepulse speaks plain HTTP only); use http:// or a local TLS relay");
  }
  if (scheme != "http://" || url.size() == scheme.size() || url[scheme.size()] == '/') {
    return at.error("expected a URL like http://HOST:PORT/PATH");
  }
  return ok();
}

// Trino's own API: http:// or https:// (TLS through libcurl), no path.
Result<void> trino_url(const Value& at, const std::string& url) {
  const std::string scheme = url_scheme(url);
  const bool has_host = url.size() > scheme.size() && url[scheme.size()] != '/';
  if ((scheme != "http://" && scheme != "https://") || !has_host) {
    return at.error("expected a base URL like http://127.0.0.1:8080 or https://trino.example:8443, got " +
                    in_quotes(url));
  }
  const std::size_t path = url.find('/', scheme.size());
  if (path != std::string::npos && path + 1 != url.size()) {
    return at.error("expected a base URL without a path (the /v1/... paths are added), got " + in_quotes(url));
  }
  return ok();
}

Result<void> no_line_breaks(const Value& at, const std::string& text) {
  if (text.find_first_of("\r\n") == std::string::npos) return ok();
  return at.error("must be one line (it is sent as an HTTP header)");
}

Result<void> port_number(const Value& at, uint16_t port) {
  if (port != 0) return ok();
  return at.error("expected a port number 1-65535, got 0");
}

Result<void> absolute_path(const Value& at, const std::string& path) {
  if (path.starts_with('/')) return ok();
  return at.error("expected an absolute path, got " + in_quotes(path));
}

Result<void> comm_name(const Value& at, const std::string& comm) {
  if (comm.size() <= kMaxCommLength) return ok();
  return at.error("a comm has at most " + std::to_string(kMaxCommLength) +
                  " characters (the kernel truncates longer names), got " + in_quotes(comm));
}

std::optional<std::string> znode_path_problem(std::string_view path) {
  if (path == "/") return std::nullopt;
  if (!path.starts_with('/')) return "it must start with '/'";
  if (path.ends_with('/')) return "it must not end with '/'";
  std::size_t start = 1;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    const std::string_view component = path.substr(start, end - start);
    if (component.empty()) return "it has an empty component ('//')";
    if (component == "." || component == "..") return "'.' and '..' are not znode names";
    start = end + 1;
  }
  return std::nullopt;
}

Result<void> znode_path(const Value& at, const std::string& path) {
  if (auto problem = znode_path_problem(path)) {
    return at.error("expected a ZooKeeper path like /nodepulse, got " + in_quotes(path) + ": " + *problem);
  }
  return ok();
}

bool is_port(std::string_view text) {
  unsigned port = 0;
  const auto [end, status] = std::from_chars(text.data(), text.data() + text.size(), port);
  return !text.empty() && status == std::errc{} && end == text.data() + text.size() && port >= 1 &&
         port <= 65535;
}

bool is_ipv4(std::string_view text) {
  in_addr address{};
  return inet_pton(AF_INET, std::string(text).c_str(), &address) == 1;
}

bool is_ipv6(std::string_view text) {
  in6_addr address{};
  return inet_pton(AF_INET6, std::string(text).c_str(), &address) == 1;
}

// RFC 1123: dot-separated labels of 1-63 letters, digits and '-', not starting or ending in '-'.
bool is_hostname(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  std::size_t start = 0;
  while (start <= host.size()) {
    std::size_t end = host.find('.', start);
    if (end == std::string_view::npos) end = host.size();
    const std::string_view label = host.substr(start, end - start);
    const bool label_ok = !label.empty() && label.size() <= 63 && !label.starts_with('-') &&
                          !label.ends_with('-') && std::ranges::all_of(label, [](char c) {
                            return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                                   (c >= '0' && c <= '9') || c == '-';
                          });
    if (!label_ok) return false;
    start = end + 1;
  }
  return true;
}

std::optional<std::string> host_problem(std::string_view host) {
  if (host.empty()) return "the host is missing (0.0.0.0 listens on every IPv4 address)";
  if (host.starts_with('[')) {
    if (host.ends_with(']') && is_ipv6(host.substr(1, host.size() - 2))) return std::nullopt;
    return "expected an IPv6 address inside [ ]";
  }
  if (host.find(':') != std::string_view::npos) return "write an IPv6 address in brackets, e.g. [::1]:9477";
  // All digits and dots is meant as an IPv4 address, even though it would pass as a hostname.
  const bool looks_numeric = std::ranges::all_of(host, [](char c) { return (c >= '0' && c <= '9') || c == '.'; });
  if (looks_numeric ? is_ipv4(host) : is_hostname(host)) return std::nullopt;
  return looks_numeric ? "not an IPv4 address" : "not a valid hostname";
}

std::optional<std::string> listen_address_problem(std::string_view address) {
  const std::size_t colon = address.rfind(':');
  if (colon == std::string_view::npos) return "the port is missing";
  if (!is_port(address.substr(colon + 1))) return "the port must be 1-65535";
  return host_problem(address.substr(0, colon));
}

Result<void> listen_address(const Value& at, const std::string& address) {
  if (auto problem = listen_address_problem(address)) {
    return at.error("expected HOST:PORT such as 127.0.0.1:9477 or [::1]:9477, got " + in_quotes(address) +
                    ": " + *problem);
  }
  return ok();
}

template <class Check>
auto each(Check check) {
  return [check](const Value& at, const auto& elements) -> Result<void> {
    for (std::size_t i = 0; i < elements.size(); ++i) {
      if (Result<void> outcome = check(at.element(i), elements[i]); !outcome.ok()) return outcome;
    }
    return ok();
  };
}

constexpr auto no_duplicates = [](const Value& at, const auto& elements) -> Result<void> {
  std::map<std::decay_t<decltype(elements[0])>, std::size_t> first_index;
  for (std::size_t i = 0; i < elements.size(); ++i) {
    auto [earlier, inserted] = first_index.emplace(elements[i], i);
    if (!inserted) return at.element(i).error("duplicate of " + index_path(at.path(), earlier->second));
  }
  return ok();
};

Result<void> target_count(const Value& at, const std::vector<TargetSpec>& targets) {
  if (targets.empty()) {
    return at.error("at least one target is needed (leave 'targets' out to watch the Trino JVM)");
  }
  if (targets.size() > kMaxTargets) {
    return at.error("at most " + std::to_string(kMaxTargets) + " targets are supported, got " +
                    std::to_string(targets.size()));
  }
  return ok();
}

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

// ---- Targets.

struct Selector {
  std::string_view key;
  std::string TargetSpec::*field;
};

constexpr std::array kSelectors = {
    Selector{"cmdline_contains", &TargetSpec::cmdline_contains},
    Selector{"comm", &TargetSpec::comm},
    Selector{"pid_file", &TargetSpec::pid_file},
    Selector{"cgroup", &TargetSpec::cgroup},
};

std::string selector_keys() {
  std::vector<std::string> keys;
  for (const Selector& selector : kSelectors) keys.emplace_back(selector.key);
  return join(keys, ", ");
}

Result<void> one_selector(const Value& at, const TargetSpec& target) {
  std::vector<std::string> given;
  for (const Selector& selector : kSelectors) {
    if (!(target.*selector.field).empty()) given.emplace_back(selector.key);
  }
  if (given.size() == 1) return ok();
  const std::string wanted = "give exactly one of " + selector_keys();
  if (given.empty()) return at.error(wanted + "; got none");
  return at.error(wanted + "; got " + join(given, " and "));
}

Result<void> decode(const Value& value, TargetSpec& target) {
  Section section(value);
  section.require("name", target.name, metric_label_name);
  section.read("cmdline_contains", target.cmdline_contains);
  section.read("comm", target.comm, comm_name);
  section.read("pid_file", target.pid_file, empty_or(absolute_path));
  section.read("cgroup", target.cgroup, empty_or(absolute_path));
  if (Result<void> outcome = section.finish(); !outcome.ok()) return outcome;
  return one_selector(value, target);
}

// ---- Alert hooks.

Result<void> environment_variable_name(const Value& at, const std::string& name) {
  const bool valid = !name.empty() && (std::isalpha(static_cast<unsigned char>(name[0])) || name[0] == '_') &&
                     std::ranges::all_of(name, [](unsigned char c) { return std::isalnum(c) || c == '_'; });
  if (valid) return ok();
  return at.error("expected an environment variable name (letters, digits, '_'), got " + in_quotes(name));
}

// An HTTP token: letters, digits and !#$%&'*+-.^_`|~ (RFC 9110), so no header can be forged.
Result<void> http_header_name(const Value& at, const std::string& name) {
  const bool valid = !name.empty() && std::ranges::all_of(name, [](unsigned char c) {
    return std::isalnum(c) || std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
  });
  if (valid) return ok();
  return at.error("expected an HTTP header name, got " + in_quotes(name));
}

Result<void> decode(const Value& value, ExecHookSpec& hook) {
  Section section(value);
  section.require("command", hook.command, not_empty);
  section.read("timeout_ms", hook.timeout_ms, between(1, 600000));
  return section.finish();
}

Result<void> decode(const Value& value, WebhookSpec& webhook) {
  Section section(value);
  section.require("url", webhook.url, http_url);
  section.read("timeout_ms", webhook.timeout_ms, between(1, 600000));
  section.read("retries", webhook.retries, between(0, 10));
  section.read("token_file", webhook.token_file, empty_or(absolute_path));
  section.read("token_env", webhook.token_env, empty_or(environment_variable_name));
  section.read("token_header", webhook.token_header, http_header_name);
  section.check("token_env", webhook.token_file.empty() || webhook.token_env.empty(),
                "give at most one of token_file and token_env");
  return section.finish();
}

// ---- Balancer.

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

Result<void> fraction(const Value& at, double number) {
  if (number >= 0 && number <= 1) return ok();
  return at.error("expected a fraction 0-1, got " + at.node().Scalar());
}

// HAProxy's runtime API: a unix socket path or HOST:PORT.
Result<void> socket_address(const Value& at, const std::string& address) {
  if (address.starts_with('/')) return ok();
  if (listen_address_problem(address)) {
    return at.error("expected an absolute unix socket path or HOST:PORT, got " + in_quotes(address));
  }
  return ok();
}

Result<void> decode(const Value& value, BalancerServerSpec& server) {
  Section section(value);
  section.require("node_id", server.node_id, znode_name);
  section.read("name", server.name, empty_or(metric_label_name));
  section.read("address", server.address, empty_or(listen_address));
  return section.finish();
}

// ---- The schema. Adding a key: one read() line here and one line in to_yaml().

void read_config(Section& top, Config& config) {
  top.read("cluster", config.cluster, znode_name);
  top.section("node", [&](Section& node) {
    node.read("id", config.node.id, empty_or(znode_name));
    node.read("role", config.node.role, one_of({"", "coordinator", "worker"}));
  });
  top.section("trino", [&](Section& trino) {
    Config::Trino& t = config.trino;
    trino.read("etc_dir", t.etc_dir);
    trino.read("drain", t.drain, one_of({"off", "auto", "shutdown"}));
    trino.read("url", t.url, empty_or(trino_url));
    trino.read("user", t.user, not_empty, no_line_breaks);
    trino.read("password_file", t.password_file, empty_or(absolute_path));
    trino.read("password_env", t.password_env, empty_or(environment_variable_name));
    trino.read("ca_file", t.ca_file, empty_or(absolute_path));
    trino.read("timeout_ms", t.timeout_ms, between(10, 60000));
    trino.read("max_unhealthy_fraction", t.max_unhealthy_fraction, fraction);
    trino.read("zk_loss_hold_ms", t.zk_loss_hold_ms, between(0, 3'600'000));
    trino.read("coordinator_url", t.coordinator_url, empty_or(trino_url));
    trino.check("password_env", t.password_file.empty() || t.password_env.empty(),
                "give at most one of password_file and password_env");
  });
  top.read("targets", config.targets, target_count, unique_member("name", &TargetSpec::name, "target name"));
  top.section("network", [&](Section& network) {
    network.read("netns", config.network.netns, empty_or(absolute_path));
    network.read("ports", config.network.ports, each(port_number), no_duplicates);
    network.read("max_peers", config.network.max_peers, between(1, 4096));
  });
  top.section("http", [&](Section& http) { http.read("listen", config.http.listen, listen_address); });
  top.section("agent_check", [&](Section& agent_check) {
    agent_check.read("listen", config.agent_check.listen, empty_or(listen_address));
    agent_check.read("drain_below_weight", config.agent_check.drain_below_weight, between(0, 100));
  });
  top.section("zookeeper", [&](Section& zookeeper) {
    zookeeper.read("connect", config.zookeeper.connect);
    zookeeper.read("root", config.zookeeper.root, znode_path);
    zookeeper.read("session_timeout_ms", config.zookeeper.session_timeout_ms, between(1000, 600000));
    zookeeper.read("auth_file", config.zookeeper.auth_file, empty_or(absolute_path));
  });
  top.check("zookeeper", config.trino.drain == "off" || !config.zookeeper.connect.empty(),
            "zookeeper.connect must be set when trino.drain is on: the cluster-wide drain budget lives in ZooKeeper");
  top.section("heartbeat", [&](Section& heartbeat) {
    heartbeat.read("interval_ms", config.heartbeat.interval_ms, between(50, 60000));
  });
  top.section("keepalived", [&](Section& keepalived) {
    keepalived.read("track_file", config.keepalived.track_file);
    // keepalived reads the file into an int; keep the values themselves within its range.
    const auto track_value = between_signed(-2147483647, 2147483647);
    keepalived.read("healthy_value", config.keepalived.healthy_value, track_value);
    keepalived.read("degraded_value", config.keepalived.degraded_value, track_value);
    keepalived.read("failing_value", config.keepalived.failing_value, track_value);
    keepalived.read("unknown_value", config.keepalived.unknown_value, track_value);
  });
  top.section("alerts", [&](Section& alerts) {
    alerts.read("exec", config.alerts.exec);
    alerts.read("webhooks", config.alerts.webhooks);
    alerts.read("alertmanager_url", config.alerts.alertmanager_url, empty_or(http_url));
    alerts.read("alertmanager_timeout_ms", config.alerts.alertmanager_timeout_ms, between(1, 600000));
  });
  top.section("log", [&](Section& log) {
    log.read("level", config.log.level, one_of({"trace", "debug", "info", "warn", "error", "critical", "off"}));
  });
  top.section("sched", [&](Section& sched) {
    sched.read("stall_threshold_ms", config.sched.stall_threshold_ms, between(1, 60000));
    sched.read("queue_timestamps", config.sched.queue_timestamps, one_of({"auto", "schedstat", "wakeup"}));
  });
  top.section("probes", [&](Section& probes) {
    probes.read("attach", config.probes.attach, one_of({"auto", "tp_btf", "raw_tp", "tracepoint"}));
    probes.read("events", config.probes.events, one_of({"auto", "ringbuf", "perfbuf"}));
  });
  top.section("memory", [&](Section& memory) {
    memory.read("psi_trigger_window_us", config.memory.psi_trigger_window_us, between(500000, 10000000));
    memory.read("psi_trigger_stall_us", config.memory.psi_trigger_stall_us,  // read after the window it must fit in
                [&](const Value& at, uint64_t stall) -> Result<void> {
                  if (stall < config.memory.psi_trigger_window_us) return ok();
                  return at.error("expected 0 (off) or less than memory.psi_trigger_window_us (" +
                                  std::to_string(config.memory.psi_trigger_window_us) + "), got " +
                                  std::to_string(stall));
                });
  });
  top.section("health", [&](Section& health) {
    health.read("recover_after_ms", config.health.recover_after_ms, between(0, 600'000));
    health.read("window_ms", config.health.window_ms, between(1000, 600'000));
    health.read("runq_p99_warn_ms", config.health.runq_p99_warn_ms, between(1, 60'000));
    health.read("runq_p99_fail_ms", config.health.runq_p99_fail_ms, between(1, 60'000));
    health.read("runq_stall_fail_ms", config.health.runq_stall_fail_ms, between(1, 600'000));
    health.read("stopped_fail_ms", config.health.stopped_fail_ms, between(0, 600'000));
    health.read("jvm_pause_warn_ms", config.health.jvm_pause_warn_ms, between(1, 600'000));
    health.read("jvm_pause_fail_ms", config.health.jvm_pause_fail_ms, between(1, 600'000));
    // A warn threshold must lie below its fail threshold; the error names the key that was set.
    auto warn_below_fail = [&health](const std::string& warn_key, uint32_t warn, const std::string& fail_key,
                                     uint32_t fail) {
      if (health.has(fail_key)) {
        health.check(fail_key, warn < fail, "must be above " + warn_key + " (" + std::to_string(warn) + ")");
      } else {
        health.check(warn_key, warn < fail, "must be below " + fail_key + " (" + std::to_string(fail) + ")");
      }
    };
    warn_below_fail("runq_p99_warn_ms", config.health.runq_p99_warn_ms, "runq_p99_fail_ms",
                    config.health.runq_p99_fail_ms);
    warn_below_fail("jvm_pause_warn_ms", config.health.jvm_pause_warn_ms, "jvm_pause_fail_ms",
                    config.health.jvm_pause_fail_ms);
  });
  top.section("collect", [&](Section& collect) {
    collect.read("interval_ms", config.collect.interval_ms, between(10, 10000));
  });
  top.section("metrics", [&](Section& metrics) { metrics.read("bpf_stats", config.metrics.bpf_stats); });
  top.section("balancer", [&](Section& balancer) {
    Config::Balancer& b = config.balancer;
    balancer.read("listen", b.listen, listen_address);
    balancer.read("down_after_ms", b.down_after_ms, between(0, 600'000));
    balancer.read("max_unhealthy_fraction", b.max_unhealthy_fraction, fraction);
    balancer.read("max_payload_bytes", b.max_payload_bytes, between(256, 1'048'576));
    balancer.read("servers", b.servers, unique_member("node_id", &BalancerServerSpec::node_id, "node_id"));
    balancer.section("nginx", [&](Section& nginx) {
      nginx.read("upstream_file", b.nginx.upstream_file, empty_or(absolute_path));
      nginx.read("upstream", b.nginx.upstream, metric_label_name);
      nginx.read("conf", b.nginx.conf, empty_or(absolute_path));
      nginx.read("pid_file", b.nginx.pid_file, empty_or(absolute_path));
      nginx.read("binary", b.nginx.binary, not_empty);
      nginx.check("pid_file", b.nginx.upstream_file.empty() || !b.nginx.pid_file.empty(),
                  "must be set with upstream_file (the nginx master is signalled to reload)");
    });
    balancer.section("haproxy", [&](Section& haproxy) {
      haproxy.read("socket", b.haproxy.socket, empty_or(socket_address));
      haproxy.read("backend", b.haproxy.backend, metric_label_name);
    });
    balancer.section("gateway", [&](Section& gateway) {
      gateway.read("url", b.gateway.url, empty_or(http_url));
      gateway.read("timeout_ms", b.gateway.timeout_ms, between(1, 600000));
    });
  });
}

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
  read_config(top, config);
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

// ---- Rendering.

// Text with a control or a non-ASCII character is double-quoted, each such character escaped
// (to_yaml sets EscapeNonAscii): yaml-cpp would write a CR or a U+2028 raw into a plain value,
// and libyaml, which reads the config first, takes both for line breaks.
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

void emit(YAML::Emitter& out, std::string_view key, const std::vector<BalancerServerSpec>& servers) {
  emit_list(out, key, servers, [](YAML::Emitter& o, const BalancerServerSpec& server) {
    emit(o, "node_id", server.node_id);
    emit(o, "name", server.name);
    emit(o, "address", server.address);
  });
}

void emit(YAML::Emitter& out, std::string_view key, const std::vector<ExecHookSpec>& hooks) {
  emit_list(out, key, hooks, [](YAML::Emitter& o, const ExecHookSpec& hook) {
    emit(o, "command", hook.command);
    emit(o, "timeout_ms", hook.timeout_ms);
  });
}

void emit(YAML::Emitter& out, std::string_view key, const std::vector<WebhookSpec>& webhooks) {
  emit_list(out, key, webhooks, [](YAML::Emitter& o, const WebhookSpec& webhook) {
    emit(o, "url", webhook.url);
    emit(o, "timeout_ms", webhook.timeout_ms);
    emit(o, "retries", webhook.retries);
    emit(o, "token_file", webhook.token_file);
    emit(o, "token_env", webhook.token_env);
    emit(o, "token_header", webhook.token_header);
  });
}

void emit(YAML::Emitter& out, std::string_view key, const std::vector<uint16_t>& numbers) {
  out << YAML::Key << std::string(key) << YAML::Value << YAML::Flow << YAML::BeginSeq;
  for (uint16_t number : numbers) out << number;
  out << YAML::EndSeq;
}

void emit(YAML::Emitter& out, std::string_view key, const std::vector<TargetSpec>& targets) {
  emit_list(out, key, targets, [](YAML::Emitter& o, const TargetSpec& target) {
    emit(o, "name", target.name);
    for (const Selector& selector : kSelectors) {
      if (!(target.*selector.field).empty()) emit(o, selector.key, target.*selector.field);
    }
  });
}

template <class Fill>
void emit_section(YAML::Emitter& out, std::string_view key, Fill fill) {
  out << YAML::Key << std::string(key) << YAML::Value << YAML::BeginMap;
  fill();
  out << YAML::EndMap;
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
  emit(out, "cluster", config.cluster);
  emit_section(out, "node", [&] {
    emit(out, "id", config.node.id);
    emit(out, "role", config.node.role);
  });
  emit_section(out, "trino", [&] {
    const Config::Trino& t = config.trino;
    emit(out, "etc_dir", t.etc_dir);
    emit(out, "drain", t.drain);
    emit(out, "url", t.url);
    emit(out, "user", t.user);
    emit(out, "password_file", t.password_file);
    emit(out, "password_env", t.password_env);
    emit(out, "ca_file", t.ca_file);
    emit(out, "timeout_ms", t.timeout_ms);
    emit(out, "max_unhealthy_fraction", t.max_unhealthy_fraction);
    emit(out, "zk_loss_hold_ms", t.zk_loss_hold_ms);
    emit(out, "coordinator_url", t.coordinator_url);
  });
  emit(out, "targets", config.targets);
  emit_section(out, "network", [&] {
    emit(out, "netns", config.network.netns);
    emit(out, "ports", config.network.ports);
    emit(out, "max_peers", config.network.max_peers);
  });
  emit_section(out, "http", [&] { emit(out, "listen", config.http.listen); });
  emit_section(out, "agent_check", [&] {
    emit(out, "listen", config.agent_check.listen);
    emit(out, "drain_below_weight", config.agent_check.drain_below_weight);
  });
  emit_section(out, "zookeeper", [&] {
    emit(out, "connect", config.zookeeper.connect);
    emit(out, "root", config.zookeeper.root);
    emit(out, "session_timeout_ms", config.zookeeper.session_timeout_ms);
    emit(out, "auth_file", config.zookeeper.auth_file);
  });
  emit_section(out, "heartbeat", [&] { emit(out, "interval_ms", config.heartbeat.interval_ms); });
  emit_section(out, "keepalived", [&] {
    emit(out, "track_file", config.keepalived.track_file);
    emit(out, "healthy_value", config.keepalived.healthy_value);
    emit(out, "degraded_value", config.keepalived.degraded_value);
    emit(out, "failing_value", config.keepalived.failing_value);
    emit(out, "unknown_value", config.keepalived.unknown_value);
  });
  emit_section(out, "alerts", [&] {
    emit(out, "exec", config.alerts.exec);
    emit(out, "webhooks", config.alerts.webhooks);
    emit(out, "alertmanager_url", config.alerts.alertmanager_url);
    emit(out, "alertmanager_timeout_ms", config.alerts.alertmanager_timeout_ms);
  });
  emit_section(out, "log", [&] { emit(out, "level", config.log.level); });
  emit_section(out, "sched", [&] {
    emit(out, "stall_threshold_ms", config.sched.stall_threshold_ms);
    emit(out, "queue_timestamps", config.sched.queue_timestamps);
  });
  emit_section(out, "probes", [&] {
    emit(out, "attach", config.probes.attach);
    emit(out, "events", config.probes.events);
  });
  emit_section(out, "memory", [&] {
    emit(out, "psi_trigger_stall_us", config.memory.psi_trigger_stall_us);
    emit(out, "psi_trigger_window_us", config.memory.psi_trigger_window_us);
  });
  emit_section(out, "health", [&] {
    emit(out, "recover_after_ms", config.health.recover_after_ms);
    emit(out, "window_ms", config.health.window_ms);
    emit(out, "runq_p99_warn_ms", config.health.runq_p99_warn_ms);
    emit(out, "runq_p99_fail_ms", config.health.runq_p99_fail_ms);
    emit(out, "runq_stall_fail_ms", config.health.runq_stall_fail_ms);
    emit(out, "stopped_fail_ms", config.health.stopped_fail_ms);
    emit(out, "jvm_pause_warn_ms", config.health.jvm_pause_warn_ms);
    emit(out, "jvm_pause_fail_ms", config.health.jvm_pause_fail_ms);
  });
  emit_section(out, "collect", [&] { emit(out, "interval_ms", config.collect.interval_ms); });
  emit_section(out, "metrics", [&] { emit(out, "bpf_stats", config.metrics.bpf_stats); });
  emit_section(out, "balancer", [&] {
    const Config::Balancer& b = config.balancer;
    emit(out, "listen", b.listen);
    emit(out, "down_after_ms", b.down_after_ms);
    emit(out, "max_unhealthy_fraction", b.max_unhealthy_fraction);
    emit(out, "max_payload_bytes", b.max_payload_bytes);
    emit(out, "servers", b.servers);
    emit_section(out, "nginx", [&] {
      emit(out, "upstream_file", b.nginx.upstream_file);
      emit(out, "upstream", b.nginx.upstream);
      emit(out, "conf", b.nginx.conf);
      emit(out, "pid_file", b.nginx.pid_file);
      emit(out, "binary", b.nginx.binary);
    });
    emit_section(out, "haproxy", [&] {
      emit(out, "socket", b.haproxy.socket);
      emit(out, "backend", b.haproxy.backend);
    });
    emit_section(out, "gateway", [&] {
      emit(out, "url", b.gateway.url);
      emit(out, "timeout_ms", b.gateway.timeout_ms);
    });
  });
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

}  // namespace nodepulse
