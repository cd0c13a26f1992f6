#include "http/http_client.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <memory>
#include <optional>

#include "common/unique_fd.h"

namespace nodepulse {
namespace {

using Clock = std::chrono::steady_clock;

bool parse_port(std::string_view text, uint16_t& port) {
  unsigned value = 0;
  const auto [end, status] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || status != std::errc{} || end != text.data() + text.size() || value > 65535) return false;
  port = static_cast<uint16_t>(value);
  return true;
}

int remaining_ms(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return static_cast<int>(std::clamp<int64_t>(left, 0, 60'000));
}

// Waits for `events` on `fd` until the deadline; false on timeout or error.
bool wait_for(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    pollfd entry{fd, events, 0};
    const int ready = ::poll(&entry, 1, remaining_ms(deadline));
    if (ready > 0) return true;
    if (ready == 0) return false;
    if (errno != EINTR) return false;
  }
}

Result<UniqueFd> connect_before(const HostPort& endpoint, Clock::time_point deadline) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const int status = ::getaddrinfo(endpoint.host.c_str(), std::to_string(endpoint.port).c_str(), &hints, &found);
  if (status != 0) return Error{"cannot resolve " + endpoint.host + ": " + ::gai_strerror(status)};
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> addresses(found, &::freeaddrinfo);
  Error last{"no address for " + endpoint.host};
  for (const addrinfo* address = found; address != nullptr; address = address->ai_next) {
    UniqueFd fd(::socket(address->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd.valid()) {
      last = errno_error("socket", errno);
      continue;
    }
    if (::connect(fd.get(), address->ai_addr, address->ai_addrlen) == 0) return fd;
    if (errno != EINPROGRESS) {
      last = errno_error("connect to " + endpoint.host + ":" + std::to_string(endpoint.port), errno);
      continue;
    }
    if (!wait_for(fd.get(), POLLOUT, deadline)) {
      return Error{"connect to " + endpoint.host + ":" + std::to_string(endpoint.port) + ": timed out"};
    }
    int error = 0;
    socklen_t length = sizeof error;
    ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &length);
    if (error == 0) return fd;
    last = errno_error("connect to " + endpoint.host + ":" + std::to_string(endpoint.port), error);
  }
  return last;
}

Result<void> send_all(int fd, std::string_view data, Clock::time_point deadline) {
  while (!data.empty()) {
    // MSG_NOSIGNAL: a receiver that closes early must not SIGPIPE the agent.
    const ssize_t sent = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (sent > 0) {
      data.remove_prefix(static_cast<std::size_t>(sent));
      continue;
    }
    if (sent < 0 && errno == EINTR) continue;
    if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!wait_for(fd, POLLOUT, deadline)) return Error{"sending the request: timed out"};
      continue;
    }
    return errno_error("sending the request", errno);
  }
  return ok();
}

std::string lower(std::string_view text) {
  std::string result(text);
  for (char& c : result) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return result;
}

struct Head {
  int status = 0;
  std::optional<std::size_t> content_length;
  bool chunked = false;
  std::size_t body_offset = 0;
};

// Parses the status line and the headers that frame the body; nullopt if `raw` has no full head yet.
std::optional<Result<Head>> parse_head(const std::string& raw) {
  const std::size_t end = raw.find("\r\n\r\n");
  if (end == std::string::npos) return std::nullopt;
  Head head;
  head.body_offset = end + 4;
  const std::size_t line_end = raw.find("\r\n");
  const std::string_view status_line(raw.data(), line_end);
  if (!status_line.starts_with("HTTP/1.") || status_line.size() < 12 || status_line[8] != ' ') {
    return Result<Head>(Error{"not an HTTP response"});
  }
  int status = 0;
  const auto [ptr, code] = std::from_chars(status_line.data() + 9, status_line.data() + 12, status);
  if (code != std::errc{} || ptr != status_line.data() + 12 || status < 100 || status > 999) {
    return Result<Head>(Error{"malformed HTTP status line"});
  }
  head.status = status;
  std::size_t at = line_end + 2;
  while (at < end) {
    std::size_t next = raw.find("\r\n", at);
    const std::string_view line(raw.data() + at, next - at);
    at = next + 2;
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const std::string name = lower(line.substr(0, colon));
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    if (name == "content-length") {
      std::size_t length = 0;
      const auto [p, c] = std::from_chars(value.data(), value.data() + value.size(), length);
      if (c != std::errc{} || p != value.data() + value.size()) return Result<Head>(Error{"malformed Content-Length"});
      head.content_length = length;
    } else if (name == "transfer-encoding" && lower(value).find("chunked") != std::string::npos) {
      head.chunked = true;
    }
  }
  return Result<Head>(head);
}

// Decodes a complete chunked body; nullopt while it is incomplete.
std::optional<Result<std::string>> dechunk(std::string_view data) {
  std::string body;
  std::size_t at = 0;
  for (;;) {
    const std::size_t line_end = data.find("\r\n", at);
    if (line_end == std::string_view::npos) return std::nullopt;
    std::string_view size_text = data.substr(at, line_end - at);
    if (const std::size_t semicolon = size_text.find(';'); semicolon != std::string_view::npos) {
      size_text = size_text.substr(0, semicolon);
    }
    std::size_t size = 0;
    const auto [p, c] = std::from_chars(size_text.data(), size_text.data() + size_text.size(), size, 16);
    if (c != std::errc{} || size_text.empty()) return Result<std::string>(Error{"malformed chunked body"});
    at = line_end + 2;
    if (size == 0) return Result<std::string>(std::move(body));  // trailers are ignored
    if (data.size() < at + size + 2) return std::nullopt;
    body.append(data.substr(at, size));
    at += size + 2;
  }
}

}  // namespace

Result<HostPort> split_host_port(std::string_view text) {
  const std::size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return Error{"expected HOST:PORT, the port is missing"};
  HostPort result;
  if (!parse_port(text.substr(colon + 1), result.port)) return Error{"expected HOST:PORT with a port 0-65535"};
  std::string_view host = text.substr(0, colon);
  if (host.starts_with('[')) {
    if (!host.ends_with(']')) return Error{"expected [IPV6]:PORT"};
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    return Error{"write an IPv6 address in brackets, e.g. [::1]:9478"};
  }
  if (host.empty()) return Error{"expected HOST:PORT, the host is missing"};
  result.host = std::string(host);
  return result;
}

Result<HttpUrl> parse_http_url(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  if (lower(url.substr(0, 8)) == "https://") {
    return Error{"https:// is not supported (nodepulse speaks plain HTTP only); use http:// or a local TLS relay"};
  }
  if (lower(url.substr(0, kScheme.size())) != kScheme) return Error{"expected a URL starting with http://"};
  std::string_view rest = url.substr(kScheme.size());
  const std::size_t slash = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, slash);
  std::string path = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (path.starts_with('?')) path = "/" + path;
  if (const std::size_t fragment = path.find('#'); fragment != std::string::npos) path.resize(fragment);
  if (authority.find('@') != std::string_view::npos) return Error{"user:password@ in URLs is not supported"};
  if (authority.empty()) return Error{"the URL has no host"};
  for (char c : path) {
    if (static_cast<unsigned char>(c) <= ' ') return Error{"the URL's path holds a space or control character"};
  }
  HttpUrl parsed;
  parsed.path = std::move(path);
  const bool has_port = authority.starts_with('[') ? authority.find("]:") != std::string_view::npos
                                                   : authority.find(':') != std::string_view::npos;
  if (has_port) {
    Result<HostPort> endpoint = split_host_port(authority);
    if (!endpoint.ok()) return Error{"bad host or port in the URL: " + endpoint.error().message};
    if (endpoint->port == 0) return Error{"bad port in the URL: 0"};
    parsed.endpoint = std::move(*endpoint);
  } else {
    std::string_view host = authority;
    if (host.starts_with('[') && host.ends_with(']')) host = host.substr(1, host.size() - 2);
    parsed.endpoint = HostPort{std::string(host), 80};
  }
  parsed.host_header = std::string(authority);
  return parsed;
}

std::string loggable_origin(const HttpUrl& url) { return "http://" + url.host_header; }

Result<HttpClientResponse> http_request(const HttpRequest& request) {
  const Clock::time_point deadline = Clock::now() + request.timeout;
  Result<HttpUrl> url = parse_http_url(request.url);
  if (!url.ok()) return url.error();
  Result<UniqueFd> fd = connect_before(url->endpoint, deadline);
  if (!fd.ok()) return fd.error();

  std::string message = request.method + " " + url->path + " HTTP/1.1\r\nHost: " + url->host_header +
                        "\r\nUser-Agent: nodepulse\r\nConnection: close\r\n";
  for (const auto& [name, value] : request.headers) message += name + ": " + value + "\r\n";
  if (!request.body.empty() || request.method == "POST" || request.method == "PUT") {
    if (!request.content_type.empty()) message += "Content-Type: " + request.content_type + "\r\n";
    message += "Content-Length: " + std::to_string(request.body.size()) + "\r\n";
  }
  message += "\r\n";
  message += request.body;
  if (Result<void> sent = send_all(fd->get(), message, deadline); !sent.ok()) return sent.error();

  std::string raw;
  std::optional<Head> head;
  char buffer[16384];
  for (;;) {
    if (!head) {
      if (auto parsed = parse_head(raw)) {
        if (!parsed->ok()) return parsed->error();
        head = parsed->value();
      }
    }
    if (head) {
      // 1xx, 204 and 304 have no body; a HEAD answer neither.
      if (head->status < 200 || head->status == 204 || head->status == 304 || request.method == "HEAD") {
        return HttpClientResponse{head->status, ""};
      }
      const std::string_view body = std::string_view(raw).substr(head->body_offset);
      if (head->chunked) {
        if (auto decoded = dechunk(body)) {
          if (!decoded->ok()) return decoded->error();
          return HttpClientResponse{head->status, std::move(decoded->value())};
        }
      } else if (head->content_length && body.size() >= *head->content_length) {
        return HttpClientResponse{head->status, std::string(body.substr(0, *head->content_length))};
      }
    }
    if (raw.size() > kMaxResponseBytes) return Error{"the response is larger than 1 MiB"};
    const ssize_t count = ::recv(fd->get(), buffer, sizeof buffer, 0);
    if (count > 0) {
      raw.append(buffer, static_cast<std::size_t>(count));
      continue;
    }
    if (count == 0) {  // the server closed: the body ends here unless it was framed
      if (!head) return Error{"the connection closed before a complete HTTP response"};
      if (head->chunked || head->content_length) return Error{"the connection closed in the middle of the body"};
      return HttpClientResponse{head->status, raw.substr(head->body_offset)};
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (!wait_for(fd->get(), POLLIN, deadline)) return Error{"waiting for the response: timed out"};
      continue;
    }
    return errno_error("reading the response", errno);
  }
}

}  // namespace nodepulse
