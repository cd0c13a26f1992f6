#include "alerts/alertmanager.h"

#include <spdlog/spdlog.h>

namespace nodepulse {
namespace {

uint64_t system_now_ms() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

}  // namespace

Result<std::unique_ptr<AlertmanagerSink>> AlertmanagerSink::create(const std::string& base_url, RetryPolicy policy,
                                                                   std::chrono::milliseconds resend_interval,
                                                                   WallClockMs now_ms) {
  std::string url = base_url;
  while (url.ends_with('/')) url.pop_back();
  url += "/api/v2/alerts";
  Result<HttpUrl> parsed = parse_http_url(url);
  if (!parsed.ok()) return Error{"alerts.alertmanager_url: " + parsed.error().message};
  std::string what = "alertmanager (" + loggable_origin(*parsed) + ")";
  if (!now_ms) now_ms = system_now_ms;
  return std::unique_ptr<AlertmanagerSink>(
      new AlertmanagerSink(std::move(url), std::move(what), policy, resend_interval, std::move(now_ms)));
}

Result<void> AlertmanagerSink::publish(const Heartbeat& heartbeat) {
  const uint64_t now = now_ms_();
  const AlertmanagerTracker::Plan plan = tracker_.plan(heartbeat, now);
  if (plan.alerts.empty()) return ok();
  Result<HttpClientResponse> posted =
      post_json_with_retries(url_, alertmanager_payload(heartbeat, plan.alerts), policy_, what_);
  if (!posted.ok()) return posted.error();
  tracker_.commit(plan, now);
  for (const AlertmanagerAlert& alert : plan.alerts) {
    spdlog::debug("{}: {} {}", what_, alert.alertname, alert.resolved ? "resolved" : "firing");
  }
  return ok();
}

}  // namespace nodepulse
