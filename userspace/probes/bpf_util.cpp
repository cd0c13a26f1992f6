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

std::vector<ProgramStats> program_stats(const bpf_object* object) {
  std::vector<ProgramStats> stats;
  bpf_program* program = nullptr;
  bpf_object__for_each_program(program, object) {
    const int fd = bpf_program__fd(program);
    if (fd < 0) continue;  // not loaded (autoload off)
    bpf_prog_info info{};
    uint32_t length = sizeof(info);
    if (bpf_obj_get_info_by_fd(fd, &info, &length) != 0) continue;
    stats.push_back({bpf_program__name(program), info.run_time_ns, info.run_cnt});
  }
  return stats;
}

Result<UniqueFd> enable_bpf_stats() {
  const int fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
  if (fd < 0) return errno_error("enabling BPF run-time statistics", errno);
  return UniqueFd(fd);
}

}  // namespace nodepulse
