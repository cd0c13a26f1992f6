#include "sinks.h"

#include "agent_check/agent_check.h"
#include "alerts/alertmanager.h"
#include "alerts/exec_hook.h"
#include "alerts/webhook.h"
#include "keepalived/track_file.h"
#include "trino/trino_sink.h"
#include "zookeeper/zk_sink.h"

namespace nodepulse {

Result<std::vector<std::unique_ptr<Sink>>> make_sinks(const Config& config, const SinkContext& context) {
  std::vector<std::unique_ptr<Sink>> sinks;
  if (!config.zookeeper.connect.empty()) {
    Result<std::unique_ptr<Sink>> zookeeper = make_zookeeper_sink(config);
    if (!zookeeper.ok()) return zookeeper.error();
    sinks.push_back(std::move(zookeeper).value());
  }
  if (!config.agent_check.listen.empty()) {
    auto agent_check = AgentCheckSink::start(config.agent_check.listen, {config.agent_check.drain_below_weight});
    if (!agent_check.ok()) return agent_check.error();
    sinks.push_back(std::move(agent_check).value());
  }
  if (!config.keepalived.track_file.empty()) {
    const TrackFileValues values{config.keepalived.healthy_value, config.keepalived.degraded_value,
                                 config.keepalived.failing_value, config.keepalived.unknown_value};
    auto keepalived = KeepalivedTrackFileSink::create(config.keepalived.track_file, values);
    if (!keepalived.ok()) return keepalived.error();
    sinks.push_back(std::move(keepalived).value());
  }
  // One sink per hook, each on its own thread: a slow hook never delays another.
  for (std::size_t i = 0; i < config.alerts.exec.size(); ++i) {
    const ExecHookSpec& hook = config.alerts.exec[i];
    sinks.push_back(std::make_unique<ExecHookSink>(ExecHookOptions{
        hook.command, std::chrono::milliseconds(hook.timeout_ms), "alerts.exec[" + std::to_string(i) + "]"}));
  }
  for (std::size_t i = 0; i < config.alerts.webhooks.size(); ++i) {
    const WebhookSpec& webhook = config.alerts.webhooks[i];
    const RetryPolicy policy{std::chrono::milliseconds(webhook.timeout_ms), webhook.retries};
    const std::string label = "alerts.webhooks[" + std::to_string(i) + "]";
    auto headers = webhook_headers(webhook, label);
    if (!headers.ok()) return headers.error();
    auto sink = WebhookSink::create(webhook.url, policy, label, std::move(headers).value());
    if (!sink.ok()) return sink.error();
    sinks.push_back(std::move(sink).value());
  }
  if (!config.alerts.alertmanager_url.empty()) {
    const RetryPolicy policy{std::chrono::milliseconds(config.alerts.alertmanager_timeout_ms)};
    auto alertmanager = AlertmanagerSink::create(config.alerts.alertmanager_url, policy, kAlertmanagerResendInterval);
    if (!alertmanager.ok()) return alertmanager.error();
    sinks.push_back(std::move(alertmanager).value());
  }
  if (config.trino.drain != "off") {
    if (context.registry == nullptr || !context.drain_board) {
      return Error{"trino.drain: the trino sink needs a metrics registry and a drain status board"};
    }
    auto trino = make_trino_sink(config, context.drain_board, std::make_shared<DrainMetrics>(*context.registry));
    if (!trino.ok()) return trino.error();
    sinks.push_back(std::move(trino).value());
  }
  return sinks;
}

}  // namespace nodepulse
