// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* TCP health of the cluster's connections, per peer: retransmits, resets, active-open results and
 * latency, passive opens, errors reported to sockets, smoothed RTT, receive-buffer drops.
 *
 * Three attach paths, chosen by userspace before load: tp_btf (5.11+) and raw_tp, the same
 * programs compiled twice from net_programs.bpf.h, and classic tracepoints (at the end of this
 * file), whose records carry the same socket and skb pointers for most hooks and run the raw_tp
 * bodies on them. Where a classic record carries no socket the loss is named in the probe's
 * degraded lines (userspace/probes/net_probe.cpp).
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

/* What the programs keep per cluster connection. */
struct np_net_sock_state {
	/* When tcp_probe may next sample the connection's srtt (tcp_mstamp, µs). */
	__u64 srtt_next_sample_us;
	/* The socket's total_retrans (tcpi_total_retrans) when its retransmits were last counted;
	 * meaningful once retransmits_known is set. */
	__u32 retransmits_counted;
	__u32 retransmits_known;
};

/* Per connection on tp_btf, freed with the socket. */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct np_net_sock_state);
} sock_state SEC(".maps");

/* The raw_tp and classic paths' stand-in for sock_state (socket storage needs a typed socket):
 * keyed by the socket's address, deleted when the socket closes. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct np_net_sock_state);
} sock_state_raw SEC(".maps");

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

/* Segments in a TCP skb: tcp_skb_pcount(), the count the kernel adds to tcpi_total_retrans,
 * TcpRetransSegs and ss's figures; with GSO one skb carries up to 64 KB. It lives in the skb's
 * control block. The shared info's gso_segs can lag it: a transmission writes gso_segs on what it
 * sends, which shares the shared info only when it is a clone, not when the skb was still
 * referenced elsewhere and went out as a copy. Counting from gso_segs fell 27 of 571 segments
 * short once, on a long lossy transfer. */
static __always_inline __u64 tcp_segments(const struct sk_buff *skb)
{
	const struct tcp_skb_cb *cb = (const void *)skb->cb;
	__u16 segs = BPF_CORE_READ(cb, tcp_gso_segs);

	return segs ? segs : 1;
}

/* An error handed to a socket's owner (sk_err, positive), by kind. */
static __always_inline void count_socket_error(struct np_net_peer_stats *stats, int err)
{
	if (err == ECONNREFUSED)
		np_inc(stats->errors_refused);
	else if (err == ETIMEDOUT)
		np_inc(stats->errors_timeout);
	else if (err == ECONNRESET || err == EPIPE)
		np_inc(stats->errors_reset);
	else
		np_inc(stats->errors_other);
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

/* Classic tracepoints (SEC("tracepoint/<category>/<name>"), prefixed tp_): the record's fields,
 * relocated by CO-RE against this kernel's trace_event_raw_* layout. The pointers are read as
 * the raw_tp copies read theirs. sock_rcvqueue_full is not here: its record names no socket, and
 * TCP, the only protocol counted, does not reach it (kfree_skb counts TCP's drops). */

/* The record of the event class tcp_event_sk_skb, which tcp_retransmit_skb (before its `err`,
 * 6.13) and tcp_send_reset (before its `reason`, 6.10) belonged to; this vmlinux.h is newer. The
 * ___old flavor relocates against the kernel's struct of the name without it. */
struct trace_event_raw_tcp_event_sk_skb___old {
	const void *skbaddr;
	const void *skaddr;
} __attribute__((preserve_access_index));

/* `err` since 6.13: an attempt that sent nothing is not a retransmission on the wire. */
SEC("tracepoint/tcp/tcp_retransmit_skb")
int tp_tcp_retransmit_skb(void *ctx)
{
	if (bpf_core_type_exists(struct trace_event_raw_tcp_retransmit_skb)) {
		struct trace_event_raw_tcp_retransmit_skb *record = ctx;
		bool sent = !bpf_core_field_exists(record->err) || record->err == 0;

		raw_count_retransmit(record->skaddr, record->skbaddr, sent);
	} else {
		struct trace_event_raw_tcp_event_sk_skb___old *record = ctx;

		raw_count_retransmit(record->skaddr, record->skbaddr, true);
	}
	return 0;
}

SEC("tracepoint/tcp/tcp_send_reset")
int tp_tcp_send_reset(void *ctx)
{
	if (bpf_core_type_exists(struct trace_event_raw_tcp_send_reset)) {
		struct trace_event_raw_tcp_send_reset *record = ctx;

		raw_on_tcp_send_reset(record->skaddr, record->skbaddr);
	} else {
		struct trace_event_raw_tcp_event_sk_skb___old *record = ctx;

		raw_on_tcp_send_reset(record->skaddr, record->skbaddr);
	}
	return 0;
}

/* Of the event class tcp_event_sk. */
SEC("tracepoint/tcp/tcp_receive_reset")
int tp_tcp_receive_reset(struct trace_event_raw_tcp_event_sk *ctx)
{
	raw_on_tcp_receive_reset(ctx->skaddr);
	return 0;
}

SEC("tracepoint/sock/inet_sock_set_state")
int tp_inet_sock_set_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
	raw_on_inet_sock_set_state(ctx->skaddr, ctx->oldstate, ctx->newstate);
	return 0;
}

/* The record names no socket, only its addresses and ports: the cluster-port filter applies, the
 * namespace filter cannot (an error of a socket in any namespace counts), and the socket's kind
 * is the record's protocol. Userspace says so in the probe's degraded lines. */
SEC("tracepoint/sock/inet_sk_error_report")
int tp_inet_sk_error_report(struct trace_event_raw_inet_sk_error_report *ctx)
{
	struct np_net_peer_stats *stats;
	struct np_net_peer_key key;
	__u32 words[4];

	if (ctx->protocol != IPPROTO_TCP)
		return 0;
	/* sport and dport are in host order in the record. */
	if (!is_cluster_port(ctx->sport) && !is_cluster_port(ctx->dport))
		return 0;
	/* Read, not loaded: the verifier refuses a load through a ctx pointer moved by a relocated
	 * offset, which is what an array field of the record becomes. */
	__builtin_memset(&key, 0, sizeof(key));
	if (ctx->family == NP_NET_FAMILY_INET) {
		if (bpf_core_read(words, 4, &ctx->daddr))
			return 0;
		set_inet_peer(&key, words[0]);
	} else if (ctx->family == NP_NET_FAMILY_INET6) {
		if (bpf_core_read(words, 16, &ctx->daddr_v6))
			return 0;
		set_inet6_peer(&key, words);
	} else {
		return 0;
	}
	stats = peer_stats(&key);
	if (stats)
		count_socket_error(stats, ctx->error);
	return 0;
}

/* Older kernels' records carry only addresses, ports and srtt, no socket; userspace loads this
 * only when this kernel's record has skaddr. */
SEC("tracepoint/tcp/tcp_probe")
int tp_tcp_probe(struct trace_event_raw_tcp_probe *ctx)
{
	if (bpf_core_field_exists(ctx->skaddr))
		raw_on_tcp_probe((struct sock *)ctx->skaddr);
	return 0;
}

/* rx_sk is in the record since 6.11, as it is a tracepoint argument; userspace loads this only then. */
SEC("tracepoint/skb/kfree_skb")
int tp_kfree_skb(struct trace_event_raw_kfree_skb *ctx)
{
	if (bpf_core_field_exists(ctx->rx_sk))
		raw_on_kfree_skb(ctx->reason, ctx->rx_sk);
	return 0;
}
