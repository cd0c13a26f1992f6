#include "common/privileges.h"

#include <dirent.h>
#include <linux/securebits.h>
#include <semaphore.h>
#include <signal.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <set>

#include "common/file_text.h"

namespace nodepulse {
namespace {

// One RT signal carries the change to the other threads. glibc keeps 32 and 33 for itself
// (SIGRTMIN is above them); nothing else in the agent uses RT signals.
int broadcast_signal() { return SIGRTMIN + 5; }

// A whole thread answers within microseconds; this long means it blocks the signal.
constexpr long kThreadAnswerTimeoutMs = 2000;

// Everything a thread needs to change its own credentials, computed before any signal is sent,
// so the handler only makes async-signal-safe system calls.
struct Plan {
  uint64_t keep_mask = 0;
  int last_cap = 0;  // highest capability this kernel knows
};

Plan g_plan;
std::atomic<int> g_thread_error{0};
std::atomic<int> g_thread_step{0};
sem_t g_thread_done;

enum Step : int { kNone, kBounding, kSecurebits, kAmbient, kCapset, kNoNewPrivs };

const char* step_name(int step) {
  switch (step) {
    case kBounding: return "dropping the bounding set (PR_CAPBSET_DROP)";
    case kSecurebits: return "locking SECBIT_NOROOT (PR_SET_SECUREBITS)";
    case kAmbient: return "clearing the ambient set (PR_CAP_AMBIENT_CLEAR_ALL)";
    case kCapset: return "capset";
    case kNoNewPrivs: return "PR_SET_NO_NEW_PRIVS";
    default: return "?";
  }
}

constexpr unsigned long kWantedSecurebits =
    SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;

// Changes the calling thread only. Order matters: the bounding set and securebits need
// CAP_SETPCAP, which capset then gives up. Returns 0 or errno, with the failed step in *step.
int apply_on_this_thread(const Plan& plan, int* step) noexcept {
  for (int cap = 0; cap <= plan.last_cap; ++cap) {
    if ((plan.keep_mask >> cap) & 1) continue;
    const int in_bounding = ::prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
    if (in_bounding == 1 && ::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) {
      *step = kBounding;
      return errno;
    }
  }
  const int securebits = ::prctl(PR_GET_SECUREBITS, 0, 0, 0, 0);
  if (securebits < 0 || (static_cast<unsigned long>(securebits) & kWantedSecurebits) != kWantedSecurebits) {
    const unsigned long wanted = (securebits < 0 ? 0 : static_cast<unsigned long>(securebits)) | kWantedSecurebits;
    if (::prctl(PR_SET_SECUREBITS, wanted, 0, 0, 0) != 0) {
      *step = kSecurebits;
      return errno;
    }
  }
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0) {
    *step = kAmbient;
    return errno;
  }
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  for (int word = 0; word < _LINUX_CAPABILITY_U32S_3; ++word) {
    const auto bits = static_cast<uint32_t>(plan.keep_mask >> (32 * word));
    data[word].effective = bits;
    data[word].permitted = bits;
    data[word].inheritable = 0;
  }
  if (::syscall(SYS_capset, &header, data) != 0) {
    *step = kCapset;
    return errno;
  }
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    *step = kNoNewPrivs;
    return errno;
  }
  return 0;
}

void on_broadcast(int) {
  const int saved_errno = errno;
  int step = kNone;
  if (const int err = apply_on_this_thread(g_plan, &step); err != 0) {
    int expected = 0;
    if (g_thread_error.compare_exchange_strong(expected, err)) g_thread_step = step;
  }
  ::sem_post(&g_thread_done);
  errno = saved_errno;
}

std::set<pid_t> thread_ids() {
  std::set<pid_t> ids;
  DIR* tasks = ::opendir("/proc/self/task");
  if (tasks == nullptr) return ids;
  while (const dirent* entry = ::readdir(tasks)) {
    if (entry->d_name[0] != '.') ids.insert(static_cast<pid_t>(std::atoi(entry->d_name)));
  }
  ::closedir(tasks);
  return ids;
}

std::string thread_name(pid_t tid) {
  std::string comm = read_text_file("/proc/self/task/" + std::to_string(tid) + "/comm").text;
  while (!comm.empty() && comm.back() == '\n') comm.pop_back();
  return comm.empty() ? "?" : comm;
}

bool thread_exists(pid_t tid) { return ::access(("/proc/self/task/" + std::to_string(tid)).c_str(), F_OK) == 0; }

// True once thread `tid` has run the handler, or has exited (then it never will, and needs no
// change); false when it is still there after kThreadAnswerTimeoutMs (it blocks the signal).
bool wait_for_thread(pid_t tid) {
  constexpr long kSliceMs = 10;
  for (long waited = 0; waited < kThreadAnswerTimeoutMs; waited += kSliceMs) {
    timespec deadline{};
    ::clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_nsec += kSliceMs * 1'000'000;
    if (deadline.tv_nsec >= 1'000'000'000) {
      deadline.tv_sec += 1;
      deadline.tv_nsec -= 1'000'000'000;
    }
    if (::sem_timedwait(&g_thread_done, &deadline) == 0) return true;
    if (!thread_exists(tid)) {
      ::sem_trywait(&g_thread_done);  // an answer posted just before it exited
      return true;
    }
  }
  return false;
}

// The value of "Field:\t..." in a /proc status file.
std::string status_field(const std::string& status, const std::string& field) {
  const size_t at = status.find("\n" + field + ":");
  if (at == std::string::npos) return "";
  const size_t start = status.find_first_not_of(" \t", at + field.size() + 2);
  const size_t end = status.find('\n', start);
  return status.substr(start, end - start);
}

// Every thread, read back from the kernel: exactly the kept set, nothing inheritable or
// ambient, no_new_privs on.
Result<void> verify_every_thread(const Plan& plan) {
  char keep_hex[17];
  std::snprintf(keep_hex, sizeof keep_hex, "%016" PRIx64, plan.keep_mask);
  for (const pid_t tid : thread_ids()) {
    const FileText status = read_text_file("/proc/self/task/" + std::to_string(tid) + "/status");
    if (status.error != 0) continue;  // the thread has just exited
    const std::pair<const char*, std::string> expected[] = {{"CapPrm", keep_hex},  {"CapEff", keep_hex},
                                                            {"CapBnd", keep_hex},  {"CapInh", std::string(16, '0')},
                                                            {"CapAmb", std::string(16, '0')}, {"NoNewPrivs", "1"}};
    for (const auto& [field, value] : expected) {
      const std::string actual = status_field(status.text, field);
      if (actual != value) {
        return Error{"thread " + std::to_string(tid) + " (" + thread_name(tid) + ") still has " + field + " " + actual +
                     " after dropping privileges (wanted " + value + ")"};
      }
    }
  }
  return ok();
}

// The calling thread's permitted set, as a mask.
Result<uint64_t> permitted_mask() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (::syscall(SYS_capget, &header, data) != 0) return errno_error("dropping privileges: capget", errno);
  return uint64_t{data[0].permitted} | (uint64_t{data[1].permitted} << 32);
}

}  // namespace

std::string capability_names(const std::vector<int>& capabilities) {
  std::string names;
  for (const int cap : capabilities) {
    char* name = ::cap_to_name(static_cast<cap_value_t>(cap));
    if (!names.empty()) names += ",";
    names += name != nullptr ? name : std::to_string(cap);
    ::cap_free(name);
  }
  return names;
}

Result<std::vector<int>> drop_privileges(const std::vector<int>& keep) {
  Plan plan;
  plan.last_cap = static_cast<int>(::cap_max_bits()) - 1;
  for (const int cap : keep) plan.keep_mask |= uint64_t{1} << cap;
  // A capability the agent was started without (a container's or a unit's bounding set) cannot
  // be kept: capset never adds to the permitted set.
  Result<uint64_t> permitted = permitted_mask();
  if (!permitted.ok()) return permitted.error();
  plan.keep_mask &= *permitted;
  std::vector<int> kept;
  for (const int cap : keep) {
    if ((plan.keep_mask >> cap) & 1) kept.push_back(cap);
  }
  g_plan = plan;
  g_thread_error = 0;
  g_thread_step = kNone;
  if (::sem_init(&g_thread_done, 0, 0) != 0) return errno_error("dropping privileges: sem_init", errno);


  struct sigaction action {};
  action.sa_handler = on_broadcast;
  action.sa_flags = SA_RESTART;
  sigfillset(&action.sa_mask);
  struct sigaction previous {};
  if (::sigaction(broadcast_signal(), &action, &previous) != 0) {
    return errno_error("dropping privileges: sigaction", errno);
  }

  // This thread first, so every thread it starts from now on inherits the reduced set.
  Result<void> result = ok();
  int step = kNone;
  if (const int err = apply_on_this_thread(plan, &step); err != 0) {
    result = errno_error(std::string("dropping privileges: ") + step_name(step), err);
  }
  // Then every other thread, until a pass finds none new: a thread started by a thread not yet
  // changed would inherit its old credentials, but it shows up in the next listing.
  const pid_t self = static_cast<pid_t>(::syscall(SYS_gettid));
  std::set<pid_t> changed = {self};
  for (bool found_new = true; result.ok() && found_new;) {
    found_new = false;
    for (const pid_t tid : thread_ids()) {
      if (changed.contains(tid)) continue;
      found_new = true;
      changed.insert(tid);
      if (::syscall(SYS_tgkill, ::getpid(), tid, broadcast_signal()) != 0) {
        if (errno == ESRCH) continue;  // exited meanwhile
        result = errno_error("dropping privileges: signalling thread " + std::to_string(tid), errno);
        break;
      }
      if (!wait_for_thread(tid)) {
        result = Error{"dropping privileges: thread " + std::to_string(tid) + " (" + thread_name(tid) +
                       ") did not answer (it blocks signal " + std::to_string(broadcast_signal()) + ")"};
        break;
      }
      if (const int err = g_thread_error.load(); err != 0) {
        result = errno_error("dropping privileges in thread " + std::to_string(tid) + " (" + thread_name(tid) + "): " +
                                 step_name(g_thread_step.load()),
                             err);
        break;
      }
    }
  }
  // A thread that was too late to answer must not find the handler gone, so the default
  // (terminating) action comes back only when every thread has answered.
  if (result.ok()) ::sigaction(broadcast_signal(), &previous, nullptr);
  if (!result.ok()) return result.error();
  if (Result<void> verified = verify_every_thread(plan); !verified.ok()) return verified.error();
  return kept;
}

}  // namespace nodepulse
