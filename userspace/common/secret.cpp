#include "common/secret.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <cstdlib>

#include "common/file_text.h"

namespace nodepulse {
namespace {

// A token or password is a few hundred bytes at most; anything far larger is the wrong file.
constexpr std::size_t kMaxSecretFileBytes = 65536;

}  // namespace

Result<std::string> read_secret(const SecretSource& source) {
  std::string secret;
  std::string where;
  if (!source.file.empty()) {
    where = source.file_key + " " + source.file;
    const FileText file = read_text_file(source.file, kMaxSecretFileBytes + 1);
    if (file.error != 0) return errno_error("cannot read " + where, file.error);
    if (file.text.size() > kMaxSecretFileBytes) return Error{where + ": too large for a " + source.noun};
    secret = file.text;
    struct stat info {};
    if (::stat(source.file.c_str(), &info) == 0 && (info.st_mode & S_IROTH) != 0) {
      spdlog::warn("{} is readable by every user; chmod 600 it", where);
    }
  } else if (!source.env.empty()) {
    where = source.env_key + " " + source.env;
    const char* value = std::getenv(source.env.c_str());
    if (value == nullptr) return Error{where + ": the environment variable is not set"};
    secret = value;
  } else {
    return std::string();
  }
  const std::size_t first = secret.find_first_not_of(" \t\r\n");
  const std::size_t last = secret.find_last_not_of(" \t\r\n");
  secret = first == std::string::npos ? "" : secret.substr(first, last - first + 1);
  if (secret.empty()) return Error{where + ": the " + source.noun + " is empty"};
  // A line break would let the secret end its header and forge others.
  if (secret.find_first_of("\r\n") != std::string::npos) return Error{where + ": the " + source.noun + " must be one line"};
  return secret;
}

}  // namespace nodepulse
