// The net probe on the real kernel, inside network namespaces made for each test: cause real
// loss, resets and connect timeouts between them, and check what the probe counted for which
// peer — and that nothing is counted without the fault, or outside the cluster ports.
// No traffic leaves the test's namespaces.
#include "probes/net_probe.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <gtest/gtest.h>
#include <linux/sockios.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <functional>
#include <latch>
#include <optional>
#include <stop_token>
#include <thread>
#include <tuple>

#include "common/unique_fd.h"
#include "kernel_support.h"
#include "netns.h"
#include "process.h"

namespace nodepulse {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using testing::NetNamespace;
using testing::VethPair;

constexpr uint16_t kClusterPort = 8080;
constexpr uint16_t kOtherPort = 9090;

struct Endpoint {
  int family = AF_INET;
  std::string address;
  uint16_t port = 0;
};

socklen_t to_sockaddr(const Endpoint& at, sockaddr_storage& storage) {
  std::memset(&storage, 0, sizeof(storage));
  if (at.family == AF_INET) {
    auto* in = reinterpret_cast<sockaddr_in*>(&storage);
    in->sin_family = AF_INET;
    in->sin_port = htons(at.port);
    inet_pton(AF_INET, at.address.c_str(), &in->sin_addr);
    return sizeof(sockaddr_in);
  }
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&storage);
  in6->sin6_family = AF_INET6;
  in6->sin6_port = htons(at.port);
  inet_pton(AF_INET6, at.address.c_str(), &in6->sin6_addr);
  return sizeof(sockaddr_in6);
}

UniqueFd listen_in(const NetNamespace& ns, const Endpoint& at) {
  return ns.run_in([&] {
    UniqueFd fd(::socket(at.family, SOCK_STREAM | SOCK_CLOEXEC, 0));
    const int one = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_storage addr;
    const socklen_t length = to_sockaddr(at, addr);
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), length) != 0 || ::listen(fd.get(), 16) != 0) {
      throw std::runtime_error("listen on " + at.address + ":" + std::to_string(at.port) + ": " + std::strerror(errno));
    }
    return fd;
  });
}

struct ConnectOutcome {
  UniqueFd fd;
  int error = 0;  // 0 = connected, else the errno connect() failed with
  Clock::duration elapsed{};
};

// A non-blocking connect from inside `ns`, waited for at most `timeout`.
ConnectOutcome connect_from(const NetNamespace& ns, const Endpoint& to, std::chrono::milliseconds timeout) {
  ConnectOutcome outcome;
  const auto started = Clock::now();
  outcome.fd = ns.run_in([&] { return UniqueFd(::socket(to.family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)); });
  sockaddr_storage addr;
  const socklen_t length = to_sockaddr(to, addr);
  if (::connect(outcome.fd.get(), reinterpret_cast<sockaddr*>(&addr), length) == 0) return outcome;
  if (errno != EINPROGRESS) {
    outcome.error = errno;
    return outcome;
  }
  pollfd p{outcome.fd.get(), POLLOUT, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) {
    outcome.error = EINPROGRESS;  // still connecting when we gave up
  } else {
    socklen_t size = sizeof(outcome.error);
    ::getsockopt(outcome.fd.get(), SOL_SOCKET, SO_ERROR, &outcome.error, &size);
  }
  outcome.elapsed = Clock::now() - started;
  return outcome;
}

struct Transfer {
  uint64_t sent = 0;
  uint64_t received = 0;
  bool all_acknowledged = false;
  bool closed = false;  // both sides closed: the sender's counters are final
  tcp_info info{};      // of the sender, once closed (or at the deadline)
};

// tcpi_state of a closed socket (TCP_CLOSE of the kernel's include/net/tcp_states.h).
constexpr uint8_t kTcpClose = 7;

// Moments of a transfer a test can act at.
enum class TransferPhase {
  kConnected,     // the connection is open, nothing sent yet
  kAcknowledged,  // the receiver acknowledged every byte; the sender has not closed yet
  kClosed,        // both sides closed, `info` is final
};

// Sends `bytes` from `client` to a listener at `server` in `server_ns`, bounded by `deadline`.
// Once the receiver acknowledged all of it the sender closes its side, the receiver closes on
// the end of the stream, and the sender waits for its socket to close: its FIN may have been
// retransmitted too, and the state changes on the way let the probe count what it retransmitted.
Transfer transfer(const NetNamespace& client, const NetNamespace& server_ns, const Endpoint& server, uint64_t bytes,
                  std::chrono::seconds deadline, const std::function<void(TransferPhase)>& at = [](TransferPhase) {}) {
  const auto until = Clock::now() + deadline;
  auto remaining_ms = [&] {
    return static_cast<int>(std::max<int64_t>(
        0, std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count()));
  };
  Transfer result;
  UniqueFd listener = listen_in(server_ns, server);
  std::thread receiver([&] {
    pollfd p{listener.get(), POLLIN, 0};
    if (::poll(&p, 1, remaining_ms()) <= 0) return;
    UniqueFd conn(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    std::vector<char> buffer(1 << 16);
    for (;;) {
      pollfd r{conn.get(), POLLIN, 0};
      if (::poll(&r, 1, remaining_ms()) <= 0) return;
      const ssize_t n = ::read(conn.get(), buffer.data(), buffer.size());
      if (n <= 0) return;
      result.received += static_cast<uint64_t>(n);
    }
  });

  ConnectOutcome conn = connect_from(client, server, std::chrono::milliseconds(remaining_ms()));
  if (conn.error == 0) {
    at(TransferPhase::kConnected);
    std::vector<char> chunk(1 << 16, 'x');
    while (result.sent < bytes && remaining_ms() > 0) {
      pollfd w{conn.fd.get(), POLLOUT, 0};
      if (::poll(&w, 1, std::min(remaining_ms(), 100)) <= 0) continue;
      const size_t want = std::min<uint64_t>(chunk.size(), bytes - result.sent);
      const ssize_t n = ::send(conn.fd.get(), chunk.data(), want, MSG_NOSIGNAL);
      if (n > 0) result.sent += static_cast<uint64_t>(n);
    }
    while (remaining_ms() > 0) {
      int unacknowledged = -1;
      ::ioctl(conn.fd.get(), SIOCOUTQ, &unacknowledged);
      if (unacknowledged == 0) {
        result.all_acknowledged = result.sent == bytes;
        break;
      }
      std::this_thread::sleep_for(5ms);
    }
    at(TransferPhase::kAcknowledged);
    ::shutdown(conn.fd.get(), SHUT_WR);
    for (;;) {
      socklen_t size = sizeof(result.info);
      ::getsockopt(conn.fd.get(), IPPROTO_TCP, TCP_INFO, &result.info, &size);
      result.closed = result.info.tcpi_state == kTcpClose;
      if (result.closed || remaining_ms() == 0) break;
      std::this_thread::sleep_for(5ms);
    }
  }
  receiver.join();
  at(TransferPhase::kClosed);
  return result;
}

const NetPeerReading* find_peer(const NetReading& reading, const std::string& address) {
  for (const NetPeerReading& peer : reading.peers) {
    if (peer.address.to_string() == address) return &peer;
  }
  return nullptr;
}

NetPeerCounters counters_of(const NetReading& reading, const std::string& address) {
  const NetPeerReading* peer = find_peer(reading, address);
  return peer ? peer->counters : NetPeerCounters{};
}

std::string describe(const NetReading& reading) {
  std::string text;
  for (const NetPeerReading& p : reading.peers) {
    const NetPeerCounters& c = p.counters;
    text += p.address.to_string() + ": retransmits " + std::to_string(c.retransmits) + ", syn_retransmits " +
            std::to_string(c.syn_retransmits) + ", resets sent/received " + std::to_string(c.resets_sent) + "/" +
            std::to_string(c.resets_received) + ", connects ok/refused/timeout/other " +
            std::to_string(c.connects_ok) + "/" + std::to_string(c.connects_refused) + "/" +
            std::to_string(c.connects_timeout) + "/" + std::to_string(c.connects_other) + ", accepts " +
            std::to_string(c.accepts) + ", srtt " + std::to_string(p.srtt_us) + " us\n";
  }
  return text.empty() ? "no peers\n" : text;
}

// The fault that makes the kernel skip BPF program runs: a thread per CPU inside bpf() map calls.
// While a task is in one, the CPU's guard against BPF recursion is held, and no kprobe, uprobe or
// classic-tracepoint program runs in an interrupt or softirq on that CPU. A batch read of a large
// hash map holds it for the whole walk of its buckets. Holds from construction to destruction.
class BpfGuardHolders {
 public:
  BpfGuardHolders() {
    for (unsigned cpu = 0; cpu < thread_count_; ++cpu) {
      threads_.emplace_back([this](std::stop_token stop) {
        constexpr uint32_t kEntries = 1 << 16;
        UniqueFd map(bpf_map_create(BPF_MAP_TYPE_HASH, "np_guard", sizeof(uint32_t), sizeof(uint32_t), kEntries, nullptr));
        for (uint32_t key = 0; key < kEntries; ++key) bpf_map_update_elem(map.get(), &key, &key, BPF_ANY);
        std::vector<uint32_t> keys(kEntries), values(kEntries);
        filled_.count_down();
        while (!stop.stop_requested()) {
          uint32_t batch = 0, count = kEntries;
          bpf_map_lookup_batch(map.get(), nullptr, &batch, keys.data(), values.data(), &count, nullptr);
        }
      });
    }
    filled_.wait();
  }

 private:
  const unsigned thread_count_ = std::max(1u, std::thread::hardware_concurrency());
  std::latch filled_{thread_count_};   // every thread's map is full: the calls start
  std::vector<std::jthread> threads_;  // stopped and joined first, while filled_ still exists
};

class NetProbeTest : public ::testing::Test {
 protected:
  void SetUp() override { NODEPULSE_REQUIRE_ROOT(); }

  // kRawTp runs the probe as a 5.4 kernel would (auto paths on this kernel posing as 5.4);
  // kTracepoint as probes.attach=tracepoint does; kTpBtf as this kernel does.
  static std::unique_ptr<NetProbe> start_probe(const NetNamespace& ns, std::vector<uint16_t> ports = {kClusterPort},
                                               AttachPath attach = AttachPath::kTpBtf) {
    const bool as_5_4 = attach == AttachPath::kRawTp;
    NetProbe::Options options{.netns_path = ns.path(),
                              .ports = std::move(ports),
                              .kernel = as_5_4 ? std::optional(testing::as_linux_5_4()) : std::nullopt};
    if (attach == AttachPath::kTracepoint) options.paths.attach = AttachPath::kTracepoint;
    auto probe = NetProbe::start(options);
    if (!probe) throw std::runtime_error("net probe did not start: " + probe.error().message);
    return std::move(*probe);
  }

  // Reads after in-flight softirq work has landed.
  static NetReading settle_and_read(NetProbe& probe) {
    std::this_thread::sleep_for(50ms);
    auto reading = probe.read();
    if (!reading) throw std::runtime_error("net probe read failed: " + reading.error().message);
    return *reading;
  }

  // Runs the kernel skipped for any of the probe's programs (nodepulse_bpf_missed_runs_total).
  static uint64_t missed_runs(const NetProbe& probe) {
    uint64_t missed = 0;
    for (const ProgramStats& program : probe.program_stats()) missed += program.missed_runs;
    return missed;
  }
};

// IPv4 and IPv6, on every attach path.
class NetProbeFamilyTest : public NetProbeTest,
                           public ::testing::WithParamInterface<std::tuple<int, AttachPath>> {
 protected:
  int family() const { return std::get<0>(GetParam()); }
  AttachPath attach() const { return std::get<1>(GetParam()); }
  std::unique_ptr<NetProbe> start_probe(const NetNamespace& ns) { return NetProbeTest::start_probe(ns, {kClusterPort}, attach()); }
  bool v6() const { return family() == AF_INET6; }
  std::string address_a() const { return v6() ? VethPair::kAddress6A : VethPair::kAddressA; }
  std::string address_b() const { return v6() ? VethPair::kAddress6B : VethPair::kAddressB; }
  Endpoint on_b(uint16_t port) const { return {family(), address_b(), port}; }
  std::string iptables() const { return v6() ? "ip6tables" : "iptables"; }
  // The classic inet_sk_error_report record names no socket: errors of every namespace count
  // (a degraded line says so), so another test's errors toward the same address may add up.
  bool errors_of_every_namespace() const { return attach() == AttachPath::kTracepoint; }
  // The peers the watched namespace's sockets counted: on the classic path, peers with nothing
  // but errors (possibly another namespace's) are left out.
  NetReading own(NetReading reading) const {
    if (!errors_of_every_namespace()) return reading;
    std::erase_if(reading.peers, [](const NetPeerReading& peer) {
      NetPeerCounters c = peer.counters;
      c.errors_refused = c.errors_timeout = c.errors_reset = c.errors_other = 0;
      return !c.any();
    });
    return reading;
  }
};

std::string family_name(const ::testing::TestParamInfo<std::tuple<int, AttachPath>>& info) {
  const AttachPath path = std::get<1>(info.param);
  return std::string(std::get<0>(info.param) == AF_INET6 ? "IPv6" : "IPv4") +
         (path == AttachPath::kRawTp ? "RawTp" : path == AttachPath::kTracepoint ? "Tracepoint" : "");
}

TEST_F(NetProbeTest, LoadsEveryProgramThisKernelSupports) {
  NetNamespace ns("x");
  auto probe = start_probe(ns);
  std::vector<std::string> names;
  for (const ProgramStats& stats : probe->program_stats()) names.push_back(stats.name);
  std::sort(names.begin(), names.end());
  // This machine runs 6.18: every optional hook exists, and tcp_retransmit_skb has `err`.
  EXPECT_EQ(names, (std::vector<std::string>{"inet_sk_error_report", "inet_sock_set_state", "kfree_skb",
                                             "sock_rcvqueue_full", "tcp_probe", "tcp_receive_reset",
                                             "tcp_retransmit_skb_err", "tcp_send_reset"}));
  EXPECT_TRUE(probe->degraded().empty());
  EXPECT_EQ(probe->attach_path(), AttachPath::kTpBtf);
  const NetReading reading = settle_and_read(*probe);
  EXPECT_TRUE(reading.peers.empty()) << "a new namespace has no traffic:\n" << describe(reading);
  EXPECT_EQ(reading.failed_updates, 0u);
}

TEST_F(NetProbeTest, LoadsTheRawTracepointTwinsAsOnLinux54) {
  NetNamespace ns("x");
  auto probe = start_probe(ns, {kClusterPort}, AttachPath::kRawTp);
  std::vector<std::string> names;
  for (const ProgramStats& stats : probe->program_stats()) names.push_back(stats.name);
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"raw_inet_sk_error_report", "raw_inet_sock_set_state", "raw_kfree_skb",
                                             "raw_sock_rcvqueue_full", "raw_tcp_probe", "raw_tcp_receive_reset",
                                             "raw_tcp_retransmit_skb_err", "raw_tcp_send_reset"}));
  EXPECT_EQ(probe->attach_path(), AttachPath::kRawTp);
  EXPECT_NE(probe->paths().attach_reason.find("auto: tp_btf: no BPF tracing programs"), std::string::npos)
      << probe->paths().attach_reason;
}

const char* const kErrorsOfEveryNamespace =
    "classic tracepoints: inet_sk_error_report names no socket, so nodepulse_tcp_errors_total counts cluster-port "
    "errors of every network namespace, not only the watched one";

// probes.attach=tracepoint: classic tracepoint programs, and `check` is told what they lose.
TEST_F(NetProbeTest, LoadsTheClassicTracepointProgramsWhenForced) {
  NetNamespace ns("x");
  NetProbe::Options options{.netns_path = ns.path(), .ports = {kClusterPort}};
  options.paths.attach = AttachPath::kTracepoint;
  auto probe = NetProbe::start(options);
  ASSERT_TRUE(probe) << probe.error().message;
  std::vector<std::string> names;
  for (const ProgramStats& stats : (*probe)->program_stats()) names.push_back(stats.name);
  std::sort(names.begin(), names.end());
  // No sock_rcvqueue_full (its record names no socket; TCP does not reach it). tcp_probe's
  // record has skaddr on 6.18, so srtt sampling is not degraded here.
  EXPECT_EQ(names, (std::vector<std::string>{"tp_inet_sk_error_report", "tp_inet_sock_set_state", "tp_kfree_skb",
                                             "tp_tcp_probe", "tp_tcp_receive_reset", "tp_tcp_retransmit_skb",
                                             "tp_tcp_send_reset"}));
  EXPECT_EQ((*probe)->attach_path(), AttachPath::kTracepoint);
  EXPECT_EQ((*probe)->degraded(), std::vector<std::string>{kErrorsOfEveryNamespace});

  auto plan = NetProbe::plan(options);
  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_EQ(plan->attach, "tracepoint");
  EXPECT_EQ(plan->attach_reason, "forced by probes.attach");
  EXPECT_EQ(plan->degraded, std::vector<std::string>{kErrorsOfEveryNamespace});
  EXPECT_EQ((*probe)->paths().degraded, plan->degraded);
  const ProbeRequirements requirements = NetProbe::requirements(options);
  EXPECT_EQ(requirements.tracepoints,
            (std::vector<std::string>{"tcp/tcp_retransmit_skb", "tcp/tcp_send_reset", "tcp/tcp_receive_reset",
                                      "sock/inet_sock_set_state"}));
  EXPECT_TRUE(requirements.raw_tracepoints.empty());
  EXPECT_TRUE(requirements.btf_tracepoints.empty());
}

// auto on a kernel with classic tracepoints but neither tp_btf nor raw_tp takes the classic path.
TEST_F(NetProbeTest, AutoFallsBackToClassicTracepointsWithoutRawTracepoints) {
  NetNamespace ns("x");
  KernelSupport kernel = testing::as_linux_5_4();
  kernel.raw_tracepoints = false;
  const NetProbe::Options options{.netns_path = ns.path(), .ports = {kClusterPort}, .kernel = kernel};
  auto plan = NetProbe::plan(options);
  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_EQ(plan->attach, "tracepoint");
  EXPECT_NE(plan->attach_reason.find("raw_tp: no raw tracepoint programs"), std::string::npos) << plan->attach_reason;
  EXPECT_EQ(plan->degraded, std::vector<std::string>{kErrorsOfEveryNamespace});
  auto probe = NetProbe::start(options);
  ASSERT_TRUE(probe) << probe.error().message;
  EXPECT_EQ((*probe)->attach_path(), AttachPath::kTracepoint);
}

TEST_F(NetProbeTest, RefusesAPathThatIsNotANetworkNamespace) {
  const auto missing = network_namespace_inode("/var/run/netns/nodepulse-no-such-namespace");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("No such file"), std::string::npos) << missing.error().message;
  const auto regular = network_namespace_inode("/etc/hostname");
  ASSERT_FALSE(regular);
  EXPECT_NE(regular.error().message.find("not a namespace"), std::string::npos) << regular.error().message;
  const auto own = network_namespace_inode("");
  ASSERT_TRUE(own) << own.error().message;
  EXPECT_GT(*own, 0u);
}

// Ground truth of the same unit. tcp_retransmit_skb fires once per retransmitted skb, and with
// GSO (on here, as on any real host) one skb carries up to 64 KB of segments. The probe adds the
// skb's segment count (tcp_skb_pcount) at each hit, so it counts segments: the unit of the
// sender's own tcpi_total_retrans for this one connection, which it must match for the
// receiver's address (data retransmits plus any SYN retransmit: the 20% loss may hit the SYN
// too). Counting hits instead would fall short by the factor GSO packs. One correction: the
// kernel counts a retransmit before handing it to the device, the probe only the ones that left
// (err == 0); the device refusing one (veth backlog full) is what TCPRetransFail counts, and the
// namespace holds only this connection.
TEST_P(NetProbeFamilyTest, RetransmitsUnderLossMatchTheSendersOwnCount) {
  VethPair pair;
  // A 10 ms RTO floor instead of 200 ms keeps a lossy transfer short; it changes how fast TCP
  // recovers, not what is counted.
  pair.a().ip({v6() ? "-6" : "-4", "route", "replace", v6() ? "fd00:200::/64" : "10.200.0.0/24", "dev",
               VethPair::kDevice, "rto_min", "10ms"});
  pair.b().exec({iptables(), "-A", "INPUT", "-p", "tcp", "--dport", std::to_string(kClusterPort), "-m", "statistic",
                 "--mode", "random", "--probability", "0.2", "-j", "DROP"});
  auto probe = start_probe(pair.a());

  NetReading reading;
  // 2 MB: with GSO that is still dozens of packets for the loss to hit.
  const Transfer t = transfer(pair.a(), pair.b(), on_b(kClusterPort), 2 << 20, 20s, [&](TransferPhase phase) {
    if (phase == TransferPhase::kClosed) reading = settle_and_read(*probe);
  });
  ASSERT_TRUE(t.all_acknowledged) << "sent " << t.sent << ", received " << t.received;
  ASSERT_TRUE(t.closed) << "state " << int{t.info.tcpi_state};
  const NetPeerCounters peer = counters_of(reading, address_b());

  ASSERT_GE(t.info.tcpi_total_retrans, 20u) << "20% loss caused retransmits";
  EXPECT_EQ(peer.retransmits + peer.syn_retransmits, t.info.tcpi_total_retrans)
      << "runs the kernel counted as skipped " << missed_runs(*probe) << "\n"
      << describe(reading);
  EXPECT_EQ(peer.connects_ok, 1u);
  EXPECT_EQ(own(reading).peers.size(), 1u) << "only the receiver is a peer:\n" << describe(reading);
}

TEST_P(NetProbeFamilyTest, CleanTransferHasNoRetransmitsAndAnRtt) {
  VethPair pair;
  // No tail loss probes: when an ACK is a few ms late (a delayed ACK, a busy CPU), the sender
  // probes by retransmitting its last segment, a real retransmit without any loss.
  pair.a().sysctl("net/ipv4/tcp_early_retrans", "0");
  auto probe = start_probe(pair.a());

  // Even so, a machine busy with other work can delay an ACK past the RTO, or overflow the
  // veth backlog: a retransmit the kernel counts too. The probe must agree with the kernel on
  // every transfer, and a transfer the kernel saw no retransmit in must show none; up to three
  // tries to get such a transfer.
  uint64_t clean_transfers = 0;
  NetReading reading;
  for (int attempt = 0; attempt < 3 && clean_transfers == 0; ++attempt) {
    SCOPED_TRACE("attempt " + std::to_string(attempt));
    const NetPeerCounters before = counters_of(settle_and_read(*probe), address_b());
    const Transfer t = transfer(pair.a(), pair.b(), on_b(kClusterPort), 1 << 20, 20s, [&](TransferPhase phase) {
      if (phase == TransferPhase::kClosed) reading = settle_and_read(*probe);
    });
    ASSERT_TRUE(t.all_acknowledged) << "sent " << t.sent << ", received " << t.received;
    ASSERT_TRUE(t.closed) << "state " << int{t.info.tcpi_state};
    const NetPeerCounters after = counters_of(reading, address_b());
    EXPECT_EQ(after.retransmits - before.retransmits, t.info.tcpi_total_retrans) << describe(reading);
    EXPECT_EQ(after.syn_retransmits, 0u);
    EXPECT_EQ(after.connects_ok - before.connects_ok, 1u);
    if (t.info.tcpi_total_retrans == 0) ++clean_transfers;
  }
  ASSERT_EQ(clean_transfers, 1u) << "three transfers on a clean veth all had retransmits";

  const NetPeerReading* peer = find_peer(reading, address_b());
  ASSERT_NE(peer, nullptr) << describe(reading);
  EXPECT_EQ(peer->counters.resets_sent + peer->counters.resets_received, 0u);
  EXPECT_EQ(reading.connect_latency.count, peer->counters.connects_ok);
  EXPECT_LT(reading.connect_latency.sum_ns, reading.connect_latency.count * 100'000'000u) << "veth connects in µs";
  // A veth round trip is microseconds; the kernel's srtt and the probe's sample agree on that.
  EXPECT_GT(peer->srtt_us, 0u);
  EXPECT_LT(peer->srtt_us, 100'000u);
  EXPECT_GT(peer->srtt_at_ns, 0u);
}

TEST_P(NetProbeFamilyTest, ConnectToAClosedPortCountsResetsAndARefusedConnect) {
  VethPair pair;
  auto client_side = start_probe(pair.a());
  auto server_side = start_probe(pair.b());

  // Without the fault: a listener answers, the connection opens and closes cleanly.
  {
    UniqueFd listener = listen_in(pair.b(), on_b(kClusterPort));
    ConnectOutcome ok = connect_from(pair.a(), on_b(kClusterPort), 2s);
    ASSERT_EQ(ok.error, 0) << std::strerror(ok.error);
    UniqueFd accepted(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    ASSERT_TRUE(accepted.valid());
    ok.fd.reset();  // the client's FIN first; the server reads it and closes: no reset anywhere
    char byte;
    ASSERT_EQ(::read(accepted.get(), &byte, 1), 0);
  }
  NetReading client = settle_and_read(*client_side);
  const NetPeerCounters before = counters_of(client, address_b());
  EXPECT_EQ(before.connects_ok, 1u) << describe(client);
  EXPECT_EQ(before.connects_refused + before.resets_received + before.resets_sent, 0u) << describe(client);
  const NetPeerCounters server_before = counters_of(settle_and_read(*server_side), address_a());
  EXPECT_EQ(server_before.accepts, 1u);
  EXPECT_EQ(server_before.resets_sent + server_before.resets_received, 0u);

  // The fault: nobody listens any more.
  const ConnectOutcome refused = connect_from(pair.a(), on_b(kClusterPort), 2s);
  ASSERT_EQ(refused.error, ECONNREFUSED) << std::strerror(refused.error);
  client = settle_and_read(*client_side);
  const NetPeerCounters after = counters_of(client, address_b());
  EXPECT_EQ(after.connects_refused - before.connects_refused, 1u) << describe(client);
  EXPECT_EQ(after.resets_received - before.resets_received, 1u) << describe(client);
  if (errors_of_every_namespace()) {
    EXPECT_GE(after.errors_refused - before.errors_refused, 1u) << describe(client);
  } else {
    EXPECT_EQ(after.errors_refused - before.errors_refused, 1u) << describe(client);
  }
  EXPECT_EQ(after.connects_ok, 1u);
  EXPECT_EQ(after.connects_timeout + after.connects_other, 0u);

  const NetReading server = settle_and_read(*server_side);
  const NetPeerCounters server_after = counters_of(server, address_a());
  EXPECT_EQ(server_after.resets_sent - server_before.resets_sent, 1u) << "the server side answered the SYN with a reset:\n"
                                                                     << describe(server);
  EXPECT_EQ(server_after.accepts, 1u) << "only the first connection opened";
  // The client's error, in the client's namespace: the server side's probe counts it only when
  // the record names no socket to scope by namespace (what its degraded line says).
  const NetPeerCounters server_sees_client_error = counters_of(server, address_b());
  if (errors_of_every_namespace()) {
    EXPECT_GE(server_sees_client_error.errors_refused, 1u) << describe(server);
    EXPECT_EQ(server_side->degraded(), std::vector<std::string>{kErrorsOfEveryNamespace});
  } else {
    EXPECT_EQ(server_sees_client_error.errors_refused, 0u) << describe(server);
  }
}

TEST_P(NetProbeFamilyTest, SynBlackholeCountsATimeoutWithinFiveSeconds) {
  VethPair pair;
  pair.a().sysctl("net/ipv4/tcp_syn_retries", "1");  // also governs IPv6
  auto probe = start_probe(pair.a());
  UniqueFd listener = listen_in(pair.b(), on_b(kClusterPort));

  // Without the fault: the SYN is answered at once.
  const ConnectOutcome ok = connect_from(pair.a(), on_b(kClusterPort), 2s);
  ASSERT_EQ(ok.error, 0) << std::strerror(ok.error);
  NetReading reading = settle_and_read(*probe);
  EXPECT_EQ(counters_of(reading, address_b()).connects_timeout, 0u);
  EXPECT_EQ(counters_of(reading, address_b()).syn_retransmits, 0u);

  pair.b().exec({iptables(), "-A", "INPUT", "-p", "tcp", "--dport", std::to_string(kClusterPort), "--syn", "-j", "DROP"});
  // The timeout's events come from the retransmit timer's softirq. On the tracepoint path the
  // kernel skips a program while another BPF program, or any process's bpf() map call, holds that
  // CPU (what nodepulse_bpf_missed_runs_total counts): an attempt that lost events so is retried.
  for (int attempt = 1;; ++attempt) {
    const NetPeerCounters before = counters_of(reading, address_b());
    const uint64_t missed_before = missed_runs(*probe);
    const auto started = Clock::now();
    const ConnectOutcome timed_out = connect_from(pair.a(), on_b(kClusterPort), 5s);
    EXPECT_EQ(timed_out.error, ETIMEDOUT) << std::strerror(timed_out.error);
    reading = settle_and_read(*probe);
    EXPECT_LT(Clock::now() - started, 5s + 100ms);
    const uint64_t missed = missed_runs(*probe) - missed_before;
    if (missed > 0 && attempt < 3) {
      std::cerr << "attempt " << attempt << ": the kernel skipped " << missed << " runs of the probe; again\n";
      continue;
    }
    ASSERT_EQ(missed, 0u) << "every attempt lost events to the kernel's per-CPU BPF guard";
    const NetPeerCounters peer = counters_of(reading, address_b());
    EXPECT_EQ(peer.connects_timeout - before.connects_timeout, 1u) << describe(reading);
    if (errors_of_every_namespace()) {
      EXPECT_GE(peer.errors_timeout - before.errors_timeout, 1u) << describe(reading);
    } else {
      EXPECT_EQ(peer.errors_timeout - before.errors_timeout, 1u) << describe(reading);
    }
    EXPECT_GE(peer.syn_retransmits - before.syn_retransmits, 1u) << "the SYN was retried before giving up";
    EXPECT_EQ(peer.retransmits, 0u) << "SYN retries are not data retransmits";
    EXPECT_EQ(peer.connects_ok, 1u);
    EXPECT_EQ(peer.connects_refused + peer.connects_other, 0u);
    break;
  }
}

// The same faults on a port that is not a cluster port move nothing; the same fault on a
// cluster port, in the same namespaces, does (so the probe was able to see).
TEST_P(NetProbeFamilyTest, TrafficOnANonClusterPortCountsNothing) {
  VethPair pair;
  // One segment per packet: many packets, so the 20% loss surely hits some.
  pair.a().ip({"link", "set", VethPair::kDevice, "gso_max_segs", "1"});
  pair.a().ip({v6() ? "-6" : "-4", "route", "replace", v6() ? "fd00:200::/64" : "10.200.0.0/24", "dev",
               VethPair::kDevice, "rto_min", "10ms"});
  const std::vector<std::string> lose_a_fifth = {"INPUT", "-p", "tcp", "--dport", std::to_string(kOtherPort), "-m",
                                                 "statistic", "--mode", "random", "--probability", "0.2", "-j", "DROP"};
  auto with = [this](std::string action, const std::vector<std::string>& rule) {
    std::vector<std::string> argv{iptables(), std::move(action)};
    argv.insert(argv.end(), rule.begin(), rule.end());
    return argv;
  };
  pair.b().exec(with("-A", lose_a_fifth));
  auto client_side = start_probe(pair.a());
  auto server_side = start_probe(pair.b());

  const Transfer lossy = transfer(pair.a(), pair.b(), on_b(kOtherPort), 256 << 10, 20s);
  ASSERT_TRUE(lossy.all_acknowledged);
  ASSERT_GT(lossy.info.tcpi_total_retrans, 0u) << "the loss happened";
  // The refused connect must not lose its SYN: twice lost (1 in 25) outlasts its 2 s.
  pair.b().exec(with("-D", lose_a_fifth));
  const ConnectOutcome refused = connect_from(pair.a(), on_b(kOtherPort), 2s);
  ASSERT_EQ(refused.error, ECONNREFUSED);

  NetReading client = settle_and_read(*client_side);
  NetReading server = settle_and_read(*server_side);
  EXPECT_TRUE(own(client).peers.empty()) << describe(client);
  EXPECT_TRUE(own(server).peers.empty()) << describe(server);
  EXPECT_EQ(client.connect_latency.count, 0u);

  const ConnectOutcome refused_cluster = connect_from(pair.a(), on_b(kClusterPort), 2s);
  ASSERT_EQ(refused_cluster.error, ECONNREFUSED);
  client = settle_and_read(*client_side);
  EXPECT_EQ(counters_of(client, address_b()).connects_refused, 1u) << describe(client);
}

// A dual-stack socket (what a JVM opens by default) talking IPv4 through ::ffff:a.b.c.d is
// counted under the plain IPv4 address.
TEST_F(NetProbeTest, Ipv4MappedPeerOfADualStackSocketIsCountedAsIpv4) {
  VethPair pair;
  auto probe = start_probe(pair.a());
  const ConnectOutcome refused =
      connect_from(pair.a(), {AF_INET6, std::string("::ffff:") + VethPair::kAddressB, kClusterPort}, 2s);
  ASSERT_EQ(refused.error, ECONNREFUSED) << std::strerror(refused.error);
  const NetReading reading = settle_and_read(*probe);
  EXPECT_EQ(counters_of(reading, VethPair::kAddressB).connects_refused, 1u) << describe(reading);
  EXPECT_EQ(reading.peers.size(), 1u) << describe(reading);
}

// Ports are an input that can change while attached (e.g. Trino's HTTP port read later).
TEST_F(NetProbeTest, PortsCanChangeWhileAttached) {
  VethPair pair;
  auto probe = start_probe(pair.a(), {kClusterPort});
  const Endpoint other{AF_INET, VethPair::kAddressB, kOtherPort};
  ASSERT_EQ(connect_from(pair.a(), other, 2s).error, ECONNREFUSED);
  EXPECT_TRUE(settle_and_read(*probe).peers.empty());

  const std::vector<uint16_t> ports = {kClusterPort, kOtherPort};
  probe->set_ports(ports);
  ASSERT_EQ(connect_from(pair.a(), other, 2s).error, ECONNREFUSED);
  const NetReading reading = settle_and_read(*probe);
  EXPECT_EQ(counters_of(reading, VethPair::kAddressB).connects_refused, 1u) << describe(reading);
}

// The kernel skips a program's run while another holds the CPU's BPF guard. The fault:
// BpfGuardHolders while TCP's timers retransmit SYNs. Its signal: the probe's missed runs
// (nodepulse_bpf_missed_runs_total), and none without it.
TEST_F(NetProbeTest, RunsTheKernelSkipsAreCountedAsMissed) {
  VethPair pair;
  auto probe = start_probe(pair.a(), {kClusterPort}, AttachPath::kTracepoint);
  pair.b().exec({"iptables", "-A", "INPUT", "-p", "tcp", "--syn", "-j", "DROP"});
  const Endpoint blackhole{AF_INET, VethPair::kAddressB, kClusterPort};
  // 100 connects into the blackhole: a timer retries each SYN after 1 s. Returns the SYN retries
  // counted once all 100 are due, up to 2.5 s after the last connect.
  auto retried_syns = [&] {
    const uint64_t before = counters_of(settle_and_read(*probe), VethPair::kAddressB).syn_retransmits;
    std::vector<ConnectOutcome> pending;
    for (int i = 0; i < 100; ++i) pending.push_back(connect_from(pair.a(), blackhole, 0ms));
    const auto until = Clock::now() + 2500ms;
    uint64_t retried = 0;
    while (retried < 100 && Clock::now() < until) {
      retried = counters_of(settle_and_read(*probe), VethPair::kAddressB).syn_retransmits - before;
    }
    return retried;
  };

  EXPECT_GE(retried_syns(), 100u);
  EXPECT_EQ(missed_runs(*probe), 0u) << "nothing else holds the guard on a quiet machine";

  {
    BpfGuardHolders fault;
    for (int round = 0; round < 3 && missed_runs(*probe) == 0; ++round) retried_syns();
  }
  EXPECT_GT(missed_runs(*probe), 0u) << "up to 300 SYN retries beside threads in bpf() map calls";
}

// A retransmit whose run the kernel skipped still counts: the probe counts the socket's own
// total, at its next retransmit or state change. The fault: BpfGuardHolders during a lossy
// transfer on the classic-tracepoint path. Its signal: missed runs, with the count still the
// sender's own (RetransmitsUnderLossMatchTheSendersOwnCount is the same without the fault).
TEST_F(NetProbeTest, RetransmitsInRunsTheKernelSkippedAreStillCounted) {
  VethPair pair;
  pair.a().ip({"-4", "route", "replace", "10.200.0.0/24", "dev", VethPair::kDevice, "rto_min", "10ms"});
  // Data segments only: a SYN retry is counted as it happens, or not at all if its run is skipped.
  pair.b().exec({"iptables", "-A", "INPUT", "-p", "tcp", "--dport", std::to_string(kClusterPort), "!", "--syn", "-m",
                 "statistic", "--mode", "random", "--probability", "0.2", "-j", "DROP"});
  auto probe = start_probe(pair.a(), {kClusterPort}, AttachPath::kTracepoint);

  // From the open (whose start of the count must be seen) to the last data acknowledged; up to
  // three transfers until the kernel skipped a run, each counted exactly.
  const Endpoint receiver{AF_INET, VethPair::kAddressB, kClusterPort};
  for (int attempt = 0; attempt < 3 && missed_runs(*probe) == 0; ++attempt) {
    SCOPED_TRACE("attempt " + std::to_string(attempt));
    const uint64_t before = counters_of(settle_and_read(*probe), VethPair::kAddressB).retransmits;
    std::optional<BpfGuardHolders> fault;
    NetReading reading;
    const Transfer t = transfer(pair.a(), pair.b(), receiver, 4 << 20, 20s, [&](TransferPhase phase) {
      if (phase == TransferPhase::kConnected) fault.emplace();
      if (phase == TransferPhase::kAcknowledged) fault.reset();
      if (phase == TransferPhase::kClosed) reading = settle_and_read(*probe);
    });
    ASSERT_TRUE(t.all_acknowledged) << "sent " << t.sent << ", received " << t.received;
    ASSERT_TRUE(t.closed) << "state " << int{t.info.tcpi_state};
    ASSERT_GE(t.info.tcpi_total_retrans, 20u) << "20% loss caused retransmits";
    EXPECT_EQ(counters_of(reading, VethPair::kAddressB).retransmits - before, t.info.tcpi_total_retrans)
        << "runs the kernel skipped so far " << missed_runs(*probe) << "\n"
        << describe(reading);
  }
  EXPECT_GT(missed_runs(*probe), 0u) << "three lossy transfers beside threads in bpf() map calls";
}

INSTANTIATE_TEST_SUITE_P(Families, NetProbeFamilyTest,
                         ::testing::Combine(::testing::Values(AF_INET, AF_INET6),
                                            ::testing::Values(AttachPath::kTpBtf, AttachPath::kRawTp,
                                                              AttachPath::kTracepoint)),
                         family_name);

}  // namespace
}  // namespace nodepulse
