/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Kernel reads that load on 5.4 too (BPF side only; include after bpf_core_read.h).
 *
 * bpf_probe_read_kernel() and its _str twin, which BPF_CORE_READ() and bpf_core_read_str()
 * call, arrived in 5.5. On x86 the older bpf_probe_read() and bpf_probe_read_str() read kernel
 * memory just as well. Userspace clears has_probe_read_kernel before load where the kernel
 * lacks the new helpers; the verifier resolves the branch on the read-only flag, so the helper
 * the kernel does not know is never checked. On the tp_btf path (5.11+) it is always set. */
#ifndef NODEPULSE_COMPAT_BPF_H
#define NODEPULSE_COMPAT_BPF_H

const volatile __u32 has_probe_read_kernel = 1;

static __always_inline long np_probe_read_kernel(void *dst, __u32 size, const void *src)
{
	if (has_probe_read_kernel)
		return bpf_probe_read_kernel(dst, size, src);
	return bpf_probe_read(dst, size, src);
}

static __always_inline long np_probe_read_kernel_str(void *dst, __u32 size, const void *src)
{
	if (has_probe_read_kernel)
		return bpf_probe_read_kernel_str(dst, size, src);
	return bpf_probe_read_str(dst, size, src);
}

#undef bpf_core_read
#define bpf_core_read(dst, sz, src) \
	np_probe_read_kernel(dst, sz, (const void *)__builtin_preserve_access_index(src))
#undef bpf_core_read_str
#define bpf_core_read_str(dst, sz, src) \
	np_probe_read_kernel_str(dst, sz, (const void *)__builtin_preserve_access_index(src))
/* What BPF_CORE_READ_BITFIELD_PROBED() reads with (x86 is little-endian). */
#undef __CORE_BITFIELD_PROBE_READ
#define __CORE_BITFIELD_PROBE_READ(dst, src, fld) \
	np_probe_read_kernel((void *)dst, __CORE_RELO(src, fld, BYTE_SIZE), \
			     (const void *)src + __CORE_RELO(src, fld, BYTE_OFFSET))

/* include/linux/sched.h: runnable (queued or running). */
#define TASK_RUNNING 0

/* task_struct::state became __state in 5.14 (commit 2f064a59a11f). */
struct task_struct___pre_5_14 {
	long state;
} __attribute__((preserve_access_index));

static __always_inline long task_state(struct task_struct *task)
{
	if (bpf_core_field_exists(task->__state))
		return task->__state;
	return ((struct task_struct___pre_5_14 *)task)->state;
}

/* The same through an untyped pointer (raw_tp, current). */
static __always_inline long task_state_raw(struct task_struct *task)
{
	if (bpf_core_field_exists(task->__state))
		return BPF_CORE_READ(task, __state);
	return BPF_CORE_READ((struct task_struct___pre_5_14 *)task, state);
}

#endif
