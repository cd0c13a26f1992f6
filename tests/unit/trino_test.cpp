// Trino awareness: java.util.Properties parsing, jvm.config, sizes, command lines, the etc/
// fixtures under tests/unit/fixtures/trino/, and how Trino's settings fill the config.
#include "config/trino.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cctype>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "services.h"

namespace nodepulse {
namespace {

constexpr uint64_t kKiB = uint64_t{1} << 10;
constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr uint64_t kGiB = uint64_t{1} << 30;
constexpr uint64_t kTiB = uint64_t{1} << 40;

std::filesystem::path fixture(const std::string& name) {
  return std::filesystem::path(NODEPULSE_SOURCE_DIR) / "tests/unit/fixtures/trino" / name;
}

std::string host_name() {
  std::array<char, 256> name{};
  if (::gethostname(name.data(), name.size() - 1) != 0) return "";
  return name.data();
}

// Every table case below has a description: it names the test and is what a failure prints.
template <class Case>
  requires requires(const Case& test) { test.description; }
void PrintTo(const Case& test, std::ostream* out) {
  *out << test.description;
}

struct CaseName {
  template <class Case>
  std::string operator()(const ::testing::TestParamInfo<Case>& info) const {
    std::string name;
    for (const char c : std::string_view(info.param.description)) {
      name += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
    }
    return name + "_" + std::to_string(info.index);  // descriptions may collide once cleaned
  }
};

// ---- java.util.Properties

struct PropertiesCase {
  const char* description;
  std::string text;
  std::map<std::string, std::string> values;
  std::vector<std::string> warnings = {};
};

const std::vector<PropertiesCase> kPropertiesCases = {
    {"equals separator", "node.id=a", {{"node.id", "a"}}},
    {"colon separator", "node.id: a", {{"node.id", "a"}}},
    {"whitespace separator", "node.id   a", {{"node.id", "a"}}},
    {"tab and form feed separate too", "node.id\t\fa", {{"node.id", "a"}}},
    {"blanks around the separator", "node.id   =   a", {{"node.id", "a"}}},
    {"only one separator is skipped", "k:=v", {{"k", "=v"}}},
    {"whitespace then one separator", "k  = =v", {{"k", "=v"}}},
    {"leading whitespace", "   \t k=v", {{"k", "v"}}},
    {"trailing whitespace is kept (airlift trims later)", "k=v  ", {{"k", "v  "}}},
    {"key without value", "lonely", {{"lonely", ""}}},
    {"key with separator and no value", "k=", {{"k", ""}}},
    {"hash and bang comments", "# one\n! two\n   # three\nk=v", {{"k", "v"}}},
    {"a comment marker inside a value is text", "k=a#b!c", {{"k", "a#b!c"}}},
    {"blank lines are skipped", "\n\n  \t\nk=v\n\n", {{"k", "v"}}},
    {"continuation joins lines, dropping leading blanks", "k=a\\\n   b\\\n\tc", {{"k", "abc"}}},
    {"continuation keeps the blanks before the backslash", "k=a \\\n  b", {{"k", "a b"}}},
    {"an even number of backslashes does not continue", "k=a\\\\\nm=n", {{"k", "a\\"}, {"m", "n"}}},
    {"three backslashes: one literal, then a continuation", "k=a\\\\\\\nb", {{"k", "a\\b"}}},
    {"a comment never continues", "# note \\\nk=v", {{"k", "v"}}},
    {"a continued line starting with # is not a comment", "k=a\\\n#b", {{"k", "a#b"}}},
    {"an empty continuation line ends the entry", "k=a\\\n\nm=n", {{"k", "a"}, {"m", "n"}}},
    {"a backslash at the end of the text is dropped", "k=a\\", {{"k", "a"}}},
    {"continued key", "no\\\n  de.id=x", {{"node.id", "x"}}},
    {"escapes", "k=tab\\there\\nnl\\rcr\\fff\\\\bs", {{"k", "tab\there\nnl\rcr\fff\\bs"}}},
    {"unknown escapes are the character itself", "k=\\q\\:\\=\\#", {{"k", "q:=#"}}},
    {"unicode escapes become UTF-8", "k=\\u0041\\u00e9\\u20AC", {{"k", "A\xC3\xA9\xE2\x82\xAC"}}},
    {"a surrogate pair is one code point", "k=\\uD83D\\uDE00", {{"k", "\xF0\x9F\x98\x80"}}},
    {"a lone surrogate becomes U+FFFD", "k=\\uD83Dx", {{"k", "\xEF\xBF\xBDx"}}},
    {"UTF-8 text passes through", "k=caf\xC3\xA9", {{"k", "caf\xC3\xA9"}}},
    {"escaped separators in a key", "a\\=b\\:c\\ d = v", {{"a=b:c d", "v"}}},
    {"escaped separator in a key, value after blank", "x\\ y z", {{"x y", "z"}}},
    {"duplicated key: the last wins, as in Java", "k=1\nk=2\nk=3", {{"k", "3"}}},
    {"CRLF and CR end lines", "a=1\r\nb=2\rc=3\r\n", {{"a", "1"}, {"b", "2"}, {"c", "3"}}},
    {"continuation across CRLF", "k=a\\\r\n  b", {{"k", "ab"}}},
    {"malformed unicode escape: that line is skipped with a warning",
     "a=1\nb=\\u12G4\nc=3",
     {{"a", "1"}, {"c", "3"}},
     {"src.properties:2: malformed \\uXXXX escape '\\u12G4'; line ignored"}},
    {"a short unicode escape at the end is malformed",
     "k=\\u12",
     {},
     {"src.properties:1: malformed \\uXXXX escape '\\u12'; line ignored"}},
    {"a malformed escape in a continued entry names its first line",
     "a=1\nb=x\\\n  \\uZZZZ\nc=3",
     {{"a", "1"}, {"c", "3"}},
     {"src.properties:2: malformed \\uXXXX escape '\\uZZZZ'; line ignored"}},
    {"empty text", "", {}},
};

class TrinoJavaProperties : public ::testing::TestWithParam<PropertiesCase> {};

TEST_P(TrinoJavaProperties, Parses) {
  const PropertiesCase& test = GetParam();
  std::vector<std::string> warnings;
  const JavaProperties properties = parse_java_properties(test.text, "src.properties", warnings);
  std::map<std::string, std::string> values;
  for (const auto& [key, property] : properties) values[key] = property.value;
  EXPECT_EQ(values, test.values) << test.description;
  EXPECT_EQ(warnings, test.warnings) << test.description;
}

INSTANTIATE_TEST_SUITE_P(Cases, TrinoJavaProperties, ::testing::ValuesIn(kPropertiesCases), CaseName());

TEST(TrinoJavaPropertiesLines, EntriesRememberTheLineTheyStartOn) {
  std::vector<std::string> warnings;
  const JavaProperties properties =
      parse_java_properties("# c\n\na=1\\\n  2\\\n  3\nb=4\r\nc=5\rd=6", "src", warnings);
  ASSERT_EQ(properties.size(), 4u);
  EXPECT_EQ(properties.at("a").line, 3u);
  EXPECT_EQ(properties.at("a").value, "123");
  EXPECT_EQ(properties.at("b").line, 6u);
  EXPECT_EQ(properties.at("c").line, 7u);
  EXPECT_EQ(properties.at("d").line, 8u);
  EXPECT_TRUE(warnings.empty());
}

TEST(TrinoJavaPropertiesLines, DuplicatedKeyKeepsTheLastLine) {
  std::vector<std::string> warnings;
  const JavaProperties properties = parse_java_properties("k=1\nk=2\n", "src", warnings);
  EXPECT_EQ(properties.at("k").value, "2");
  EXPECT_EQ(properties.at("k").line, 2u);
}

TEST(TrinoJavaPropertiesLines, FixtureKeyWithEscapedSeparators) {
  // Read apart from read_trino_etc: the key is not one Trino's fields use.
  std::ifstream in(fixture("syntax") / "config.properties", std::ios::binary);
  ASSERT_TRUE(in);
  const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  std::vector<std::string> parse_warnings;
  const JavaProperties properties = parse_java_properties(text, "config.properties", parse_warnings);
  ASSERT_TRUE(properties.contains("weird key:with=separators"));
  EXPECT_EQ(properties.at("weird key:with=separators").value, "kept");
  EXPECT_EQ(properties.at("http-server.http.port").value, "9090");
  EXPECT_EQ(properties.at("http-server.http.port").line, 8u);
  EXPECT_TRUE(parse_warnings.empty());
}

// ---- Sizes

struct SizeCase {
  const char* description;
  std::string text;
  std::optional<uint64_t> bytes;  // nullopt: an error
};

const std::vector<SizeCase> kSizeCases = {
    {"JVM gigabytes", "16G", 16 * kGiB},
    {"JVM gigabytes, lower case", "1g", kGiB},
    {"JVM megabytes", "512m", 512 * kMiB},
    {"JVM megabytes, upper case", "512M", 512 * kMiB},
    {"JVM kilobytes", "1024k", kMiB},
    {"JVM terabytes", "2T", 2 * kTiB},
    {"bare bytes", "4096", 4096},
    {"zero", "0", 0},
    {"DataSize GB", "16GB", 16 * kGiB},
    {"DataSize MB", "512MB", 512 * kMiB},
    {"DataSize kB", "10kB", 10 * kKiB},
    {"DataSize B", "100B", 100},
    {"DataSize PB", "1PB", uint64_t{1} << 50},
    {"DataSize fraction", "1.5GB", kGiB + kGiB / 2},
    {"DataSize fraction rounds to the byte", "0.1kB", 102},
    {"DataSize with a blank before the unit", "8 GB", 8 * kGiB},
    {"surrounding blanks", "  16G\t", 16 * kGiB},
    {"largest", "18446744073709551615", UINT64_MAX},
    {"garbage", "lots", std::nullopt},
    {"empty", "", std::nullopt},
    {"unit alone", "G", std::nullopt},
    {"negative", "-1G", std::nullopt},
    {"unknown unit", "16X", std::nullopt},
    {"unit then junk", "16GBs", std::nullopt},
    {"dot without fraction", "1.G", std::nullopt},
    {"fraction without whole", ".5G", std::nullopt},
    {"two numbers", "1 2G", std::nullopt},
    {"too many digits", "99999999999999999999", std::nullopt},
    {"overflow through the unit", "16777216T", std::nullopt},
};

class TrinoSizeBytes : public ::testing::TestWithParam<SizeCase> {};

TEST_P(TrinoSizeBytes, Parses) {
  const SizeCase& test = GetParam();
  const Result<uint64_t> bytes = parse_size_bytes(test.text);
  if (test.bytes) {
    ASSERT_TRUE(bytes.ok()) << test.description << ": " << bytes.error().message;
    EXPECT_EQ(*bytes, *test.bytes) << test.description;
  } else {
    ASSERT_FALSE(bytes.ok()) << test.description << ": parsed as " << *bytes;
    EXPECT_THAT(bytes.error().message, ::testing::HasSubstr("'" + test.text + "'")) << test.description;
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, TrinoSizeBytes, ::testing::ValuesIn(kSizeCases), CaseName());

// ---- jvm.config

struct JvmCase {
  const char* description;
  std::string text;
  std::optional<uint64_t> max_heap_bytes;
  std::vector<std::string> warnings = {};
};

const std::vector<JvmCase> kJvmCases = {
    {"-Xmx16G", "-server\n-Xmx16G\n", 16 * kGiB},
    {"-Xmx16g", "-Xmx16g", 16 * kGiB},
    {"-Xmx in megabytes", "-Xmx512m", 512 * kMiB},
    {"absent", "-server\n-XX:MaxRAMPercentage=80\n", std::nullopt},
    {"empty file", "", std::nullopt},
    {"two: the last wins, as in the JVM", "-Xmx8G\n-XX:+UseG1GC\n-Xmx16g\n", 16 * kGiB},
    {"MaxHeapSize is the same flag", "-XX:MaxHeapSize=4g", 4 * kGiB},
    {"MaxHeapSize then -Xmx: the last wins", "-XX:MaxHeapSize=4g\n-Xmx2g", 2 * kGiB},
    {"-Xmx then MaxHeapSize: the last wins", "-Xmx2g\n-XX:MaxHeapSize=4g", 4 * kGiB},
    {"commented out", "#-Xmx4G\n", std::nullopt},
    {"blanks and CRLF around the option", "  -Xmx4G \r\n", 4 * kGiB},
    {"-Xms is not the maximum", "-Xms8G", std::nullopt},
    {"garbage: warned, the earlier value stands",
     "-Xmx4G\n-Xmxbig\n",
     4 * kGiB,
     {"jvm.config:2: -Xmx: expected a size like 16G, 512m or 1.5GB, got 'big'; ignored"}},
    {"empty -Xmx is garbage too",
     "\n\n-Xmx",
     std::nullopt,
     {"jvm.config:3: -Xmx: expected a size like 16G, 512m or 1.5GB, got ''; ignored"}},
};

class TrinoJvmConfig : public ::testing::TestWithParam<JvmCase> {};

TEST_P(TrinoJvmConfig, FindsTheHeapSize) {
  const JvmCase& test = GetParam();
  std::vector<std::string> warnings;
  const JvmConfig config = parse_jvm_config(test.text, "jvm.config", warnings);
  EXPECT_EQ(config.max_heap_bytes, test.max_heap_bytes) << test.description;
  EXPECT_EQ(warnings, test.warnings) << test.description;
}

INSTANTIATE_TEST_SUITE_P(Cases, TrinoJvmConfig, ::testing::ValuesIn(kJvmCases), CaseName());

TEST(TrinoJvmConfigOptions, KeepsOneArgumentPerLine) {
  std::vector<std::string> warnings;
  const JvmConfig config =
      parse_jvm_config("# heap\n-server\n\n  -Dfoo=a b  \n-Xmx1G\n", "jvm.config", warnings);
  EXPECT_EQ(config.options, (std::vector<std::string>{"-server", "-Dfoo=a b", "-Xmx1G"}));
}

// ---- Command lines

std::string nul_separated(const std::vector<std::string>& args) {
  std::string cmdline;
  for (const std::string& arg : args) {
    cmdline += arg;
    cmdline.push_back('\0');
  }
  return cmdline;
}

struct CmdlineCase {
  const char* description;
  std::string cmdline;
  std::optional<std::filesystem::path> etc_dir;
};

const std::vector<CmdlineCase> kCmdlineCases = {
    {"--etc-dir=DIR", "/usr/lib/trino/bin/launcher run --etc-dir=/x", "/x"},
    {"--etc-dir DIR", "/usr/lib/trino/bin/launcher run --etc-dir /x", "/x"},
    {"NUL-separated, a path with a space",
     nul_separated({"launcher", "--etc-dir", "/opt/trino etc", "run"}),
     "/opt/trino etc"},
    {"NUL-separated --etc-dir=DIR", nul_separated({"launcher", "--etc-dir=/etc/trino", "start"}), "/etc/trino"},
    {"the JVM the launcher execs: -Dconfig's directory",
     nul_separated({"java", "-cp", "/usr/lib/trino/lib/*", "-Xmx16G", "-Dnode.id=worker-1",
                    "-Dconfig=/etc/trino/config.properties", "-Dlog.levels-file=/etc/trino/log.properties",
                    "io.trino.server.TrinoServer"}),
     "/etc/trino"},
    {"the JVM, spaces", "java -Dconfig=/opt/trino/etc/config.properties io.trino.server.TrinoServer", "/opt/trino/etc"},
    {"--etc-dir wins over -Dconfig", "x -Dconfig=/a/config.properties --etc-dir=/b", "/b"},
    {"the last --etc-dir wins", "launcher --etc-dir=/a --etc-dir /b run", "/b"},
    {"relative, returned as given", "launcher --etc-dir etc run", "etc"},
    {"relative -Dconfig without a directory", "java -Dconfig=config.properties Main", "."},
    {"none", "java -Xmx1G io.trino.server.TrinoServer", std::nullopt},
    {"--etc-dir without a value", "launcher run --etc-dir", std::nullopt},
    {"--etc-dir= with an empty value", "launcher --etc-dir= run", std::nullopt},
    {"a longer option is not --etc-dir", "tool --etc-directory=/y", std::nullopt},
    {"-Dconfig= with an empty value", "java -Dconfig= Main", std::nullopt},
    {"empty", "", std::nullopt},
};

class TrinoEtcDirFromCmdline : public ::testing::TestWithParam<CmdlineCase> {};

TEST_P(TrinoEtcDirFromCmdline, Finds) {
  const CmdlineCase& test = GetParam();
  EXPECT_EQ(etc_dir_from_cmdline(test.cmdline), test.etc_dir) << test.description;
}

INSTANTIATE_TEST_SUITE_P(Cases, TrinoEtcDirFromCmdline, ::testing::ValuesIn(kCmdlineCases), CaseName());

// ---- etc/ fixtures

struct EtcCase {
  const char* description;
  std::string fixture;                 // a directory under tests/unit/fixtures/trino
  TrinoNodeInfo expected;              // etc_dir and files_read are checked apart
  std::vector<std::string> files_read;
  std::vector<std::string> warnings;   // each prefixed with the fixture's path + "/" (or exactly it, if "")
};

const std::vector<EtcCase> kEtcCases = {
    {"a coordinator",
     "coordinator",
     {.node_id = "coordinator-1",
      .environment = "production",
      .data_dir = "/var/lib/trino/data",
      .coordinator = true,
      .http_port = 8080,
      .discovery_uri = "http://coordinator-1.example.com:8080",
      .query_max_memory_per_node_bytes = 16 * kGiB,
      .max_heap_bytes = 64 * kGiB},
     {"config.properties", "node.properties", "jvm.config"},
     {}},
    {"a worker",
     "worker",
     {.node_id = "ffffffff-ffff-ffff-ffff-000000000007",
      .environment = "production",
      .data_dir = "/var/lib/trino/data",
      .coordinator = false,
      .http_port = 8081,
      .discovery_uri = "http://coordinator-1.example.com:8080",
      .query_max_memory_per_node_bytes = 8 * kGiB,
      .query_max_total_memory_per_node_bytes = 10 * kGiB,
      .max_heap_bytes = 32 * kGiB},
     {"config.properties", "node.properties", "jvm.config"},
     {}},
    {"missing files: a warning naming each, what is there is used",
     "only_node",
     {.node_id = "lonely-node", .environment = "test"},
     {"node.properties"},
     {"config.properties: cannot read: No such file or directory; the Trino settings in it are unknown",
      "jvm.config: cannot read: No such file or directory; the Trino settings in it are unknown"}},
    {"missing directory: one warning",
     "no_such_fixture",
     {},
     {},
     {": no such directory; no Trino settings are used (trino.etc_dir names Trino's etc directory)"}},
    {"malformed values: a warning naming file and line each, none used",
     "malformed",
     {},
     {"config.properties", "node.properties", "jvm.config"},
     {"config.properties:4: malformed \\uXXXX escape '\\u00zz'; line ignored",
      "node.properties:1: node.id: expected letters, digits, '_', '.' or '-' (it becomes a ZooKeeper znode name), "
      "got 'my node'; ignored",
      "node.properties:2: node.environment: '${ENV:TRINO_ENVIRONMENT}' names an environment variable, which only "
      "Trino's process sees; ignored",
      "config.properties:2: coordinator: expected true or false, got 'maybe'; ignored",
      "config.properties:3: http-server.http.port: expected a port number 1-65535, got '80a80'; ignored",
      "config.properties:5: query.max-memory-per-node: expected a size like 16G, 512m or 1.5GB, got 'lots'; ignored",
      "config.properties:6: query.max-total-memory-per-node: empty; ignored",
      "jvm.config:2: -Xmx: expected a size like 16G, 512m or 1.5GB, got 'huge'; ignored"}},
    {"every syntax: ':' and blank separators, continuations, escapes, comments, duplicates",
     "syntax",
     {.node_id = "worker-12",
      .environment = "staging",  // node.properties wins over config.properties, as -D flags do in Trino
      .data_dir = "/srv/trino/data",
      .coordinator = false,
      .http_port = 9090,  // given twice: the last wins
      .discovery_uri = "http://coordinator.example.com:8080",
      .query_max_memory_per_node_bytes = kGiB + kGiB / 2,
      .query_max_total_memory_per_node_bytes = 2 * kGiB,
      .max_heap_bytes = 16 * kGiB},
     {"config.properties", "node.properties", "jvm.config"},
     {}},
    {"keys config.properties leaves out take Trino's defaults",
     "trino_defaults",
     {.environment = "production",
      .coordinator = true,  // ServerConfig's default
      .http_port = 8080,    // airlift HttpServerConfig's default
      .discovery_uri = "http://localhost:8080"},
     {"config.properties", "node.properties", "jvm.config"},
     {}},
};

class TrinoReadEtc : public ::testing::TestWithParam<EtcCase> {};

TEST_P(TrinoReadEtc, Reads) {
  const EtcCase& test = GetParam();
  const std::filesystem::path dir = fixture(test.fixture);
  std::vector<std::string> warnings;
  const TrinoNodeInfo info = read_trino_etc(dir, warnings);
  const TrinoNodeInfo& want = test.expected;
  EXPECT_EQ(info.etc_dir, dir) << test.description;
  std::vector<std::filesystem::path> files;
  for (const std::string& name : test.files_read) files.push_back(dir / name);
  EXPECT_EQ(info.files_read, files) << test.description;
  EXPECT_EQ(info.found(), !files.empty()) << test.description;
  EXPECT_EQ(info.node_id, want.node_id) << test.description;
  EXPECT_EQ(info.environment, want.environment) << test.description;
  EXPECT_EQ(info.data_dir, want.data_dir) << test.description;
  EXPECT_EQ(info.coordinator, want.coordinator) << test.description;
  EXPECT_EQ(info.http_port, want.http_port) << test.description;
  EXPECT_EQ(info.discovery_uri, want.discovery_uri) << test.description;
  EXPECT_EQ(info.query_max_memory_per_node_bytes, want.query_max_memory_per_node_bytes) << test.description;
  EXPECT_EQ(info.query_max_total_memory_per_node_bytes, want.query_max_total_memory_per_node_bytes)
      << test.description;
  EXPECT_EQ(info.max_heap_bytes, want.max_heap_bytes) << test.description;
  std::vector<std::string> expected_warnings;
  for (const std::string& warning : test.warnings) {
    expected_warnings.push_back(dir.string() + (warning.starts_with(':') ? "" : "/") + warning);
  }
  EXPECT_EQ(warnings, expected_warnings) << test.description;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, TrinoReadEtc, ::testing::ValuesIn(kEtcCases), CaseName());

// ---- Into the effective config

struct ApplyCase {
  const char* description;
  Config config;
  TrinoNodeInfo info;
  std::string node_id;
  std::string role;
  std::vector<uint16_t> ports;
};

Config with(void (*change)(Config&)) {
  Config config;
  change(config);
  return config;
}

const TrinoNodeInfo kCoordinator = {.files_read = {"/etc/trino/config.properties"},
                                    .node_id = "coordinator-1",
                                    .coordinator = true,
                                    .http_port = 8080};
const TrinoNodeInfo kWorker = {.files_read = {"/etc/trino/config.properties"},
                               .node_id = "worker-7",
                               .coordinator = false,
                               .http_port = 8081};

const std::vector<ApplyCase> kApplyCases = {
    {"defaults take Trino's coordinator settings", Config{}, kCoordinator, "coordinator-1", "coordinator",
     {8080, 2181}},
    {"defaults take Trino's worker settings", Config{}, kWorker, "worker-7", "worker", {8081, 2181}},
    {"an explicit node.id wins", with([](Config& c) { c.node.id = "mine"; }), kWorker, "mine", "worker",
     {8081, 2181}},
    {"an explicit role wins", with([](Config& c) { c.node.role = "worker"; }), kCoordinator, "coordinator-1",
     "worker", {8080, 2181}},
    {"explicit ports stay", with([](Config& c) { c.network.ports = {9000}; }), kCoordinator, "coordinator-1",
     "coordinator", {9000}},
    {"no Trino config: id and role stay empty, ports are Trino's default 8080 and 2181", Config{}, TrinoNodeInfo{}, "",
     "", {8080, 2181}},
    {"unknown http port: Trino's default 8080 and 2181", Config{}, {.node_id = "n", .coordinator = false}, "n",
     "worker", {8080, 2181}},
    {"Trino on 2181 does not duplicate it", Config{}, {.http_port = 2181}, "", "", {2181}},
};

// An etc file over 1 MiB is not one of Trino's: refused whole. A FIFO where a file should be is
// read without waiting for a writer (as empty), so start-up cannot hang on it.
TEST(TrinoReadEtcFiles, AFileOverOneMebibyteIsRefusedAndAFifoDoesNotHang) {
  testing::TempDir etc("trino-etc");
  std::ofstream(etc / "node.properties") << "node.id=big-etc\nnode.environment=test\n";
  std::ofstream(etc / "config.properties") << "http-server.http.port=8080\n" << std::string(1 << 20, '#') << "\n";
  ASSERT_EQ(::mkfifo((etc / "jvm.config").c_str(), 0600), 0);
  std::vector<std::string> warnings;
  const TrinoNodeInfo info = read_trino_etc(etc.path(), warnings);
  EXPECT_EQ(info.node_id, "big-etc");
  EXPECT_EQ(info.http_port, std::nullopt) << "nothing of the refused file is used";
  EXPECT_THAT(warnings, ::testing::Contains((etc / "config.properties").string() +
                                            ": larger than 1048576 bytes; not read; the Trino settings in it are "
                                            "unknown"));
}

class TrinoApplyDefaults : public ::testing::TestWithParam<ApplyCase> {};

TEST_P(TrinoApplyDefaults, FillsOnlyDefaults) {
  const ApplyCase& test = GetParam();
  Config config = test.config;
  apply_trino_defaults(config, test.info);
  EXPECT_EQ(config.node.id, test.node_id) << test.description;
  EXPECT_EQ(config.node.role, test.role) << test.description;
  EXPECT_EQ(config.network.ports, test.ports) << test.description;
  EXPECT_EQ(config.trino.detected.node_id, test.info.node_id) << test.description;
  EXPECT_EQ(config.trino.detected.http_port, test.info.http_port) << test.description;
}

INSTANTIATE_TEST_SUITE_P(Cases, TrinoApplyDefaults, ::testing::ValuesIn(kApplyCases), CaseName());

Config parse_ok(const std::string& yaml) {
  Result<Config> config = parse_config(yaml, "cfg.yaml", {});
  if (!config.ok()) {
    ADD_FAILURE() << config.error().message;
    return Config{};
  }
  return std::move(config).value();
}

TEST(TrinoApplyDefaultsFromFiles, ExplicitConfigWinsOverTheFixture) {
  Config config = parse_ok("node:\n  id: from-yaml\n  role: worker\nnetwork:\n  ports: [7777]\n");
  std::vector<std::string> warnings;
  apply_trino_defaults(config, read_trino_etc(fixture("coordinator"), warnings));
  EXPECT_EQ(config.node.id, "from-yaml");
  EXPECT_EQ(config.node.role, "worker");
  EXPECT_EQ(config.network.ports, (std::vector<uint16_t>{7777}));
  // What the config did not take is still there for the heartbeat.
  EXPECT_EQ(config.trino.detected.node_id, "coordinator-1");
  EXPECT_EQ(config.trino.detected.environment, "production");
  EXPECT_EQ(config.trino.detected.max_heap_bytes, 64 * kGiB);
  EXPECT_TRUE(warnings.empty());
}

TEST(TrinoResolveSettings, TakesTrinosNodeIdAndRole) {
  Config config = parse_ok("trino:\n  etc_dir: " + fixture("worker").string() + "\n");
  const std::vector<std::string> warnings = resolve_trino_settings(config);
  EXPECT_TRUE(warnings.empty());
  EXPECT_EQ(config.node.id, "ffffffff-ffff-ffff-ffff-000000000007");
  EXPECT_EQ(config.node.role, "worker");
  EXPECT_EQ(config.network.ports, (std::vector<uint16_t>{8081, 2181}));
  EXPECT_EQ(config.trino.detected.discovery_uri, "http://coordinator-1.example.com:8080");
  EXPECT_TRUE(config.trino.warnings.empty());
}

TEST(TrinoResolveSettings, MissingEtcDirFallsBackToTheHostnameAndWarns) {
  Config config = parse_ok("trino:\n  etc_dir: " + fixture("no_such_fixture").string() + "\n");
  const std::vector<std::string> warnings = resolve_trino_settings(config);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_THAT(warnings[0], ::testing::HasSubstr("no_such_fixture: no such directory"));
  EXPECT_EQ(config.trino.warnings, warnings);
  EXPECT_EQ(config.node.id, host_name());
  EXPECT_EQ(config.node.role, "");
  EXPECT_EQ(config.network.ports, (std::vector<uint16_t>{8080, 2181}));
}

TEST(TrinoResolveSettings, EmptyEtcDirReadsNothingAndSaysNothing) {
  Config config = parse_ok("trino:\n  etc_dir: \"\"\n");
  EXPECT_TRUE(resolve_trino_settings(config).empty());
  EXPECT_FALSE(config.trino.detected.found());
  EXPECT_EQ(config.node.id, host_name());
}

TEST(TrinoResolveSettings, ExplicitNodeIdIsKept) {
  Config config = parse_ok("node:\n  id: pinned\ntrino:\n  etc_dir: " + fixture("coordinator").string() + "\n");
  EXPECT_TRUE(resolve_trino_settings(config).empty());
  EXPECT_EQ(config.node.id, "pinned");
  EXPECT_EQ(config.node.role, "coordinator");
}

}  // namespace
}  // namespace nodepulse
