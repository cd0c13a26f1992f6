// Trino awareness: what a Trino node's etc/ directory says about it (node id, role, HTTP port,
// memory limits, heap size), read the way Trino itself reads it, so that an operator does not have
// to repeat in nodepulse's config what Trino's config already says.
//
// Everything here is pure over its inputs (text, or the files under one directory). Problems are
// warnings ("FILE:LINE: what is wrong; ignored") returned to the caller, never errors: a broken or
// missing Trino config must not keep the agent from starting, and nodepulse's own defaults stand.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace nodepulse {

struct Config;

// ---- java.util.Properties

// One entry as Properties.load() yields it (escapes decoded, nothing trimmed), and the number of
// the line its logical line starts on, for warnings.
struct JavaProperty {
  std::string value;
  std::size_t line = 0;
};
using JavaProperties = std::map<std::string, JavaProperty, std::less<>>;

// Parses `text` with the grammar of java.util.Properties.load(Reader): "key=value", "key: value"
// and "key value"; '#'/'!' comment lines; leading whitespace; lines continued by an odd number of
// trailing backslashes; escapes \t \n \r \f \uXXXX and \<any> for a literal (so keys may contain
// escaped separators). A repeated key keeps its last value, as in Java. Text is taken as UTF-8
// (airlift reads config files as UTF-8); \uXXXX escapes are encoded as UTF-8.
// Where Java would throw (a malformed \uXXXX), that one entry is skipped with a warning
// "SOURCE:LINE: ..." and the rest of the text is still read.
JavaProperties parse_java_properties(std::string_view text, std::string_view source_name,
                                     std::vector<std::string>& warnings);

// ---- jvm.config

struct JvmConfig {
  std::vector<std::string> options;        // one JVM argument per line, as the launcher passes them
  std::optional<uint64_t> max_heap_bytes;  // the last -Xmx / -XX:MaxHeapSize=, which is what the JVM uses
};

// Trino's launcher reads jvm.config line by line: surrounding whitespace stripped, empty lines and
// lines starting with '#' skipped, every other line one argument (spaces included). A heap size
// that does not parse is a warning "SOURCE:LINE: ..." and does not count.
JvmConfig parse_jvm_config(std::string_view text, std::string_view source_name, std::vector<std::string>& warnings);

// Bytes in a size written the JVM's way ("16G", "512m", "1024k", "4096": suffixes k m g t, any
// case, no suffix = bytes) or airlift's DataSize way ("16GB", "1.5GB", "512MB", "100B", "10kB").
// Both are binary: 1k = 1024. Fractions are rounded to the nearest byte. Anything else, and sizes
// past 2^64 - 1, are an error whose message quotes the text.
Result<uint64_t> parse_size_bytes(std::string_view text);

// ---- A Trino node's etc/ directory

// What Trino's config files say about this node. A field is nullopt when it is unknown: its file
// is missing, the key is absent and Trino has no default, or its value is malformed (warned).
struct TrinoNodeInfo {
  std::filesystem::path etc_dir{};                  // the directory read
  std::vector<std::filesystem::path> files_read{};  // those of the three files that could be read
  std::optional<std::string> node_id{};             // node.id
  std::optional<std::string> environment{};         // node.environment
  std::optional<std::string> data_dir{};            // node.data-dir
  // coordinator; true when config.properties omits it (Trino's ServerConfig default).
  std::optional<bool> coordinator{};
  // http-server.http.port; 8080 when config.properties omits it (airlift's HttpServerConfig default).
  std::optional<uint16_t> http_port{};
  std::optional<bool> http_enabled{};    // http-server.http.enabled; true when omitted
  std::optional<bool> https_enabled{};   // http-server.https.enabled; false when omitted
  std::optional<uint16_t> https_port{};  // http-server.https.port; 8443 when omitted
  std::optional<std::string> discovery_uri{};                       // discovery.uri
  std::optional<uint64_t> query_max_memory_per_node_bytes{};        // query.max-memory-per-node
  std::optional<uint64_t> query_max_total_memory_per_node_bytes{};  // query.max-total-memory-per-node (older Trino)
  std::optional<uint64_t> max_heap_bytes{};                         // -Xmx in jvm.config

  bool found() const { return !files_read.empty(); }
};

// Reads node.properties, config.properties and jvm.config under `etc_dir`. Like Trino's launcher,
// which passes node.properties to the JVM as -D system properties that airlift lets override
// config.properties, a key given in both files takes node.properties' value. Values are trimmed,
// as airlift trims them. A missing directory is one warning; a missing or unreadable file, one
// warning naming it; a malformed value, one warning naming file and line. Never fails.
TrinoNodeInfo read_trino_etc(const std::filesystem::path& etc_dir, std::vector<std::string>& warnings);

// The etc directory a Trino process was started with, from its command line: /proc/PID/cmdline
// as read (arguments separated by NULs) or with the NULs turned into spaces (then a path holding
// a space cannot be told apart, and is cut at it).
// - the launcher (bin/launcher, launcher.py) takes "--etc-dir=DIR" or "--etc-dir DIR"; the last wins;
// - the JVM it execs carries no --etc-dir, only "-Dconfig=ETC/config.properties" (the launcher
//   always sets it, to an absolute path): its directory is the answer.
// A relative path is returned as given; the caller resolves it against /proc/PID/cwd.
std::optional<std::filesystem::path> etc_dir_from_cmdline(std::string_view cmdline);

// ---- Into the effective config

// ZooKeeper's port, part of the cluster ports whenever network.ports is left empty.
inline constexpr uint16_t kZookeeperPort = 2181;

// Fills what `config` left at its default from Trino's settings; an explicit value always wins.
// - node.id "" → Trino's node.id (the hostname fallback is resolve_trino_settings' job);
// - node.role "" → "coordinator" or "worker" from Trino's `coordinator`; stays "" when unknown;
// - network.ports [] → Trino's HTTP port (8080, Trino's default, when unknown) and 2181;
// - config.trino.detected = info, for the heartbeat payload and `nodepulse check`.
void apply_trino_defaults(Config& config, const TrinoNodeInfo& info);

// The local Trino's API base URL: trino.url when set; else http://127.0.0.1:PORT while plain
// HTTP is on (Trino's own default), else https://127.0.0.1:HTTPS_PORT.
std::string local_trino_url(const Config& config);

// Start-up: reads config.trino.etc_dir (an empty one means "no Trino here": nothing is read and
// nothing warned), applies the defaults above, and, if node.id is still empty, uses the hostname.
// Returns the warnings (also kept in config.trino.warnings) for the caller to log.
std::vector<std::string> resolve_trino_settings(Config& config);

}  // namespace nodepulse
