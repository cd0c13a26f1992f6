// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* An empty program on the same hook: what BPF statistics and the tracepoint dispatch cost by
 * themselves, so bench/runq-overhead can show the probe's own share of ns/event. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("tp_btf/sched_switch")
int BPF_PROG(floor_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	return 0;
}
