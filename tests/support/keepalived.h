// A real keepalived (VRRP only) for tests, inside a network namespace the test made:
// `ip netns exec NS keepalived -n -l -G -P -f CFG -p PID -r VRRP_PID`, with its own pid files
// and log in a temporary directory. `ip netns exec` execs keepalived, so the child's PID is
// keepalived's own parent process; it is stopped by that PID (SIGTERM, then SIGKILL after
// ~2 s, which keepalived needs to leave cleanly) when the owner goes.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>

#include "netns.h"
#include "process.h"
#include "services.h"

namespace nodepulse::testing {

inline constexpr const char* kKeepalivedBinary = "/usr/sbin/keepalived";

struct VrrpInstanceSpec {
  std::string router_id;        // "a" / "b"
  std::string interface;        // "veth0"
  std::string source_address;   // this node's address
  std::string peer_address;     // the other node's
  std::string virtual_address;  // "10.200.0.100/24"
  int priority = 100;
  std::string track_file;       // "" = none; else tracked with `weight`
  int track_weight = 1;
};

// VRRPv3 with 100 ms adverts and unicast peers: a track-file change fails over in ~0.4 s.
inline std::string keepalived_config(const VrrpInstanceSpec& spec) {
  std::string config = "global_defs {\n  router_id np_" + spec.router_id +
                       "\n  vrrp_version 3\n}\n";
  if (!spec.track_file.empty()) {
    config += "track_file nodepulse {\n  file " + spec.track_file + "\n  weight " + std::to_string(spec.track_weight) +
              "\n}\n";
  }
  config += "vrrp_instance VI_NP {\n  state BACKUP\n  interface " + spec.interface +
            "\n  virtual_router_id 51\n  priority " + std::to_string(spec.priority) +
            "\n  advert_int 0.1\n  unicast_src_ip " + spec.source_address + "\n  unicast_peer {\n    " +
            spec.peer_address + "\n  }\n  virtual_ipaddress {\n    " + spec.virtual_address + " dev " +
            spec.interface + "\n  }\n";
  if (!spec.track_file.empty()) config += "  track_file {\n    nodepulse\n  }\n";
  config += "}\n";
  return config;
}

class Keepalived {
 public:
  Keepalived(const NetNamespace& ns, const VrrpInstanceSpec& spec) : dir_("keepalived-" + spec.router_id) {
    write_text(dir_ / "keepalived.conf", keepalived_config(spec));
    child_.emplace(ChildProcess::spawn({"ip", "netns", "exec", ns.name(), kKeepalivedBinary, "-n", "-l", "-G", "-D",
                                        "-P", "-f", (dir_ / "keepalived.conf").string(), "-p",
                                        (dir_ / "keepalived.pid").string(), "-r", (dir_ / "vrrp.pid").string()},
                                       (dir_ / "keepalived.log").string()));
  }
  Keepalived(const Keepalived&) = delete;
  Keepalived& operator=(const Keepalived&) = delete;
  ~Keepalived() {
    if (child_) stop_child(*child_, std::chrono::milliseconds(2500));
  }

  bool running() {
    return child_ && !child_->wait_for_exit(std::chrono::milliseconds(0)).has_value();
  }
  std::string log() const { return file_text(dir_ / "keepalived.log"); }

 private:
  TempDir dir_;
  std::optional<ChildProcess> child_;
};

// True if `address` (without prefix) is on `device` in namespace `ns`.
inline bool has_address(const NetNamespace& ns, const std::string& device, const std::string& address) {
  const CommandResult result = run_command({"ip", "-n", ns.name(), "-4", "addr", "show", "dev", device});
  return result.status == 0 && result.output.find("inet " + address + "/") != std::string::npos;
}

}  // namespace nodepulse::testing
