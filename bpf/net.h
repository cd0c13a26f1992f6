/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The contract between bpf/net.bpf.c and userspace/probes/net_probe.cpp. */
#ifndef NODEPULSE_BPF_NET_H
#define NODEPULSE_BPF_NET_H

#include "histogram.h"

/* Bumped on any change to the structs or constants below; the loader refuses a mismatch. */
#define NP_NET_ABI_VERSION 1

/* cluster_ports (.bss) is a bitmap over all 65536 ports: bit (p % 64) of word (p / 64). */
#define NP_NET_PORT_WORDS 1024

/* Default capacity of the peers table; userspace sizes it from network.max_peers before load. */
#define NP_NET_PEER_ENTRIES 4096
/* Active opens in flight (SYN sent, no answer yet) whose start time is remembered. */
#define NP_NET_CONNECT_ENTRIES 8192

#define NP_NET_FAMILY_INET 2   /* AF_INET */
#define NP_NET_FAMILY_INET6 10 /* AF_INET6 */

/* Key of the peers table: the remote address. IPv4, and IPv4-mapped IPv6 (a dual-stack JVM's
 * sockets), is stored as NP_NET_FAMILY_INET in addr[0..3] with the rest zero. */
struct np_net_peer_key {
	__u8 addr[16];  /* network byte order */
	__u16 family;   /* NP_NET_FAMILY_INET or NP_NET_FAMILY_INET6 */
	__u8 __pad[2];  /* zero: the key is hashed byte by byte */
};

/* Value of the peers table, one for all CPUs: it changes only on rare events (a retransmit, a
 * reset, a state change, one RTT sample per connection per interval), so atomic adds cost less
 * than a per-CPU table, whose memory would grow with CPUs x entries. Counters only grow;
 * userspace takes deltas. */
struct np_net_peer_stats {
	__u64 retransmits;      /* segments retransmitted in any state but SYN_SENT */
	__u64 syn_retransmits;  /* SYNs retransmitted: connect trouble */
	__u64 resets_sent;
	__u64 resets_received;
	__u64 connects_ok;      /* SYN_SENT -> ESTABLISHED */
	__u64 connects_refused; /* SYN_SENT -> CLOSE with ECONNREFUSED (a reset answered the SYN) */
	__u64 connects_timeout; /* SYN_SENT -> CLOSE with ETIMEDOUT (SYN retries exhausted) */
	__u64 connects_other;   /* SYN_SENT -> CLOSE for any other reason (ICMP error, closed while connecting) */
	__u64 accepts;          /* passive opens: SYN_RECV -> ESTABLISHED */
	__u64 errors_refused;   /* errors reported to the socket's owner (inet_sk_error_report), by errno */
	__u64 errors_timeout;
	__u64 errors_reset;     /* ECONNRESET, EPIPE */
	__u64 errors_other;
	__u64 srtt_at_ns;       /* bpf_ktime_get_ns() when srtt_us was sampled; 0 = never */
	__u32 srtt_us;          /* smoothed RTT of a connection to this peer (tcp_sock.srtt_us / 8) */
	__u32 __pad;
};

/* Per-CPU value of net_stats (one entry): what has no peer label. */
struct np_net_stats {
	struct np_histogram connect_latency; /* SYN_SENT -> ESTABLISHED, ns */
	__u64 rcvqueue_full;                 /* packets a cluster socket dropped for want of receive buffer */
};

/* Per-CPU value of net_drops: every update the programs could not record. */
struct np_net_drops {
	__u64 peer_table;     /* no room for a new peer: one event not counted */
	__u64 connect_table;  /* an active open's start not remembered: no latency for it */
	__u64 srtt_storage;   /* no socket storage: one RTT sample skipped */
};

#endif
