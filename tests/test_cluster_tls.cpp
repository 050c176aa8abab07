// The cluster over mutual TLS: real `labctl serve` processes with
// certificates from scripts/cluster-certs, an agent listening on every
// address, and the certificates an agent must refuse.
#include "labrt/runtime.hpp"
#include "cluster_support.hpp"
#include "src/config_check.hpp"

using namespace labrt;
using namespace labrt::test;

namespace {

/// Two CAs and certificates for an orchestrator "lab" and agents "dut1" and
/// "dut2", made as a user would.
struct lab_certs {
  temp_dir dir{"labrt-tls"};

  lab_certs() {
    auto made = run_program({CLUSTER_CERTS_PATH, dir.path, "--orchestrator",
                             "lab", "--agent", "dut1", "--agent", "dut2"});
    INFO(made.err);
    REQUIRE(made.code == 0);
  }

  /// `cluster.tls` trusting the CA of `role` and showing `name`'s
  /// certificate.
  json tls(const std::string& role, const std::string& name) const {
    return {{"ca", dir / (role + "-ca.pem")},
            {"cert", dir / (name + ".pem")},
            {"key", dir / (name + ".key")}};
  }
};

} // namespace

TEST_CASE("TLS: an agent on every address, driven by the orchestrator whose "
          "CA it trusts, refusing agents' and plain peers",
          "[cluster]") {
  lab_certs certs;
  temp_dir dir{"labrt-tls-lab"};
  daemon_proc dut1{cluster_daemon_config(dir, "dut1",
                              {{"publish", "0.0.0.0:0"},
                               {"tls", certs.tls("orchestrators", "dut1")}})};
  auto address = "127.0.0.1:" + std::to_string(agent_port_of(dut1, "0.0.0.0"));
  auto peers = json::array({{{"name", "dut1"}, {"address", address}}});
  daemon_proc lab{cluster_daemon_config(dir, "lab", {{"peers", peers},
                                          {"tls", certs.tls("agents", "lab")}})};
  await_host(lab, "dut1", [](const json& h) { return h.value("up", false); });

  auto cli = lab.client();
  auto started = post(cli, "/api/cluster/dut1/test/start",
                      json{{"script", "sleep.sh"}, {"args", {"30"}}});
  REQUIRE(started);
  {
    INFO(started->body);
    REQUIRE(started->status == 201);
  }
  auto run_id = json::parse(started->body)["run_id"].get<std::string>();
  CHECK(dut1.get("/api/test/status").value("running", false));

  // An orchestrator of another lab: its CA is not the one dut1 trusts (as
  // the agents' CA is not, so an agent's certificate fares the same).
  lab_certs other;
  auto stranger = other.tls("agents", "lab");
  stranger["ca"] = certs.dir / "agents-ca.pem";
  daemon_proc rogue{cluster_daemon_config(dir, "rogue",
                               {{"peers", peers}, {"tls", stranger}})};
  // Refused with the likely causes named. On a loaded machine an attempt
  // may first time out mid-handshake (BASP's connection timeout); the next
  // ones are refused.
  auto refused = await_host(rogue, "dut1", [](const json& h) {
    return has(h.value("error", ""), "TLS");
  });
  CHECK_FALSE(refused.value("up", true));

  // Neither does a peer without TLS, secret or not.
  auto secret = dir / "secret";
  std::ofstream{secret} << "a-secret-of-the-lab-0123456789\n";
  REQUIRE(::chmod(secret.c_str(), 0600) == 0);
  daemon_proc plain{cluster_daemon_config(dir, "plain", {{"peers", peers},
                                              {"secret_file", secret}})};
  auto plain_view = await_host(plain, "dut1", [](const json& h) {
    return h.value("error", "") != "connecting";
  });
  CHECK_FALSE(plain_view.value("up", true));

  // Through all of it, and while both keep retrying, the orchestrator's
  // connection stays whole: a failed handshake leaves nothing behind for the
  // next TLS call on the agent's network thread to misread.
  CHECK(dut1.get("/api/test/status").value("running", false));
  CHECK(lab.get("/api/cluster")["hosts"]["dut1"].value("up", false));

  // A restarted orchestrator rebuilds its view from the agent: the run it
  // left is there, and it can stop it.
  auto lab_config = cluster_daemon_config(dir, "lab", {{"peers", peers},
                                            {"tls", certs.tls("agents", "lab")}});
  lab.kill9();
  daemon_proc lab2{lab_config};
  auto rebuilt = await_host(lab2, "dut1", [&](const json& h) {
    return h.value("up", false) && h["run"].is_object()
           && h["run"].value("run_id", "") == run_id;
  });
  CHECK(rebuilt["run"].value("state", "") == "running");
  auto stopped = lab2.client().Post("/api/cluster/dut1/test/stop");
  REQUIRE(stopped);
  INFO(stopped->body);
  CHECK(stopped->status == 200);
  CHECK_FALSE(dut1.get("/api/test/status").value("running", true));
}

TEST_CASE("TLS: certificates and keys are checked at start, saying what is "
          "wrong",
          "[cluster]") {
  lab_certs certs;
  auto& d = certs.dir;
  auto start_error = [&](const std::string& ca, const std::string& cert,
                         const std::string& key) {
    runtime_config cfg;
    cfg.cluster.publish_host = "127.0.0.1";
    cfg.cluster.tls = {ca, cert, key};
    auto rt = runtime::make(cfg);
    REQUIRE_FALSE(rt);
    return message_of(rt.error());
  };
  auto orchestrators_ca = d / "orchestrators-ca.pem";
  auto agents_ca = d / "agents-ca.pem";
  auto dut1 = d / "dut1.pem";
  auto dut1_key = d / "dut1.key";

  CHECK(has(start_error(orchestrators_ca, dut1, d / "dut2.key"),
            "is not the key of"));
  CHECK(has(start_error(agents_ca, dut1, dut1_key), "separate CAs"));
  CHECK(has(start_error(orchestrators_ca, d / "none.pem", dut1_key),
            "cannot be read"));
  CHECK(has(start_error(dut1_key, dut1, dut1_key), "no PEM certificate"));

  REQUIRE(::chmod(dut1_key.c_str(), 0640) == 0);
  CHECK(has(start_error(orchestrators_ca, dut1, dut1_key), "chmod 600"));
  REQUIRE(::chmod(dut1_key.c_str(), 0600) == 0);

  auto old = run_program({CLUSTER_CERTS_PATH, d.path, "--agent", "old",
                          "--days", "0"});
  REQUIRE(old.code == 0);
  CHECK(has(start_error(orchestrators_ca, d / "old.pem", d / "old.key"),
            "expired"));

  auto locked = d / "locked.key";
  auto lock = run_program({"/usr/bin/openssl", "pkey", "-in", dut1_key,
                           "-aes256", "-passout", "pass:secret", "-out",
                           locked});
  REQUIRE(lock.code == 0);
  CHECK(has(start_error(orchestrators_ca, dut1, locked),
            "not an unencrypted PEM private key"));
}

TEST_CASE("TLS config: files required, one role, other hosts only with it",
          "[cluster]") {
  temp_dir dir{"labrt-tls"};
  auto read = [&](const json& cluster) {
    return parse_config({{"runner", {{"roots", {scripts_dir}}}},
                         {"cluster", cluster}},
                        dir.path);
  };
  json tls = {{"ca", "ca.pem"}, {"cert", "me.pem"}, {"key", "me.key"}};
  auto agent = read({{"publish", "0.0.0.0:7700"}, {"tls", tls}});
  REQUIRE(agent);
  CHECK(agent->runtime.cluster.tls.ca == dir / "ca.pem");
  CHECK(agent->runtime.cluster.secret.empty());

  auto refused = [&](const json& cluster, const std::string& says) {
    auto bad = read(cluster);
    REQUIRE_FALSE(bad);
    INFO(message_of(bad.error()));
    CHECK(has(message_of(bad.error()), says));
  };
  refused({{"publish", "0.0.0.0:7700"}, {"tls", {{"ca", "ca.pem"}}}},
          "cluster.tls.cert is required");
  refused({{"publish", "127.0.0.1:7700"},
           {"peers", json::array({{{"name", "a"}, {"address", "h:1"}}})},
           {"tls", tls}},
          "either publishes or has peers");
  refused({{"publish", "127.0.0.1:7700"}, {"tls", {{"pem", "x"}}}}, "pem");
}
