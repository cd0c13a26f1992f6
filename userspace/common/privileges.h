// Least privilege for the agent: once its probes are loaded and attached, it keeps only the
// capabilities its steady state needs (kAgentKeptCapabilities, with the reason for each) and
// gives up everything else for good, in every thread.
//
// Linux credentials belong to each thread, not to the process: capset(2) and prctl(2) change
// only the calling thread, and by the time the probes are attached the agent already runs sink
// threads (ZooKeeper, agent-check, hooks) created by libraries we do not control, so
// libpsx's pthread_create wrapping cannot see them either. drop_privileges() therefore applies
// the same change on every thread listed in /proc/self/task (each thread runs it from a signal
// handler, the way glibc broadcasts setuid()), and then reads every thread's status back: it
// succeeds only when every thread shows exactly the kept set.
#pragma once

#include <linux/capability.h>

#include <string>
#include <vector>

#include "common/result.h"

namespace nodepulse {

// What the agent keeps after start-up, found by experiment on kernel 6.18 (see
// tests/kernel/privileges_test.cpp and the README's "Privileges" section):
//  - CAP_SYS_ADMIN: re-attaching a restarted JVM's USDT programs creates uprobe perf events,
//    and perf_event_open() of the "uprobe" PMU answers EACCES without CAP_SYS_ADMIN even with
//    CAP_PERFMON (measured here: a plain perf_event_open() of a uprobe fails with CAP_BPF +
//    CAP_PERFMON + CAP_SYS_PTRACE and works once CAP_SYS_ADMIN is added). It also covers what
//    CAP_BPF and CAP_PERFMON grant (the
//    kernel's bpf_capable() and perfmon_capable() accept it), so those two are not kept apart.
//  - CAP_SYS_PTRACE: the JVM runs as another user (trino); /proc/PID/maps (where libjvm.so is
//    found) and /proc/PID/root (through which it is opened for the uprobe, in the target's
//    mount namespace) need PTRACE_MODE_READ access to it, and CAP_SYS_ADMIN does not give that.
//  - CAP_SYS_RESOURCE, when the agent has it: a PSI trigger on a restarted target's cgroup
//    memory.pressure is polled per window (and may use a window that is not a multiple of
//    2 s) only when the file was opened with CAP_SYS_RESOURCE (kernel/sched/psi.c, since 6.5);
//    without it the PSI fast path would silently change for targets started after the drop.
//    (Not measurable on the development machine: its root runs without CAP_SYS_RESOURCE, and
//    drop_privileges() keeps only what the process has.)
// Not kept: CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH (the agent stays uid 0, so root-owned
// files it writes — cgroup pressure files, the keepalived track file under /run — are its
// own, and /proc/PID/{cmdline,status,cgroup} are world-readable), CAP_NET_BIND_SERVICE (the
// listeners are bound before the drop), CAP_SETPCAP (needed only to make the drop itself),
// CAP_BPF and CAP_PERFMON on their own (reading and updating maps through fds opened before the
// drop needs no capability: an agent left with CAP_SYS_PTRACE alone keeps collecting), and
// every other capability.
inline const std::vector<int> kAgentKeptCapabilities = {CAP_SYS_ADMIN, CAP_SYS_PTRACE, CAP_SYS_RESOURCE};

// Drops, in every thread, every capability not in `keep` from the permitted, effective,
// inheritable and bounding sets, clears the ambient set, sets no_new_privs, and locks
// SECBIT_NOROOT (with SECBIT_NO_CAP_AMBIENT_RAISE): programs the agent starts (exec hooks) run
// as uid 0 but with no capabilities at all, and no setuid binary can give them any. Needs
// CAP_SETPCAP unless the bounding set and securebits are already as wanted. An error names the
// step or the thread that failed; the process may then be half-dropped and should exit.
// Returns what was kept: `keep` less any capability the process did not have to begin with
// (a container's or a unit's bounding set), since capset never adds one.
Result<std::vector<int>> drop_privileges(const std::vector<int>& keep);

// "cap_bpf,cap_perfmon": for logs and `check`.
std::string capability_names(const std::vector<int>& capabilities);

}  // namespace nodepulse
