/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Fixed-width types for the BPF<->userspace contract headers: vmlinux.h on the BPF side,
 * linux/types.h in userspace. */
#ifndef NODEPULSE_BPF_ABI_TYPES_H
#define NODEPULSE_BPF_ABI_TYPES_H
#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif
#endif
