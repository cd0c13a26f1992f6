// The nginx upstream include and the HAProxy / Trino Gateway requests, exactly as sent.
#include <gtest/gtest.h>

#include "balancer/gateway_driver.h"
#include "balancer/haproxy_driver.h"
#include "balancer/nginx_upstream.h"
#include "balancer/status_view.h"

namespace nodepulse {
namespace {

ServerTarget target(const std::string& id, const std::string& address, ServerAction action, uint32_t weight,
                    MemberState state, bool withheld = false) {
  ServerTarget server;
  server.node_id = id;
  server.name = id;
  server.address = address;
  server.action = action;
  server.weight = weight;
  server.state = state;
  server.withheld = withheld;
  return server;
}

TEST(NginxUpstream, RendersWeightsAndDown) {
  Decision decision;
  decision.servers = {target("w1", "10.0.0.1:8080", ServerAction::kReady, 100, MemberState::kHealthy),
                      target("w2", "10.0.0.2:8080", ServerAction::kDrain, 0, MemberState::kFailing),
                      target("w3", "10.0.0.3:8080", ServerAction::kReady, 35, MemberState::kDegraded),
                      target("w4", "[::1]:8080", ServerAction::kDown, 0, MemberState::kDown),
                      target("w5", "10.0.0.5:8080", ServerAction::kReady, 1, MemberState::kFailing, true)};
  const NginxUpstream upstream = render_nginx_upstream("trino", decision);
  EXPECT_EQ(upstream.text,
            "# Written by nodepulse balancer from the heartbeats in ZooKeeper; edits are overwritten.\n"
            "upstream trino {\n"
            "    server 10.0.0.1:8080 weight=100;  # w1 healthy\n"
            "    server 10.0.0.2:8080 down;  # w2 failing\n"
            "    server 10.0.0.3:8080 weight=35;  # w3 degraded\n"
            "    server [::1]:8080 down;  # w4 down\n"
            "    server 10.0.0.5:8080 weight=1;  # w5 failing (kept in: max_unhealthy_fraction)\n"
            "}\n");
  EXPECT_TRUE(upstream.skipped.empty());
}

TEST(NginxUpstream, SkipsServersWithoutAddressAndNeverRendersAnEmptyBlock) {
  Decision decision;
  decision.servers = {target("w1", "", ServerAction::kReady, 100, MemberState::kHealthy)};
  const NginxUpstream upstream = render_nginx_upstream("trino", decision);
  EXPECT_EQ(upstream.text, "") << "nginx refuses an upstream without servers";
  EXPECT_EQ(upstream.skipped, std::vector<std::string>{"w1"});
}

TEST(NginxUpstream, SameDecisionSameBytes) {
  Decision decision;
  decision.servers = {target("w1", "10.0.0.1:8080", ServerAction::kReady, 100, MemberState::kHealthy)};
  decision.servers[0].reason = "changes every heartbeat";
  const std::string first = render_nginx_upstream("u", decision).text;
  decision.servers[0].reason = "something else";
  EXPECT_EQ(render_nginx_upstream("u", decision).text, first) << "reasons stay out of the file: no needless reloads";
}

TEST(HaproxyCommand, OneLinePerServer) {
  EXPECT_EQ(haproxy_command("be", target("s1", "", ServerAction::kReady, 60, MemberState::kDegraded)),
            "set server be/s1 state ready; set server be/s1 weight 60");
  EXPECT_EQ(haproxy_command("be", target("s1", "", ServerAction::kDrain, 0, MemberState::kFailing)),
            "set server be/s1 state drain");
  EXPECT_EQ(haproxy_command("be", target("s1", "", ServerAction::kDown, 0, MemberState::kDown)),
            "set server be/s1 state maint");
}

TEST(GatewayPath, ActivatesAndDeactivatesByEncodedName) {
  EXPECT_EQ(gateway_path("trino-1", true), "/gateway/backend/activate/trino-1");
  EXPECT_EQ(gateway_path("trino 1/x", false), "/gateway/backend/deactivate/trino%201%2Fx");
}

TEST(StatusView, TableAndJson) {
  ClusterReading reading;
  NodeReport report;
  report.node_id = "w1";
  report.role = "worker";
  report.host = "h1";
  report.state = HealthState::kDegraded;
  report.weight = 50;
  report.reasons = {"runq: slow"};
  report.ts_ms = 10'000;
  reading.nodes.push_back({"w1", report});
  reading.nodes.push_back({"w2", Error{"bad_json: not valid JSON: 'x'"}});
  reading.failing = {"w3"};
  const std::vector<StatusRow> rows = status_rows(reading, 12'500);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(render_status_table(rows),
            "NODE  ROLE    HOST  STATE     WEIGHT  AGE   REASONS\n"
            "w1    worker  h1    degraded  50      2.5s  runq: slow\n"
            "w2    -       -     unknown   -       -     invalid heartbeat: bad_json: not valid JSON: 'x'\n"
            "w3    -       -     failing   -       -     failing/w3 exists but nodes/w3 does not\n");
  const std::string json = render_status_json("prod", rows);
  EXPECT_NE(json.find(R"("cluster": "prod")"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("age_ms": 2500)"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("weight": null)"), std::string::npos) << json;
}

}  // namespace
}  // namespace nodepulse
