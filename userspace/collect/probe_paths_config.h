// The probes' attach path and event transport as the config forces them (probes.attach,
// probes.events); shared by every collector that loads a probe and by `check`.
#pragma once

#include "config/config.h"
#include "probes/probe_paths.h"

namespace nodepulse {

// The config parser accepts only the spellings parse_* know, so value_or never hides a typo.
inline PathRequest probe_path_request(const Config& config) {
  return {.attach = parse_attach_path(config.probes.attach).value_or(std::nullopt),
          .events = parse_event_transport(config.probes.events).value_or(std::nullopt)};
}

}  // namespace nodepulse
