#include "zk/zk_client.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <utility>

namespace nodepulse::zk {

// ---- The C client's log.

namespace {

// At most this many C client lines per window; the rest are counted and reported as a number.
constexpr int kLogLinesPerWindow = 5;
constexpr std::chrono::seconds kLogWindow{10};

struct LogLimiter {
  std::mutex mutex;
  std::chrono::steady_clock::time_point window_start{};
  int lines = 0;
  int suppressed = 0;
};

LogLimiter& log_limiter() {
  static LogLimiter limiter;
  return limiter;
}

// The C client formats "TIME:PID(0xTID):ZOO_WARN@function@line: text"; keep "function@line: text"
// and the level.
void client_log(const char* message) noexcept {
  try {
    if (message == nullptr) return;
    std::string_view text(message);
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
    // ZOO_ERROR lines are connection failures the caller already reports (and counts) as
    // errors of its own: warnings here. Below that, the level set by route_client_log() has
    // dropped them already.
    spdlog::level::level_enum level = spdlog::level::warn;
    if (const std::size_t at = text.find(":ZOO_"); at != std::string_view::npos) {
      const std::string_view rest = text.substr(at + 5);
      if (rest.starts_with("INFO@")) level = spdlog::level::info;
      if (rest.starts_with("DEBUG@")) level = spdlog::level::debug;
      text = rest.substr(std::min(rest.find('@') + 1, rest.size()));
    }
    if (!spdlog::should_log(level)) return;

    LogLimiter& limiter = log_limiter();
    int reported_suppressed = 0;
    {
      std::lock_guard lock(limiter.mutex);
      const auto now = std::chrono::steady_clock::now();
      if (now - limiter.window_start >= kLogWindow) {
        reported_suppressed = limiter.suppressed;
        limiter.window_start = now;
        limiter.lines = 0;
        limiter.suppressed = 0;
      }
      if (limiter.lines >= kLogLinesPerWindow) {
        ++limiter.suppressed;
        return;
      }
      ++limiter.lines;
    }
    if (reported_suppressed > 0) {
      spdlog::warn("zookeeper client: {} more messages suppressed", reported_suppressed);
    }
    spdlog::log(level, "zookeeper client: {}", text);
  } catch (...) {
  }
}

}  // namespace

void route_client_log() {
  static std::once_flag once;
  // Below warnings the C client logs every connect and request: noise for an agent.
  std::call_once(once, [] { zoo_set_debug_level(ZOO_LOG_LEVEL_WARN); });
}

std::string describe_rc(int rc) {
  const char* name = nullptr;
  switch (rc) {
    case ZOK: name = "ZOK"; break;
    case ZNONODE: name = "ZNONODE"; break;
    case ZNODEEXISTS: name = "ZNODEEXISTS"; break;
    case ZNOAUTH: name = "ZNOAUTH"; break;
    case ZBADVERSION: name = "ZBADVERSION"; break;
    case ZNOTEMPTY: name = "ZNOTEMPTY"; break;
    case ZINVALIDACL: name = "ZINVALIDACL"; break;
    case ZNOCHILDRENFOREPHEMERALS: name = "ZNOCHILDRENFOREPHEMERALS"; break;
    case ZCONNECTIONLOSS: name = "ZCONNECTIONLOSS"; break;
    case ZSESSIONEXPIRED: name = "ZSESSIONEXPIRED"; break;
    case ZOPERATIONTIMEOUT: name = "ZOPERATIONTIMEOUT"; break;
    case ZINVALIDSTATE: name = "ZINVALIDSTATE"; break;
    case ZBADARGUMENTS: name = "ZBADARGUMENTS"; break;
    case ZCLOSING: name = "ZCLOSING"; break;
    case ZAUTHFAILED: name = "ZAUTHFAILED"; break;
    default: break;
  }
  const std::string text = zerror(rc);
  return name ? std::string(name) + " (" + text + ")" : text + " (" + std::to_string(rc) + ")";
}

// ---- Shared state between the caller's thread and the C client's threads.

// The answer to one request. The C client holds one reference (a heap-allocated shared_ptr
// passed as the completion's `data`, released by the completion, which the C client calls
// exactly once, with ZCLOSING at the latest); the waiting caller holds the other and may give
// up on a timeout without leaving the completion a dangling pointer.
struct Answer {
  std::mutex mutex;
  std::condition_variable done_changed;
  bool done = false;
  int rc = ZOK;
  std::string data;
  Stat stat{};
  std::vector<std::string> strings;
};

using AnswerRef = std::shared_ptr<Answer>;

struct ZkClient::Shared {
  std::mutex mutex;
  std::condition_variable state_changed;
  int session_state = 0;       // the last state a session event reported
  std::chrono::steady_clock::time_point disconnected_since = std::chrono::steady_clock::now();
  bool wants_auth = false;
  std::optional<int> auth_rc;  // the server's answer to our credentials
  std::string connect;         // for messages

  // Watches by id: the C client hands a watch's context to every session event too, and keeps
  // no count of them, so the context is an id looked up here rather than a pointer to free.
  uint64_t next_watch_id = 1;
  std::map<uint64_t, Watcher> watches;
  std::function<void()> session_listener;
};

namespace {

const char* state_text(int state) {
  if (state == ZOO_CONNECTED_STATE) return "connected";
  if (state == ZOO_CONNECTING_STATE) return "connecting";
  if (state == ZOO_ASSOCIATING_STATE) return "associating";
  if (state == ZOO_EXPIRED_SESSION_STATE) return "session expired";
  if (state == ZOO_AUTH_FAILED_STATE) return "authentication failed";
  if (state == ZOO_READONLY_STATE) return "read-only";
  if (state == ZOO_NOTCONNECTED_STATE) return "not connected";
  if (state == 0) return "not connected";
  return "unknown state";
}

// Completions are called from C: nothing may throw out of them.
template <class Fill>
void finish(int rc, const void* data, Fill fill) noexcept {
  std::unique_ptr<AnswerRef> ref(static_cast<AnswerRef*>(const_cast<void*>(data)));
  if (!ref) return;
  Answer& answer = **ref;
  try {
    {
      std::lock_guard lock(answer.mutex);
      answer.rc = rc;
      try {
        if (rc == ZOK) fill(answer);
      } catch (...) {
        answer.rc = ZSYSTEMERROR;
      }
      answer.done = true;
    }
    answer.done_changed.notify_all();
  } catch (...) {
  }
}

void on_void(int rc, const void* data) noexcept {
  finish(rc, data, [](Answer&) {});
}

void on_string(int rc, const char* /*created_path*/, const void* data) noexcept {
  finish(rc, data, [](Answer&) {});
}

void on_stat(int rc, const Stat* stat, const void* data) noexcept {
  finish(rc, data, [stat](Answer& answer) {
    if (stat) answer.stat = *stat;
  });
}

void on_data(int rc, const char* value, int value_len, const Stat* stat, const void* data) noexcept {
  finish(rc, data, [&](Answer& answer) {
    // A znode without data reports a length of -1.
    if (value && value_len > 0) answer.data.assign(value, static_cast<std::size_t>(value_len));
    if (stat) answer.stat = *stat;
  });
}

void on_strings(int rc, const String_vector* strings, const void* data) noexcept {
  finish(rc, data, [strings](Answer& answer) {
    if (!strings) return;
    for (int32_t i = 0; i < strings->count; ++i) answer.strings.emplace_back(strings->data[i]);
  });
}

// The handle's global watcher: session events only (we never pass watch=1).
void on_session_event(zhandle_t* handle, int type, int state, const char* /*path*/, void* context) noexcept {
  try {
    if (type != ZOO_SESSION_EVENT || context == nullptr) return;
    auto* shared = static_cast<ZkClient::Shared*>(context);
    int previous = 0;
    {
      std::lock_guard lock(shared->mutex);
      previous = shared->session_state;
      shared->session_state = state;
      if (previous == ZOO_CONNECTED_STATE && state != ZOO_CONNECTED_STATE) {
        shared->disconnected_since = std::chrono::steady_clock::now();
      }
    }
    shared->state_changed.notify_all();
    std::function<void()> listener;
    {
      std::lock_guard lock(shared->mutex);
      listener = shared->session_listener;
    }
    if (listener) listener();
    if (state == previous) return;
    if (state == ZOO_CONNECTED_STATE) {
      const clientid_t* id = zoo_client_id(handle);
      const char* server = zoo_get_current_server(handle);
      spdlog::info("zookeeper: connected to {} (session 0x{:x})", server ? server : "?",
                   id ? static_cast<uint64_t>(id->client_id) : 0);
    } else if (state == ZOO_EXPIRED_SESSION_STATE || state == ZOO_AUTH_FAILED_STATE) {
      spdlog::warn("zookeeper: {} ({})", state_text(state), shared->connect);
    } else if (previous == ZOO_CONNECTED_STATE) {
      spdlog::warn("zookeeper: disconnected from {}; reconnecting", shared->connect);
    }
  } catch (...) {
  }
}

void on_auth(int rc, const void* data) noexcept {
  auto* shared = static_cast<ZkClient::Shared*>(const_cast<void*>(data));
  if (shared == nullptr) return;
  {
    std::lock_guard lock(shared->mutex);
    shared->auth_rc = rc;
  }
  shared->state_changed.notify_all();
}

// A path watch: the context is the watch's id in Shared::watches.
void on_watch(zhandle_t* handle, int type, int /*state*/, const char* path, void* context) noexcept {
  try {
    // Session events reach every watch and leave it armed; only a node event consumes it.
    if (type == ZOO_SESSION_EVENT) return;
    auto* shared = static_cast<ZkClient::Shared*>(const_cast<void*>(zoo_get_context(handle)));
    if (shared == nullptr) return;
    const auto id = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(context));
    Watcher watcher;
    {
      std::lock_guard lock(shared->mutex);
      auto it = shared->watches.find(id);
      if (it == shared->watches.end()) return;
      watcher = std::move(it->second);
      shared->watches.erase(it);
    }
    if (watcher) watcher(type, path ? std::string(path) : std::string());
  } catch (...) {
  }
}

}  // namespace

// ---- ZkClient.

Result<std::unique_ptr<ZkClient>> ZkClient::open(const ClientOptions& options) {
  if (options.connect.empty()) return Error{"zookeeper: no servers to connect to"};
  if (!options.digest.empty() && options.digest.find(':') == std::string::npos) {
    return Error{"zookeeper: digest credentials must be user:password"};
  }
  route_client_log();
  std::unique_ptr<ZkClient> client(new ZkClient());
  client->shared_ = std::make_unique<Shared>();
  client->shared_->connect = options.connect;
  client->shared_->wants_auth = !options.digest.empty();
  errno = 0;
  client->handle_ = zookeeper_init2(options.connect.c_str(), on_session_event,
                                    static_cast<int>(options.session_timeout.count()), nullptr,
                                    client->shared_.get(), 0, client_log);
  if (client->handle_ == nullptr) {
    return errno_error("zookeeper: cannot start a session with " + options.connect, errno ? errno : EINVAL);
  }
  // By default the client resolves every server name on each pass of its I/O loop: a
  // balancer reading 1,000 heartbeats a second spent ~18 % of its CPU in getaddrinfo. A lost
  // connection still resolves at once; only routine re-resolution waits this long.
  constexpr int kServerResolutionDelayMs = 10'000;
  zoo_set_servers_resolution_delay(client->handle_, kServerResolutionDelayMs);
  if (!options.digest.empty()) {
    // Kept by the C client and sent again after every reconnect; answered once.
    const int rc = zoo_add_auth(client->handle_, "digest", options.digest.data(),
                                static_cast<int>(options.digest.size()), on_auth, client->shared_.get());
    if (rc != ZOK) return Error{"zookeeper: cannot add digest credentials: " + describe_rc(rc)};
  }
  return client;
}

Result<std::unique_ptr<ZkClient>> ZkClient::connect(const ClientOptions& options, std::chrono::milliseconds timeout) {
  Result<std::unique_ptr<ZkClient>> client = open(options);
  if (!client.ok()) return client;
  if (Result<void> connected = (*client)->wait_connected(timeout); !connected.ok()) return connected.error();
  return client;
}

ZkClient::~ZkClient() {
  if (handle_ != nullptr) zookeeper_close(handle_);
}

void ZkClient::set_session_listener(std::function<void()> listener) {
  std::lock_guard lock(shared_->mutex);
  shared_->session_listener = std::move(listener);
}

bool ZkClient::connected() const { return zoo_state(handle_) == ZOO_CONNECTED_STATE; }

bool ZkClient::expired() const { return is_unrecoverable(handle_) != ZOK; }

std::chrono::milliseconds ZkClient::disconnected_for() const {
  if (connected()) return std::chrono::milliseconds(0);
  std::lock_guard lock(shared_->mutex);
  if (shared_->session_state == ZOO_CONNECTED_STATE) return std::chrono::milliseconds(0);  // event not in yet
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               shared_->disconnected_since);
}

std::chrono::milliseconds ZkClient::session_timeout() const { return std::chrono::milliseconds(zoo_recv_timeout(handle_)); }

int64_t ZkClient::session_id() const {
  const clientid_t* id = zoo_client_id(handle_);
  return id ? id->client_id : 0;
}

std::string ZkClient::state_name() const { return state_text(zoo_state(handle_)); }

Result<void> ZkClient::wait_connected(std::chrono::milliseconds timeout) {
  std::unique_lock lock(shared_->mutex);
  const bool ready = shared_->state_changed.wait_for(lock, timeout, [this] {
    if (expired()) return true;
    if (shared_->auth_rc && *shared_->auth_rc != ZOK) return true;
    return connected() && (!shared_->wants_auth || shared_->auth_rc.has_value());
  });
  if (expired()) return Error{"zookeeper " + shared_->connect + ": " + state_name()};
  if (shared_->auth_rc && *shared_->auth_rc != ZOK) {
    return Error{"zookeeper " + shared_->connect + ": credentials refused: " + describe_rc(*shared_->auth_rc)};
  }
  if (!ready) {
    return Error{"zookeeper " + shared_->connect + ": no session within " + std::to_string(timeout.count()) +
                 " ms (" + state_name() + ")"};
  }
  return ok();
}

namespace {

// Sends one request through `submit(data)` and waits for its answer.
template <class Submit>
Result<AnswerRef> request(const ZkClient& client, const std::string& what, std::chrono::milliseconds timeout,
                          Submit submit) {
  if (!client.connected()) return Error{what + ": not connected to ZooKeeper (" + client.state_name() + ")"};
  auto answer = std::make_shared<Answer>();
  auto* ref = new AnswerRef(answer);
  const int rc = submit(static_cast<const void*>(ref));
  if (rc != ZOK) {
    // These two are returned before the completion is queued; after any other failure the C
    // client may still call it, so the reference is left to it (a leak over a double free).
    if (rc == ZBADARGUMENTS || rc == ZINVALIDSTATE) delete ref;
    return Error{what + ": " + describe_rc(rc)};
  }
  std::unique_lock lock(answer->mutex);
  if (!answer->done_changed.wait_for(lock, timeout, [&] { return answer->done; })) {
    return Error{what + ": no answer from ZooKeeper within " + std::to_string(timeout.count()) + " ms"};
  }
  return answer;
}

// An answer that says nothing about the znode itself: the request did not get through.
bool is_transport_failure(int rc) {
  return rc == ZCONNECTIONLOSS || rc == ZOPERATIONTIMEOUT || rc == ZSESSIONEXPIRED || rc == ZCLOSING ||
         rc == ZINVALIDSTATE || rc == ZSESSIONMOVED || rc == ZSYSTEMERROR || rc == ZMARSHALLINGERROR;
}

Result<int> server_code(const std::string& what, const Result<AnswerRef>& answer) {
  if (!answer.ok()) return answer.error();
  const int rc = (*answer)->rc;
  if (is_transport_failure(rc)) return Error{what + ": " + describe_rc(rc)};
  return rc;
}

}  // namespace

Result<int> ZkClient::create(const std::string& path, std::string_view data, int mode, const ACL_vector& acl,
                             std::chrono::milliseconds timeout) {
  const std::string what = "create " + path;
  return server_code(what, request(*this, what, timeout, [&](const void* ref) {
                       return zoo_acreate(handle_, path.c_str(), data.data(), static_cast<int>(data.size()), &acl,
                                          mode, on_string, ref);
                     }));
}

Result<int> ZkClient::set(const std::string& path, std::string_view data, std::chrono::milliseconds timeout) {
  const std::string what = "set " + path;
  return server_code(what, request(*this, what, timeout, [&](const void* ref) {
                       return zoo_aset(handle_, path.c_str(), data.data(), static_cast<int>(data.size()), -1,
                                       on_stat, ref);
                     }));
}

Result<int> ZkClient::remove(const std::string& path, int version, std::chrono::milliseconds timeout) {
  const std::string what = "delete " + path;
  return server_code(what, request(*this, what, timeout,
                                   [&](const void* ref) { return zoo_adelete(handle_, path.c_str(), version, on_void, ref); }));
}

namespace {

// Registers `watcher` and returns its context for the C client (nullptr: no watch).
void* add_watch(ZkClient::Shared& shared, Watcher watcher, uint64_t& id) {
  id = 0;
  if (!watcher) return nullptr;
  std::lock_guard lock(shared.mutex);
  id = shared.next_watch_id++;
  shared.watches.emplace(id, std::move(watcher));
  return reinterpret_cast<void*>(static_cast<uintptr_t>(id));
}

// What get() and get_async() return for the server's answer `rc`.
Result<std::optional<Node>> get_result(const std::string& what, int rc, std::string data, const Stat& stat) {
  if (is_transport_failure(rc)) return Error{what + ": " + describe_rc(rc)};
  if (rc == ZNONODE) return std::optional<Node>();
  if (rc != ZOK) return Error{what + ": " + describe_rc(rc)};
  return std::optional<Node>(Node{std::move(data), stat});
}

// A watch the server did not arm (the request failed) would never fire: forget it.
void drop_watch(ZkClient::Shared& shared, uint64_t id) {
  if (id == 0) return;
  std::lock_guard lock(shared.mutex);
  shared.watches.erase(id);
}

}  // namespace

Result<std::optional<Node>> ZkClient::get(const std::string& path, Watcher watcher, std::chrono::milliseconds timeout) {
  const std::string what = "get " + path;
  if (!connected()) return Error{what + ": not connected to ZooKeeper (" + state_name() + ")"};
  uint64_t id = 0;
  void* context = add_watch(*shared_, std::move(watcher), id);
  Result<AnswerRef> answer = request(*this, what, timeout, [&](const void* ref) {
    return zoo_awget(handle_, path.c_str(), context ? on_watch : nullptr, context, on_data, ref);
  });
  Result<int> rc = server_code(what, answer);
  if (!rc.ok() || *rc != ZOK) drop_watch(*shared_, answer.ok() ? id : 0);
  if (!rc.ok()) return rc.error();
  return get_result(what, *rc, std::move((*answer)->data), (*answer)->stat);
}

Result<std::optional<Stat>> ZkClient::exists(const std::string& path, Watcher watcher,
                                             std::chrono::milliseconds timeout) {
  const std::string what = "exists " + path;
  if (!connected()) return Error{what + ": not connected to ZooKeeper (" + state_name() + ")"};
  uint64_t id = 0;
  void* context = add_watch(*shared_, std::move(watcher), id);
  Result<AnswerRef> answer = request(*this, what, timeout, [&](const void* ref) {
    return zoo_awexists(handle_, path.c_str(), context ? on_watch : nullptr, context, on_stat, ref);
  });
  Result<int> rc = server_code(what, answer);
  // exists() arms its watch on ZNONODE too: that is how a creation is awaited.
  if (!rc.ok() || (*rc != ZOK && *rc != ZNONODE)) drop_watch(*shared_, answer.ok() ? id : 0);
  if (!rc.ok()) return rc.error();
  if (*rc == ZNONODE) return std::optional<Stat>();
  if (*rc != ZOK) return Error{what + ": " + describe_rc(*rc)};
  return std::optional<Stat>((*answer)->stat);
}

Result<std::optional<std::vector<std::string>>> ZkClient::children(const std::string& path, Watcher watcher,
                                                                   std::chrono::milliseconds timeout) {
  const std::string what = "children of " + path;
  if (!connected()) return Error{what + ": not connected to ZooKeeper (" + state_name() + ")"};
  uint64_t id = 0;
  void* context = add_watch(*shared_, std::move(watcher), id);
  Result<AnswerRef> answer = request(*this, what, timeout, [&](const void* ref) {
    return zoo_awget_children(handle_, path.c_str(), context ? on_watch : nullptr, context, on_strings, ref);
  });
  Result<int> rc = server_code(what, answer);
  if (!rc.ok() || *rc != ZOK) drop_watch(*shared_, answer.ok() ? id : 0);
  if (!rc.ok()) return rc.error();
  using Children = std::optional<std::vector<std::string>>;
  if (*rc == ZNONODE) return Children();
  if (*rc != ZOK) return Error{what + ": " + describe_rc(*rc)};
  return Children(std::move((*answer)->strings));
}

namespace {

// One get_async() request: the C client owns it from zoo_awget until the completion.
struct AsyncGet {
  ZkClient::Shared* shared;  // outlives every completion (see ZkClient::shared_)
  uint64_t watch_id = 0;
  std::string what;
  ZkClient::GetDone done;
  std::atomic<bool> answered{false};

  void answer(Result<std::optional<Node>> result) noexcept {
    try {
      if (!answered.exchange(true) && done) done(std::move(result));
    } catch (...) {
    }
  }
};

void on_async_data(int rc, const char* value, int value_len, const Stat* stat, const void* data) noexcept {
  std::unique_ptr<AsyncGet> get(static_cast<AsyncGet*>(const_cast<void*>(data)));
  if (!get) return;
  try {
    if (rc != ZOK) drop_watch(*get->shared, get->watch_id);
    std::string bytes;
    if (rc == ZOK && value && value_len > 0) bytes.assign(value, static_cast<std::size_t>(value_len));
    get->answer(get_result(get->what, rc, std::move(bytes), stat ? *stat : Stat{}));
  } catch (...) {
    get->answer(Error{get->what + ": out of memory"});
  }
}

}  // namespace

void ZkClient::get_async(const std::string& path, Watcher watcher, GetDone done) {
  auto get = std::make_unique<AsyncGet>();
  get->shared = shared_.get();
  get->what = "get " + path;
  get->done = std::move(done);
  if (!connected()) {
    get->answer(Error{get->what + ": not connected to ZooKeeper (" + state_name() + ")"});
    return;
  }
  void* context = add_watch(*shared_, std::move(watcher), get->watch_id);
  AsyncGet* raw = get.get();
  const int rc = zoo_awget(handle_, path.c_str(), context ? on_watch : nullptr, context, on_async_data, raw);
  if (rc == ZOK) {
    get.release();  // on_async_data frees it
    return;
  }
  drop_watch(*shared_, raw->watch_id);
  raw->answer(Error{raw->what + ": " + describe_rc(rc)});
  // As in request(): after other failures the C client may still call the completion, so it
  // keeps the request (answered already, so `done` is not called twice).
  if (rc != ZBADARGUMENTS && rc != ZINVALIDSTATE) get.release();
}

const ACL_vector& creator_all_world_read_acl(bool parent) {
  // The C structs hold non-const char*: give them storage of their own.
  static char auth_scheme[] = "auth";
  static char no_id[] = "";
  static char world_scheme[] = "world";
  static char anyone[] = "anyone";
  static ACL node_acl[] = {{ZOO_PERM_ALL, {auth_scheme, no_id}}, {ZOO_PERM_READ, {world_scheme, anyone}}};
  static ACL parent_acl[] = {{ZOO_PERM_ALL, {auth_scheme, no_id}},
                             {ZOO_PERM_READ | ZOO_PERM_CREATE | ZOO_PERM_DELETE, {world_scheme, anyone}}};
  static ACL_vector node_vector{2, node_acl};
  static ACL_vector parent_vector{2, parent_acl};
  return parent ? parent_vector : node_vector;
}

}  // namespace nodepulse::zk
