#include "config/value_checks.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <charconv>

namespace nodepulse::config_detail {
namespace {

bool is_name(std::string_view text) {
  return !text.empty() && std::ranges::all_of(text, [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
  });
}

bool is_port(std::string_view text) {
  unsigned port = 0;
  const auto [end, status] = std::from_chars(text.data(), text.data() + text.size(), port);
  return !text.empty() && status == std::errc{} && end == text.data() + text.size() && port >= 1 &&
         port <= 65535;
}

bool is_ipv4(std::string_view text) {
  in_addr address{};
  return inet_pton(AF_INET, std::string(text).c_str(), &address) == 1;
}

bool is_ipv6(std::string_view text) {
  in6_addr address{};
  return inet_pton(AF_INET6, std::string(text).c_str(), &address) == 1;
}

// RFC 1123: dot-separated labels of 1-63 letters, digits and '-', not starting or ending in '-'.
bool is_hostname(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  std::size_t start = 0;
  while (start <= host.size()) {
    std::size_t end = host.find('.', start);
    if (end == std::string_view::npos) end = host.size();
    const std::string_view label = host.substr(start, end - start);
    const bool label_ok = !label.empty() && label.size() <= 63 && !label.starts_with('-') &&
                          !label.ends_with('-') && std::ranges::all_of(label, [](char c) {
                            return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                                   (c >= '0' && c <= '9') || c == '-';
                          });
    if (!label_ok) return false;
    start = end + 1;
  }
  return true;
}

std::optional<std::string> host_problem(std::string_view host) {
  if (host.empty()) return "the host is missing (0.0.0.0 listens on every IPv4 address)";
  if (host.starts_with('[')) {
    if (host.ends_with(']') && is_ipv6(host.substr(1, host.size() - 2))) return std::nullopt;
    return "expected an IPv6 address inside [ ]";
  }
  if (host.find(':') != std::string_view::npos) return "write an IPv6 address in brackets, e.g. [::1]:9477";
  // All digits and dots is meant as an IPv4 address, even though it would pass as a hostname.
  const bool looks_numeric = std::ranges::all_of(host, [](char c) { return (c >= '0' && c <= '9') || c == '.'; });
  if (looks_numeric ? is_ipv4(host) : is_hostname(host)) return std::nullopt;
  return looks_numeric ? "not an IPv4 address" : "not a valid hostname";
}

}  // namespace

Result<void> metric_label_name(const Value& at, const std::string& name) {
  if (is_name(name)) return ok();
  return at.error("expected letters, digits, '_', '.' or '-', got " + in_quotes(name));
}

Result<void> znode_name(const Value& at, const std::string& name) {
  if (is_name(name) && name != "." && name != "..") return ok();
  return at.error("expected letters, digits, '_', '.' or '-' (it becomes a ZooKeeper znode name), got " +
                  in_quotes(name));
}

Result<void> absolute_path(const Value& at, const std::string& path) {
  if (path.starts_with('/')) return ok();
  return at.error("expected an absolute path, got " + in_quotes(path));
}

Result<void> environment_variable_name(const Value& at, const std::string& name) {
  const bool valid = !name.empty() && (std::isalpha(static_cast<unsigned char>(name[0])) || name[0] == '_') &&
                     std::ranges::all_of(name, [](unsigned char c) { return std::isalnum(c) || c == '_'; });
  if (valid) return ok();
  return at.error("expected an environment variable name (letters, digits, '_'), got " + in_quotes(name));
}

std::string url_scheme(const std::string& url) {
  const std::size_t separator = url.find("://");
  std::string scheme = separator == std::string::npos ? "" : url.substr(0, separator + 3);
  std::ranges::transform(scheme, scheme.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return scheme;
}

Result<void> http_url(const Value& at, const std::string& url) {
  const std::string scheme = url_scheme(url);
  if (scheme == "https://") {
    return at.error("https:// is not supported (nodepulse speaks plain HTTP only); use http:// or a local TLS relay");
  }
  if (scheme != "http://" || url.size() == scheme.size() || url[scheme.size()] == '/') {
    return at.error("expected a URL like http://HOST:PORT/PATH");
  }
  return ok();
}

std::optional<std::string> listen_address_problem(std::string_view address) {
  const std::size_t colon = address.rfind(':');
  if (colon == std::string_view::npos) return "the port is missing";
  if (!is_port(address.substr(colon + 1))) return "the port must be 1-65535";
  return host_problem(address.substr(0, colon));
}

Result<void> listen_address(const Value& at, const std::string& address) {
  if (auto problem = listen_address_problem(address)) {
    return at.error("expected HOST:PORT such as 127.0.0.1:9477 or [::1]:9477, got " + in_quotes(address) +
                    ": " + *problem);
  }
  return ok();
}

}  // namespace nodepulse::config_detail
