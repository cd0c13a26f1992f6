// Alert webhooks (config alerts.webhooks[i]): on each state change, POST webhook_json() — the
// heartbeat JSON plus "old_state" — to a plain http:// URL. One sink per webhook, so a slow
// receiver only delays itself. Bounded: each attempt has the configured timeout, and a failed
// attempt (no answer, 5xx, 429) is retried `retries` times with a short doubling backoff; a
// 4xx other than 429 is not retried (the request itself is wrong). Only the URL's origin is
// ever logged: webhook paths often hold a token. A token for the receiver (a header) comes from
// a file or an environment variable named in the config (webhook_headers()), never from the
// config itself, and is never logged.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "common/result.h"
#include "config/config.h"
#include "http/http_client.h"
#include "sink.h"

namespace nodepulse {

struct RetryPolicy {
  std::chrono::milliseconds timeout{5000};  // per attempt
  uint32_t retries = 2;                     // attempts after the first
  std::chrono::milliseconds backoff{250};   // before the first retry; doubles after each
};

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

// POSTs `body` as application/json to `url` with retries. `what` names the destination in errors.
Result<HttpClientResponse> post_json_with_retries(const std::string& url, const std::string& body,
                                                  const RetryPolicy& policy, const std::string& what,
                                                  const HttpHeaders& headers = {});

// The header carrying `spec`'s token (token_file or token_env), or none when it has no token.
// Fails, naming `label` and the file or variable but never the token, when the token cannot be
// read, is empty, or holds a line break.
Result<HttpHeaders> webhook_headers(const WebhookSpec& spec, const std::string& label);

class WebhookSink final : public Sink {
 public:
  // Fails when the URL is not a usable http:// URL.
  static Result<std::unique_ptr<WebhookSink>> create(std::string url, RetryPolicy policy, std::string label,
                                                     HttpHeaders headers = {});

  const char* name() const override { return "alert_webhook"; }
  Result<void> publish(const Heartbeat& heartbeat) override;

 private:
  WebhookSink(std::string url, RetryPolicy policy, std::string what, HttpHeaders headers)
      : url_(std::move(url)), policy_(policy), what_(std::move(what)), headers_(std::move(headers)) {}

  std::string url_;
  RetryPolicy policy_;
  std::string what_;  // "alerts.webhooks[0] (http://host:port)"
  HttpHeaders headers_;  // secret: never logged
};

}  // namespace nodepulse
