// The host policy and the images a release may run, judged on compose's own configuration of a hostile release
// (tests/fixtures/compose/hostile: captured from docker-compose 1.29.2) and of the shop fixture.
#include "docker/compose_model.hpp"
#include "policy/policy.hpp"
#include "util/error.hpp"
#include "util/yaml.hpp"

#include "testutil.hpp"
#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace airlock;

namespace {

docker::ComposeModel captured(const std::string& project) {
  const std::string path = AIRLOCK_SOURCE_DIR "/tests/fixtures/compose/" + project + "/config.v1.yml";
  return docker::parse_compose_config(yaml::parse(testutil::read_file(path), path), "shop", path);
}

release::Image image(const std::string& id, std::vector<std::string> tags) {
  release::Image i;
  i.id = id;
  i.tags = std::move(tags);
  return i;
}

} // namespace

TEST_CASE("policy: the default refuses privileged, host pid and ipc, added capabilities, devices and host binds") {
  const auto m = captured("hostile");
  const auto v = policy::violations(m, policy::Policy{}, {"/opt/shop"});
  CHECK(v == std::vector<std::string>{
                 "service 'agent': privileged: true (allow it with [policy] privileged = yes)",
                 "service 'agent': pid: host (allow it with [policy] host_pid = yes)",
                 "service 'agent': ipc: host (allow it with [policy] host_ipc = yes)",
                 "service 'agent': cap_add: SYS_ADMIN (allow it with [policy] cap_add = SYS_ADMIN)",
                 "service 'agent': cap_add: NET_ADMIN (allow it with [policy] cap_add = NET_ADMIN)",
                 "service 'agent': device /dev/fuse (allow it with [policy] devices = /dev/fuse)",
                 "service 'agent': device /dev/ttyUSB0 (allow it with [policy] devices = /dev/ttyUSB0)",
                 "service 'agent': bind mount of the host's / at /host (outside the app directory; allow it with "
                 "[policy] bind_paths = /)",
                 "service 'agent': bind mount of the host's /var/run/docker.sock at /var/run/docker.sock (outside "
                 "the app directory; allow it with [policy] bind_paths = /var/run/docker.sock)",
             });
  // The app's own binds (releases/, data/) are fine; network_mode: host is allowed by default.
  const auto e = testutil::error_of(
      [&] { policy::enforce(m, policy::Policy{}, {"/opt/shop"}, "docker-compose.yml", "Nothing was stopped."); });
  CHECK(e.code() == ExitCode::not_applicable);
  CHECK(std::string(e.what()).find("docker-compose.yml asks for what this host's policy refuses") == 0);
  CHECK(std::string(e.what()).find("Nothing was stopped.") != std::string::npos);
}

TEST_CASE("policy: the operator widens it item by item, and host_network = no refuses network_mode: host") {
  const auto m = captured("hostile");
  policy::Policy p;
  p.privileged = p.host_pid = p.host_ipc = true;
  p.cap_add = {"SYS_ADMIN", "NET_ADMIN"};
  p.devices = {"/dev/fuse", "/dev/ttyUSB0"};
  p.bind_paths = {"/var/run/docker.sock", "/"};
  CHECK(policy::violations(m, p, {"/opt/shop"}).empty());
  p.cap_add = {"CAP_SYS_ADMIN"}; // the CAP_ prefix is optional, on either side
  p.bind_paths = {"/var/run"};   // a directory allows what is below it, not a sibling
  p.host_network = false;
  CHECK(policy::violations(m, p, {"/opt/shop"}) ==
        std::vector<std::string>{"service 'agent': network_mode: host (allow it with [policy] host_network = yes)",
                                 "service 'agent': cap_add: NET_ADMIN (allow it with [policy] cap_add = NET_ADMIN)",
                                 "service 'agent': bind mount of the host's / at /host (outside the app directory; "
                                 "allow it with [policy] bind_paths = /)"});
  // A directory holds what is below it by whole components: /opt/shop/... is not inside /opt/sho.
  p.host_network = true;
  p.cap_add = {"ALL"};
  p.bind_paths = {"/var/run/docker.sock"};
  CHECK(policy::violations(m, p, {"/opt/sho"}).size() == 4); // /, and the app's three binds
  CHECK(policy::violations(m, p, {"/opt/shop/"}).size() == 1);
}

TEST_CASE("policy: every image compose runs must be one the release ships, by tag or by ID") {
  const auto m = captured("hostile");
  const std::string agent_id = "sha256:" + std::string(64, 'a');
  const std::vector<release::Image> shipped = {
      image(agent_id, {"example/agent@sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"})};
  CHECK(policy::unshipped_images(m, shipped) == std::vector<std::string>{"service 'cache': image redis:7"});
  // docker's normalisation: "redis:7" is "docker.io/library/redis:7".
  const std::vector<release::Image> both = {shipped[0],
                                            image("sha256:" + std::string(64, 'b'), {"docker.io/library/redis:7"})};
  CHECK(policy::unshipped_images(m, both).empty());
  const auto e = testutil::error_of(
      [&] { policy::require_shipped_images(m, shipped, "docker-compose.yml", "Nothing was published."); });
  CHECK(e.code() == ExitCode::bad_input);
  CHECK(std::string(e.what()).find("which compose would pull unsigned from a registry") != std::string::npos);
  CHECK(std::string(e.what()).find("service 'cache': image redis:7") != std::string::npos);
}

TEST_CASE("policy: a local volume whose driver_opts bind a host path is judged as a bind mount") {
  const std::string config = "services:\n"
                             "  web:\n"
                             "    image: shop/web:1.0.0\n"
                             "    volumes:\n"
                             "    - etc:/host-etc:rw\n"
                             "    - own:/own:rw\n"
                             "volumes:\n"
                             "  etc:\n"
                             "    driver_opts:\n"
                             "      device: /etc\n"
                             "      o: bind\n"
                             "      type: none\n"
                             "  own:\n"
                             "    driver_opts:\n"
                             "      device: /opt/shop/data/own\n"
                             "      o: bind\n"
                             "      type: none\n";
  const auto m = docker::parse_compose_config(yaml::parse(config, "config"), "shop", "config");
  CHECK(m.volumes.at("etc").driver_opts.at("device") == "/etc");
  CHECK(policy::violations(m, policy::Policy{}, {"/opt/shop"}) ==
        std::vector<std::string>{"volume 'etc': driver_opts device /etc binds a host path outside the app directory "
                                 "(allow it with [policy] bind_paths = /etc)"});
  policy::Policy p;
  p.bind_paths = {"/etc"};
  CHECK(policy::violations(m, p, {"/opt/shop"}).empty());
}

TEST_CASE("policy: turning confinement off (security_opt) and the host's user namespace are refused by default") {
  const auto m = captured("unconfined");
  CHECK(policy::violations(m, policy::Policy{}, {"/opt/shop"}) ==
        std::vector<std::string>{
            "service 'loose': security_opt: seccomp:unconfined (allow it with [policy] unconfined = yes)",
            "service 'loose': security_opt: apparmor=unconfined (allow it with [policy] unconfined = yes)",
            "service 'loose': userns_mode: host (allow it with [policy] host_userns = yes)",
            "service 'unlabelled': security_opt: label:disable (allow it with [policy] unconfined = yes)",
            "service 'unlabelled': security_opt: systempaths=unconfined (allow it with [policy] unconfined = yes)",
        });
  policy::Policy p; // options that only add confinement (no-new-privileges, a named AppArmor profile) are fine
  p.unconfined = p.host_userns = true;
  CHECK(policy::violations(m, p, {"/opt/shop"}).empty());
}
