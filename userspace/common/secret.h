// Secrets (webhook tokens, Trino passwords) come from a file or from the environment, never from
// the config itself, so a config can be shared, printed and logged. One reader for all of them.
#pragma once

#include <string>

#include "common/result.h"

namespace nodepulse {

struct SecretSource {
  std::string file;      // absolute path whose content, trimmed, is the secret; "" = not a file
  std::string env;       // name of an environment variable holding it; "" = not the environment
  std::string file_key;  // the config keys, for messages: "alerts.webhooks[0].token_file"
  std::string env_key;   // "alerts.webhooks[0].token_env"
  std::string noun;      // "token", "password"
};

// The secret, trimmed; "" when neither file nor env is set. An error for an unreadable or
// oversized file, an unset variable, an empty secret or one with a line break (it would forge
// HTTP headers). Messages name the key and the file or variable, never the content. A file
// readable by every user is a warning.
Result<std::string> read_secret(const SecretSource& source);

}  // namespace nodepulse
