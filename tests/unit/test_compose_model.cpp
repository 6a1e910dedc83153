// docker::parse_compose_config on what compose really prints: docker-compose 1.29.2's YAML, captured here
// (tests/fixtures/compose/*/config.v1.yml), and compose v2's JSON, written by hand from the compose specification
// and compose-go's types (config.v2.json: compose v2 is not installable on this machine). Both versions of one
// project must give the same model. Then durations, mount descriptions, path containment and the errors.
#include "docker/compose_model.hpp"
#include "util/error.hpp"
#include "util/json.hpp"
#include "util/yaml.hpp"

#include "testutil.hpp"
#include <doctest/doctest.h>

#include <optional>
#include <sstream>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

using airlock::ExitCode;
namespace docker = airlock::docker;
namespace json = airlock::json;
namespace yaml = airlock::yaml;
using docker::ComposeModel;
using docker::Mount;
using namespace std::string_literals;

namespace {

const std::string fixtures = AIRLOCK_SOURCE_DIR "/tests/fixtures/compose/";
const std::string release = "/opt/shop/releases/1.2.0";

std::string fixture(const std::string& name) {
  std::string text = testutil::read_file(fixtures + name);
  REQUIRE_MESSAGE(!text.empty(), "missing fixture " << name);
  return text;
}

ComposeModel v1(const std::string& project) {
  return docker::parse_compose_config(yaml::parse(fixture(project + "/config.v1.yml"), "config.v1.yml"), "shop",
                                      "docker-compose.yml");
}

ComposeModel v2(const std::string& project) {
  return docker::parse_compose_config(json::parse(fixture(project + "/config.v2.json"), "config.v2.json"), "shop",
                                      "docker-compose.yml");
}

// The whole model, one line per fact, so that a test states it exactly and a difference shows where it is.
std::string dump(const ComposeModel& m) {
  std::ostringstream out;
  for (const auto& [key, v] : m.volumes)
    out << "volume " << key << ": name=" << v.name << " driver=" << v.driver << (v.external ? " external" : "")
        << (v.key == key ? "" : " KEY MISMATCH") << "\n";
  for (const auto& [name, s] : m.services) {
    out << "service " << name << ": image=" << s.image
        << " grace=" << (s.stop_grace_seconds ? std::to_string(*s.stop_grace_seconds) : "none")
        << (s.privileged ? " privileged" : "") << " pid=" << s.pid << " ipc=" << s.ipc
        << " network_mode=" << s.network_mode << (s.name == name ? "" : " NAME MISMATCH") << "\n";
    for (const auto& c : s.cap_add) out << "  cap_add " << c << "\n";
    for (const auto& d : s.devices) out << "  device " << d << "\n";
    for (const auto& d : s.depends_on) out << "  depends_on " << d << "\n";
    for (const auto& mount : s.mounts) out << "  " << docker::describe(mount) << "\n";
  }
  return out.str();
}

// What parse_compose_config throws for the JSON document `doc`.
std::string refusal(const std::string& doc) {
  const airlock::Error e = testutil::error_of(
      [&] { (void)docker::parse_compose_config(json::parse(doc, "doc.json"), "shop", "docker-compose.yml"); });
  CHECK(e.code() == ExitCode::bad_input);
  return e.what();
}

} // namespace

TEST_CASE("compose model: parse_compose_config reads compose v1's output of a database stack") {
  const ComposeModel m = v1("shop");
  CHECK(dump(m) == "volume cache: name=shop_cache driver=local\n"
                   "volume pgdata: name=shop_pgdata driver=local\n"
                   "service db: image=postgres:15 grace=30 pid= ipc= network_mode=\n"
                   "  volume pgdata -> /var/lib/postgresql/data\n"
                   "  bind /opt/shop/releases/1.2.0/initdb -> /docker-entrypoint-initdb.d (read-only)\n"
                   "service web: image=shop/web:1.2.0 grace=90 pid= ipc= network_mode=\n"
                   "  depends_on db\n"
                   "  bind /opt/shop/data/uploads -> /srv/uploads\n"
                   "  bind /opt/shop/site/web.conf -> /etc/shop/web.conf (read-only)\n"
                   "  volume cache -> /var/cache/shop\n"
                   "service worker: image=shop/web:1.2.0 grace=120 pid= ipc= network_mode=\n"
                   "  depends_on db\n"
                   "  depends_on web\n"
                   "  tmpfs -> /tmp\n");
  const Mount& pgdata = m.services.at("db").mounts.at(0);
  CHECK(pgdata.type == Mount::Type::volume);
  CHECK(pgdata.source == "pgdata");
  CHECK(pgdata.target == "/var/lib/postgresql/data");
  CHECK(!pgdata.read_only);
  CHECK(m.volumes.at("pgdata").key == "pgdata");
  // The relative ./initdb resolved into the release tree: what the stage step must refuse.
  CHECK(docker::bind_sources_inside(m, release) == std::vector<std::string>{release + "/initdb"});
  CHECK(docker::bind_sources_inside(m, "/opt/shop/data") == std::vector<std::string>{"/opt/shop/data/uploads"});
  CHECK(docker::bind_sources_inside(m, "/srv").empty());
}

TEST_CASE("compose model: parse_compose_config gives the same model for compose v2's JSON of the same project") {
  for (const char* project : {"shop", "hostile"}) {
    CAPTURE(project);
    CHECK(dump(v2(project)) == dump(v1(project)));
  }
}

TEST_CASE("compose model: parse_compose_config reads what the host policy judges") {
  const ComposeModel m = v1("hostile");
  CHECK(dump(m) ==
        "volume external-data: name=external-data driver=local external\n"
        "volume named: name=shared-named driver=local\n"
        "service agent: image=example/agent@sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
        " grace=2 privileged pid=host ipc=host network_mode=host\n"
        "  cap_add SYS_ADMIN\n"
        "  cap_add NET_ADMIN\n"
        "  device /dev/fuse:/dev/fuse\n"
        "  device /dev/ttyUSB0:/dev/ttyUSB0:rwm\n"
        "  bind / -> /host (read-only)\n"
        "  bind /var/run/docker.sock -> /var/run/docker.sock\n"
        "  bind /opt/shop/releases/1.2.0/data -> /data\n"
        "  bind /opt/shop/releases/1.2.0/state/db -> /db\n"
        "  bind /opt/shop/data/exports -> /exports\n"
        "  volume named -> /named\n"
        "  volume external-data -> /external\n"
        "  tmpfs -> /scratch\n"
        "service cache: image=redis:7 grace=0 pid=service:agent ipc= network_mode=service:agent\n"
        "  anonymous volume -> /anonymous-cache\n");
  CHECK(docker::bind_sources_inside(m, release) == std::vector<std::string>{release + "/data", release + "/state/db"});
  CHECK(docker::bind_sources_inside(m, "/opt/shop") ==
        std::vector<std::string>{"/opt/shop/data/exports", release + "/data", release + "/state/db"});
  CHECK(docker::bind_sources_inside(m, "/").size() == 5);
}

TEST_CASE("compose model: parse_compose_config reads compose v1's output of the version 2 and version 1 file formats") {
  CHECK(dump(v1("format_v2")) ==
        "volume static: name=shared-static driver=local external\n"
        "volume uploads: name=shop-uploads-nobody driver=local\n"
        "service cache: image=redis:7 grace=3723 pid= ipc= network_mode=\n"
        "service files: image=busybox grace=none pid= ipc= network_mode=\n"
        "  volume uploads -> /uploads\n"
        "service web: image=nginx:1.25 grace=1 pid= ipc= network_mode=\n"
        "  depends_on cache\n"
        "  volume static -> /usr/share/nginx/html (read-only)\n"
        "  bind /opt/shop/releases/1.2.0/conf/nginx.conf -> /etc/nginx/nginx.conf (read-only)\n"
        "  tmpfs -> /run\n");
  CHECK(dump(v1("format_v1")) == "service web: image=busybox grace=none pid= ipc= network_mode=bridge\n"
                                 "  cap_add NET_BIND_SERVICE\n"
                                 "  bind /srv/www -> /www\n"
                                 "  bind /opt/shop/releases/1.2.0/logs -> /logs\n");
  // A service without volumes, images or anything else, and an empty project, are not errors.
  CHECK(dump(docker::parse_compose_config(json::parse(R"({"services": {"built": {"build": {"context": "."}}}})", "d"),
                                          "shop", "d")) ==
        "service built: image= grace=none pid= ipc= network_mode=\n");
  CHECK(dump(docker::parse_compose_config(json::parse("{}", "d"), "shop", "d")).empty());
  CHECK(dump(docker::parse_compose_config(yaml::parse("services: {}\nvolumes:\n", "d"), "shop", "d")).empty());
}

TEST_CASE("compose model: parse_compose_config reads the forms either version may print") {
  const std::string doc = R"({
    "services": {
      "a": {
        "image": "x",
        "privileged": "true",
        "depends_on": ["c", "b", "c"],
        "tmpfs": "/run:size=1m",
        "devices": [{"source": "/dev/sda"}],
        "volumes": [
          {"type": "bind", "source": "/opt/shop/data/$$weird/./x/", "target": "/$$t", "read_only": "true"},
          {"type": "volume", "source": "v", "target": "/v", "read_only": false},
          "v:/v2:ro,nocopy",
          "/srv//a/../b:/b:z"
        ]
      },
      "b": {"image": "x", "privileged": false, "command": null, "stop_grace_period": null},
      "c": {"image": "x"}
    },
    "volumes": {"v": null, "old": {"external": {"name": "legacy-name"}}, "ext": {"external": "false"}}
  })";
  const ComposeModel m = docker::parse_compose_config(json::parse(doc, "d"), "p-1", "d");
  CHECK(dump(m) == "volume ext: name=p-1_ext driver=local\n"
                   "volume old: name=legacy-name driver=local external\n"
                   "volume v: name=p-1_v driver=local\n"
                   "service a: image=x grace=none privileged pid= ipc= network_mode=\n"
                   "  device /dev/sda\n"
                   "  depends_on b\n"
                   "  depends_on c\n"
                   "  bind /opt/shop/data/$weird/x -> /$t (read-only)\n"
                   "  volume v -> /v\n"
                   "  volume v -> /v2 (read-only)\n"
                   "  bind /srv/b -> /b\n"
                   "  tmpfs -> /run\n"
                   "service b: image=x grace=none pid= ipc= network_mode=\n"
                   "service c: image=x grace=none pid= ipc= network_mode=\n");
}

TEST_CASE(
    "compose model: parse_compose_config refuses documents that are not compose's configuration, naming the service") {
  const std::string pre = R"({"volumes": {"v": {}}, "services": {"web": )";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"[]", "docker-compose.yml: expected compose's configuration (an object), found array; pass the output of "
             "`compose config`"},
      {R"({"services": []})", "docker-compose.yml: services must be a mapping, found array; fix the compose file"},
      {R"({"volumes": 1})", "docker-compose.yml: the top-level volumes must be a mapping, found integer; fix the "
                            "compose file"},
      {R"({"volumes": {"v": []}})", "docker-compose.yml: volume 'v': its definition must be a mapping, found array; "
                                    "fix the compose file"},
      {R"({"volumes": {"v": {"driver": 1}}})", "docker-compose.yml: volume 'v': driver must be a string, found "
                                               "integer; fix the compose file"},
      {R"({"volumes": {"v": {"name": "../etc"}}})", "docker-compose.yml: volume 'v': '../etc' is not a valid docker "
                                                    "volume name ([a-zA-Z0-9][a-zA-Z0-9_.-]+); rename the volume in "
                                                    "the compose file"},
      {R"({"volumes": {"x y": {}}})", "docker-compose.yml: volume 'x y': 'shop_x y' is not a valid docker volume "
                                      "name ([a-zA-Z0-9][a-zA-Z0-9_.-]+); rename the volume in the compose file"},
      {pre + "null}}", "docker-compose.yml: service 'web': its definition must be a mapping, found null; fix the "
                       "compose file"},
      {pre + R"({"image": 7}}})", "docker-compose.yml: service 'web': image must be a string, found integer; fix the "
                                  "compose file"},
      {pre + R"({"privileged": "yes"}}})", "docker-compose.yml: service 'web': privileged must be true or false, "
                                           "found string; fix the compose file"},
      {pre + R"({"cap_add": "ALL"}}})", "docker-compose.yml: service 'web': cap_add must be a list of strings, found "
                                        "string; fix the compose file"},
      {pre + R"({"cap_add": [1]}}})", "docker-compose.yml: service 'web': cap_add entries must be strings, found "
                                      "integer; fix the compose file"},
      {pre + R"({"devices": [{"target": "/dev/x"}]}}})", "docker-compose.yml: service 'web': a device without a "
                                                         "source; fix the compose file"},
      {pre + R"({"depends_on": "db"}}})", "docker-compose.yml: service 'web': depends_on must be a list of strings, "
                                          "found string; fix the compose file"},
      {pre + R"({"stop_grace_period": 30}}})", "docker-compose.yml: service 'web': stop_grace_period must be a "
                                               "duration such as \"30s\" or \"1m30s\", found integer; fix the compose "
                                               "file"},
      {pre + R"({"stop_grace_period": "forever"}}})", "docker-compose.yml: service 'web': stop_grace_period "
                                                      "'forever' is not a duration such as 30s, 1m30s or 500ms (at "
                                                      "most 2147483647 s); fix the compose file"},
      {pre + R"({"volumes": "v:/v"}}})", "docker-compose.yml: service 'web': volumes must be a list, found string; "
                                         "fix the compose file"},
      {pre + R"({"volumes": ["./data:/data"]}}})", "docker-compose.yml: service 'web': volume './data:/data': the "
                                                   "bind mount source './data' is not an absolute path (compose config "
                                                   "prints resolved paths: pass its output, not the file)"},
      {pre + R"({"volumes": [{"type": "bind", "source": "data", "target": "/d"}]}}})",
       "docker-compose.yml: service 'web': volume 'bind data -> /d': the bind mount source 'data' is not an absolute "
       "path (compose config prints resolved paths: pass its output, not the file)"},
      {pre + R"({"volumes": ["pgdata:/data"]}}})", "docker-compose.yml: service 'web': volume 'pgdata:/data': mounts "
                                                   "the volume 'pgdata' that the file does not declare under the "
                                                   "top-level volumes:; declare it there"},
      {pre + R"({"volumes": [{"type": "volume", "source": "w", "target": "/w"}]}}})",
       "docker-compose.yml: service 'web': volume 'volume w -> /w': mounts the volume 'w' that the file does not "
       "declare under the top-level volumes:; declare it there"},
      {pre + R"({"volumes": [{"type": "npipe", "source": "\\\\.\\pipe\\x", "target": "/p"}]}}})",
       "docker-compose.yml: service 'web': volume 'npipe \\x5c\\x5c.\\x5cpipe\\x5cx -> /p': mount type 'npipe' is not "
       "supported "
       "(bind, volume and tmpfs are)"},
      {pre + R"({"volumes": [{"type": "bind", "source": "/a"}]}}})", "docker-compose.yml: service 'web': volume "
                                                                     "'bind /a -> ': the target '' is not an absolute "
                                                                     "path; fix the compose file"},
      {pre + R"({"volumes": ["/a:data"]}}})", "docker-compose.yml: service 'web': volume '/a:data': the target 'data' "
                                              "is not an absolute path; fix the compose file"},
      {pre + R"({"volumes": ["/a:/b:ro:x"]}}})", "docker-compose.yml: service 'web': volume '/a:/b:ro:x': more than "
                                                 "three ':'-separated parts; use the long syntax"},
      {pre + R"({"volumes": ["/a:/b:rx"]}}})", "docker-compose.yml: service 'web': volume '/a:/b:rx': unknown mode "
                                               "'rx'"},
      {pre + R"({"volumes": ["/a:/b:ro,rw"]}}})", "docker-compose.yml: service 'web': volume '/a:/b:ro,rw': both ro "
                                                  "and rw"},
      {pre + R"({"volumes": [":/b"]}}})", "docker-compose.yml: service 'web': volume ':/b': empty source"},
      {pre + R"({"volumes": ["/a\u0000b:/b"]}}})", "docker-compose.yml: service 'web': volume '/a\\x00b:/b': the "
                                                   "source holds a NUL byte"},
      {pre + R"({"volumes": [7]}}})", "docker-compose.yml: service 'web': volumes entries must be strings or "
                                      "mappings, found integer; fix the compose file"},
      {pre + R"({"tmpfs": [1]}}})", "docker-compose.yml: service 'web': tmpfs entries must be strings, found integer; "
                                    "fix the compose file"},
      {pre + R"({"network_mode": ["host"]}}})", "docker-compose.yml: service 'web': network_mode must be a string, "
                                                "found array; fix the compose file"},
      {R"({"services": {"we\u001bb": {"pid": 1}}})", "docker-compose.yml: service 'we\\x1bb': pid must be a string, "
                                                     "found integer; fix the compose file"},
  };
  for (const auto& [doc, message] : cases) {
    CAPTURE(doc);
    CHECK(refusal(doc) == message);
  }
  const airlock::Error e =
      testutil::error_of([] { (void)docker::parse_compose_config(json::parse("{}", "d"), "", "docker-compose.yml"); });
  CHECK(e.code() == ExitCode::failure);
}

TEST_CASE("compose model: duration_seconds reads Go durations as compose prints them, rounding up") {
  const std::vector<std::pair<std::string, std::optional<int>>> cases = {
      {"30s", 30},
      {"1m30s", 90},
      {"2m0s", 120},
      {"1h2m3s", 3723},
      {"1.5s", 2},
      {"0.1h", 360},
      {"1.5h", 5400},
      {"500ms", 1},
      {"1000ms", 1},
      {"1001ms", 2},
      {"1ns", 1},
      {"1000000000ns", 1},
      {"1000000001ns", 2},
      {"1us", 1},
      {"1\xc2\xb5s", 1},
      {"1\xce\xbcs", 1},
      {"0", 0},
      {"0s", 0},
      {"0.0s", 0},
      {"90S", 90},
      {" 30s ", 30},
      {"+5s", 5},
      {"1.s", 1},
      {".5s", 1},
      {"1s1s", 2},
      {"1.0000000001s", 2},
      {"2147483647s", 2147483647},
      {"35791394m7s", 2147483647},
      {"", std::nullopt},
      {"s", std::nullopt},
      {"30", std::nullopt},
      {"-5s", std::nullopt},
      {"5x", std::nullopt},
      {"1..5s", std::nullopt},
      {".s", std::nullopt},
      {"1e3s", std::nullopt},
      {"1 s", std::nullopt},
      {"2147483648s", std::nullopt},
      {"2147483647.1s", std::nullopt},
      {"99999999999999999999h", std::nullopt},
      {"596524h", std::nullopt},
      {"30s-", std::nullopt},
  };
  for (const auto& [text, want] : cases) {
    CAPTURE(text);
    CHECK(docker::duration_seconds(text) == want);
  }
}

TEST_CASE("compose model: describe names each kind of mount") {
  CHECK(docker::describe(Mount{Mount::Type::bind, "/srv/a", "/a", true}) == "bind /srv/a -> /a (read-only)");
  CHECK(docker::describe(Mount{Mount::Type::bind, "/srv/a", "/a", false}) == "bind /srv/a -> /a");
  CHECK(docker::describe(Mount{Mount::Type::volume, "pgdata", "/data", false}) == "volume pgdata -> /data");
  CHECK(docker::describe(Mount{Mount::Type::volume, "", "/cache", false}) == "anonymous volume -> /cache");
  CHECK(docker::describe(Mount{Mount::Type::tmpfs, "", "/run", false}) == "tmpfs -> /run");
}

TEST_CASE("compose model: inside compares normalised paths component by component") {
  const std::vector<std::tuple<std::string, std::string, bool>> cases = {
      {"/opt/shop/releases/1.2.0/data", "/opt/shop/releases/1.2.0", true},
      {"/opt/shop/releases/1.2.0", "/opt/shop/releases/1.2.0", true},
      {"/opt/shop/releases/1.2.0/", "/opt/shop/releases/1.2.0", true},
      {"/opt/shop/releases/1.2.0", "/opt/shop/releases/1.2.0/", true},
      {"/opt/shop/releases/1.2.0//./data/", "/opt/shop/releases/1.2.0", true},
      {"/opt/shop/releases/1.2.0-old/data", "/opt/shop/releases/1.2.0", false},
      {"/opt/shop/releases/1.2", "/opt/shop/releases/1.2.0", false},
      {"/opt/shop/releases/1.2.0/../../data", "/opt/shop/releases/1.2.0", false},
      {"/opt/shop/releases/1.2.0/../1.2.0/data", "/opt/shop/releases/1.2.0", true},
      {"/opt/shop/data", "/opt/shop/releases/../data", true},
      {"/../../opt/x", "/opt", true},
      {"/x", "/", true},
      {"/", "/", true},
      {"/", "/opt", false},
      {"opt/x", "/opt", false},
      {"/opt/x", "opt", false},
      {"opt/x", "opt", true},
      {"../x", ".", false},
      {"x", ".", true},
      {"", "/opt", false},
      {"/opt", "", false},
  };
  for (const auto& [path, dir, want] : cases) {
    CAPTURE(path);
    CAPTURE(dir);
    CHECK(docker::inside(path, dir) == want);
  }
}
