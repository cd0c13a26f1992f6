#include "probes/bpf_util.h"

#include <cerrno>

namespace nodepulse {

Result<RingBuffer> RingBuffer::open(const bpf_map* map, Handler handler, void* context) {
  ring_buffer* ring = ring_buffer__new(bpf_map__fd(map), handler, context, nullptr);
  if (!ring) return errno_error(std::string("opening ring buffer ") + bpf_map__name(map), errno);
  return RingBuffer(ring);
}

RingBuffer& RingBuffer::operator=(RingBuffer&& other) noexcept {
  if (this != &other) {
    if (ring_) ring_buffer__free(ring_);
    ring_ = std::exchange(other.ring_, nullptr);
  }
  return *this;
}

RingBuffer::~RingBuffer() {
  if (ring_) ring_buffer__free(ring_);
}

Result<PerfBuffer> PerfBuffer::open(const bpf_map* map, size_t pages_per_cpu, size_t record_size, Handler handler,
                                    void* context) {
  auto state = std::make_unique<State>();
  state->handler = handler;
  state->context = context;
  state->record_size = record_size;
  state->buffer = perf_buffer__new(bpf_map__fd(map), pages_per_cpu, &PerfBuffer::on_sample, &PerfBuffer::on_lost,
                                   state.get(), nullptr);
  if (!state->buffer) {
    const int err = errno;
    state->buffer = nullptr;
    return errno_error(std::string("opening perf buffer ") + bpf_map__name(map), err);
  }
  return PerfBuffer(std::move(state));
}

int PerfBuffer::consume() {
  state_->handled = 0;
  const int err = perf_buffer__consume(state_->buffer);
  return err < 0 ? err : state_->handled;
}

void PerfBuffer::on_sample(void* context, int, void* data, __u32 size) noexcept {
  auto* state = static_cast<State*>(context);
  ++state->handled;
  // Raw samples are padded so that size + 4 is a multiple of 8; anything else is malformed
  // and left for the decoder to reject.
  size_t length = size;
  if (length > state->record_size && length - state->record_size < 8) length = state->record_size;
  state->handler(state->context, data, length);
}

void PerfBuffer::on_lost(void* context, int, __u64 count) noexcept { static_cast<State*>(context)->lost += count; }

Result<void> EventStream::prepare(bpf_map* ring, bpf_map* perf, EventTransport transport) {
  if (transport == EventTransport::kRingBuffer) {
    // libbpf sizes a perf event array to the CPU count unless told otherwise.
    if (int err = bpf_map__set_max_entries(perf, 1)) return errno_error("shrinking the unused perf buffer map", err);
    return ok();
  }
  if (int err = bpf_map__set_type(ring, BPF_MAP_TYPE_ARRAY)) return errno_error("retyping the unused ring buffer", err);
  if (int err = bpf_map__set_key_size(ring, sizeof(uint32_t))) return errno_error("retyping the unused ring buffer", err);
  if (int err = bpf_map__set_value_size(ring, sizeof(uint32_t))) {
    return errno_error("retyping the unused ring buffer", err);
  }
  if (int err = bpf_map__set_max_entries(ring, 1)) return errno_error("retyping the unused ring buffer", err);
  return ok();
}

Result<EventStream> EventStream::open(EventTransport transport, Maps maps, Sizes sizes, RingBuffer::Handler handler,
                                      void* context) {
  if (transport == EventTransport::kRingBuffer) {
    auto ring = RingBuffer::open(maps.ring, handler, context);
    if (!ring) return ring.error();
    return EventStream(std::move(*ring));
  }
  auto perf = PerfBuffer::open(maps.perf, sizes.pages_per_cpu, sizes.record_size, handler, context);
  if (!perf) return perf.error();
  return EventStream(std::move(*perf));
}

int EventStream::epoll_fd() const {
  return std::visit([](const auto& stream) { return stream.epoll_fd(); }, stream_);
}

int EventStream::consume() {
  return std::visit([](auto& stream) { return stream.consume(); }, stream_);
}

uint64_t EventStream::lost() const {
  const auto* perf = std::get_if<PerfBuffer>(&stream_);
  return perf ? perf->lost() : 0;
}

std::vector<ProgramStats> program_stats(const bpf_object* object) {
  std::vector<ProgramStats> stats;
  bpf_program* program = nullptr;
  bpf_object__for_each_program(program, object) {
    const int fd = bpf_program__fd(program);
    if (fd < 0) continue;  // not loaded (autoload off)
    bpf_prog_info info{};
    uint32_t length = sizeof(info);
    if (bpf_obj_get_info_by_fd(fd, &info, &length) != 0) continue;
    stats.push_back({bpf_program__name(program), info.run_time_ns, info.run_cnt, info.recursion_misses});
  }
  return stats;
}

Result<UniqueFd> enable_bpf_stats() {
  const int fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
  if (fd < 0) return errno_error("enabling BPF run-time statistics", errno);
  return UniqueFd(fd);
}

}  // namespace nodepulse
