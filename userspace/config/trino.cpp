// Reading a Trino node's etc/ the way Trino does: its launcher (airlift's bin/launcher) reads
// node.properties and jvm.config and execs the JVM with node.properties as -D flags and
// -Dconfig=ETC/config.properties; airlift then loads config.properties with
// java.util.Properties, lets the -D flags override it, and trims every value. The parser below
// follows Properties.load's LineReader/loadConvert rules so that whatever Trino reads, we read.
#include "config/trino.h"

#include <limits.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <limits>
#include <system_error>
#include <utility>

#include "common/file_text.h"
#include "config/config.h"
#include "config/yaml_walk.h"

namespace nodepulse {
namespace {

using config_detail::in_quotes;

// Trino's etc files are a few KiB; a file past this is not one of them.
constexpr std::size_t kMaxEtcFileBytes = 1 << 20;
// Defaults Trino uses when config.properties omits the key: ServerConfig.coordinator and
// airlift's HttpServerConfig.httpPort (and its http/https switches).
constexpr bool kTrinoDefaultCoordinator = true;
constexpr uint16_t kTrinoDefaultHttpPort = 8080;
constexpr uint16_t kTrinoDefaultHttpsPort = 8443;  // HttpServerConfig.httpsPort

// ---- Text helpers.

// The whitespace of java.util.Properties: only these three, not '\r' or '\v'.
bool is_properties_space(char c) { return c == ' ' || c == '\t' || c == '\f'; }

std::string_view skip_properties_space(std::string_view text) {
  std::size_t first = 0;
  while (first < text.size() && is_properties_space(text[first])) ++first;
  return text.substr(first);
}

// String.trim() (airlift trims values) and Python's str.strip() (the launcher strips jvm.config
// lines) both drop ASCII control characters and spaces at the ends.
std::string_view trim_control_and_space(std::string_view text) {
  const auto is_blank = [](char c) { return static_cast<unsigned char>(c) <= ' '; };
  while (!text.empty() && is_blank(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_blank(text.back())) text.remove_suffix(1);
  return text;
}

std::string at_line(std::string_view source_name, std::size_t line) {
  return std::string(source_name) + ":" + std::to_string(line);
}

// A line as the file has it: ended by "\n", "\r" or "\r\n" (all three end a line in Java).
struct NaturalLine {
  std::string_view text;
  std::size_t number = 0;
};

std::vector<NaturalLine> natural_lines(std::string_view text) {
  std::vector<NaturalLine> lines;
  std::size_t start = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\n' && text[i] != '\r') continue;
    lines.push_back({text.substr(start, i - start), lines.size() + 1});
    if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
    start = i + 1;
  }
  if (start < text.size()) lines.push_back({text.substr(start), lines.size() + 1});
  return lines;
}

// ---- java.util.Properties.

// "\\" is an escaped backslash, "\\\" an escaped backslash and a continuation.
bool ends_in_continuation(std::string_view text) {
  std::size_t backslashes = 0;
  while (backslashes < text.size() && text[text.size() - 1 - backslashes] == '\\') ++backslashes;
  return backslashes % 2 == 1;
}

// One entry's text with its continuations joined, escapes still in place.
struct LogicalLine {
  std::string text;
  std::size_t number = 0;  // where it starts
};

// Java's LineReader: leading whitespace goes (on continuation lines too); a line whose first
// non-blank is '#' or '!' is a comment, and a comment never continues; the continuing backslash
// goes; an empty continuation line ends the entry; a backslash at the very end of the text goes.
std::vector<LogicalLine> logical_lines(std::string_view text) {
  const std::vector<NaturalLine> lines = natural_lines(text);
  std::vector<LogicalLine> logical;
  std::size_t next = 0;
  while (next < lines.size()) {
    const NaturalLine& first = lines[next++];
    std::string_view piece = skip_properties_space(first.text);
    if (piece.empty() || piece.front() == '#' || piece.front() == '!') continue;
    LogicalLine line{{}, first.number};
    while (ends_in_continuation(piece)) {
      line.text.append(piece.substr(0, piece.size() - 1));
      piece = next < lines.size() ? skip_properties_space(lines[next++].text) : std::string_view();
    }
    line.text.append(piece);
    logical.push_back(std::move(line));
  }
  return logical;
}

struct RawEntry {
  std::string_view key;
  std::string_view value;
};

// Properties.load0: the key ends at the first unescaped '=', ':' or whitespace; then whitespace
// and at most one '=' or ':' are skipped, so "k = v", "k: v", "k v" and "k  =v" all mean k → v.
RawEntry split_entry(std::string_view line) {
  std::size_t key_end = 0;
  std::size_t value_start = line.size();
  bool has_separator = false;
  bool escaped = false;
  for (; key_end < line.size(); ++key_end) {
    const char c = line[key_end];
    if (!escaped && (c == '=' || c == ':')) {
      value_start = key_end + 1;
      has_separator = true;
      break;
    }
    if (!escaped && is_properties_space(c)) {
      value_start = key_end + 1;
      break;
    }
    escaped = c == '\\' && !escaped;
  }
  for (; value_start < line.size(); ++value_start) {
    const char c = line[value_start];
    if (is_properties_space(c)) continue;
    if (has_separator || (c != '=' && c != ':')) break;
    has_separator = true;
  }
  return {line.substr(0, key_end), line.substr(value_start)};
}

void append_utf8(std::string& out, char32_t code_point) {
  if (code_point < 0x80) {
    out.push_back(static_cast<char>(code_point));
  } else if (code_point < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (code_point >> 6)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  } else if (code_point < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (code_point >> 12)));
    out.push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (code_point >> 18)));
    out.push_back(static_cast<char>(0x80 | ((code_point >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  }
}

// Properties.loadConvert. \uXXXX gives a UTF-16 code unit: a surrogate pair written as two
// escapes becomes one code point; a lone surrogate, which UTF-8 cannot hold, becomes U+FFFD.
Result<std::string> unescape(std::string_view text) {
  constexpr char32_t kReplacement = 0xFFFD;
  std::string out;
  char32_t high_surrogate = 0;  // 0: none pending (0 is never a surrogate)
  const auto flush_high_surrogate = [&] {
    if (high_surrogate != 0) append_utf8(out, kReplacement);
    high_surrogate = 0;
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\') {
      flush_high_surrogate();
      out.push_back(text[i]);
      continue;
    }
    // LineReader never leaves an unpaired backslash at the end, but text is text.
    if (++i == text.size()) break;
    const char escaped = text[i];
    if (escaped != 'u') {
      flush_high_surrogate();
      switch (escaped) {
        case 't': out.push_back('\t'); break;
        case 'n': out.push_back('\n'); break;
        case 'r': out.push_back('\r'); break;
        case 'f': out.push_back('\f'); break;
        default: out.push_back(escaped); break;
      }
      continue;
    }
    const std::string_view hex = text.substr(i + 1, 4);
    unsigned unit = 0;
    const auto [end, status] = std::from_chars(hex.data(), hex.data() + hex.size(), unit, 16);
    if (hex.size() != 4 || status != std::errc{} || end != hex.data() + hex.size()) {
      return Error{"malformed \\uXXXX escape " + in_quotes("\\u" + std::string(hex))};
    }
    i += 4;
    const char32_t code_unit = unit;
    if (code_unit >= 0xD800 && code_unit <= 0xDBFF) {
      flush_high_surrogate();
      high_surrogate = code_unit;
    } else if (code_unit >= 0xDC00 && code_unit <= 0xDFFF) {
      if (high_surrogate != 0) {
        append_utf8(out, 0x10000 + ((high_surrogate - 0xD800) << 10) + (code_unit - 0xDC00));
        high_surrogate = 0;
      } else {
        append_utf8(out, kReplacement);
      }
    } else {
      flush_high_surrogate();
      append_utf8(out, code_unit);
    }
  }
  flush_high_surrogate();
  return out;
}

// ---- Files.

// The text of an etc file (read non-blocking: a FIFO put there by mistake must not hang start-up).
Result<std::string> read_etc_text(const std::filesystem::path& file) {
  FileText read = read_text_file(file, kMaxEtcFileBytes + 1);
  if (read.error) return errno_error("cannot read", read.error);
  if (read.text.size() > kMaxEtcFileBytes) {
    return Error{"larger than " + std::to_string(kMaxEtcFileBytes) + " bytes; not read"};
  }
  return std::move(read.text);
}

// The text of `file`, or nullopt with a warning naming it.
std::optional<std::string> read_etc_file(const std::filesystem::path& file, TrinoNodeInfo& info,
                                         std::vector<std::string>& warnings) {
  Result<std::string> text = read_etc_text(file);
  if (!text.ok()) {
    warnings.push_back(file.string() + ": " + text.error().message + "; the Trino settings in it are unknown");
    return std::nullopt;
  }
  info.files_read.push_back(file);
  return std::move(text).value();
}

// ---- Trino's settings.

// What a node id becomes: a ZooKeeper znode name, so the rule of config's node.id.
bool is_node_name(std::string_view text) {
  const bool allowed_characters = std::ranges::all_of(text, [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
  });
  return !text.empty() && allowed_characters && text != "." && text != "..";
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  return std::ranges::equal(a, b, [](char x, char y) {
    const auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; };
    return lower(x) == lower(y);
  });
}

// node.properties over config.properties, as Trino sees them; every value remembers its line.
class TrinoSettings {
 public:
  explicit TrinoSettings(std::vector<std::string>& warnings) : warnings_(warnings) {}

  void add(const JavaProperties& properties, const std::filesystem::path& file) {
    for (const auto& [key, property] : properties) {
      settings_.insert_or_assign(key, Setting{std::string(trim_control_and_space(property.value)),
                                              at_line(file.native(), property.line)});
    }
  }

  // The trimmed value of `key`; nullopt, with a warning, if it is empty or refers to an
  // environment variable (airlift's ${ENV:NAME}), which only Trino's own process can see.
  std::optional<std::string> text(std::string_view key) {
    const Setting* setting = find(key);
    if (setting == nullptr) return std::nullopt;
    if (setting->value.empty()) return ignore(*setting, key, "empty");
    if (setting->value.find("${ENV:") != std::string::npos) {
      return ignore(*setting, key,
                    in_quotes(setting->value) + " names an environment variable, which only Trino's process sees");
    }
    return setting->value;
  }

  std::optional<bool> boolean(std::string_view key) {
    const Setting* setting = find(key);
    auto value = text(key);
    if (!value) return std::nullopt;
    if (equals_ignoring_case(*value, "true")) return true;
    if (equals_ignoring_case(*value, "false")) return false;
    return ignore(*setting, key, "expected true or false, got " + in_quotes(*value));
  }

  std::optional<uint16_t> port(std::string_view key) {
    const Setting* setting = find(key);
    auto value = text(key);
    if (!value) return std::nullopt;
    unsigned port = 0;
    const auto [end, status] = std::from_chars(value->data(), value->data() + value->size(), port);
    if (status != std::errc{} || end != value->data() + value->size() || port < 1 || port > 65535) {
      return ignore(*setting, key, "expected a port number 1-65535, got " + in_quotes(*value));
    }
    return static_cast<uint16_t>(port);
  }

  std::optional<uint64_t> size_bytes(std::string_view key) {
    const Setting* setting = find(key);
    auto value = text(key);
    if (!value) return std::nullopt;
    Result<uint64_t> bytes = parse_size_bytes(*value);
    if (!bytes.ok()) return ignore(*setting, key, bytes.error().message);
    return *bytes;
  }

  std::optional<std::string> node_name(std::string_view key) {
    const Setting* setting = find(key);
    auto value = text(key);
    if (!value || is_node_name(*value)) return value;
    return ignore(*setting, key,
                  "expected letters, digits, '_', '.' or '-' (it becomes a ZooKeeper znode name), got " +
                      in_quotes(*value));
  }

  bool has(std::string_view key) const { return settings_.contains(key); }

 private:
  struct Setting {
    std::string value;
    std::string where;  // "FILE:LINE"
  };

  const Setting* find(std::string_view key) const {
    auto it = settings_.find(key);
    return it == settings_.end() ? nullptr : &it->second;
  }

  std::nullopt_t ignore(const Setting& setting, std::string_view key, const std::string& problem) {
    warnings_.push_back(setting.where + ": " + std::string(key) + ": " + problem + "; ignored");
    return std::nullopt;
  }

  std::map<std::string, Setting, std::less<>> settings_;
  std::vector<std::string>& warnings_;
};

std::optional<std::string> host_name() {
  std::array<char, HOST_NAME_MAX + 1> name{};
  if (::gethostname(name.data(), name.size() - 1) != 0) return std::nullopt;
  return std::string(name.data());
}

std::vector<std::string_view> split_cmdline(std::string_view cmdline) {
  const bool has_nuls = cmdline.find('\0') != std::string_view::npos;
  const auto is_separator = [has_nuls](char c) { return has_nuls ? c == '\0' : (c == ' ' || c == '\t'); };
  std::vector<std::string_view> args;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= cmdline.size(); ++i) {
    if (i < cmdline.size() && !is_separator(cmdline[i])) continue;
    if (i > start) args.push_back(cmdline.substr(start, i - start));
    start = i + 1;
  }
  return args;
}

}  // namespace

JavaProperties parse_java_properties(std::string_view text, std::string_view source_name,
                                     std::vector<std::string>& warnings) {
  JavaProperties properties;
  for (const LogicalLine& line : logical_lines(text)) {
    const RawEntry raw = split_entry(line.text);
    Result<std::string> key = unescape(raw.key);
    Result<std::string> value = unescape(raw.value);
    if (!key.ok() || !value.ok()) {
      // Java would reject the whole file; one bad entry should not cost us the others.
      const std::string& problem = key.ok() ? value.error().message : key.error().message;
      warnings.push_back(at_line(source_name, line.number) + ": " + problem + "; line ignored");
      continue;
    }
    properties.insert_or_assign(std::move(key).value(), JavaProperty{std::move(value).value(), line.number});
  }
  return properties;
}

JvmConfig parse_jvm_config(std::string_view text, std::string_view source_name, std::vector<std::string>& warnings) {
  // -Xmx is HotSpot's alias of -XX:MaxHeapSize; the JVM applies its arguments in order.
  constexpr std::array<std::string_view, 2> kHeapFlags = {"-Xmx", "-XX:MaxHeapSize="};
  JvmConfig config;
  for (const NaturalLine& line : natural_lines(text)) {
    const std::string_view option = trim_control_and_space(line.text);
    if (option.empty() || option.front() == '#') continue;
    config.options.emplace_back(option);
    for (std::string_view flag : kHeapFlags) {
      if (!option.starts_with(flag)) continue;
      Result<uint64_t> bytes = parse_size_bytes(option.substr(flag.size()));
      if (bytes.ok()) {
        config.max_heap_bytes = *bytes;
      } else {
        warnings.push_back(at_line(source_name, line.number) + ": " + std::string(flag) + ": " +
                           bytes.error().message + "; ignored");
      }
      break;
    }
  }
  return config;
}

Result<uint64_t> parse_size_bytes(std::string_view text) {
  struct Unit {
    std::string_view name;
    unsigned shift;
  };
  constexpr std::array<Unit, 12> kUnits = {{{"", 0}, {"b", 0}, {"k", 10}, {"kb", 10}, {"m", 20}, {"mb", 20},
                                            {"g", 30}, {"gb", 30}, {"t", 40}, {"tb", 40}, {"p", 50}, {"pb", 50}}};
  const auto wrong = [text](std::string_view why) {
    return Error{"expected a size like 16G, 512m or 1.5GB, got " + in_quotes(text) + std::string(why)};
  };
  const auto is_digit = [](char c) { return c >= '0' && c <= '9'; };

  const std::string_view size = trim_control_and_space(text);
  std::size_t at = 0;
  while (at < size.size() && is_digit(size[at])) ++at;
  const std::string_view whole = size.substr(0, at);
  std::string_view fraction;
  if (at < size.size() && size[at] == '.') {
    const std::size_t start = ++at;
    while (at < size.size() && is_digit(size[at])) ++at;
    fraction = size.substr(start, at - start);
    if (fraction.empty()) return wrong("");
  }
  if (whole.empty()) return wrong("");
  // airlift's DataSize allows blanks before the unit ("16 GB").
  while (at < size.size() && (size[at] == ' ' || size[at] == '\t')) ++at;
  const std::string_view unit_text = size.substr(at);
  const auto unit = std::ranges::find_if(kUnits, [&](const Unit& u) { return equals_ignoring_case(u.name, unit_text); });
  if (unit == kUnits.end()) return wrong(" (units: k, m, g, t, p, optionally followed by B)");

  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  uint64_t count = 0;
  if (std::from_chars(whole.data(), whole.data() + whole.size(), count).ec != std::errc{} ||
      count > (kMax >> unit->shift)) {
    return wrong(" (too large)");
  }
  uint64_t bytes = count << unit->shift;
  if (!fraction.empty()) {
    // Digits past the 18th cannot change the result by a byte below 2^50 (the largest unit).
    long double part = 0;
    long double scale = 1;
    for (char digit : fraction.substr(0, 18)) {
      scale /= 10;
      part += static_cast<long double>(digit - '0') * scale;
    }
    const long double extra = part * static_cast<long double>(uint64_t{1} << unit->shift) + 0.5L;
    const auto extra_bytes = static_cast<uint64_t>(extra);
    if (extra_bytes > kMax - bytes) return wrong(" (too large)");
    bytes += extra_bytes;
  }
  return bytes;
}

TrinoNodeInfo read_trino_etc(const std::filesystem::path& etc_dir, std::vector<std::string>& warnings) {
  TrinoNodeInfo info;
  info.etc_dir = etc_dir;
  std::error_code error;
  if (!std::filesystem::is_directory(etc_dir, error)) {
    const bool absent = error == std::errc::no_such_file_or_directory || error == std::errc::not_a_directory;
    const std::string problem = absent ? "no such directory" : error ? error.message() : "not a directory";
    warnings.push_back(etc_dir.string() + ": " + problem +
                       "; no Trino settings are used (trino.etc_dir names Trino's etc directory)");
    return info;
  }

  TrinoSettings settings(warnings);
  const std::filesystem::path config_file = etc_dir / "config.properties";
  const std::filesystem::path node_file = etc_dir / "node.properties";
  const std::filesystem::path jvm_file = etc_dir / "jvm.config";
  // config.properties first: node.properties reaches Trino as -D flags, which win over it.
  std::optional<std::string> config_text = read_etc_file(config_file, info, warnings);
  if (config_text) settings.add(parse_java_properties(*config_text, config_file.native(), warnings), config_file);
  if (auto node_text = read_etc_file(node_file, info, warnings)) {
    settings.add(parse_java_properties(*node_text, node_file.native(), warnings), node_file);
  }

  info.node_id = settings.node_name("node.id");
  info.environment = settings.text("node.environment");
  info.data_dir = settings.text("node.data-dir");
  info.coordinator = settings.boolean("coordinator");
  info.http_port = settings.port("http-server.http.port");
  info.http_enabled = settings.boolean("http-server.http.enabled");
  info.https_enabled = settings.boolean("http-server.https.enabled");
  info.https_port = settings.port("http-server.https.port");
  info.discovery_uri = settings.text("discovery.uri");
  info.query_max_memory_per_node_bytes = settings.size_bytes("query.max-memory-per-node");
  info.query_max_total_memory_per_node_bytes = settings.size_bytes("query.max-total-memory-per-node");
  // Trino's own defaults, but only where the key is truly absent: a malformed value is unknown.
  if (config_text && !settings.has("coordinator")) info.coordinator = kTrinoDefaultCoordinator;
  if (config_text && !settings.has("http-server.http.port")) info.http_port = kTrinoDefaultHttpPort;
  if (config_text && !settings.has("http-server.http.enabled")) info.http_enabled = true;
  if (config_text && !settings.has("http-server.https.enabled")) info.https_enabled = false;
  if (config_text && !settings.has("http-server.https.port")) info.https_port = kTrinoDefaultHttpsPort;

  if (auto jvm_text = read_etc_file(jvm_file, info, warnings)) {
    info.max_heap_bytes = parse_jvm_config(*jvm_text, jvm_file.native(), warnings).max_heap_bytes;
  }
  return info;
}

std::optional<std::filesystem::path> etc_dir_from_cmdline(std::string_view cmdline) {
  constexpr std::string_view kEtcDir = "--etc-dir";
  constexpr std::string_view kConfigProperty = "-Dconfig=";
  const std::vector<std::string_view> args = split_cmdline(cmdline);
  std::optional<std::filesystem::path> from_launcher;
  std::optional<std::filesystem::path> from_config;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view arg = args[i];
    if (arg == kEtcDir) {
      if (i + 1 < args.size()) from_launcher = args[++i];
    } else if (arg.starts_with(kEtcDir) && arg[kEtcDir.size()] == '=') {
      if (arg.size() > kEtcDir.size() + 1) from_launcher = arg.substr(kEtcDir.size() + 1);
    } else if (arg.starts_with(kConfigProperty) && arg.size() > kConfigProperty.size()) {
      const std::filesystem::path config_file(arg.substr(kConfigProperty.size()));
      from_config = config_file.has_parent_path() ? config_file.parent_path() : std::filesystem::path(".");
    }
  }
  return from_launcher ? from_launcher : from_config;
}

void apply_trino_defaults(Config& config, const TrinoNodeInfo& info) {
  config.trino.detected = info;
  if (config.node.id.empty() && info.node_id) config.node.id = *info.node_id;
  if (config.node.role.empty() && info.coordinator) config.node.role = *info.coordinator ? "coordinator" : "worker";
  if (config.network.ports.empty()) {
    // With no Trino config to say otherwise, Trino listens on its default HTTP port.
    const uint16_t http_port = info.http_port.value_or(kTrinoDefaultHttpPort);
    config.network.ports.push_back(http_port);
    // network.ports rejects duplicates; a Trino on 2181 would be odd, but must not make one.
    if (http_port != kZookeeperPort) config.network.ports.push_back(kZookeeperPort);
  }
}

std::string local_trino_url(const Config& config) {
  if (!config.trino.url.empty()) return config.trino.url;
  const TrinoNodeInfo& info = config.trino.detected;
  if (info.http_enabled.value_or(true) || !info.https_enabled.value_or(false)) {
    return "http://127.0.0.1:" + std::to_string(info.http_port.value_or(kTrinoDefaultHttpPort));
  }
  return "https://127.0.0.1:" + std::to_string(info.https_port.value_or(kTrinoDefaultHttpsPort));
}

std::vector<std::string> resolve_trino_settings(Config& config) {
  std::vector<std::string> warnings;
  // An empty trino.etc_dir says there is no Trino config to read: no warnings about it.
  const TrinoNodeInfo info = config.trino.etc_dir.empty() ? TrinoNodeInfo{} : read_trino_etc(config.trino.etc_dir, warnings);
  apply_trino_defaults(config, info);
  if (config.node.id.empty()) {
    const std::optional<std::string> host = host_name();
    if (host && is_node_name(*host)) {
      config.node.id = *host;
    } else {
      warnings.push_back("node.id: no Trino node.id and " +
                         (host ? "the hostname " + in_quotes(*host) + " is not a valid znode name"
                               : std::string("the hostname cannot be read")) +
                         "; set node.id");
    }
  }
  config.trino.warnings = warnings;
  return warnings;
}

}  // namespace nodepulse
