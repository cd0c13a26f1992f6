// Small owners and readers shared by every probe. Only userspace/probes includes this.
#pragma once

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <spdlog/spdlog.h>

#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"
#include "probes/probe_paths.h"
#include "probes/readings.h"

namespace nodepulse {

// A skeleton, destroyed (every link detached, every map and program closed) with its owner.
template <class Skeleton, void (*Destroy)(Skeleton*)>
struct SkeletonDeleter {
  void operator()(Skeleton* skeleton) const { Destroy(skeleton); }
};
template <class Skeleton, void (*Destroy)(Skeleton*)>
using SkeletonPtr = std::unique_ptr<Skeleton, SkeletonDeleter<Skeleton, Destroy>>;

// A link attached outside a skeleton's own attach (USDT, iterators), detached with its owner.
struct LinkDeleter {
  void operator()(bpf_link* link) const { bpf_link__destroy(link); }
};
using LinkPtr = std::unique_ptr<bpf_link, LinkDeleter>;

// Owns a libbpf ring buffer. The callback is a noexcept trampoline: nothing thrown by the
// handler may unwind through libbpf's C frames.
class RingBuffer {
 public:
  using Handler = int (*)(void* context, void* data, size_t size) noexcept;

  static Result<RingBuffer> open(const bpf_map* map, Handler handler, void* context);

  RingBuffer(RingBuffer&& other) noexcept : ring_(std::exchange(other.ring_, nullptr)) {}
  RingBuffer& operator=(RingBuffer&& other) noexcept;
  RingBuffer(const RingBuffer&) = delete;
  RingBuffer& operator=(const RingBuffer&) = delete;
  ~RingBuffer();

  int epoll_fd() const { return ring_buffer__epoll_fd(ring_); }
  // Handles every record available now, without blocking. Returns records handled or -errno.
  int consume() { return ring_buffer__consume(ring_); }

 private:
  explicit RingBuffer(ring_buffer* ring) : ring_(ring) {}
  ring_buffer* ring_ = nullptr;
};

// Owns a libbpf perf buffer: one buffer per CPU, for kernels without a ring buffer. The
// handler is RingBuffer's; the kernel pads each record to 8 bytes, so records are trimmed back
// to record_size. Records the kernel could not write (a CPU's buffer was full) are counted in
// lost(), never silently dropped.
class PerfBuffer {
 public:
  using Handler = RingBuffer::Handler;

  static Result<PerfBuffer> open(const bpf_map* map, size_t pages_per_cpu, size_t record_size, Handler handler,
                                 void* context);

  int epoll_fd() const { return perf_buffer__epoll_fd(state_->buffer); }
  // Handles every record available now on every CPU, without blocking. Returns records handled
  // or -errno.
  int consume();
  uint64_t lost() const { return state_->lost; }

 private:
  // On the heap, so libbpf's context pointer survives moves of the PerfBuffer.
  struct State {
    perf_buffer* buffer = nullptr;
    Handler handler = nullptr;
    void* context = nullptr;
    size_t record_size = 0;
    uint64_t lost = 0;
    int handled = 0;
    State() = default;
    State(const State&) = delete;
    State& operator=(const State&) = delete;
    ~State() {
      if (buffer) perf_buffer__free(buffer);
    }
  };
  explicit PerfBuffer(std::unique_ptr<State> state) : state_(std::move(state)) {}
  static void on_sample(void* context, int cpu, void* data, __u32 size) noexcept;
  static void on_lost(void* context, int cpu, __u64 count) noexcept;
  std::unique_ptr<State> state_;
};

// A probe's events, from whichever transport was chosen at load: collectors and the event loop
// see one fd and one consume().
class EventStream {
 public:
  struct Maps {
    const bpf_map* ring;  // BPF_MAP_TYPE_RINGBUF
    const bpf_map* perf;  // BPF_MAP_TYPE_PERF_EVENT_ARRAY
  };
  struct Sizes {
    size_t record_size;    // the one record type this probe sends
    size_t pages_per_cpu;  // perf buffer only; a power of 2
  };

  // Before load: shrinks the map of the transport not taken (the unused ring buffer becomes a
  // 1-entry array, which every kernel can create). The BPF side's events_use_perf_buffer must
  // be set to match.
  static Result<void> prepare(bpf_map* ring, bpf_map* perf, EventTransport transport);

  static Result<EventStream> open(EventTransport transport, Maps maps, Sizes sizes, RingBuffer::Handler handler,
                                  void* context);

  int epoll_fd() const;
  int consume();
  // Records the kernel reported lost to userspace (perf buffer only; the ring buffer's losses
  // are counted by the programs themselves).
  uint64_t lost() const;

 private:
  explicit EventStream(std::variant<RingBuffer, PerfBuffer> stream) : stream_(std::move(stream)) {}
  std::variant<RingBuffer, PerfBuffer> stream_;
};

// Decodes each ring-buffer record and hands it to a handler. on_record() is the noexcept
// trampoline libbpf calls: a malformed record or a throwing handler is logged, never unwound
// through libbpf's C frames.
template <class Event>
class EventDispatcher {
 public:
  using Decode = std::optional<Event> (*)(std::span<const std::byte> record);
  using Handler = std::function<void(const Event&)>;

  EventDispatcher(const char* probe, Decode decode) : probe_(probe), decode_(decode) {}
  void set_handler(Handler handler) { handler_ = std::move(handler); }

  static int on_record(void* context, void* data, size_t size) noexcept {
    auto* self = static_cast<EventDispatcher*>(context);
    try {
      const std::optional<Event> event = self->decode_({static_cast<const std::byte*>(data), size});
      if (!event) {
        spdlog::warn("{} probe: ignoring a malformed event record of {} bytes", self->probe_, size);
        return 0;
      }
      self->handler_(*event);
    } catch (const std::exception& e) {
      spdlog::error("{} probe: event handler failed: {}", self->probe_, e.what());
    } catch (...) {
      spdlog::error("{} probe: event handler failed", self->probe_);
    }
    return 0;
  }

 private:
  const char* probe_;
  Decode decode_;
  Handler handler_;
};

// Reads the per-CPU values of `key` in a BPF_MAP_TYPE_PERCPU_ARRAY whose value type is T.
template <class T>
Result<std::vector<T>> read_percpu(const bpf_map* map, uint32_t key) {
  static_assert(sizeof(T) % 8 == 0, "per-CPU values are laid out 8-byte aligned");
  const int ncpu = libbpf_num_possible_cpus();
  if (ncpu <= 0) return errno_error("counting possible CPUs", ncpu);
  if (bpf_map__value_size(map) != sizeof(T)) {
    return Error{std::string("map ") + bpf_map__name(map) + ": value size does not match its header"};
  }
  std::vector<T> values(static_cast<size_t>(ncpu));
  const int err = bpf_map__lookup_elem(map, &key, sizeof(key), values.data(), values.size() * sizeof(T), 0);
  if (err) return errno_error(std::string("reading map ") + bpf_map__name(map), err);
  return values;
}

// run_time_ns / run_cnt (zero unless BPF stats are on) and recursion misses of every program of a
// loaded object.
std::vector<ProgramStats> program_stats(const bpf_object* object);

// Turns on kernel BPF run-time statistics for as long as the returned fd stays open.
Result<UniqueFd> enable_bpf_stats();

}  // namespace nodepulse
