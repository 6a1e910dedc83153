// docker: project names as compose sanitises them, the compose argv (project, files, site overrides, env file)
// built against the compose that is really installed, and util::run_process's separate stdout, extra
// environment and timeout, on which every docker call stands.
#include "docker/docker.hpp"
#include "util/error.hpp"
#include "util/process.hpp"

#include "testutil.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

using namespace airlock;

TEST_CASE("docker: project names keep only what compose keeps") {
  CHECK(docker::project_name("Shop-Floor_2") == "shop-floor_2");
  CHECK(docker::project_name("my app.v1") == "myappv1");
  CHECK(docker::project_name("...") == "airlock");
}

TEST_CASE("docker: the compose argv names the project, the release's file and the site's overrides") {
  testutil::TempDir tmp;
  const std::string app = tmp / "opt/demo";
  std::filesystem::create_directories(app + "/releases/1.0.0");
  std::filesystem::create_directories(app + "/site");
  docker::Docker d(docker::Settings{"", "v1", 60});
  docker::Project p{"demo", site::Layout(app, tmp / "state"), "1.0.0", "docker-compose.yml"};
  auto argv = d.compose_argv(p, {"config", "-q"});
  const std::string rel = app + "/releases/1.0.0";
  CHECK(util::describe_argv(argv) == "docker-compose --project-name demo --project-directory " + rel + " -f " + rel +
                                         "/docker-compose.yml config -q");
  std::ofstream(app + "/site/docker-compose.override.yml") << "services: {}\n";
  std::ofstream(app + "/site/.env") << "A=1\n";
  argv = d.compose_argv(p, {"up", "-d"});
  CHECK(util::describe_argv(argv) == "docker-compose --project-name demo --project-directory " + rel + " -f " + rel +
                                         "/docker-compose.yml -f " + app + "/site/docker-compose.override.yml" +
                                         " --env-file " + app + "/site/.env up -d");
}

TEST_CASE("docker: compose = v2 without the v2 plugin fails naming what was tried") {
  docker::Docker d(docker::Settings{"", "v2", 60});
  auto r = util::run_process({"docker", "compose", "version"}, 30);
  if (r.exit_code == 0) return; // this host has compose v2: nothing to refuse
  try {
    d.compose_command();
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("no usable docker compose ([docker] compose = v2)") != std::string::npos);
    CHECK(std::string(e.what()).find("docker compose") != std::string::npos);
  }
}

TEST_CASE("util::run_process keeps stdout apart, adds environment, and kills at the timeout") {
  util::ProcessOptions o;
  o.extra_env = {"AIRLOCK_X=from-test", "HOME=/nowhere"};
  auto r = util::run_process({"sh", "-c", "echo out:$AIRLOCK_X:$HOME; echo err >&2"}, o);
  CHECK(r.exit_code == 0);
  CHECK(r.out == "out:from-test:/nowhere\n");
  CHECK(r.output.find("err") != std::string::npos);
  CHECK(r.output.find("out:from-test") != std::string::npos);

  o = {};
  o.timeout_seconds = 1;
  r = util::run_process({"sleep", "30"}, o);
  CHECK(r.timed_out);
  CHECK(r.exit_code == 128 + 9);

  CHECK_THROWS_AS(util::run_process({"airlock-no-such-program"}, 5), Error);
  CHECK(util::describe_argv({"a", "b c", "it's"}) == "a 'b c' 'it'\\''s'");
}

TEST_CASE("util::run_process passes only the allowed variables, and docker's CLIs get only the client's") {
  ::setenv("AIRLOCK_SECRET_FOR_TEST", "hunter2", 1);
  ::setenv("LC_AIRLOCK_TEST", "kept", 1);
  util::ProcessOptions o;
  o.env_allow = {"PATH", "LC_*"};
  o.extra_env = {"ADDED=1"};
  auto r = util::run_process({"sh", "-c", "env | sort"}, o);
  CHECK(r.out.find("AIRLOCK_SECRET_FOR_TEST") == std::string::npos);
  CHECK(r.out.find("LC_AIRLOCK_TEST=kept\n") != std::string::npos);
  CHECK(r.out.find("ADDED=1\n") != std::string::npos);
  CHECK(r.out.find("PATH=") != std::string::npos);
  CHECK(r.out.find("HOME=") == std::string::npos);

  // A `docker` first in PATH that records its environment: what the engine's CLI sees.
  testutil::TempDir tmp;
  const std::string bin = tmp / "bin", seen = tmp / "env";
  std::filesystem::create_directories(bin);
  std::ofstream(bin + "/docker") << "#!/bin/sh\nenv > " << seen << "\necho 20.10.24\n";
  std::filesystem::permissions(bin + "/docker", std::filesystem::perms::owner_all);
  const std::string path = std::getenv("PATH");
  ::setenv("PATH", (bin + ":" + path).c_str(), 1);
  docker::Docker d(docker::Settings{"unix:///tmp/airlock-test.sock", "v1", 60});
  d.ping();
  ::setenv("PATH", path.c_str(), 1);
  const std::string env = testutil::read_file(seen);
  CHECK(env.find("AIRLOCK_SECRET_FOR_TEST") == std::string::npos);
  CHECK(env.find("DOCKER_HOST=unix:///tmp/airlock-test.sock\n") != std::string::npos);
  CHECK(env.find("PATH=" + bin) != std::string::npos);
  ::unsetenv("AIRLOCK_SECRET_FOR_TEST");
  ::unsetenv("LC_AIRLOCK_TEST");
}
