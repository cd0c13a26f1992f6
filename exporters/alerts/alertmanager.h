// Alertmanager (config alerts.alertmanager_url): posts NodepulseNodeFailing /
// NodepulseNodeDegraded to POST {url}/api/v2/alerts — fired on the change, re-sent every
// kAlertmanagerResendInterval while it lasts (Alertmanager lets an alert lapse when it is not
// re-sent), resolved with endsAt on recovery. See AlertmanagerTracker for the rules. A post that
// fails after its retries is planned again at the next heartbeat, so a resolution is not lost
// to an Alertmanager that was down for a while.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "alerts/alert_payloads.h"
#include "alerts/webhook.h"
#include "sink.h"

namespace nodepulse {

// Prometheus' own resend delay; an alert lapses 4 intervals after its last post.
inline constexpr std::chrono::milliseconds kAlertmanagerResendInterval{60000};

class AlertmanagerSink final : public Sink {
 public:
  using WallClockMs = std::function<uint64_t()>;

  // `base_url`: http://HOST:PORT[/PREFIX]; /api/v2/alerts is appended.
  static Result<std::unique_ptr<AlertmanagerSink>> create(const std::string& base_url, RetryPolicy policy,
                                                          std::chrono::milliseconds resend_interval,
                                                          WallClockMs now_ms = {});

  const char* name() const override { return "alertmanager"; }
  Result<void> publish(const Heartbeat& heartbeat) override;

 private:
  AlertmanagerSink(std::string url, std::string what, RetryPolicy policy, std::chrono::milliseconds resend,
                   WallClockMs now_ms)
      : url_(std::move(url)), what_(std::move(what)), policy_(policy), tracker_(resend), now_ms_(std::move(now_ms)) {}

  std::string url_;
  std::string what_;
  RetryPolicy policy_;
  AlertmanagerTracker tracker_;
  WallClockMs now_ms_;
};

}  // namespace nodepulse
