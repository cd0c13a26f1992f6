// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* HotSpot pauses from its USDT probes: the duration of every GC operation and every
 * safepoint, per target, and the pause in progress (begin without end) of each JVM.
 *
 * The programs are attached per process (bpf_program__attach_usdt with a pid) to the
 * libjvm.so that process mapped, so only registered JVMs take the trap at all. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/usdt.bpf.h>
#include "common.bpf.h"
#include "jvm.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

const volatile __u32 abi_version = NP_JVM_ABI_VERSION;

/* tgid -> pause begin timestamps and target; entries owned by userspace (see jvm.h). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct np_jvm_inflight);
} inflight SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NP_JVM_STATS_ENTRIES);
	__type(key, __u32);
	__type(value, struct np_histogram);
} pause_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct np_jvm_drops);
} jvm_drops SEC(".maps");

static __always_inline struct np_jvm_drops *drops(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&jvm_drops, &zero);
}

static __always_inline struct np_jvm_inflight *current_jvm(void)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct np_jvm_inflight *jvm;
	struct np_jvm_drops *d;

	jvm = bpf_map_lookup_elem(&inflight, &tgid);
	if (jvm)
		return jvm;
	/* Per-pid uprobes should make this impossible. Should a kernel's uprobe filtering ever
	 * let another process's hit through (uprobes are installed per file and offset, and the
	 * pid filter is applied afterwards), it is counted here instead of miscounted. */
	d = drops();
	if (d)
		d->untracked_process++;
	return NULL;
}

static __always_inline void pause_begin(__u32 kind)
{
	struct np_jvm_inflight *jvm = current_jvm();

	if (!jvm || kind >= NP_JVM_PAUSE_KINDS)
		return;
	/* Plain 8-byte stores: userspace reads the entry at any moment and sees either 0 or a
	 * whole timestamp. One VM thread runs all pauses of a kind, so begins never race. */
	jvm->begin_ns[kind] = bpf_ktime_get_ns();
}

static __always_inline void pause_end(__u32 kind)
{
	struct np_jvm_inflight *jvm = current_jvm();
	struct np_histogram *hist;
	__u64 begin, now;
	__u32 key;

	if (!jvm || kind >= NP_JVM_PAUSE_KINDS)
		return;
	begin = jvm->begin_ns[kind];
	/* An end without a begin: the probes were attached in the middle of this pause. */
	if (begin == 0)
		return;
	now = bpf_ktime_get_ns();
	jvm->begin_ns[kind] = 0;
	if (jvm->target_index >= NP_JVM_MAX_TARGETS) {
		struct np_jvm_drops *d = drops();

		if (d)
			d->bad_target++;
		return;
	}
	key = NP_JVM_STATS_KEY(jvm->target_index, kind);
	hist = bpf_map_lookup_elem(&pause_stats, &key);
	if (!hist)
		return;
	np_hist_record(hist, now > begin ? now - begin : 0);
}

/* hotspot:gc__begin(bool full) and gc__end() bracket the SvcGCMarker scope of a GC VM
 * operation: one pair per operation, even when Serial upgrades a young GC to a full one
 * inside it. The argument is not declared: fetching it would cost a spec lookup per hit. */
SEC("usdt")
int BPF_USDT(gc_begin)
{
	pause_begin(NP_JVM_PAUSE_GC);
	return 0;
}

SEC("usdt")
int BPF_USDT(gc_end)
{
	pause_end(NP_JVM_PAUSE_GC);
	return 0;
}

/* hs_private:safepoint__begin / safepoint__end fire in SafepointTracing::begin() and ::end():
 * from just before threads are asked to stop until they have been released, i.e. the
 * "Total" of -Xlog:safepoint, time-to-safepoint included. */
SEC("usdt")
int BPF_USDT(safepoint_begin)
{
	pause_begin(NP_JVM_PAUSE_SAFEPOINT);
	return 0;
}

SEC("usdt")
int BPF_USDT(safepoint_end)
{
	pause_end(NP_JVM_PAUSE_SAFEPOINT);
	return 0;
}
