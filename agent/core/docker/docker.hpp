// The docker engine and compose, driven through their CLIs by argv (never a shell), each call bounded by a
// timeout (config [docker] timeout). DOCKER_HOST is honoured as the CLI honours it; config [docker] host, when
// set, is passed as DOCKER_HOST to every call. Only an allow-list of the agent's environment reaches the CLIs
// (PATH, HOME, the locale, TZ, TMPDIR and the DOCKER_* variables that locate and configure the engine client):
// nothing else in the environment can change how compose reads a compose file or learn the agent's secrets.
//
// Compose: v2 (`docker compose`) is preferred, v1 (`docker-compose`) is the fallback; config [docker] compose
// = v2 | v1 forces one. Every compose call names a fixed project (-p), the release's compose file, and the
// site's overrides when present: <app>/site/docker-compose.override.yml (a second -f) and <app>/site/.env
// (--env-file). Compose files reach the site's directories through variables set for every call:
//   AIRLOCK_DATA=<app>/data  AIRLOCK_SITE=<app>/site  AIRLOCK_RELEASE=<app>/releases/<version>
// e.g. `volumes: ["${AIRLOCK_DATA}:/data"]`. Containers are found by the labels com.docker.compose.project and
// com.docker.compose.service, never by name (v1 and v2 name containers differently).
//
// Every call is reported to the observer (argv, exit code, output), which the pipeline stores in its journal.
// Errors: a call that fails or times out throws Error(failure) with the command and its last output.
//
// Engine is the seam (DESIGN.md "The shape of the code"): the pipeline speaks to it only, Docker implements it
// with the CLIs, and tests/unit/fake_engine.hpp implements it in memory for the pipeline's unit tests.
// Thread-safety: an Engine object is used by one thread.
#pragma once

#include "docker/compose_model.hpp"
#include "site/layout.hpp"
#include "util/process.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace airlock::docker {

struct Settings {
  std::string docker_host;      // empty: inherit DOCKER_HOST
  std::string compose = "auto"; // auto | v2 | v1
  int timeout_s = 600;
  // How images are loaded (DESIGN.md "Images by layer"): thin archives that leave out the layers the engine
  // holds (the classic overlay2 store), complete ones built with layers exported from the engine (the containerd
  // image store refuses a missing layer), or auto: complete when `docker info` reports the containerd snapshotter.
  std::string image_load = "auto"; // auto | thin | complete
};

// One compose project: a release's compose file plus the site's overrides.
struct Project {
  std::string name;         // sanitized (see project_name)
  site::Layout layout;      // the site's paths
  std::string release;      // version: the compose file is layout.release_dir(release)/<compose_file>
  std::string compose_file; // relative to the release dir
};

struct Container {
  std::string id, service, status; // status: created | running | restarting | exited | ...
  std::int64_t restart_count = 0;
  int exit_code = 0;
  std::string health; // "" (no HEALTHCHECK), starting | healthy | unhealthy
  bool oom_killed = false;
};

// A named volume of a compose project, as the engine reports it.
struct EngineVolume {
  std::string name;        // the engine's name, e.g. "shop_pgdata"
  std::string compose_key; // the key in the compose file ("pgdata"): label com.docker.compose.volume
  std::string driver;      // "local" for a directory on this host
  std::string mountpoint;  // the directory that holds its data (local driver)
};

// How one container ended when it was stopped.
struct Stopped {
  std::string id, service;
  int exit_code = 0;
  bool killed = false; // SIGKILLed at the end of its grace period (exit code 137)
};

// An image the engine holds, with its layers' diff IDs in order (RootFS.Layers).
struct LocalImage {
  std::string id;
  std::vector<std::string> layers;
};

// Writes a `docker load` archive to the sink it is given.
using ArchiveWriter = std::function<void(util::Sink&)>;

// The project name compose would use for `name`: lowercased, only [a-z0-9_-] kept; "airlock" when empty.
std::string project_name(const std::string& name);

using Observer = std::function<void(const std::vector<std::string>& argv, const util::ProcessResult& r)>;

// What the pipeline asks of a container engine and compose.
class Engine {
public:
  virtual ~Engine() = default;
  // Every later call is reported to `o` (empty: to nobody).
  virtual void set_observer(Observer o) = 0;
  // Throws Error(failure, "docker engine not reachable at ...: <output>; start dockerd ...").
  virtual void ping() = 0;
  // Detects (once) and returns the compose command, e.g. {"docker","compose"} or {"docker-compose"}. Throws
  // Error(failure) naming what was tried when neither (or the configured one) works.
  virtual const std::vector<std::string>& compose_command() = 0;
  // `config -q`: throws Error(bad_input, "<file> is refused by <compose>: <its message>; nothing was stopped").
  virtual void validate(const Project& p) = 0;
  // `config --services`, sorted.
  virtual std::vector<std::string> services(const Project& p) = 0;
  // The effective configuration compose makes of the project (compose_model.hpp): v2's `config --format json`,
  // or v1's YAML `config`. Error(bad_input) naming the compose file when compose refuses it or prints what the
  // model cannot read.
  virtual ComposeModel model(const Project& p) = 0;
  // `up -d --remove-orphans`; throws on failure.
  virtual void up(const Project& p) = 0;
  virtual bool image_present(const std::string& id) = 0;
  // Every image the engine holds (intermediate ones included), with its layers.
  virtual std::vector<LocalImage> images() = 0;
  // Whether a load archive may leave out the layers the engine holds (Settings::image_load).
  virtual bool loads_thin_archives() = 0;
  // Loads the archive that `write` streams (a docker-save tar), then checks that image `id` is present: a load
  // that exits 0 without producing the image still fails. Then tags it with each of `tags`.
  virtual void load(const ArchiveWriter& write, const std::string& id, const std::vector<std::string>& tags) = 0;
  // Writes image `id` as `docker save` does into the file `path`.
  virtual void save(const std::string& id, const std::string& path) = 0;
  // false (never throws) when the engine refuses, e.g. because a container uses it.
  virtual bool remove_image(const std::string& id) = 0;
  // Stops the project as compose stops it: `compose stop` of `running` (the release that runs: dependency order
  // and each service's stop_grace_period), then every container of the project still running that compose did
  // not know (another release's), each with its own StopTimeout. `running` may be null (nothing staged runs:
  // only the second part). Returns how each container that was running ended.
  virtual std::vector<Stopped> stop(const Project* running, const std::string& project) = 0;
  // The named volumes that compose created for `project` (found by label; external volumes are not its own).
  virtual std::vector<EngineVolume> volumes(const std::string& project) = 0;
  // The containers of compose project `project`, in all states.
  virtual std::vector<Container> containers(const std::string& project) = 0;
};

// The engine through the docker and compose CLIs.
class Docker final : public Engine {
public:
  explicit Docker(Settings s, Observer on_call = {});
  void set_observer(Observer o) override { on_call_ = std::move(o); }
  void ping() override;
  const std::vector<std::string>& compose_command() override;
  // The full compose argv for `project` + `args` (exposed for tests and for --plan).
  std::vector<std::string> compose_argv(const Project& p, const std::vector<std::string>& args);
  // Runs compose; throws on a non-zero exit. Returns stdout.
  std::string compose(const Project& p, const std::vector<std::string>& args);
  void validate(const Project& p) override;
  std::vector<std::string> services(const Project& p) override;
  ComposeModel model(const Project& p) override;
  void up(const Project& p) override { compose(p, {"up", "-d", "--remove-orphans"}); }
  bool image_present(const std::string& id) override;
  // The tags of image `id` ("repo:tag"), or nullopt when the engine does not have it.
  std::optional<std::vector<std::string>> image_tags(const std::string& id);
  // `docker image ls -aq` and `docker image inspect` of each.
  std::vector<LocalImage> images() override;
  // thin / complete as configured; auto: `docker info` (once) names the containerd snapshotter or not.
  bool loads_thin_archives() override;
  // `docker load` reading the stream on stdin, then `docker tag` for the tags the archive did not restore.
  void load(const ArchiveWriter& write, const std::string& id, const std::vector<std::string>& tags) override;
  // `docker save -o path id`.
  void save(const std::string& id, const std::string& path) override;
  // `docker image rm id`.
  bool remove_image(const std::string& id) override;
  // `compose stop`, then `docker stop` (no -t) of what is left, then `docker inspect` of each for its exit code.
  std::vector<Stopped> stop(const Project* running, const std::string& project) override;
  // `docker volume ls --filter label=...` and `docker volume inspect`.
  std::vector<EngineVolume> volumes(const std::string& project) override;
  // `docker ps -a --filter label=...` and `docker inspect`.
  std::vector<Container> containers(const std::string& project) override;

private:
  // IDs of the project's containers (found by label): running ones, or all with `all`.
  std::vector<std::string> project_containers(const std::string& project, bool all);
  // `input`, when set, writes the program's stdin (util::ProcessOptions::stdin_writer).
  util::ProcessResult call(const std::vector<std::string>& argv, int timeout_s, bool check,
                           const std::vector<std::string>& extra_env = {}, const ArchiveWriter& input = {});
  std::vector<std::string> env_for(const Project& p) const;

  Settings s_;
  Observer on_call_;
  std::vector<std::string> compose_cmd_;
  int thin_ = -1; // loads_thin_archives(), once detected
};

} // namespace airlock::docker
