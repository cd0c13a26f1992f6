// The .deb for real, on this machine: cpack builds it from this build tree into a temp dir,
// dpkg installs it, the installed /usr/bin/nodepulse checks the shipped configs, the units pass
// `systemd-analyze verify`, the balancer runs as the package's unprivileged user, a reinstall (the upgrade path) keeps an edited conffile, and removal
// then purge leave nothing behind. It refuses to run where a nodepulse package, its config
// directory or its user already exist, and purges what it installed also when it fails.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <filesystem>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "http_client.h"
#include "process.h"
#include "services.h"

namespace nodepulse {
namespace {

using namespace std::chrono_literals;
using testing::ChildProcess;
using testing::TempDir;

struct CommandRun {
  std::string output;  // stdout and stderr
  int status = -1;     // exit status; -1 when killed or timed out
};

CommandRun run(const std::vector<std::string>& argv, const std::filesystem::path& output_file,
        std::chrono::seconds timeout = std::chrono::seconds(300)) {
  ChildProcess child = ChildProcess::spawn(argv, output_file.string());
  const std::optional<int> status = child.wait_for_exit(timeout);
  return {testing::file_text(output_file), status && WIFEXITED(*status) ? WEXITSTATUS(*status) : -1};
}

// "installed", "config-files", ...; "" when dpkg knows no nodepulse package.
std::string package_status(const std::filesystem::path& scratch) {
  const CommandRun query = run({"dpkg-query", "-W", "-f=${db:Status-Status}", "nodepulse"}, scratch);
  return query.status == 0 ? query.output : "";
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

bool user_exists(const std::string& name, const std::filesystem::path& scratch) {
  return run({"getent", "passwd", name}, scratch).status == 0;
}

// Purges the package if this test installed it, whatever happened in between.
class InstalledPackage {
 public:
  explicit InstalledPackage(std::filesystem::path scratch) : scratch_(std::move(scratch)) {}
  InstalledPackage(const InstalledPackage&) = delete;
  InstalledPackage& operator=(const InstalledPackage&) = delete;
  ~InstalledPackage() {
    if (installed_) run({"dpkg", "--purge", "nodepulse"}, scratch_ / "cleanup.out");
  }
  void installed() { installed_ = true; }
  void purged() { installed_ = false; }

 private:
  std::filesystem::path scratch_;
  bool installed_ = false;
};

#define REFUSE(message)                                                    \
  do {                                                                     \
    const char* ci = std::getenv("CI");                                    \
    if (ci && std::string(ci) == "true") FAIL() << (message);              \
    GTEST_SKIP() << (message);                                             \
  } while (0)

TEST(PackageInstall, InstallsChecksUpgradesAndRemovesCleanly) {
  NODEPULSE_REQUIRE_ROOT();
  for (const char* tool : {"/usr/bin/cpack", "/usr/bin/dpkg", "/usr/bin/dpkg-shlibdeps"}) {
    NODEPULSE_REQUIRE_BINARY(tool);
  }
  TempDir dir("package");
  const std::filesystem::path scratch = dir / "scratch.out";
  // Never touch what a developer installed on purpose.
  if (package_status(scratch) != "" && package_status(scratch) != "not-installed") {
    REFUSE("a nodepulse package is installed here (" + package_status(scratch) + "); not replacing it");
  }
  if (std::filesystem::exists("/etc/nodepulse")) REFUSE("/etc/nodepulse exists; not touching it");
  if (user_exists("nodepulse", scratch)) REFUSE("a user named nodepulse exists; not touching it");

  // cpack from this build tree, into the temp dir.
  const std::filesystem::path build_dir = std::filesystem::path(NODEPULSE_BINARY).parent_path();
  const CommandRun packed = run({"cpack", "-G", "DEB", "-B", (dir / "dist").string(), "--config",
                          (build_dir / "CPackConfig.cmake").string()},
                         dir / "cpack.out");
  ASSERT_EQ(packed.status, 0) << packed.output;
  std::filesystem::path deb;
  for (const auto& entry : std::filesystem::directory_iterator(dir / "dist")) {
    if (entry.path().extension() == ".deb") deb = entry.path();
  }
  ASSERT_FALSE(deb.empty()) << packed.output;
  const CommandRun info = run({"dpkg-deb", "--info", deb.string()}, dir / "info.out");
  ASSERT_EQ(info.status, 0) << info.output;
  EXPECT_NE(info.output.find("Package: nodepulse"), std::string::npos) << info.output;
  // Depends come from dpkg-shlibdeps: the libraries the binary links.
  for (const char* library : {"libbpf1", "libcap2", "libzookeeper-mt2", "libyaml-cpp0.7", "adduser"}) {
    EXPECT_NE(info.output.find(library), std::string::npos) << "Depends lacks " << library << ":\n" << info.output;
  }

  // Directories that exist now stay; everything else the package brings must go again.
  std::set<std::string> existed_before;
  const CommandRun contents = run({"dpkg-deb", "--contents", deb.string()}, dir / "contents.out");
  for (const std::string& line : lines_of(contents.output)) {
    const size_t path_at = line.find("./");
    if (path_at == std::string::npos) continue;
    std::string path = line.substr(path_at + 1);
    if (path.size() > 1 && path.back() == '/') path.pop_back();
    if (std::filesystem::exists(path)) existed_before.insert(path);
  }

  InstalledPackage package(dir.path());
  const CommandRun installed = run({"dpkg", "-i", deb.string()}, dir / "install.out");
  package.installed();
  ASSERT_EQ(installed.status, 0) << installed.output;
  ASSERT_EQ(package_status(scratch), "installed");
  const std::vector<std::string> files = lines_of(run({"dpkg", "-L", "nodepulse"}, dir / "files.out").output);
  const std::set<std::string> file_set(files.begin(), files.end());
  for (const char* expected : {"/usr/bin/nodepulse", "/etc/nodepulse/agent.yaml", "/etc/nodepulse/balancer.yaml",
                               "/lib/systemd/system/nodepulse-agent.service",
                               "/lib/systemd/system/nodepulse-balancer.service", "/usr/share/doc/nodepulse/README.md"}) {
    EXPECT_TRUE(file_set.contains(expected)) << expected << " is not in the package";
    EXPECT_TRUE(std::filesystem::exists(expected)) << expected << " was not installed";
  }
  // The README's links into docs/ resolve where the package puts it.
  const std::string readme = testing::file_text("/usr/share/doc/nodepulse/README.md");
  const std::regex doc_link(R"(\]\((docs/[^)#]+))");
  size_t doc_links = 0;
  for (auto it = std::sregex_iterator(readme.begin(), readme.end(), doc_link); it != std::sregex_iterator(); ++it) {
    ++doc_links;
    const std::string target = "/usr/share/doc/nodepulse/" + (*it)[1].str();
    EXPECT_TRUE(file_set.contains(target)) << "the README links " << (*it)[1] << ", which the package lacks";
  }
  EXPECT_GE(doc_links, 3u) << "the README links docs/design.md, metrics.md and balancers-and-alerts.md";
  const std::string conffiles =
      run({"dpkg-query", "-W", "-f=${Conffiles}", "nodepulse"}, dir / "conffiles.out").output;
  EXPECT_NE(conffiles.find("/etc/nodepulse/agent.yaml"), std::string::npos) << conffiles;
  EXPECT_NE(conffiles.find("/etc/nodepulse/balancer.yaml"), std::string::npos) << conffiles;
  EXPECT_TRUE(user_exists("nodepulse", scratch)) << "postinst did not create the balancer's user";

  // The installed binary, from its installed path, on the shipped configs.
  const CommandRun check = run({"/usr/bin/nodepulse", "check", "--config", "/etc/nodepulse/agent.yaml"}, dir / "check.out");
  EXPECT_EQ(check.status, 0) << check.output;
  EXPECT_NE(check.output.find("config: /etc/nodepulse/agent.yaml: ok"), std::string::npos) << check.output;
  const CommandRun balancer_config =
      run({"/usr/bin/nodepulse", "check", "--config", "/etc/nodepulse/balancer.yaml"}, dir / "check-balancer.out");
  EXPECT_NE(balancer_config.output.find("config: /etc/nodepulse/balancer.yaml: ok"), std::string::npos)
      << balancer_config.output;

  // The balancer as its unit runs it: user nodepulse, no capabilities, no_new_privs, the shipped
  // config (its own port here, so a running balancer elsewhere cannot interfere). It must come
  // up and serve /metrics while it retries ZooKeeper.
  const uint16_t balancer_port = testing::free_loopback_port();
  {
    ChildProcess balancer = ChildProcess::spawn(
        {"setpriv", "--reuid=nodepulse", "--regid=nodepulse", "--init-groups", "--inh-caps=-all",
         "--bounding-set=-all", "--no-new-privs", "/usr/bin/nodepulse", "balancer", "--config",
         "/etc/nodepulse/balancer.yaml", "--set", "balancer.listen=127.0.0.1:" + std::to_string(balancer_port)},
        (dir / "balancer.log").string());
    EXPECT_TRUE(testing::wait_until([&] { return testing::http_get(balancer_port, "/metrics").has_value(); }, 10s))
        << testing::file_text(dir / "balancer.log");
    EXPECT_EQ(::kill(balancer.pid(), 0), 0) << testing::file_text(dir / "balancer.log");
    testing::stop_child(balancer, 5s);
  }

  // The units: systemd's own checker (no systemd as PID 1 is needed for it).
  if (std::filesystem::exists("/usr/bin/systemd-analyze")) {
    for (const char* unit : {"/lib/systemd/system/nodepulse-agent.service",
                             "/lib/systemd/system/nodepulse-balancer.service"}) {
      const CommandRun verified = run({"systemd-analyze", "verify", unit}, dir / "verify.out");
      EXPECT_EQ(verified.status, 0) << unit << ":\n" << verified.output;
      EXPECT_EQ(verified.output.find("nodepulse"), std::string::npos) << unit << ":\n" << verified.output;
      const CommandRun security = run({"systemd-analyze", "security", "--offline=true", unit}, dir / "security.out");
      const std::vector<std::string> lines = lines_of(security.output);
      std::printf("%s: %s\n", unit, lines.empty() ? "?" : lines.back().c_str());
    }
  } else {
    REFUSE("systemd-analyze is missing (Debian: systemd); cannot verify the units");
  }

  // The upgrade path (dpkg -i over an installed version): an operator's edit to a conffile stays.
  const std::string edited = testing::file_text("/etc/nodepulse/agent.yaml") + "# edited by the operator\n";
  testing::write_text("/etc/nodepulse/agent.yaml", edited);
  const CommandRun upgraded = run({"dpkg", "-i", deb.string()}, dir / "upgrade.out");
  ASSERT_EQ(upgraded.status, 0) << upgraded.output;
  EXPECT_EQ(testing::file_text("/etc/nodepulse/agent.yaml"), edited);

  // Remove: every file goes but the conffiles; purge: those too, and the user.
  const CommandRun removed = run({"dpkg", "-r", "nodepulse"}, dir / "remove.out");
  ASSERT_EQ(removed.status, 0) << removed.output;
  for (const std::string& path : files) {
    if (existed_before.contains(path) || path.starts_with("/etc/nodepulse")) continue;
    EXPECT_FALSE(std::filesystem::exists(path)) << path << " is left after dpkg -r";
  }
  EXPECT_TRUE(std::filesystem::exists("/etc/nodepulse/agent.yaml")) << "dpkg -r keeps conffiles";
  const CommandRun purged = run({"dpkg", "--purge", "nodepulse"}, dir / "purge.out");
  ASSERT_EQ(purged.status, 0) << purged.output;
  package.purged();
  for (const std::string& path : files) {
    if (existed_before.contains(path)) continue;
    EXPECT_FALSE(std::filesystem::exists(path)) << path << " is left after dpkg --purge";
  }
  EXPECT_FALSE(std::filesystem::exists("/etc/nodepulse"));
  EXPECT_FALSE(std::filesystem::exists("/var/lib/nodepulse"));
  EXPECT_FALSE(user_exists("nodepulse", scratch)) << "purge left the nodepulse user";
  EXPECT_EQ(run({"getent", "group", "nodepulse"}, scratch).status, 2) << "purge left the nodepulse group";
  const std::string status = package_status(scratch);
  EXPECT_TRUE(status.empty() || status == "not-installed") << status;
}

}  // namespace
}  // namespace nodepulse
