// Net probe overhead: the same bounded veth transfers without and with the net probe, in one
// run, interleaved round by round (so machine drift hits both alike), then the cost per event of
// each BPF program from the kernel's BPF run-time statistics.
//
//   sudo build/bench/net_overhead [ROUNDS [SECONDS]]      (bench/net-overhead wraps this)
//   sudo NODEPULSE_BENCH_AA=1 bench/net-overhead ...      (no probe in either column: the noise)
//
// Everything runs in two network namespaces joined by a veth pair, made and removed here; no
// packet leaves them. The probe watches the sender's namespace with the transfer's port as a
// cluster port, so every packet goes through its full filter (the worst case: a cluster
// connection). Throughput is measured with BPF statistics off, as they add their own cost.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/utsname.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "common/unique_fd.h"
#include "netns.h"
#include "probes/bpf_util.h"
#include "probes/net_probe.h"

namespace nodepulse {
namespace {

using Clock = std::chrono::steady_clock;
using testing::NetNamespace;
using testing::VethPair;

constexpr uint16_t kPort = 8080;
constexpr uint64_t kMaxBytesPerTransfer = uint64_t{200} << 30;  // a bound besides the time

sockaddr_in address_b(uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  inet_pton(AF_INET, VethPair::kAddressB, &addr.sin_addr);
  return addr;
}

UniqueFd listen_on_b(const VethPair& pair) {
  return pair.b().run_in([] {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    const int one = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in addr = address_b(kPort);
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || ::listen(fd.get(), 128) != 0) {
      throw std::runtime_error(std::string("listen: ") + std::strerror(errno));
    }
    return fd;
  });
}

UniqueFd connect_from_a(const VethPair& pair, uint16_t port) {
  UniqueFd fd = pair.a().run_in([] { return UniqueFd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)); });
  sockaddr_in addr = address_b(port);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return UniqueFd();
  return fd;
}

// One TCP stream A -> B for `duration`; returns bytes per second received.
double stream(const VethPair& pair, const UniqueFd& listener, std::chrono::milliseconds duration) {
  UniqueFd sender = connect_from_a(pair, kPort);
  if (!sender.valid()) throw std::runtime_error("connect failed");
  UniqueFd receiver(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    std::vector<char> chunk(256 << 10, 'x');
    uint64_t sent = 0;
    while (!stop.load(std::memory_order_relaxed) && sent < kMaxBytesPerTransfer) {
      const ssize_t n = ::send(sender.get(), chunk.data(), chunk.size(), MSG_NOSIGNAL);
      if (n <= 0) break;
      sent += static_cast<uint64_t>(n);
    }
    ::shutdown(sender.get(), SHUT_WR);
  });
  std::vector<char> buffer(256 << 10);
  uint64_t received = 0;
  const auto started = Clock::now();
  const auto until = started + duration;
  while (Clock::now() < until) {
    pollfd p{receiver.get(), POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    const ssize_t n = ::read(receiver.get(), buffer.data(), buffer.size());
    if (n <= 0) break;
    received += static_cast<uint64_t>(n);
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  stop = true;
  // Drain so the writer's last send returns.
  while (::read(receiver.get(), buffer.data(), buffer.size()) > 0) {
  }
  writer.join();
  return static_cast<double>(received) / seconds;
}

// Short connections: `count` opens and closes on the cluster port, and `count` refused opens.
void churn(const VethPair& pair, const UniqueFd& listener, int count) {
  for (int i = 0; i < count; ++i) {
    UniqueFd client = connect_from_a(pair, kPort);
    UniqueFd server(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  }
  for (int i = 0; i < count; ++i) connect_from_a(pair, kPort + 1);  // nobody listens: reset
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

// An empty program (r0 = 0; exit) on a raw tracepoint: what the kernel's statistics report for
// doing nothing, the floor under every ns/event figure.
struct FloorProgram {
  UniqueFd program;
  UniqueFd link;
};

FloorProgram attach_floor(const char* tracepoint) {
  const bpf_insn instructions[] = {
      {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .src_reg = 0, .off = 0, .imm = 0},
      {.code = BPF_JMP | BPF_EXIT, .dst_reg = 0, .src_reg = 0, .off = 0, .imm = 0},
  };
  FloorProgram floor;
  floor.program = UniqueFd(bpf_prog_load(BPF_PROG_TYPE_RAW_TRACEPOINT, "floor", "GPL", instructions, 2, nullptr));
  if (!floor.program.valid()) throw std::runtime_error(std::string("loading the floor program: ") + std::strerror(errno));
  floor.link = UniqueFd(bpf_raw_tracepoint_open(tracepoint, floor.program.get()));
  if (!floor.link.valid()) throw std::runtime_error(std::string("attaching the floor program: ") + std::strerror(errno));
  return floor;
}

ProgramStats floor_stats(const FloorProgram& floor) {
  bpf_prog_info info{};
  uint32_t length = sizeof(info);
  bpf_obj_get_info_by_fd(floor.program.get(), &info, &length);
  return {"(empty program on tcp_probe: the floor)", info.run_time_ns, info.run_cnt};
}

std::unique_ptr<NetProbe> start_probe(const VethPair& pair) {
  const std::vector<uint16_t> ports = {kPort, kPort + 1};
  auto probe = NetProbe::start({.netns_path = pair.a().path(), .ports = ports});
  if (!probe) throw std::runtime_error(probe.error().message);
  return std::move(*probe);
}

int run(int rounds, int seconds) {
  // NODEPULSE_BENCH_AA=1: both columns without the probe, to see how far apart two identical
  // configurations land on this machine (the noise the probe's figure sits in).
  const bool noise_check = std::getenv("NODEPULSE_BENCH_AA") != nullptr;
  VethPair pair;
  UniqueFd listener = listen_on_b(pair);
  const std::chrono::milliseconds duration(seconds * 1000);

  // Warm-up: the first stream of a fresh pair is slower (caches, cwnd history).
  stream(pair, listener, std::chrono::milliseconds(500));

  std::map<std::string, std::vector<double>> throughput;
  for (int round = 1; round <= rounds; ++round) {
    // Alternate which mode goes first, so neither always follows the other.
    const bool probe_first = round % 2 == 0;
    for (int i = 0; i < 2; ++i) {
      const bool with_probe = (i == 0) == probe_first;
      std::unique_ptr<NetProbe> probe;
      if (with_probe && !noise_check) probe = start_probe(pair);
      // Loading, attaching and freeing BPF programs leave deferred kernel work (RCU callbacks,
      // text patching of the tracepoints) behind; let it finish before measuring.
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      throughput[with_probe ? "probe" : "none"].push_back(stream(pair, listener, duration));
    }
    std::fprintf(stderr, "round %d/%d done\n", round, rounds);
  }

  // Cost per event, with BPF statistics on: a stream (tcp_probe on every data segment and ACK),
  // connection churn (state changes, resets), and a stream under 2% loss (retransmits); then the
  // same stream again with the port not a cluster port (what all other traffic costs).
  auto stats_fd = enable_bpf_stats();
  if (!stats_fd) throw std::runtime_error(stats_fd.error().message);
  auto probe = start_probe(pair);
  const FloorProgram floor = attach_floor("tcp_probe");
  const auto total_ns = [](const std::vector<ProgramStats>& all) {
    uint64_t sum = 0;
    for (const ProgramStats& p : all) sum += p.run_time_ns;
    return sum;
  };
  const uint64_t busy_before = total_ns(probe->program_stats());
  const uint64_t floor_busy_before = floor_stats(floor).run_time_ns;
  const double stats_stream_bytes_per_s = stream(pair, listener, duration);
  const double busy_ms_per_s =
      static_cast<double>(total_ns(probe->program_stats()) - busy_before) / 1e6 / seconds;
  const double floor_ms_per_s = static_cast<double>(floor_stats(floor).run_time_ns - floor_busy_before) / 1e6 / seconds;
  churn(pair, listener, 2000);
  pair.b().exec({"iptables", "-A", "INPUT", "-p", "tcp", "--dport", std::to_string(kPort), "-m", "statistic",
                 "--mode", "random", "--probability", "0.02", "-j", "DROP"});
  stream(pair, listener, duration);
  pair.b().exec({"iptables", "-F", "INPUT"});
  std::vector<ProgramStats> programs = probe->program_stats();
  std::sort(programs.begin(), programs.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  programs.push_back(floor_stats(floor));

  const std::vector<uint16_t> no_cluster_port = {1};
  probe->set_ports(no_cluster_port);
  const auto find = [](const std::vector<ProgramStats>& all, const std::string& name) {
    return *std::find_if(all.begin(), all.end(), [&](const ProgramStats& p) { return p.name == name; });
  };
  const ProgramStats probe_before = find(probe->program_stats(), "tcp_probe");
  const ProgramStats floor_before = floor_stats(floor);
  stream(pair, listener, duration);
  const ProgramStats probe_after = find(probe->program_stats(), "tcp_probe");
  const ProgramStats floor_after = floor_stats(floor);
  const ProgramStats other_traffic{"tcp_probe, traffic on other ports", probe_after.run_time_ns - probe_before.run_time_ns,
                                   probe_after.run_count - probe_before.run_count};
  const ProgramStats other_floor{"(the floor, same stream)", floor_after.run_time_ns - floor_before.run_time_ns,
                                 floor_after.run_count - floor_before.run_count};
  programs.push_back(other_traffic);
  programs.push_back(other_floor);

  utsname host{};
  ::uname(&host);
  const double none = median(throughput["none"]);
  const double with_probe = median(throughput["probe"]);
  double load[3] = {};
  ::getloadavg(load, 3);
  std::printf("command: sudo %sbench/net-overhead %d %d   (kernel %s, %u CPUs, load average %.1f, median of %d "
              "interleaved rounds of %d s)\n\n",
              noise_check ? "NODEPULSE_BENCH_AA=1 " : "", rounds, seconds, host.release,
              std::thread::hardware_concurrency(), load[0], rounds, seconds);
  std::printf("| veth TCP stream A->B, port %u, GSO on | no probe | net probe |\n|---|---|---|\n", kPort);
  auto range = [](const std::vector<double>& v) {
    const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
    char text[64];
    std::snprintf(text, sizeof(text), "%.2f-%.2f", *lo * 8 / 1e9, *hi * 8 / 1e9);
    return std::string(text);
  };
  std::printf("| median Gbit/s (min-max) | %.2f (%s) | %.2f (%s) |\n", none * 8 / 1e9, range(throughput["none"]).c_str(),
              with_probe * 8 / 1e9, range(throughput["probe"]).c_str());
  std::printf("| ratio of the medians probe/none | 1 | %.4f (%+.2f%%) |\n", with_probe / none, (with_probe / none - 1) * 100);
  // Each round's two runs are neighbours in time: their ratio cancels drift slower than a round.
  std::vector<double> ratios;
  for (size_t i = 0; i < throughput["none"].size(); ++i) ratios.push_back(throughput["probe"][i] / throughput["none"][i]);
  const auto [lowest, highest] = std::minmax_element(ratios.begin(), ratios.end());
  std::printf("| median of the per-round ratios (min-max) | 1 | %.4f (%+.2f%%; %.3f-%.3f) |\n\n", median(ratios),
              (median(ratios) - 1) * 100, *lowest, *highest);
  std::printf("BPF run time of all net programs while streaming (%.2f Gbit/s, statistics on): %.2f ms per second = "
              "%.2f%% of one CPU; an empty program on tcp_probe over the same segments: %.2f ms per second.\n\n",
              stats_stream_bytes_per_s * 8 / 1e9, busy_ms_per_s, busy_ms_per_s / 10, floor_ms_per_s);
  std::printf("| program | events | ns/event |\n|---|---|---|\n");
  for (const ProgramStats& p : programs) {
    if (p.run_count == 0) {
      std::printf("| %s | 0 | - |\n", p.name.c_str());
    } else {
      std::printf("| %s | %llu | %.0f |\n", p.name.c_str(), static_cast<unsigned long long>(p.run_count),
                  static_cast<double>(p.run_time_ns) / static_cast<double>(p.run_count));
    }
  }
  return 0;
}

}  // namespace
}  // namespace nodepulse

int main(int argc, char** argv) {
  if (::geteuid() != 0) {
    std::fprintf(stderr, "run as root\n");
    return 1;
  }
  const int rounds = argc > 1 ? std::atoi(argv[1]) : 7;
  const int seconds = argc > 2 ? std::atoi(argv[2]) : 2;
  if (rounds < 1 || rounds > 100 || seconds < 1 || seconds > 60) {
    std::fprintf(stderr, "usage: %s [ROUNDS 1-100 [SECONDS 1-60]]\n", argv[0]);
    return 2;
  }
  try {
    return nodepulse::run(rounds, seconds);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "net-overhead: %s\n", e.what());
    return 1;
  }
}
