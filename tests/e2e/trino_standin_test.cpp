// The Trino stand-in keeps the contract it claims (tests/e2e/trino_standin.cpp), so the tests
// that use it in Trino's place test against Trino's behaviour and not the stand-in's quirks:
//   - both state machines, every transition allowed or refused as Trino does (table-driven);
//   - the grace-period timers: DRAINING -> DRAINED, a shutdown that ends the process;
//   - MANAGEMENT_WRITE / MANAGEMENT_READ: 401 without credentials, 403 for another user;
//   - the faults (garbage, hang, 500), and a hung connection blocking no other;
//   - libcurl with a kept-alive connection, and https through the socat relay with its CA;
//   - the coordinator's failure detector with Trino's defaults: a worker stopped with SIGSTOP
//     is not failed after 1 s but is within 15 s; a healthy one never, after its warm-up.
#include <curl/curl.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <optional>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "services.h"
#include "trino_cluster.h"
#include "trino_standin.h"

namespace nodepulse {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::TrinoStandin;
using testing::TrinoStandinOptions;

struct Step {
  const char* description;
  std::string body;  // the PUT's body, sent as application/json
  int status;
  const char* state_after;
};

// Runs `steps` in order against one stand-in; each must answer `status` and leave `state_after`.
void expect_steps(const TrinoStandin& trino, const std::vector<Step>& steps) {
  for (const Step& step : steps) {
    const auto reply = trino.request("PUT", "/v1/info/state", step.body, {"Content-Type: application/json"});
    ASSERT_TRUE(reply) << step.description;
    EXPECT_EQ(reply->status, step.status) << step.description << ": " << reply->body;
    EXPECT_EQ(trino.state(), step.state_after) << step.description;
  }
}

int status_of(const std::optional<testing::HttpReply>& reply) { return reply ? reply->status : 0; }
std::string body_of(const std::optional<testing::HttpReply>& reply) { return reply ? reply->body : "(no answer)"; }

json get_json(const TrinoStandin& trino, const std::string& path) {
  const auto reply = trino.request("GET", path);
  if (!reply || reply->status != 200) return nullptr;
  return json::parse(reply->body, nullptr, /*allow_exceptions=*/false);
}

TEST(TrinoStandin, InfoCarriesWhatTheClaimedVersionSends) {
  TrinoStandin drain({.node_id = "w1", .version = "476"});
  const json info = get_json(drain, "/v1/info");
  ASSERT_TRUE(info.is_object()) << drain.log();
  EXPECT_EQ(info["nodeVersion"]["version"], "476");
  EXPECT_EQ(info["environment"], "test");
  EXPECT_EQ(info["coordinator"], false);
  EXPECT_EQ(info["starting"], false);
  EXPECT_TRUE(info["uptime"].is_string());
  EXPECT_EQ(info["nodeId"], "w1");
  EXPECT_EQ(info["state"], "ACTIVE");
  EXPECT_EQ(get_json(drain, "/v1/info/state"), "ACTIVE");
  EXPECT_EQ(status_of(drain.request("POST", "/v1/info/state")), 405);
  EXPECT_EQ(status_of(drain.request("GET", "/v1/node")), 404) << "a worker has no failure detector";
  EXPECT_EQ(status_of(drain.request("GET", "/v1/nothing")), 404);

  TrinoStandin legacy({.node_states = "legacy"});
  const json old_info = get_json(legacy, "/v1/info");
  EXPECT_EQ(old_info["nodeVersion"]["version"], "435");
  EXPECT_FALSE(old_info.contains("state")) << "older Trinos send no state in /v1/info";
  EXPECT_FALSE(old_info.contains("nodeId"));

  TrinoStandin coordinator({.coordinator = true});
  EXPECT_EQ(get_json(coordinator, "/v1/info")["coordinator"], true);
  EXPECT_EQ(coordinator.state(), "ACTIVE");
  EXPECT_EQ(get_json(coordinator, "/v1/node"), json::array()) << "no workers given";
}

TEST(TrinoStandin, DrainStateMachineIsNodeStateManagers) {
  TrinoStandin trino({.grace_period = 60s});  // no timer fires during the test
  expect_steps(trino, {
      {"ACTIVE to ACTIVE is a no-op", "\"ACTIVE\"", 200, "ACTIVE"},
      {"DRAINED only comes from a finished drain", "\"DRAINED\"", 400, "ACTIVE"},
      {"INACTIVE is no internal state", "\"INACTIVE\"", 400, "ACTIVE"},
      {"INVALID cannot be asked for", "\"INVALID\"", 400, "ACTIVE"},
      {"an unknown name", "\"SLEEPING\"", 400, "ACTIVE"},
      {"a bare word is no JSON string", "DRAINING", 400, "ACTIVE"},
      {"an object is no JSON string", "{\"state\":\"DRAINING\"}", 400, "ACTIVE"},
      {"ACTIVE to DRAINING", "\"DRAINING\"", 200, "DRAINING"},
      {"DRAINING again is a no-op", "\"DRAINING\"", 200, "DRAINING"},
      {"DRAINING to DRAINED by request", "\"DRAINED\"", 400, "DRAINING"},
      {"DRAINING back to ACTIVE", "\"ACTIVE\"", 200, "ACTIVE"},
      {"ACTIVE to SHUTTING_DOWN", "\"SHUTTING_DOWN\"", 200, "SHUTTING_DOWN"},
      {"SHUTTING_DOWN is one-way: not ACTIVE", "\"ACTIVE\"", 400, "SHUTTING_DOWN"},
      {"SHUTTING_DOWN is one-way: not DRAINING", "\"DRAINING\"", 400, "SHUTTING_DOWN"},
      {"SHUTTING_DOWN again is a no-op", "\"SHUTTING_DOWN\"", 200, "SHUTTING_DOWN"},
  });
  EXPECT_EQ(body_of(trino.put_state("ACTIVE")), "Invalid state transition from SHUTTING_DOWN to ACTIVE");
  EXPECT_EQ(status_of(trino.request("PUT", "/v1/info/state", "\"ACTIVE\"", {"Content-Type: text/plain"})), 415)
      << "@Consumes(APPLICATION_JSON)";

  const json transitions = trino.transitions();
  ASSERT_EQ(transitions.size(), 3u) << transitions.dump();
  EXPECT_EQ(transitions[0]["from"], "ACTIVE");
  EXPECT_EQ(transitions[0]["to"], "DRAINING");
  EXPECT_EQ(transitions[0]["node"], "self");
  EXPECT_EQ(transitions[2]["to"], "SHUTTING_DOWN");
  EXPECT_GT(transitions[2]["epoch_ms"].get<int64_t>(), testing::epoch_ms() - 60'000);
}

TEST(TrinoStandin, LegacyStateMachineOnlyShutsDown) {
  TrinoStandin trino({.node_states = "legacy", .grace_period = 60s});
  expect_steps(trino, {
      {"ACTIVE is refused even when ACTIVE", "\"ACTIVE\"", 400, "ACTIVE"},
      {"INACTIVE is refused", "\"INACTIVE\"", 400, "ACTIVE"},
      {"DRAINING is unknown to the old enum", "\"DRAINING\"", 400, "ACTIVE"},
      {"SHUTTING_DOWN", "\"SHUTTING_DOWN\"", 200, "SHUTTING_DOWN"},
      {"SHUTTING_DOWN again", "\"SHUTTING_DOWN\"", 200, "SHUTTING_DOWN"},
      {"no way back", "\"ACTIVE\"", 400, "SHUTTING_DOWN"},
  });
  EXPECT_EQ(body_of(trino.put_state("ACTIVE")), "Invalid state transition to ACTIVE");
}

TEST(TrinoStandin, CoordinatorNeitherDrainsNorShutsDown) {
  TrinoStandin drain({.coordinator = true});
  EXPECT_EQ(status_of(drain.put_state("DRAINING")), 500);
  EXPECT_EQ(status_of(drain.put_state("SHUTTING_DOWN")), 500);
  EXPECT_EQ(status_of(drain.put_state("ACTIVE")), 200);
  TrinoStandin legacy({.coordinator = true, .node_states = "legacy"});
  EXPECT_EQ(status_of(legacy.put_state("SHUTTING_DOWN")), 500);
  EXPECT_EQ(legacy.state(), "ACTIVE");
}

TEST(TrinoStandin, DrainingBecomesDrainedTwoGracePeriodsLater) {
  constexpr auto kGrace = 300ms;
  TrinoStandin trino({.grace_period = kGrace, .exit_on_shutdown = true});
  ASSERT_EQ(status_of(trino.put_state("DRAINING")), 200);
  testing::Stopwatch since_drain;
  ASSERT_TRUE(testing::wait_until([&] { return trino.state() == "DRAINED"; }, 5s)) << trino.log();
  EXPECT_GE(since_drain.ms(), 2 * kGrace.count() - 50);
  const json transitions = trino.transitions();
  ASSERT_EQ(transitions.size(), 2u) << transitions.dump();
  EXPECT_EQ(transitions[1]["to"], "DRAINED");
  EXPECT_EQ(transitions[1]["cause"], "grace period");
  EXPECT_NEAR(transitions[1]["epoch_ms"].get<double>() - transitions[0]["epoch_ms"].get<double>(),
              2.0 * kGrace.count(), 100);

  // A drain undone within its grace periods never completes.
  ASSERT_EQ(status_of(trino.put_state("ACTIVE")), 200);
  ASSERT_EQ(status_of(trino.put_state("DRAINING")), 200);
  ASSERT_EQ(status_of(trino.put_state("ACTIVE")), 200);
  std::this_thread::sleep_for(3 * kGrace);
  EXPECT_EQ(trino.state(), "ACTIVE");

  // From DRAINED a shutdown terminates at once.
  ASSERT_EQ(status_of(trino.put_state("DRAINING")), 200);
  ASSERT_TRUE(testing::wait_until([&] { return trino.state() == "DRAINED"; }, 5s));
  ASSERT_EQ(status_of(trino.put_state("SHUTTING_DOWN")), 200);
  const auto status = trino.process().wait_for_exit(1s);
  ASSERT_TRUE(status) << "still running after SHUTTING_DOWN from DRAINED\n" << trino.log();
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0);
}

TEST(TrinoStandin, ShutdownEndsTheProcessAfterTheGracePeriods) {
  constexpr auto kGrace = 200ms;
  struct Case {
    const char* node_states;
    int grace_periods;  // NodeStateManager: 2; the legacy GracefulShutdownHandler: 3
  };
  for (const Case& c : {Case{"drain", 2}, Case{"legacy", 3}}) {
    TrinoStandin trino({.node_states = c.node_states, .grace_period = kGrace, .exit_on_shutdown = true});
    ASSERT_EQ(status_of(trino.put_state("SHUTTING_DOWN")), 200) << c.node_states;
    testing::Stopwatch since_request;
    EXPECT_EQ(trino.state(), "SHUTTING_DOWN");
    const auto status = trino.process().wait_for_exit(5s);
    ASSERT_TRUE(status) << c.node_states << "\n" << trino.log();
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << c.node_states;
    EXPECT_GE(since_request.ms(), c.grace_periods * kGrace.count() - 50) << c.node_states;
  }
  // Without --exit-on-shutdown it stays, SHUTTING_DOWN.
  TrinoStandin staying({.grace_period = kGrace});
  ASSERT_EQ(status_of(staying.put_state("SHUTTING_DOWN")), 200);
  EXPECT_FALSE(staying.process().wait_for_exit(3 * kGrace));
  EXPECT_EQ(staying.state(), "SHUTTING_DOWN");
}

TEST(TrinoStandin, StateChangesNeedTrinosManagementAccess) {
  TrinoStandin user_only({.grace_period = 60s, .require_user = true});
  EXPECT_EQ(status_of(user_only.put_state("DRAINING")), 401);
  EXPECT_EQ(user_only.state(), "ACTIVE") << "GET /v1/info/state is public";
  EXPECT_EQ(status_of(user_only.put_state("DRAINING", {"X-Trino-User: nodepulse"})), 200);

  testing::TempDir dir("standin-auth");
  testing::write_text(dir / "password", "s3cret\n");
  TrinoStandin basic({.coordinator = true, .basic_auth_user = "admin", .basic_auth_password_file = dir / "password"});
  // "admin:s3cret", "admin:guess", "alice:s3cret" in base64.
  const std::string right = "Authorization: Basic YWRtaW46czNjcmV0";
  const std::string wrong_password = "Authorization: Basic YWRtaW46Z3Vlc3M=";
  const std::string other_user = "Authorization: Basic YWxpY2U6czNjcmV0";
  EXPECT_EQ(status_of(basic.put_state("ACTIVE")), 401);
  EXPECT_EQ(status_of(basic.put_state("ACTIVE", {wrong_password})), 401);
  EXPECT_EQ(status_of(basic.put_state("ACTIVE", {other_user})), 403);
  EXPECT_EQ(status_of(basic.put_state("ACTIVE", {right})), 200);
  EXPECT_EQ(status_of(basic.request("GET", "/v1/node")), 401) << "MANAGEMENT_READ";
  EXPECT_EQ(status_of(basic.request("GET", "/v1/node/failed", "", {other_user})), 403);
  EXPECT_EQ(status_of(basic.request("GET", "/v1/node", "", {right})), 200);
  EXPECT_EQ(status_of(basic.request("GET", "/v1/info")), 200) << "public";
}

TEST(TrinoStandin, FaultsApplyToEveryV1EndpointAndNotToControl) {
  TrinoStandin trino({.grace_period = 60s});
  trino.set_fault("garbage");
  for (const char* path : {"/v1/info", "/v1/info/state"}) {
    const auto reply = trino.request("GET", path);
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->status, 200) << path;
    EXPECT_TRUE(json::parse(reply->body, nullptr, false).is_discarded()) << path << ": " << reply->body;
  }
  EXPECT_EQ(status_of(trino.put_state("DRAINING")), 200);
  trino.set_fault("error500");
  EXPECT_EQ(status_of(trino.request("GET", "/v1/info")), 500);
  EXPECT_EQ(status_of(trino.put_state("DRAINING")), 500);
  trino.set_fault("none");
  EXPECT_EQ(trino.state(), "ACTIVE") << "a faulty answer changes nothing";

  trino.set_fault("hang");
  std::thread hung([&] {
    testing::Stopwatch waited;
    EXPECT_FALSE(trino.request("GET", "/v1/info", "", {}, 1s)) << "a hung Trino answers nothing";
    EXPECT_GE(waited.ms(), 950);
  });
  std::this_thread::sleep_for(200ms);
  // Meanwhile other connections are served, the control endpoint included.
  EXPECT_EQ(body_of(trino.request("GET", "/control/fault", "", {}, 500ms)), R"({"fault":"hang"})");
  hung.join();
  trino.set_fault("none");
  EXPECT_EQ(status_of(trino.request("GET", "/v1/info")), 200);
  EXPECT_EQ(status_of(trino.request("PUT", "/control/fault", "sideways")), 400);
}

TEST(TrinoStandin, RequestsAreCountedWithTimeAndUser) {
  TrinoStandin trino({.grace_period = 60s});
  const int64_t before = testing::epoch_ms();
  trino.put_state("DRAINING", {"X-Trino-User: nodepulse"});
  trino.put_state("ACTIVE");
  trino.state();
  EXPECT_EQ(trino.request_count("PUT", "/v1/info/state"), 2);
  EXPECT_EQ(trino.request_count("GET", "/v1/info/state"), 1);
  EXPECT_EQ(trino.request_counts().size(), 2u) << "the control endpoints are not counted";
  const json recent = trino.recent_requests();
  ASSERT_EQ(recent.size(), 3u);
  EXPECT_EQ(recent[0]["user"], "nodepulse");
  EXPECT_EQ(recent[1]["user"], "");
  EXPECT_GE(recent[0]["epoch_ms"].get<int64_t>(), before);
  EXPECT_LE(recent[2]["epoch_ms"].get<int64_t>(), testing::epoch_ms());
}

size_t append_to_string(char* data, size_t size, size_t count, void* out) {
  static_cast<std::string*>(out)->append(data, size * count);
  return size * count;
}

struct CurlReply {
  CURLcode code = CURLE_OK;
  long status = 0;
  std::string body;
};

// One request on `curl`, whose connection cache libcurl keeps between calls, as the agent does.
CurlReply curl_request(CURL* curl, const std::string& url, const char* method, const std::string& body,
                       const std::string& ca_file = "") {
  CurlReply reply;
  curl_easy_reset(curl);
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 3000L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, append_to_string);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &reply.body);
  if (!ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, ca_file.c_str());
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  if (!body.empty()) {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  reply.code = curl_easy_perform(curl);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply.status);
  curl_slist_free_all(headers);
  return reply;
}

TEST(TrinoStandin, LibcurlWithAKeptAliveHandleGetsEveryAnswer) {
  TrinoStandin trino({.grace_period = 60s});
  CURL* curl = curl_easy_init();
  ASSERT_NE(curl, nullptr);
  const CurlReply drain = curl_request(curl, trino.url("/v1/info/state"), "PUT", "\"DRAINING\"");
  const CurlReply state = curl_request(curl, trino.url("/v1/info/state"), "GET", "");
  const CurlReply refused = curl_request(curl, trino.url("/v1/info/state"), "PUT", "\"DRAINED\"");
  curl_easy_cleanup(curl);
  EXPECT_EQ(drain.code, CURLE_OK);
  EXPECT_EQ(drain.status, 200);
  EXPECT_EQ(drain.body, "");
  EXPECT_EQ(state.status, 200);
  EXPECT_EQ(state.body, "\"DRAINING\"");
  EXPECT_EQ(refused.status, 400);
}

TEST(TrinoStandin, HttpsThroughTheRelayWithItsCa) {
  NODEPULSE_REQUIRE_BINARY(testing::TrinoTlsRelay::kSocat);
  NODEPULSE_REQUIRE_BINARY(testing::TrinoTlsRelay::kOpenssl);
  TrinoStandin trino({.grace_period = 60s});
  testing::TrinoTlsRelay relay(trino.port());
  CURL* curl = curl_easy_init();
  ASSERT_NE(curl, nullptr);
  const CurlReply info = curl_request(curl, relay.url("/v1/info"), "GET", "", relay.ca_file().string());
  const CurlReply drain = curl_request(curl, relay.url("/v1/info/state"), "PUT", "\"DRAINING\"", relay.ca_file().string());
  testing::TrinoTlsRelay other(trino.port());
  const CurlReply untrusted = curl_request(curl, relay.url("/v1/info"), "GET", "", other.ca_file().string());
  curl_easy_cleanup(curl);
  EXPECT_EQ(info.code, CURLE_OK) << curl_easy_strerror(info.code) << "\n" << relay.log();
  EXPECT_EQ(info.status, 200);
  EXPECT_EQ(json::parse(info.body, nullptr, false)["nodeVersion"]["version"], "476");
  EXPECT_EQ(drain.status, 200);
  EXPECT_EQ(trino.state(), "DRAINING");
  EXPECT_EQ(untrusted.code, CURLE_PEER_FAILED_VERIFICATION) << "the certificate is trusted only through the relay's CA";
}

bool listed(const json& nodes, const std::string& worker_url) {
  for (const json& node : nodes) {
    if (node["uri"] == worker_url + "/v1/status") return true;
  }
  return false;
}

// Trino's failure detector with its defaults (500 ms heartbeat, 60 s decay, ratio > 0.1, 5 s
// warm-up): a frozen worker's heartbeats time out and it is dropped once failures are over a
// tenth of the decayed requests — seconds, not at the first miss.
TEST(TrinoStandin, CoordinatorDropsAStoppedWorkerAfterTrinosFailureDetectorTiming) {
  TrinoStandin frozen = TrinoStandin::worker("frozen");
  TrinoStandin healthy = TrinoStandin::worker("healthy");
  testing::Stopwatch since_start;
  TrinoStandin coordinator = TrinoStandin::coordinator({frozen.url(), healthy.url()});

  // Failed until under the threshold for a whole warm-up, as Trino counts a new node.
  ASSERT_TRUE(testing::wait_until([&] { return listed(coordinator.failed_nodes(), healthy.url()); }, 2s));
  ASSERT_TRUE(testing::wait_until([&] { return coordinator.failed_nodes().empty(); }, 10s))
      << coordinator.failed_nodes_json();
  EXPECT_GE(since_start.ms(), 5000) << "warm-up";
  // Enough decayed history (~26 requests) that two missed heartbeats stay under a tenth.
  while (since_start.ms() < 14'000) std::this_thread::sleep_for(50ms);

  const int64_t stopped_ms = testing::epoch_ms();
  frozen.process().signal(SIGSTOP);
  testing::Stopwatch since_stop;
  std::this_thread::sleep_for(1s);
  EXPECT_FALSE(listed(coordinator.failed_nodes(), frozen.url())) << "failed at the first misses";
  std::optional<double> failed_after_ms;
  while (!failed_after_ms && since_stop.ms() < 15'000) {
    const json failed = coordinator.failed_nodes();
    if (listed(failed, frozen.url())) failed_after_ms = since_stop.ms();
    EXPECT_FALSE(listed(failed, healthy.url())) << failed.dump();
    std::this_thread::sleep_for(100ms);
  }
  frozen.process().signal(SIGCONT);
  ASSERT_TRUE(failed_after_ms) << "not failed 15 s after SIGSTOP: " << coordinator.failed_nodes_json();
  std::printf("[timing] Trino's failure detector dropped a SIGSTOPped worker after %.0f ms\n", *failed_after_ms);

  const json nodes = get_json(coordinator, "/v1/node");
  ASSERT_EQ(nodes.size(), 2u) << nodes.dump();
  for (const json& node : nodes) {
    const bool is_frozen = node["uri"] == frozen.url() + "/v1/status";
    EXPECT_GT(node["recentRequests"].get<double>(), 20) << node.dump();
    EXPECT_EQ(node["lastFailureInfo"].is_null(), !is_frozen) << node.dump();
    if (is_frozen) {
      EXPECT_GT(node["recentFailureRatio"].get<double>(), 0.1) << node.dump();
    }
  }
  EXPECT_GE(healthy.request_count("HEAD", "/v1/status"), 20) << "a heartbeat each 500 ms";
  EXPECT_LE(healthy.request_count("HEAD", "/v1/status"), 2 * since_start.ms() / 1000 + 2) << "no more";

  // The transition log dates the drop on the wall clock, for benchmarks.
  bool dropped = false;
  for (const json& transition : coordinator.transitions()) {
    if (transition["node"] != frozen.url() || transition["to"] != "FAILED") continue;
    dropped = true;
    EXPECT_GE(transition["epoch_ms"].get<int64_t>(), stopped_ms + 1000);
  }
  EXPECT_TRUE(dropped) << coordinator.transitions_json();
}

}  // namespace
}  // namespace nodepulse
