#include "alerts/webhook.h"

#include <spdlog/spdlog.h>
#include <strings.h>
#include <sys/stat.h>

#include <cstdlib>
#include <thread>

#include "alerts/alert_payloads.h"
#include "common/file_text.h"

namespace nodepulse {
namespace {

// A bearer token is a few hundred bytes at most; anything far larger is the wrong file.
constexpr std::size_t kMaxTokenFileBytes = 65536;

}  // namespace

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
  std::string token;
  std::string source;
  if (!spec.token_file.empty()) {
    source = label + ".token_file " + spec.token_file;
    const FileText file = read_text_file(spec.token_file, kMaxTokenFileBytes + 1);
    if (file.error != 0) return errno_error("cannot read " + source, file.error);
    if (file.text.size() > kMaxTokenFileBytes) return Error{source + ": too large for a token"};
    token = file.text;
    struct stat info {};
    if (::stat(spec.token_file.c_str(), &info) == 0 && (info.st_mode & S_IROTH) != 0) {
      spdlog::warn("{} is readable by every user; chmod 600 it", source);
    }
  } else if (!spec.token_env.empty()) {
    source = label + ".token_env " + spec.token_env;
    const char* value = std::getenv(spec.token_env.c_str());
    if (value == nullptr) return Error{source + ": the environment variable is not set"};
    token = value;
  } else {
    return HttpHeaders{};
  }
  const std::size_t first = token.find_first_not_of(" \t\r\n");
  const std::size_t last = token.find_last_not_of(" \t\r\n");
  token = first == std::string::npos ? "" : token.substr(first, last - first + 1);
  if (token.empty()) return Error{source + ": the token is empty"};
  // A line break would let the token end the header and forge others.
  if (token.find_first_of("\r\n") != std::string::npos) return Error{source + ": the token must be one line"};
  const bool bearer = strcasecmp(spec.token_header.c_str(), "Authorization") == 0;
  return HttpHeaders{{spec.token_header, bearer ? "Bearer " + token : token}};
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
