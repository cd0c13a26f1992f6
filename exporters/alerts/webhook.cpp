#include "alerts/webhook.h"

#include <spdlog/spdlog.h>
#include <strings.h>

#include <thread>

#include "alerts/alert_payloads.h"
#include "common/secret.h"

namespace nodepulse {

Result<HttpClientResponse> post_json_with_retries(const std::string& url, const std::string& body,
                                                  const RetryPolicy& policy, const std::string& what,
                                                  const HttpHeaders& headers) {
  HttpRequest request;
  request.headers = headers;
  request.method = "POST";
  request.url = url;
  request.content_type = "application/json";
  request.body = body;
  request.timeout = policy.timeout;
  std::chrono::milliseconds backoff = policy.backoff;
  std::string last_problem;
  for (uint32_t attempt = 0; attempt <= policy.retries; ++attempt) {
    if (attempt > 0) {
      std::this_thread::sleep_for(backoff);
      backoff *= 2;
    }
    Result<HttpClientResponse> response = http_request(request);
    if (response.ok() && response->status >= 200 && response->status < 300) return response;
    if (response.ok()) {
      last_problem = "HTTP " + std::to_string(response->status);
      const bool retryable = response->status >= 500 || response->status == 429 || response->status == 408;
      if (!retryable) return Error{what + ": " + last_problem + " (not retried)"};
    } else {
      last_problem = response.error().message;
    }
    spdlog::debug("{}: attempt {} failed: {}", what, attempt + 1, last_problem);
  }
  return Error{what + ": " + last_problem + " after " + std::to_string(policy.retries + 1) + " attempts"};
}

Result<HttpHeaders> webhook_headers(const WebhookSpec& spec, const std::string& label) {
  Result<std::string> token =
      read_secret({spec.token_file, spec.token_env, label + ".token_file", label + ".token_env", "token"});
  if (!token.ok()) return token.error();
  if (token->empty()) return HttpHeaders{};
  const bool bearer = strcasecmp(spec.token_header.c_str(), "Authorization") == 0;
  return HttpHeaders{{spec.token_header, bearer ? "Bearer " + *token : *token}};
}

Result<std::unique_ptr<WebhookSink>> WebhookSink::create(std::string url, RetryPolicy policy, std::string label,
                                                         HttpHeaders headers) {
  Result<HttpUrl> parsed = parse_http_url(url);
  if (!parsed.ok()) return Error{label + ": " + parsed.error().message};
  std::string what = label + " (" + loggable_origin(*parsed) + ")";
  return std::unique_ptr<WebhookSink>(new WebhookSink(std::move(url), policy, std::move(what), std::move(headers)));
}

Result<void> WebhookSink::publish(const Heartbeat& heartbeat) {
  if (!heartbeat.state_changed) return ok();
  Result<HttpClientResponse> posted = post_json_with_retries(url_, webhook_json(heartbeat), policy_, what_, headers_);
  if (!posted.ok()) return posted.error();
  spdlog::info("{}: posted {} -> {}", what_, to_string(heartbeat.previous_state), to_string(heartbeat.verdict.state));
  return ok();
}

}  // namespace nodepulse
