/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The net probe's programs, included twice by net.bpf.c (so no include guard): once for
 * tp_btf, where the tracepoints' arguments are typed pointers read with plain loads and
 * checked with bpf_skc_to_tcp_sock(), and once for raw_tp, where the same pointers are untyped
 * and read with BPF_CORE_READ(). The includer defines:
 *   NP_RAW          0 (tp_btf) or 1 (raw_tp)
 *   NP_FN(name)     the name of a function or program of this copy
 *   NP_SEC(hook)    the program's section
 *   NP_RD(p, f)     p->f
 * Programs keep the tp_btf names; the raw_tp copies are prefixed raw_. A program's body is an
 * NP_FN(on_<hook>) function, so the classic-tracepoint programs in net.bpf.c, which read the same
 * pointers from the tracepoint's record, run the raw_ copy of it. */

static __always_inline bool NP_FN(net_is_watched)(const struct net *net)
{
	return net && NP_RD(net, ns.inum) == netns_ino;
}

/* The ports come first: they sit in the socket's first cache line, the namespace is two loads away. */
static __always_inline bool NP_FN(sock_in_scope)(const struct sock *sk)
{
	__u16 local_port = NP_RD(sk, __sk_common.skc_num);
	__u16 remote_port = bpf_ntohs(NP_RD(sk, __sk_common.skc_dport));

	if (!is_cluster_port(local_port) && !is_cluster_port(remote_port))
		return false;
	return NP_FN(net_is_watched)(NP_RD(sk, __sk_common.skc_net.net));
}

/* A TCP socket proper: not SCTP, not an MPTCP master socket, not a request or timewait sock. */
static __always_inline struct tcp_sock *NP_FN(as_tcp)(const struct sock *sk)
{
#if NP_RAW
	/* What bpf_skc_to_tcp_sock() checks, by hand: only a full socket has sk_protocol. */
	__u8 state = BPF_CORE_READ(sk, __sk_common.skc_state);

	if (state == TCP_TIME_WAIT || state == TCP_NEW_SYN_RECV)
		return NULL;
	if (BPF_CORE_READ_BITFIELD_PROBED(sk, sk_protocol) != IPPROTO_TCP ||
	    BPF_CORE_READ_BITFIELD_PROBED(sk, sk_type) != SOCK_STREAM)
		return NULL;
	return (struct tcp_sock *)sk;
#else
	return bpf_skc_to_tcp_sock((void *)sk);
#endif
}

/* Returns false for a socket of another family. Works for full, request and timewait socks:
 * every field used lives in sock_common. */
static __always_inline bool NP_FN(peer_of_sock)(const struct sock *sk, struct np_net_peer_key *key)
{
	__u16 family = NP_RD(sk, __sk_common.skc_family);
	__u32 words[4];

	__builtin_memset(key, 0, sizeof(*key));
	if (family == NP_NET_FAMILY_INET) {
		set_inet_peer(key, NP_RD(sk, __sk_common.skc_daddr));
		return true;
	}
	if (family != NP_NET_FAMILY_INET6)
		return false;
	words[0] = NP_RD(sk, __sk_common.skc_v6_daddr.in6_u.u6_addr32[0]);
	words[1] = NP_RD(sk, __sk_common.skc_v6_daddr.in6_u.u6_addr32[1]);
	words[2] = NP_RD(sk, __sk_common.skc_v6_daddr.in6_u.u6_addr32[2]);
	words[3] = NP_RD(sk, __sk_common.skc_v6_daddr.in6_u.u6_addr32[3]);
	set_inet6_peer(key, words);
	return true;
}

static __always_inline struct np_net_peer_stats *NP_FN(sock_peer_stats)(const struct sock *sk)
{
	struct np_net_peer_key key;

	if (!NP_FN(peer_of_sock)(sk, &key))
		return NULL;
	return peer_stats(&key);
}

static __always_inline void NP_FN(sample_srtt)(struct tcp_sock *tp, struct np_net_peer_stats *stats)
{
	/* srtt_us holds 8 x the smoothed RTT in µs; 0 until the first RTT measurement. */
	__u32 srtt_us = NP_RD(tp, srtt_us) >> 3;

	if (!srtt_us)
		return;
	/* Plain stores: the last writer wins, and a reader seeing a new srtt with the old time (or
	 * the reverse) for a moment does no harm. */
	stats->srtt_us = srtt_us;
	stats->srtt_at_ns = bpf_ktime_get_ns();
}

/* The programs' state for a connection (np_net_sock_state), created on first use if `create`. */
static __always_inline struct np_net_sock_state *NP_FN(sock_state_of)(const struct sock *sk, bool create)
{
#if NP_RAW
	struct np_net_sock_state zero, *state;
	__u64 key = (__u64)sk;

	state = bpf_map_lookup_elem(&sock_state_raw, &key);
	if (state || !create)
		return state;
	__builtin_memset(&zero, 0, sizeof(zero));
	bpf_map_update_elem(&sock_state_raw, &key, &zero, BPF_NOEXIST);
	return bpf_map_lookup_elem(&sock_state_raw, &key);
#else
	return bpf_sk_storage_get(&sock_state, (struct sock *)sk, 0, create ? BPF_SK_STORAGE_GET_F_CREATE : 0);
#endif
}

/* Retransmitted segments: the socket's own count (tcpi_total_retrans) rather than a sum over
 * events. The kernel can skip a program's run without counting it as missed (seen on 6.18, for
 * softirqs that interrupted some tasks); the segments of a skipped retransmit are then counted
 * at the socket's next retransmit or state change. */

/* Counting starts from the socket's current count. */
static __always_inline void NP_FN(start_retransmits_from_now)(struct tcp_sock *tp, struct np_net_sock_state *state)
{
	state->retransmits_counted = NP_RD(tp, total_retrans);
	state->retransmits_known = 1;
}

/* What the socket counted since the last call; counting must have started. A count lower than
 * the one kept belongs to another socket: one reusing the address of a socket whose close went
 * unseen (raw_tp), or a socket tcp_disconnect() reset. */
static __always_inline __u32 NP_FN(retransmits_since_counted)(struct tcp_sock *tp, struct np_net_sock_state *state)
{
	__u32 total = NP_RD(tp, total_retrans), since = 0;

	if (total >= state->retransmits_counted)
		since = total - state->retransmits_counted;
	state->retransmits_counted = total;
	return since;
}

/* `sent`: this attempt put its segments on the wire. It matters only until the socket's count
 * is known (a connection opened before the probe attached, or no room for its state). */
static __always_inline void NP_FN(count_retransmit)(const struct sock *sk, const struct sk_buff *skb, bool sent)
{
	struct np_net_peer_stats *stats;
	struct np_net_sock_state *state;
	struct tcp_sock *tp;
	__u64 segments;

	if (!NP_FN(sock_in_scope)(sk))
		return;
	tp = NP_FN(as_tcp)(sk);
	if (!tp)
		return;
	stats = NP_FN(sock_peer_stats)(sk);
	if (!stats)
		return;
	if (NP_RD(sk, __sk_common.skc_state) == TCP_SYN_SENT) {
		if (sent)
			np_inc(stats->syn_retransmits);
		return;
	}
	state = NP_FN(sock_state_of)(sk, true);
	if (state && state->retransmits_known) {
		segments = NP_FN(retransmits_since_counted)(tp, state);
	} else {
		segments = sent ? tcp_segments(skb) : 0;
		if (state)
			NP_FN(start_retransmits_from_now)(tp, state);
	}
	if (segments)
		__sync_fetch_and_add(&stats->retransmits, segments);
	NP_FN(sample_srtt)(tp, stats);
}

/* A state change: what the socket retransmitted since its last counted event. On raw_tp the
 * state goes with the socket's close. */
static __always_inline void NP_FN(count_retransmits_at_state_change)(const struct sock *sk, struct tcp_sock *tp, int newstate)
{
	struct np_net_peer_stats *stats;
	struct np_net_sock_state *state;
	__u32 segments = 0;

	state = NP_FN(sock_state_of)(sk, false);
	if (!state)
		return;
	if (state->retransmits_known)
		segments = NP_FN(retransmits_since_counted)(tp, state);
#if NP_RAW
	if (newstate == TCP_CLOSE) {
		__u64 key = (__u64)sk;

		bpf_map_delete_elem(&sock_state_raw, &key);
	}
#endif
	if (!segments)
		return;
	stats = NP_FN(sock_peer_stats)(sk);
	if (stats)
		__sync_fetch_and_add(&stats->retransmits, segments);
}

/* A connection just opened: its count starts here (SYN and SYN-ACK retries before it are counted
 * as they happen, or not at all for a passive open). */
static __always_inline void NP_FN(start_retransmit_count)(const struct sock *sk, struct tcp_sock *tp)
{
	struct np_net_sock_state *state = NP_FN(sock_state_of)(sk, true);

	if (state)
		NP_FN(start_retransmits_from_now)(tp, state);
}

/* Kernels before 6.13 fire tcp_retransmit_skb only for a retransmit that went out. */
NP_SEC(tcp_retransmit_skb)
int NP_PROG(NP_FN(tcp_retransmit_skb), const struct sock *sk, const struct sk_buff *skb)
{
	NP_FN(count_retransmit)(sk, skb, true);
	return 0;
}

/* Since 6.13 (commit "tcp: add a new 'err' field to tcp_retransmit_skb tracepoint") it also fires
 * for attempts that sent nothing (skb still in a host queue, no memory, the device refused it).
 * Userspace loads this variant when the tracepoint has `err`. */
NP_SEC(tcp_retransmit_skb)
int NP_PROG(NP_FN(tcp_retransmit_skb_err), const struct sock *sk, const struct sk_buff *skb, int err)
{
	NP_FN(count_retransmit)(sk, skb, err == 0);
	return 0;
}

/* The reset answers a packet that found no socket (or a listener): the packet itself says whose
 * it was. Its headers are still in place, as tcp_v{4,6}_send_reset() read them too. */
static __always_inline bool NP_FN(reset_peer_of_skb)(const struct sk_buff *skb, struct np_net_peer_key *key)
{
	unsigned char *head = NP_RD(skb, head);
	__u16 network = NP_RD(skb, network_header);
	__u16 transport = NP_RD(skb, transport_header);
	__be16 protocol = NP_RD(skb, protocol);
	struct net_device *dev = NP_RD(skb, dev);
	struct tcphdr tcp;

	if (!NP_FN(net_is_watched)(dev ? NP_RD(dev, nd_net.net) : NULL))
		return false;
	if (np_probe_read_kernel(&tcp, sizeof(tcp), head + transport))
		return false;
	/* dest is our port, source the peer's. */
	if (!is_cluster_port(bpf_ntohs(tcp.dest)) && !is_cluster_port(bpf_ntohs(tcp.source)))
		return false;

	__builtin_memset(key, 0, sizeof(*key));
	if (protocol == bpf_htons(ETH_P_IP)) {
		struct iphdr ip;

		if (np_probe_read_kernel(&ip, sizeof(ip), head + network))
			return false;
		set_inet_peer(key, ip.saddr);
		return true;
	}
	if (protocol == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr ip6;

		if (np_probe_read_kernel(&ip6, sizeof(ip6), head + network))
			return false;
		set_inet6_peer(key, ip6.saddr.in6_u.u6_addr32);
		return true;
	}
	return false;
}

/* sk is NULL for a reset answering a packet that found no socket (a closed port); kernels before
 * 6.10 (commit 19822a980e19) do not fire then at all. */
static __always_inline void NP_FN(on_tcp_send_reset)(const struct sock *sk, const struct sk_buff *skb)
{
	struct np_net_peer_stats *stats;
	struct np_net_peer_key key;

	if (sk && NP_RD(sk, __sk_common.skc_state) != TCP_LISTEN) {
		if (!NP_FN(sock_in_scope)(sk) || !NP_FN(peer_of_sock)(sk, &key))
			return;
	} else if (!skb || !NP_FN(reset_peer_of_skb)(skb, &key)) {
		return;
	}
	stats = peer_stats(&key);
	if (stats)
		np_inc(stats->resets_sent);
}

NP_SEC(tcp_send_reset)
int NP_PROG(NP_FN(tcp_send_reset), const struct sock *sk, const struct sk_buff *skb)
{
	NP_FN(on_tcp_send_reset)(sk, skb);
	return 0;
}

static __always_inline void NP_FN(on_tcp_receive_reset)(const struct sock *sk)
{
	struct np_net_peer_stats *stats;

	if (!NP_FN(sock_in_scope)(sk))
		return;
	stats = NP_FN(sock_peer_stats)(sk);
	if (stats)
		np_inc(stats->resets_received);
}

NP_SEC(tcp_receive_reset)
int NP_PROG(NP_FN(tcp_receive_reset), struct sock *sk)
{
	NP_FN(on_tcp_receive_reset)(sk);
	return 0;
}

static __always_inline void NP_FN(connect_finished)(const struct sock *sk, int newstate)
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
	stats = NP_FN(sock_peer_stats)(sk);
	if (!stats)
		return;
	if (newstate == TCP_ESTABLISHED) {
		np_inc(stats->connects_ok);
		tp = NP_FN(as_tcp)(sk);
		if (tp)
			NP_FN(sample_srtt)(tp, stats);
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
	err = NP_RD(sk, sk_err);
	if (err == ECONNREFUSED)
		np_inc(stats->connects_refused);
	else if (err == ETIMEDOUT)
		np_inc(stats->connects_timeout);
	else
		np_inc(stats->connects_other);
}

static __always_inline void NP_FN(on_inet_sock_set_state)(const struct sock *sk, int oldstate, int newstate)
{
	struct np_net_peer_stats *stats;
	struct np_net_drops *d;
	struct tcp_sock *tp;
	__u64 key, now;

	/* On CLOSE -> SYN_SENT the local port may still be 0 (chosen right after); the remote
	 * port decides then. */
	if (!NP_FN(sock_in_scope)(sk))
		return;
	tp = NP_FN(as_tcp)(sk);
	if (!tp)
		return;
	if (oldstate != TCP_SYN_SENT && newstate != TCP_SYN_SENT &&
	    !(oldstate == TCP_SYN_RECV && newstate == TCP_ESTABLISHED)) {
		NP_FN(count_retransmits_at_state_change)(sk, tp, newstate);
		return;
	}

	if (newstate == TCP_SYN_SENT) {
		key = (__u64)sk;
		now = bpf_ktime_get_ns();
		if (bpf_map_update_elem(&connect_start, &key, &now, BPF_ANY)) {
			d = drops();
			if (d)
				d->connect_table++;
		}
		return;
	}
	if (oldstate == TCP_SYN_SENT) {
		NP_FN(connect_finished)(sk, newstate);
		if (newstate == TCP_ESTABLISHED)
			NP_FN(start_retransmit_count)(sk, tp);
		else
			NP_FN(count_retransmits_at_state_change)(sk, tp, newstate);
		return;
	}
	NP_FN(start_retransmit_count)(sk, tp);
	stats = NP_FN(sock_peer_stats)(sk);
	if (!stats)
		return;
	np_inc(stats->accepts);
	NP_FN(sample_srtt)(tp, stats);
}

NP_SEC(inet_sock_set_state)
int NP_PROG(NP_FN(inet_sock_set_state), const struct sock *sk, const int oldstate, const int newstate)
{
	NP_FN(on_inet_sock_set_state)(sk, oldstate, newstate);
	return 0;
}

/* Errors handed to the socket's owner (connect(), read(), write() fail with them), on an open
 * as well as on an established connection: an established connection dying of ETIMEDOUT is the
 * peer gone silent. Since 5.15. */
NP_SEC(inet_sk_error_report)
int NP_PROG(NP_FN(inet_sk_error_report), const struct sock *sk)
{
	struct np_net_peer_stats *stats;

	if (!NP_FN(sock_in_scope)(sk) || !NP_FN(as_tcp)(sk))
		return 0;
	stats = NP_FN(sock_peer_stats)(sk);
	if (!stats)
		return 0;
	count_socket_error(stats, NP_RD(sk, sk_err));
	return 0;
}

/* Fires for every segment an established connection receives, so it returns early for anything
 * but a cluster connection, and reads srtt at most every srtt_sample_interval_ns per connection.
 * The clock is the socket's own tcp_mstamp (CLOCK_MONOTONIC µs, refreshed with every segment it
 * handles; here still the previous one's time): a load instead of a helper call per segment. */
static __always_inline void NP_FN(on_tcp_probe)(struct sock *sk)
{
	struct np_net_peer_stats *stats;
	struct np_net_sock_state *state;
	struct np_net_drops *d;
	struct tcp_sock *tp;
	__u64 now_us;

	if (!NP_FN(sock_in_scope)(sk))
		return;
	tp = NP_FN(as_tcp)(sk);
	if (!tp)
		return;
	state = NP_FN(sock_state_of)(sk, true);
	if (!state) {
		d = drops();
		if (d)
			d->srtt_storage++;
		return;
	}
	now_us = NP_RD(tp, tcp_mstamp);
	if (now_us < state->srtt_next_sample_us)
		return;
	state->srtt_next_sample_us = now_us + srtt_sample_interval_ns / 1000;
	stats = NP_FN(sock_peer_stats)(sk);
	if (stats)
		NP_FN(sample_srtt)(tp, stats);
}

NP_SEC(tcp_probe)
int NP_PROG(NP_FN(tcp_probe), struct sock *sk, const struct sk_buff *skb)
{
	NP_FN(on_tcp_probe)(sk);
	return 0;
}

/* __sock_queue_rcv_skb() over sk_rcvbuf. TCP queues through its own paths and does not reach
 * this today; kfree_skb below sees TCP's drops. Kept for stacks that do. */
NP_SEC(sock_rcvqueue_full)
int NP_PROG(NP_FN(sock_rcvqueue_full), struct sock *sk, struct sk_buff *skb)
{
	if (NP_FN(sock_in_scope)(sk) && NP_FN(as_tcp)(sk))
		count_rcvqueue_full();
	return 0;
}

/* Drops for want of receive buffer on a TCP socket: the receive queue over its memory
 * (TCPRcvQDrop), the backlog full while the owner holds the socket (TCPBacklogDrop), out-of-order
 * data pruned or refused for memory, data into a zero window. rx_sk, the receiving socket, is a
 * tracepoint argument since 6.11; userspace loads this program only then. Every enumerator below
 * exists since 5.19, and CO-RE relocates its value. */
static __always_inline void NP_FN(on_kfree_skb)(enum skb_drop_reason reason, const struct sock *rx_sk)
{
	if (reason != bpf_core_enum_value(enum skb_drop_reason, SKB_DROP_REASON_PROTO_MEM) &&
	    reason != bpf_core_enum_value(enum skb_drop_reason, SKB_DROP_REASON_SOCKET_BACKLOG) &&
	    reason != bpf_core_enum_value(enum skb_drop_reason, SKB_DROP_REASON_SOCKET_RCVBUFF) &&
	    reason != bpf_core_enum_value(enum skb_drop_reason, SKB_DROP_REASON_TCP_OFO_QUEUE_PRUNE) &&
	    reason != bpf_core_enum_value(enum skb_drop_reason, SKB_DROP_REASON_TCP_OFO_DROP) &&
	    reason != bpf_core_enum_value(enum skb_drop_reason, SKB_DROP_REASON_TCP_ZEROWINDOW))
		return;
	if (rx_sk && NP_FN(sock_in_scope)(rx_sk) && NP_FN(as_tcp)(rx_sk))
		count_rcvqueue_full();
}

NP_SEC(kfree_skb)
int NP_PROG(NP_FN(kfree_skb), struct sk_buff *skb, void *location, enum skb_drop_reason reason, struct sock *rx_sk)
{
	NP_FN(on_kfree_skb)(reason, rx_sk);
	return 0;
}
