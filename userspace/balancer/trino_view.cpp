#include "balancer/trino_view.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <set>

#include "balancer/policy.h"

namespace nodepulse {
namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  std::ranges::transform(out, out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

struct HostPort {
  std::string host;  // without brackets
  uint16_t port = 0;
};

// "host:port" or "[v6]:port"; nullopt without a valid port.
std::optional<HostPort> split_address(std::string_view address) {
  std::string_view host;
  std::string_view port;
  if (address.starts_with('[')) {
    const std::size_t close = address.find(']');
    if (close == std::string_view::npos || address.substr(close + 1, 1) != ":") return std::nullopt;
    host = address.substr(1, close - 1);
    port = address.substr(close + 2);
  } else {
    const std::size_t colon = address.rfind(':');
    if (colon == std::string_view::npos || address.find(':') != colon) return std::nullopt;
    host = address.substr(0, colon);
    port = address.substr(colon + 1);
  }
  unsigned value = 0;
  const auto [end, error] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (host.empty() || error != std::errc{} || end != port.data() + port.size() || value == 0 || value > 65535) {
    return std::nullopt;
  }
  return HostPort{std::string(host), static_cast<uint16_t>(value)};
}

std::string normalised(const HostPort& address) { return server_address(lower(address.host), address.port); }

// The address itself and the same port on every address its host resolves to.
std::set<std::string> match_keys(const std::string& address, const AddressResolver& resolve) {
  std::set<std::string> keys = {address};
  if (!resolve) return keys;
  if (const auto parts = split_address(address)) {
    for (const std::string& ip : resolve(parts->host)) keys.insert(normalised({ip, parts->port}));
  }
  return keys;
}

bool is_sick(MemberState state) { return state == MemberState::kFailing || state == MemberState::kDown; }
bool is_well(MemberState state) { return state == MemberState::kHealthy || state == MemberState::kDegraded; }

// Drain states in which the agent has taken its worker out of Trino's scheduling.
bool drained_out(std::string_view drain_state) {
  return drain_state == "draining" || drain_state == "drained" || drain_state == "shutting_down" ||
         drain_state == "held";
}

struct Entry {
  const trino::NodeStats* stats = nullptr;
  CoordinatorView view = CoordinatorView::kActive;
  bool matched = false;
};

}  // namespace

std::string_view to_string(CoordinatorView view) {
  switch (view) {
    case CoordinatorView::kActive: return "active";
    case CoordinatorView::kFailed: return "failed";
    case CoordinatorView::kAbsent: return "absent";
    case CoordinatorView::kUnknown: return "unknown";
  }
  return "unknown";
}

std::optional<std::string> uri_address(std::string_view uri) {
  const std::size_t separator = uri.find("://");
  if (separator == std::string_view::npos) return std::nullopt;
  const std::string scheme = lower(uri.substr(0, separator));
  const uint16_t default_port = scheme == "http" ? 80 : scheme == "https" ? 443 : 0;
  if (default_port == 0) return std::nullopt;
  std::string_view authority = uri.substr(separator + 3);
  authority = authority.substr(0, authority.find_first_of("/?#"));
  if (const std::size_t at = authority.rfind('@'); at != std::string_view::npos) authority = authority.substr(at + 1);
  if (const auto parts = split_address(authority)) return normalised(*parts);
  // No port, or a bad one.
  std::string_view host = authority;
  if (host.starts_with('[') && host.ends_with(']')) {
    host = host.substr(1, host.size() - 2);
  } else if (host.find_first_of(":[]") != std::string_view::npos) {
    return std::nullopt;
  }
  if (host.empty()) return std::nullopt;
  return normalised({std::string(host), default_port});
}

std::vector<std::string> node_addresses(const std::optional<NodeReport>& report, std::string_view configured_address) {
  std::vector<std::string> addresses;
  if (!configured_address.empty()) {
    const auto parts = split_address(configured_address);
    addresses.push_back(parts ? normalised(*parts) : lower(configured_address));
  }
  if (report && !report->host.empty()) {
    const std::string own = normalised({report->host, report->http_port ? report->http_port : kDefaultServerPort});
    if (std::ranges::find(addresses, own) == addresses.end()) addresses.push_back(own);
  }
  return addresses;
}

std::string disagreement(const WatchedNode& node, CoordinatorView view) {
  const std::string nodepulse = "nodepulse says " + std::string(to_string(node.state));
  const std::string drain = node.drain_state.empty() ? "no trino drain" : "drain " + node.drain_state;
  switch (view) {
    case CoordinatorView::kUnknown:
      return "";
    case CoordinatorView::kActive:
      if (is_sick(node.state) && !drained_out(node.drain_state)) {
        return nodepulse + " (" + drain + "), but the coordinator counts it active and keeps scheduling on it";
      }
      return "";
    case CoordinatorView::kFailed:
      if (is_well(node.state)) return nodepulse + ", but the coordinator counts it failed";
      return "";
    case CoordinatorView::kAbsent:
      if (is_well(node.state) && node.role != "coordinator") {
        return nodepulse + ", but the coordinator does not list it (not announced, or under another address: "
                           "balancer.servers[].address)";
      }
      return "";
  }
  return "";
}

std::size_t TrinoView::disagreements() const {
  const auto flagged = [](const auto& item) { return !item.disagreement.empty(); };
  return static_cast<std::size_t>(std::ranges::count_if(nodes, flagged) + std::ranges::count_if(unmatched, flagged));
}

TrinoView join_trino_view(const std::vector<WatchedNode>& nodes, const std::optional<CoordinatorNodes>& coordinator,
                          const AddressResolver& resolve) {
  // Failed entries first: Trino lists a failed node in both answers, and failed is what counts.
  std::vector<Entry> entries;
  if (coordinator) {
    for (const trino::NodeStats& stats : coordinator->failed) entries.push_back({&stats, CoordinatorView::kFailed});
    for (const trino::NodeStats& stats : coordinator->listed) {
      const bool also_failed = std::ranges::any_of(
          coordinator->failed, [&](const trino::NodeStats& failed) { return failed.uri == stats.uri; });
      if (!also_failed) entries.push_back({&stats, CoordinatorView::kActive});
    }
  }
  std::map<std::string, std::size_t> entry_by_key;  // the first entry under each address
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const auto address = uri_address(entries[i].stats->uri);
    if (!address) continue;
    for (const std::string& key : match_keys(*address, resolve)) entry_by_key.emplace(key, i);
  }

  TrinoView view;
  for (const WatchedNode& node : nodes) {
    TrinoNodeView& seen = view.nodes.emplace_back();
    seen.node_id = node.node_id;
    if (!coordinator || node.addresses.empty()) continue;  // unknown
    seen.view = CoordinatorView::kAbsent;
    std::optional<std::size_t> match;
    for (const std::string& address : node.addresses) {
      for (const std::string& key : match_keys(address, resolve)) {
        if (auto it = entry_by_key.find(key); it != entry_by_key.end() && (!match || it->second < *match)) {
          match = it->second;
        }
      }
    }
    if (match) {
      Entry& entry = entries[*match];
      entry.matched = true;
      seen.view = entry.view;
      seen.uri = entry.stats->uri;
      seen.last_failure = entry.stats->last_failure;
    }
    seen.disagreement = disagreement(node, seen.view);
  }
  for (const Entry& entry : entries) {
    if (entry.matched) continue;
    UnmatchedEntry unmatched{entry.stats->uri, entry.view, ""};
    if (entry.view == CoordinatorView::kActive) {
      unmatched.disagreement = "the coordinator schedules on it, but no nodepulse heartbeat comes from this address";
    }
    view.unmatched.push_back(std::move(unmatched));
  }
  std::ranges::sort(view.unmatched, {}, &UnmatchedEntry::uri);
  return view;
}

}  // namespace nodepulse
