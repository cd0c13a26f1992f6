// keepalived's track_file: a file holding one integer that keepalived re-reads whenever it
// changes (inotify). keepalived multiplies the value by the weight of the track_file statement
// and adds the product to the VRRP instance's priority; a product below -253 puts the instance
// in FAULT, which gives up the VIP at once. With `weight 0`, any non-zero value is a FAULT.
//
// Defaults (keepalived.*_value):   healthy 0, degraded 0, failing -254, unknown 0
//   - failing -254 means FAULT with `weight 1` (-254 < -253) and with `weight 0` (non-zero), so
//     the VIP fails over whichever of the two usual weights the operator configured;
//   - degraded 0: a degraded node still serves (/health says 200); lower its priority instead by
//     setting degraded_value to e.g. -50 with `weight 1` so that a healthy peer takes the VIP;
//   - unknown 0: every node is unknown for a moment at start-up and when a probe cannot load;
//     failing them all would leave no one to hold the VIP.
//
// Example keepalived.conf:
//   track_file nodepulse { file /run/nodepulse/track; weight 1 }
//   vrrp_instance VI_1 { ... track_file { nodepulse } }
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string_view>

#include "common/result.h"
#include "sink.h"

namespace nodepulse {

struct TrackFileValues {
  int32_t healthy = 0;
  int32_t degraded = 0;
  int32_t failing = -254;
  int32_t unknown = 0;
};

int32_t track_file_value(HealthState state, const TrackFileValues& values);

// Replaces `file` with `content` so that a reader sees the old or the new content, never a mix:
// a temporary file in the same directory, fsync, rename over `file`, fsync of the directory.
Result<void> replace_file_atomically(const std::filesystem::path& file, std::string_view content);

class KeepalivedTrackFileSink final : public Sink {
 public:
  // Fails at start-up if the file's directory does not exist or is not writable.
  static Result<std::unique_ptr<KeepalivedTrackFileSink>> create(std::filesystem::path file, TrackFileValues values);

  const char* name() const override { return "keepalived"; }
  // Writes the state's value, unless the file already holds it. The file is read each time, so
  // a file reset by someone else (keepalived's `init_file ... overwrite` on restart, an operator)
  // is put right at the next heartbeat.
  Result<void> publish(const Heartbeat& heartbeat) override;

  uint64_t writes() const { return writes_.load(std::memory_order_relaxed); }

 private:
  KeepalivedTrackFileSink(std::filesystem::path file, TrackFileValues values)
      : file_(std::move(file)), values_(values) {}

  std::filesystem::path file_;
  TrackFileValues values_;
  std::atomic<uint64_t> writes_{0};
};

// The integer in a track file's text (as keepalived reads it), or nullopt.
std::optional<int64_t> parse_track_file_value(std::string_view text);

}  // namespace nodepulse
