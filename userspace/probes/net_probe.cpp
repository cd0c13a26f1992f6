#include "probes/net_probe.h"

#include <bpf/btf.h>
#include <fcntl.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "probes/bpf_util.h"
#include "probes/net_decode.h"
#include "net.skel.h"

namespace nodepulse {

using NetSkeleton = SkeletonPtr<net_bpf, net_bpf__destroy>;

struct NetProbe::Impl {
  NetSkeleton skeleton;
  uint32_t netns_inode = 0;
  std::vector<std::string> degraded;
  AttachPath attach = AttachPath::kTpBtf;
  ProbePlan plan;
};

namespace {

using BtfPtr = std::unique_ptr<btf, decltype(&btf__free)>;

// How many arguments the tracepoint `name` passes (its BTF prototype minus the context pointer),
// or -1 when this kernel has no such BTF tracepoint. Tracepoints gain arguments over kernel
// versions; a program may only read the ones that exist.
int tracepoint_arity(const btf* vmlinux, const std::string& name) {
  if (!vmlinux) return -1;
  const int id = btf__find_by_name_kind(vmlinux, ("btf_trace_" + name).c_str(), BTF_KIND_TYPEDEF);
  if (id < 0) return -1;
  const btf_type* type = btf__type_by_id(vmlinux, btf__resolve_type(vmlinux, static_cast<uint32_t>(id)));
  if (!type || !btf_is_ptr(type)) return -1;
  const btf_type* proto = btf__type_by_id(vmlinux, type->type);
  if (!proto || !btf_is_func_proto(proto)) return -1;
  return static_cast<int>(btf_vlen(proto)) - 1;
}

struct ProgramChoice {
  PathChoice<AttachPath> attach{AttachPath::kTpBtf, ""};
  bool retransmit_has_err = false;  // 6.13+: tcp_retransmit_skb also fires for failed attempts
  bool error_report = false;        // 5.15+: inet_sk_error_report
  bool kfree_skb_rx_sk = false;     // 6.11+: kfree_skb names the receiving socket
  bool tcp_probe = true;            // classic path: only when tcp_probe's record has skaddr
  std::vector<std::string> degraded;
};

const KernelSupport& kernel_of(const NetProbe::Options& options) {
  return options.kernel ? *options.kernel : KernelSupport::detect();
}

Result<PathChoice<AttachPath>> choose_attach(const NetProbe::Options& options) {
  return choose_attach_path(options.paths.attach, kernel_of(options));
}

Result<ProgramChoice> choose_programs(const NetProbe::Options& options) {
  ProgramChoice choice;
  auto attach = choose_attach(options);
  if (!attach) return attach.error();
  choice.attach = *attach;
  BtfPtr vmlinux(btf__load_vmlinux_btf(), &btf__free);
  choice.retransmit_has_err = tracepoint_arity(vmlinux.get(), "tcp_retransmit_skb") >= 3;
  choice.error_report = tracepoint_arity(vmlinux.get(), "inet_sk_error_report") >= 1;
  choice.kfree_skb_rx_sk = tracepoint_arity(vmlinux.get(), "kfree_skb") >= 4;
  if (!choice.error_report) {
    choice.degraded.push_back("no inet_sk_error_report tracepoint (kernel < 5.15): nodepulse_tcp_errors_total stays 0");
  }
  if (!choice.kfree_skb_rx_sk) {
    choice.degraded.push_back(
        "kfree_skb does not name the receiving socket (kernel < 6.11): TCP receive-buffer drops are not counted");
  }
  if (choice.attach.path == AttachPath::kTracepoint) {
    // The classic records of these two carry addresses and ports but no socket.
    if (choice.error_report) {
      choice.degraded.push_back(
          "classic tracepoints: inet_sk_error_report names no socket, so nodepulse_tcp_errors_total counts "
          "cluster-port errors of every network namespace, not only the watched one");
    }
    choice.tcp_probe = kernel_struct_has_member("trace_event_raw_tcp_probe", "skaddr");
    if (!choice.tcp_probe) {
      choice.degraded.push_back(
          "classic tracepoints: tcp_probe names no socket on this kernel, so nodepulse_tcp_srtt_seconds is sampled "
          "only at connects, accepts and retransmits");
    }
  }
  return choice;
}

void write_ports(net_bpf* skel, std::span<const uint16_t> ports) {
  const std::vector<uint64_t> bitmap = port_bitmap(ports);
  static_assert(sizeof(skel->bss->cluster_ports) == NP_NET_PORT_WORDS * sizeof(uint64_t));
  // Word by word: a program reading meanwhile sees each word old or new, never torn.
  for (size_t i = 0; i < bitmap.size(); ++i) skel->bss->cluster_ports[i] = bitmap[i];
}

ProbePlan plan_of(const ProgramChoice& choice) {
  return {.attach = attach_path_name(choice.attach.path),
          .attach_reason = choice.attach.reason,
          .events = "none",
          .events_reason = "counters in maps only",
          .degraded = choice.degraded};
}

Result<NetSkeleton> open_and_load(const NetProbe::Options& options, uint32_t netns_inode, const ProgramChoice& choice) {
  NetSkeleton skeleton(net_bpf__open());
  if (!skeleton) return errno_error("opening the net BPF object", errno);
  if (skeleton->rodata->abi_version != NP_NET_ABI_VERSION) {
    return Error{"net BPF object has ABI version " + std::to_string(skeleton->rodata->abi_version) +
                 ", this agent expects " + std::to_string(NP_NET_ABI_VERSION) + " (stale build?)"};
  }
  skeleton->rodata->netns_ino = netns_inode;
  skeleton->rodata->srtt_sample_interval_ns = options.srtt_sample_interval_ns;
  write_ports(skeleton.get(), options.ports);
  if (int err = bpf_map__set_max_entries(skeleton->maps.peers, std::max<uint32_t>(options.peer_table_entries, 64))) {
    return errno_error("sizing the net peers table", err);
  }
  skeleton->rodata->has_probe_read_kernel = kernel_of(options).probe_read_kernel ? 1 : 0;
  const auto& progs = skeleton->progs;
  const bool btf = choice.attach.path == AttachPath::kTpBtf;
  const bool raw = choice.attach.path == AttachPath::kRawTp;
  const bool classic = choice.attach.path == AttachPath::kTracepoint;
  const auto load = [](bpf_program* program, bool on) { bpf_program__set_autoload(program, on); };
  load(progs.tcp_retransmit_skb, btf && !choice.retransmit_has_err);
  load(progs.tcp_retransmit_skb_err, btf && choice.retransmit_has_err);
  load(progs.tcp_send_reset, btf);
  load(progs.tcp_receive_reset, btf);
  load(progs.inet_sock_set_state, btf);
  load(progs.inet_sk_error_report, btf && choice.error_report);
  load(progs.tcp_probe, btf);
  load(progs.sock_rcvqueue_full, btf);
  load(progs.kfree_skb, btf && choice.kfree_skb_rx_sk);
  load(progs.raw_tcp_retransmit_skb, raw && !choice.retransmit_has_err);
  load(progs.raw_tcp_retransmit_skb_err, raw && choice.retransmit_has_err);
  load(progs.raw_tcp_send_reset, raw);
  load(progs.raw_tcp_receive_reset, raw);
  load(progs.raw_inet_sock_set_state, raw);
  load(progs.raw_inet_sk_error_report, raw && choice.error_report);
  load(progs.raw_tcp_probe, raw);
  load(progs.raw_sock_rcvqueue_full, raw);
  load(progs.raw_kfree_skb, raw && choice.kfree_skb_rx_sk);
  // One program handles both tcp_retransmit_skb records (with `err` or without). No
  // sock_rcvqueue_full: its record names no socket, and TCP does not reach it.
  load(progs.tp_tcp_retransmit_skb, classic);
  load(progs.tp_tcp_send_reset, classic);
  load(progs.tp_tcp_receive_reset, classic);
  load(progs.tp_inet_sock_set_state, classic);
  load(progs.tp_inet_sk_error_report, classic && choice.error_report);
  load(progs.tp_tcp_probe, classic && choice.tcp_probe);
  load(progs.tp_kfree_skb, classic && choice.kfree_skb_rx_sk);
  // Per-connection state in socket storage on tp_btf, in an LRU hash on raw_tp and classic
  // tracepoints (both run the raw_tp bodies): the one not used is not created.
  if (int err = bpf_map__set_autocreate(skeleton->maps.sock_state, btf)) {
    return errno_error("configuring the net socket storage", err);
  }
  if (int err = bpf_map__set_autocreate(skeleton->maps.sock_state_raw, raw || classic)) {
    return errno_error("configuring the net per-connection map", err);
  }
  if (int err = net_bpf__load(skeleton.get())) return errno_error("loading the net BPF programs", err);
  return skeleton;
}

void append_peer(const np_net_peer_key& key, const np_net_peer_stats& stats, NetReading& reading) {
  if (auto address = decode_peer_key(key)) reading.peers.push_back(decode_peer(*address, stats));
}

// One syscall per entry: for kernels without batch operations on hash maps (before 5.6).
Result<void> read_peers_one_by_one(int fd, NetReading& reading) {
  np_net_peer_stats stats{};
  np_net_peer_key key{}, next{};
  const np_net_peer_key* previous = nullptr;
  while (bpf_map_get_next_key(fd, previous, &next) == 0) {
    key = next;
    previous = &key;
    // The LRU may have evicted it since: skip.
    if (bpf_map_lookup_elem(fd, &key, &stats) == 0) append_peer(key, stats, reading);
  }
  if (errno != ENOENT) return errno_error("iterating the net peers table", errno);
  return ok();
}

Result<void> read_peers(const bpf_map* map, NetReading& reading) {
  if (bpf_map__value_size(map) != sizeof(np_net_peer_stats) || bpf_map__key_size(map) != sizeof(np_net_peer_key)) {
    return Error{"map peers: key or value size does not match bpf/net.h"};
  }
  const int fd = bpf_map__fd(map);
  uint32_t chunk = 256;
  std::vector<np_net_peer_key> keys(chunk);
  std::vector<np_net_peer_stats> values(chunk);
  uint32_t in_batch = 0, out_batch = 0;
  void* in = nullptr;  // null: from the start
  for (;;) {
    uint32_t count = chunk;
    const int err = bpf_map_lookup_batch(fd, in, &out_batch, keys.data(), values.data(), &count, nullptr);
    if (err && err != -ENOENT) {
      if (err == -ENOSPC && chunk < (1u << 16)) {  // one hash bucket holds more than `chunk` entries
        chunk *= 2;
        keys.resize(chunk);
        values.resize(chunk);
        continue;
      }
      if (!in && (err == -EINVAL || err == -ENOTSUP || err == -EOPNOTSUPP)) return read_peers_one_by_one(fd, reading);
      return errno_error("reading the net peers table", err);
    }
    for (uint32_t i = 0; i < count; ++i) append_peer(keys[i], values[i], reading);
    if (err == -ENOENT) break;  // that was the last batch
    in_batch = out_batch;
    in = &in_batch;
  }
  return ok();
}

}  // namespace

Result<uint32_t> network_namespace_inode(const std::string& path) {
  const std::string file = path.empty() ? "/proc/self/ns/net" : path;
  UniqueFd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return errno_error("network namespace " + file, errno);
  const int type = ::ioctl(fd.get(), NS_GET_NSTYPE);
  if (type < 0) return Error{"network namespace " + file + ": not a namespace file (" + std::strerror(errno) + ")"};
  if (type != CLONE_NEWNET) return Error{"network namespace " + file + ": a namespace, but not a network one"};
  struct stat st{};
  if (::fstat(fd.get(), &st) != 0) return errno_error("network namespace " + file, errno);
  return static_cast<uint32_t>(st.st_ino);
}

ProbeRequirements NetProbe::requirements(const Options& options) {
  ProbeRequirements requirements;
  requirements.probe = "net";
  auto attach = choose_attach(options);
  if (!attach) return requirements;  // `check` reports the plan's error
  switch (attach->path) {
    case AttachPath::kTpBtf:
    case AttachPath::kRawTp:
      (attach->path == AttachPath::kTpBtf ? requirements.btf_tracepoints : requirements.raw_tracepoints) = {
          "tcp_retransmit_skb", "tcp_send_reset",   "tcp_receive_reset",
          "inet_sock_set_state", "tcp_probe", "sock_rcvqueue_full"};
      break;
    case AttachPath::kTracepoint:
      // tcp_probe is optional here (only a record with skaddr helps), and sock_rcvqueue_full unused.
      requirements.tracepoints = {"tcp/tcp_retransmit_skb", "tcp/tcp_send_reset", "tcp/tcp_receive_reset",
                                  "sock/inet_sock_set_state"};
      break;
  }
  return requirements;
}

Result<ProbePlan> NetProbe::plan(const Options& options) {
  auto choice = choose_programs(options);
  if (!choice) return choice.error();
  return plan_of(*choice);
}

Result<void> NetProbe::verify_load(const Options& options) {
  auto inode = network_namespace_inode(options.netns_path);
  if (!inode) return inode.error();
  auto choice = choose_programs(options);
  if (!choice) return choice.error();
  auto skeleton = open_and_load(options, *inode, *choice);
  if (!skeleton) return skeleton.error();
  return ok();
}

Result<std::unique_ptr<NetProbe>> NetProbe::start(const Options& options) {
  auto inode = network_namespace_inode(options.netns_path);
  if (!inode) return inode.error();
  auto choice = choose_programs(options);
  if (!choice) return choice.error();
  auto skeleton = open_and_load(options, *inode, *choice);
  if (!skeleton) return skeleton.error();
  auto impl = std::make_unique<Impl>();
  impl->skeleton = std::move(*skeleton);
  impl->netns_inode = *inode;
  impl->attach = choice->attach.path;
  impl->plan = plan_of(*choice);
  impl->degraded = std::move(choice->degraded);
  if (int err = net_bpf__attach(impl->skeleton.get())) return errno_error("attaching the net BPF programs", err);
  return std::unique_ptr<NetProbe>(new NetProbe(std::move(impl)));
}

NetProbe::NetProbe(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

NetProbe::~NetProbe() = default;

void NetProbe::set_ports(std::span<const uint16_t> ports) { write_ports(impl_->skeleton.get(), ports); }

Result<NetReading> NetProbe::read() {
  net_bpf* skel = impl_->skeleton.get();
  NetReading reading;
  if (auto peers = read_peers(skel->maps.peers, reading); !peers) return peers.error();
  std::sort(reading.peers.begin(), reading.peers.end(),
            [](const NetPeerReading& a, const NetPeerReading& b) { return a.address < b.address; });
  auto node = read_percpu<np_net_stats>(skel->maps.net_stats, 0);
  if (!node) return node.error();
  sum_node(*node, reading);
  auto drops = read_percpu<np_net_drops>(skel->maps.net_drops, 0);
  if (!drops) return drops.error();
  sum_drops(*drops, reading);
  return reading;
}

uint32_t NetProbe::netns_inode() const { return impl_->netns_inode; }

const std::vector<std::string>& NetProbe::degraded() const { return impl_->degraded; }

AttachPath NetProbe::attach_path() const { return impl_->attach; }

const ProbePlan& NetProbe::paths() const { return impl_->plan; }

std::vector<ProgramStats> NetProbe::program_stats() const { return nodepulse::program_stats(impl_->skeleton->obj); }

}  // namespace nodepulse
