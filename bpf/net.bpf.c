// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* TCP health of the cluster's connections, per peer: retransmits, resets, active-open results and
 * latency, passive opens, errors reported to sockets, smoothed RTT, receive-buffer drops.
 *
 * Two attach paths, chosen by userspace before load: tp_btf (5.11+) and raw_tp, the same
 * programs compiled twice from net_programs.bpf.h. There is no classic-tracepoint path: the
 * classic records of inet_sk_error_report, sock_rcvqueue_full and (before 6.11) kfree_skb carry
 * no socket to scope by namespace and cluster port.
 *
 * Only sockets in one network namespace (netns_ino) whose local or remote port is a cluster port
 * (cluster_ports) count; every other socket costs a port lookup and returns. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "common.bpf.h"
#include "compat.bpf.h"
#include "net.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD

#define EPIPE 32
#define ECONNRESET 104
#define ETIMEDOUT 110
#define ECONNREFUSED 111

const volatile __u32 abi_version = NP_NET_ABI_VERSION;
/* Inode of the watched network namespace (what stat() of its nsfs file says). */
const volatile __u32 netns_ino = 0;
/* tcp_probe reads a connection's srtt at most this often. */
const volatile __u64 srtt_sample_interval_ns = 100ULL * 1000 * 1000;

/* In .bss, not .rodata, so userspace can change the port set while attached. Port 0 is never set. */
__u64 cluster_ports[NP_NET_PORT_WORDS];

/* Counters per remote address. LRU: a peer unseen for long makes room for a new one; userspace
 * sees its counters vanish and never lets an exported counter go down. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, NP_NET_PEER_ENTRIES);
	__type(key, struct np_net_peer_key);
	__type(value, struct np_net_peer_stats);
} peers SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct np_net_stats);
} net_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct np_net_drops);
} net_drops SEC(".maps");

/* Socket address -> when it entered SYN_SENT. Every socket leaves SYN_SENT through
 * tcp_set_state() (established, reset, timeout, close), which deletes its entry. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NP_NET_CONNECT_ENTRIES);
	__type(key, __u64);
	__type(value, __u64);
} connect_start SEC(".maps");

/* When tcp_probe may next sample a connection's srtt (tcp_mstamp, µs); freed with the socket. */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u64);
} srtt_next_sample SEC(".maps");

/* The raw_tp path's stand-in for srtt_next_sample: socket address -> next sample time. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, __u64);
} srtt_next_sample_raw SEC(".maps");

static __always_inline struct np_net_drops *drops(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&net_drops, &zero);
}

static __always_inline struct np_net_stats *node_stats(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&net_stats, &zero);
}

#define np_inc(field) __sync_fetch_and_add(&(field), 1)

static __always_inline bool is_cluster_port(__u16 port)
{
	return (cluster_ports[port >> 6] >> (port & 63)) & 1;
}

static __always_inline void set_inet_peer(struct np_net_peer_key *key, __u32 addr_be)
{
	key->family = NP_NET_FAMILY_INET;
	__builtin_memcpy(key->addr, &addr_be, sizeof(addr_be));
}

static __always_inline void set_inet6_peer(struct np_net_peer_key *key, const __u32 words[4])
{
	/* ::ffff:a.b.c.d is an IPv4 peer seen through a dual-stack socket: count it as IPv4. */
	if (words[0] == 0 && words[1] == 0 && words[2] == bpf_htonl(0xffff)) {
		set_inet_peer(key, words[3]);
		return;
	}
	key->family = NP_NET_FAMILY_INET6;
	__builtin_memcpy(key->addr, words, 16);
}

/* The counters of `key`, created on first use. Shared by all CPUs: update with np_inc(). */
static __always_inline struct np_net_peer_stats *peer_stats(const struct np_net_peer_key *key)
{
	struct np_net_peer_stats *stats, zero;
	struct np_net_drops *d;

	stats = bpf_map_lookup_elem(&peers, key);
	if (stats)
		return stats;
	__builtin_memset(&zero, 0, sizeof(zero));
	/* -EEXIST when another CPU inserted it first is fine: the lookup below finds it. */
	bpf_map_update_elem(&peers, key, &zero, BPF_NOEXIST);
	stats = bpf_map_lookup_elem(&peers, key);
	if (!stats) {
		d = drops();
		if (d)
			d->peer_table++;
	}
	return stats;
}

/* Segments in a TCP skb (tcp_skb_pcount()): with GSO one skb carries up to 64 KB. Counting
 * segments, not tracepoint hits, makes the figure the unit of tcpi_total_retrans, TcpRetransSegs
 * and ss. skb->end is an offset from head on 64-bit kernels (NET_SKBUFF_DATA_USES_OFFSET). */
static __always_inline __u64 tcp_segments(const struct sk_buff *skb)
{
	struct skb_shared_info *shinfo;
	__u16 segs;

	shinfo = (struct skb_shared_info *)(BPF_CORE_READ(skb, head) + BPF_CORE_READ(skb, end));
	segs = BPF_CORE_READ(shinfo, gso_segs);
	return segs ? segs : 1;
}

static __always_inline void count_rcvqueue_full(void)
{
	struct np_net_stats *node = node_stats();

	if (node)
		node->rcvqueue_full++;
}


#define NP_PROG(name, args...) BPF_PROG(name, ##args)

#define NP_RAW 0
#define NP_FN(name) name
#define NP_SEC(hook) SEC("tp_btf/" #hook)
#define NP_RD(p, f) ((p)->f)
#include "net_programs.bpf.h"
#undef NP_RAW
#undef NP_FN
#undef NP_SEC
#undef NP_RD

#define NP_RAW 1
#define NP_FN(name) raw_##name
#define NP_SEC(hook) SEC("raw_tp/" #hook)
#define NP_RD(p, f) BPF_CORE_READ(p, f)
#include "net_programs.bpf.h"
#undef NP_RAW
#undef NP_FN
#undef NP_SEC
#undef NP_RD
