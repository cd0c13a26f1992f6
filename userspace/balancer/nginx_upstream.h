// The nginx upstream include the balancer writes: one `upstream NAME { ... }` block with a
// `server HOST:PORT weight=W;` line per server, `down` for a server out of rotation. Pure, so
// the exact text is unit-tested; stable (sorted by node id, no timestamps), so an unchanged
// decision renders the same bytes and nginx is not reloaded for nothing.
#pragma once

#include <string>
#include <vector>

#include "balancer/policy.h"

namespace nodepulse {

struct NginxUpstream {
  std::string text;
  std::vector<std::string> skipped;  // node ids left out: no address known
};

// nginx refuses an upstream without servers; with no addressable server the text is "".
NginxUpstream render_nginx_upstream(const std::string& upstream_name, const Decision& decision);

}  // namespace nodepulse
