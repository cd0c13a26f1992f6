// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* TCP health of the cluster's connections, per peer: retransmits, resets, active-open results and
 * latency, passive opens, errors reported to sockets, smoothed RTT, receive-buffer drops.
 *
 * Only sockets in one network namespace (netns_ino) whose local or remote port is a cluster port
 * (cluster_ports) count; every other socket costs a port lookup and returns. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "common.bpf.h"
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

static __always_inline bool net_is_watched(const struct net *net)
{
	return net && net->ns.inum == netns_ino;
}

/* The ports come first: they sit in the socket's first cache line, the namespace is two loads away. */
static __always_inline bool sock_in_scope(const struct sock *sk)
{
	__u16 local_port = sk->__sk_common.skc_num;
	__u16 remote_port = bpf_ntohs(sk->__sk_common.skc_dport);

	if (!is_cluster_port(local_port) && !is_cluster_port(remote_port))
		return false;
	return net_is_watched(sk->__sk_common.skc_net.net);
}

/* A TCP socket proper: not SCTP, not an MPTCP master socket, not a request or timewait sock. */
static __always_inline struct tcp_sock *as_tcp(const struct sock *sk)
{
	return bpf_skc_to_tcp_sock((void *)sk);
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

/* Returns false for a socket of another family. Works for full, request and timewait socks:
 * every field used lives in sock_common. */
static __always_inline bool peer_of_sock(const struct sock *sk, struct np_net_peer_key *key)
{
	__u16 family = sk->__sk_common.skc_family;
	__u32 words[4];

	__builtin_memset(key, 0, sizeof(*key));
	if (family == NP_NET_FAMILY_INET) {
		set_inet_peer(key, sk->__sk_common.skc_daddr);
		return true;
	}
	if (family != NP_NET_FAMILY_INET6)
		return false;
	words[0] = sk->__sk_common.skc_v6_daddr.in6_u.u6_addr32[0];
	words[1] = sk->__sk_common.skc_v6_daddr.in6_u.u6_addr32[1];
	words[2] = sk->__sk_common.skc_v6_daddr.in6_u.u6_addr32[2];
	words[3] = sk->__sk_common.skc_v6_daddr.in6_u.u6_addr32[3];
	set_inet6_peer(key, words);
	return true;
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

static __always_inline struct np_net_peer_stats *sock_peer_stats(const struct sock *sk)
{
	struct np_net_peer_key key;

	if (!peer_of_sock(sk, &key))
		return NULL;
	return peer_stats(&key);
}

static __always_inline void sample_srtt(struct tcp_sock *tp, struct np_net_peer_stats *stats)
{
	/* srtt_us holds 8 x the smoothed RTT in µs; 0 until the first RTT measurement. */
	__u32 srtt_us = tp->srtt_us >> 3;

	if (!srtt_us)
		return;
	/* Plain stores: the last writer wins, and a reader seeing a new srtt with the old time (or
	 * the reverse) for a moment does no harm. */
	stats->srtt_us = srtt_us;
	stats->srtt_at_ns = bpf_ktime_get_ns();
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

static __always_inline void count_retransmit(const struct sock *sk, const struct sk_buff *skb)
{
	struct np_net_peer_stats *stats;
	struct tcp_sock *tp;

	if (!sock_in_scope(sk))
		return;
	tp = as_tcp(sk);
	if (!tp)
		return;
	stats = sock_peer_stats(sk);
	if (!stats)
		return;
	if (sk->__sk_common.skc_state == TCP_SYN_SENT) {
		np_inc(stats->syn_retransmits);
		return;
	}
	__sync_fetch_and_add(&stats->retransmits, tcp_segments(skb));
	sample_srtt(tp, stats);
}

/* Kernels before 6.13 fire tcp_retransmit_skb only for a retransmit that went out. */
SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(tcp_retransmit_skb, const struct sock *sk, const struct sk_buff *skb)
{
	count_retransmit(sk, skb);
	return 0;
}

/* Since 6.13 (commit "tcp: add a new 'err' field to tcp_retransmit_skb tracepoint") it also fires
 * for attempts that sent nothing (skb still in a host queue, no memory, the device refused it);
 * those are not retransmissions on the wire. Userspace loads this variant when the tracepoint
 * has `err`. */
SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(tcp_retransmit_skb_err, const struct sock *sk, const struct sk_buff *skb, int err)
{
	if (err == 0)
		count_retransmit(sk, skb);
	return 0;
}

/* The reset answers a packet that found no socket (or a listener): the packet itself says whose
 * it was. Its headers are still in place, as tcp_v{4,6}_send_reset() read them too. */
static __always_inline bool reset_peer_of_skb(const struct sk_buff *skb, struct np_net_peer_key *key)
{
	unsigned char *head = skb->head;
	__u16 network = skb->network_header;
	__u16 transport = skb->transport_header;
	__be16 protocol = skb->protocol;
	struct tcphdr tcp;

	if (!net_is_watched(skb->dev ? skb->dev->nd_net.net : NULL))
		return false;
	if (bpf_probe_read_kernel(&tcp, sizeof(tcp), head + transport))
		return false;
	/* dest is our port, source the peer's. */
	if (!is_cluster_port(bpf_ntohs(tcp.dest)) && !is_cluster_port(bpf_ntohs(tcp.source)))
		return false;

	__builtin_memset(key, 0, sizeof(*key));
	if (protocol == bpf_htons(ETH_P_IP)) {
		struct iphdr ip;

		if (bpf_probe_read_kernel(&ip, sizeof(ip), head + network))
			return false;
		set_inet_peer(key, ip.saddr);
		return true;
	}
	if (protocol == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr ip6;

		if (bpf_probe_read_kernel(&ip6, sizeof(ip6), head + network))
			return false;
		set_inet6_peer(key, ip6.saddr.in6_u.u6_addr32);
		return true;
	}
	return false;
}

/* sk is NULL for a reset answering a packet that found no socket (a closed port); kernels before
 * 6.10 (commit 19822a980e19) do not fire then at all. */
SEC("tp_btf/tcp_send_reset")
int BPF_PROG(tcp_send_reset, const struct sock *sk, const struct sk_buff *skb)
{
	struct np_net_peer_stats *stats;
	struct np_net_peer_key key;

	if (sk && sk->__sk_common.skc_state != TCP_LISTEN) {
		if (!sock_in_scope(sk) || !peer_of_sock(sk, &key))
			return 0;
	} else if (!skb || !reset_peer_of_skb(skb, &key)) {
		return 0;
	}
	stats = peer_stats(&key);
	if (stats)
		np_inc(stats->resets_sent);
	return 0;
}

SEC("tp_btf/tcp_receive_reset")
int BPF_PROG(tcp_receive_reset, struct sock *sk)
{
	struct np_net_peer_stats *stats;

	if (!sock_in_scope(sk))
		return 0;
	stats = sock_peer_stats(sk);
	if (stats)
		np_inc(stats->resets_received);
	return 0;
}

static __always_inline void connect_finished(const struct sock *sk, int newstate)
{
	__u64 key = (__u64)sk, *start, started_ns = 0, now;
	struct np_net_peer_stats *stats;
	struct np_net_stats *node;
	struct tcp_sock *tp;
	int err;

	start = bpf_map_lookup_elem(&connect_start, &key);
	if (start) {
		started_ns = *start;
		bpf_map_delete_elem(&connect_start, &key);
	}
	stats = sock_peer_stats(sk);
	if (!stats)
		return;
	if (newstate == TCP_ESTABLISHED) {
		np_inc(stats->connects_ok);
		tp = as_tcp(sk);
		if (tp)
			sample_srtt(tp, stats);
		/* An open that began before we attached has no start: its result counts, its latency not. */
		node = node_stats();
		if (started_ns && node) {
			now = bpf_ktime_get_ns();
			np_hist_record(&node->connect_latency, now - started_ns);
		}
		return;
	}
	/* tcp_done() runs after sk_err is set, for a reset (ECONNREFUSED) as for exhausted SYN
	 * retries (ETIMEDOUT, or the soft ICMP error seen meanwhile); 0 means the application closed
	 * the socket while it was connecting. */
	err = sk->sk_err;
	if (err == ECONNREFUSED)
		np_inc(stats->connects_refused);
	else if (err == ETIMEDOUT)
		np_inc(stats->connects_timeout);
	else
		np_inc(stats->connects_other);
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(inet_sock_set_state, const struct sock *sk, const int oldstate, const int newstate)
{
	struct np_net_peer_stats *stats;
	struct np_net_drops *d;
	struct tcp_sock *tp;
	__u64 key, now;

	if (oldstate != TCP_SYN_SENT && newstate != TCP_SYN_SENT &&
	    !(oldstate == TCP_SYN_RECV && newstate == TCP_ESTABLISHED))
		return 0;
	/* On CLOSE -> SYN_SENT the local port may still be 0 (chosen right after); the remote
	 * port decides then. */
	if (!sock_in_scope(sk))
		return 0;
	tp = as_tcp(sk);
	if (!tp)
		return 0;

	if (newstate == TCP_SYN_SENT) {
		key = (__u64)sk;
		now = bpf_ktime_get_ns();
		if (bpf_map_update_elem(&connect_start, &key, &now, BPF_ANY)) {
			d = drops();
			if (d)
				d->connect_table++;
		}
		return 0;
	}
	if (oldstate == TCP_SYN_SENT) {
		connect_finished(sk, newstate);
		return 0;
	}
	stats = sock_peer_stats(sk);
	if (!stats)
		return 0;
	np_inc(stats->accepts);
	sample_srtt(tp, stats);
	return 0;
}

/* Errors handed to the socket's owner (connect(), read(), write() fail with them), on an open
 * as well as on an established connection: an established connection dying of ETIMEDOUT is the
 * peer gone silent. Since 5.15. */
SEC("tp_btf/inet_sk_error_report")
int BPF_PROG(inet_sk_error_report, const struct sock *sk)
{
	struct np_net_peer_stats *stats;
	int err;

	if (!sock_in_scope(sk) || !as_tcp(sk))
		return 0;
	stats = sock_peer_stats(sk);
	if (!stats)
		return 0;
	err = sk->sk_err;
	if (err == ECONNREFUSED)
		np_inc(stats->errors_refused);
	else if (err == ETIMEDOUT)
		np_inc(stats->errors_timeout);
	else if (err == ECONNRESET || err == EPIPE)
		np_inc(stats->errors_reset);
	else
		np_inc(stats->errors_other);
	return 0;
}

/* Fires for every segment an established connection receives, so it returns early for anything
 * but a cluster connection, and reads srtt at most every srtt_sample_interval_ns per connection.
 * The clock is the socket's own tcp_mstamp (CLOCK_MONOTONIC µs, refreshed with every segment it
 * handles; here still the previous one's time): a load instead of a helper call per segment. */
SEC("tp_btf/tcp_probe")
int BPF_PROG(tcp_probe, struct sock *sk, const struct sk_buff *skb)
{
	struct np_net_peer_stats *stats;
	struct np_net_drops *d;
	struct tcp_sock *tp;
	__u64 *next_us, now_us;

	if (!sock_in_scope(sk))
		return 0;
	tp = as_tcp(sk);
	if (!tp)
		return 0;
	next_us = bpf_sk_storage_get(&srtt_next_sample, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!next_us) {
		d = drops();
		if (d)
			d->srtt_storage++;
		return 0;
	}
	now_us = tp->tcp_mstamp;
	if (now_us < *next_us)
		return 0;
	*next_us = now_us + srtt_sample_interval_ns / 1000;
	stats = sock_peer_stats(sk);
	if (stats)
		sample_srtt(tp, stats);
	return 0;
}

static __always_inline void count_rcvqueue_full(void)
{
	struct np_net_stats *node = node_stats();

	if (node)
		node->rcvqueue_full++;
}

/* __sock_queue_rcv_skb() over sk_rcvbuf. TCP queues through its own paths and does not reach
 * this today; kfree_skb below sees TCP's drops. Kept for stacks that do. */
SEC("tp_btf/sock_rcvqueue_full")
int BPF_PROG(sock_rcvqueue_full, struct sock *sk, struct sk_buff *skb)
{
	if (sock_in_scope(sk) && as_tcp(sk))
		count_rcvqueue_full();
	return 0;
}

/* Drops for want of receive buffer on a TCP socket: the receive queue over its memory
 * (TCPRcvQDrop), the backlog full while the owner holds the socket (TCPBacklogDrop), out-of-order
 * data pruned or refused for memory, data into a zero window. rx_sk, the receiving socket, is a
 * tracepoint argument since 6.11; userspace loads this program only then. Every enumerator below
 * exists since 5.19, and CO-RE relocates its value. */
SEC("tp_btf/kfree_skb")
int BPF_PROG(kfree_skb, struct sk_buff *skb, void *location, enum skb_drop_reason reason, struct sock *rx_sk)
{
	if (reason != bpf_core_enum_value(enum skb_drop_reason, SKB_DROP_REASON_PROTO_MEM) &&
	    reason != bpf_core_enum_value(enum skb_drop_reason, SKB_DROP_REASON_SOCKET_BACKLOG) &&
	    reason != bpf_core_enum_value(enum skb_drop_reason, SKB_DROP_REASON_SOCKET_RCVBUFF) &&
	    reason != bpf_core_enum_value(enum skb_drop_reason, SKB_DROP_REASON_TCP_OFO_QUEUE_PRUNE) &&
	    reason != bpf_core_enum_value(enum skb_drop_reason, SKB_DROP_REASON_TCP_OFO_DROP) &&
	    reason != bpf_core_enum_value(enum skb_drop_reason, SKB_DROP_REASON_TCP_ZEROWINDOW))
		return 0;
	if (rx_sk && sock_in_scope(rx_sk) && as_tcp(rx_sk))
		count_rcvqueue_full();
	return 0;
}
