// Value checks shared by several config sections: names, paths, URLs, listen addresses.
// Each is a check for Section::read(): Result<void>(const Value& where, const T& decoded).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "config/yaml_walk.h"

namespace nodepulse::config_detail {

// Letters, digits, '_', '.' or '-': a Prometheus label value we can print anywhere.
Result<void> metric_label_name(const Value& at, const std::string& name);
// As metric_label_name, and neither "." nor "..", which ZooKeeper rejects as path components.
Result<void> znode_name(const Value& at, const std::string& name);
Result<void> absolute_path(const Value& at, const std::string& path);
Result<void> environment_variable_name(const Value& at, const std::string& name);

// A URL's scheme with its "://", lower-cased ("HTTP://h" -> "http://"); "" when it has none.
std::string url_scheme(const std::string& url);
// Plain http:// only: the alert client speaks no TLS. The URL itself is never echoed, since
// webhook URLs often carry a token.
Result<void> http_url(const Value& at, const std::string& url);

// What is wrong with HOST:PORT ("[::1]:9477", "0.0.0.0:9478", "host.example:80"); nullopt if nothing.
std::optional<std::string> listen_address_problem(std::string_view address);
Result<void> listen_address(const Value& at, const std::string& address);

}  // namespace nodepulse::config_detail
