// A fake container engine for the pipeline's unit tests (the real dockerd is tested black-box in
// tests/integration). It keeps its state in a JSON file, so what a forked child did (up, load, stop) is what the
// parent sees after the child was killed, as with a real engine that outlives the agent.
//
// What it does: `load` reads the archive as docker's legacy loader does (manifest.json, the config, each layer
// file, gzip or plain, checked against its diff ID; a layer left out must be a chain it holds, unless
// `complete_only`, which refuses that as the containerd image store does) and holds the image with its layers;
// `save` writes an image back as an archive; `up`
// replaces the project's containers by one running container per service of the compose file (the lines
// "  <name>:" under "services:"), each started container writes data/written-by-<release> (an app that changes
// its data) and into each of `project_volumes`, and a release listed in `crashing` starts containers that exit with
// code 3 at once (a release that fails its health gate); `stop` stops the running ones (each exits by itself with code
// 0); `volumes` lists `project_volumes`; `validate` refuses a compose file holding the line "invalid: true".
// Thread-safety: one thread; one file per test.
#pragma once

#include "docker/docker.hpp"

#include <set>
#include <string>
#include <vector>

namespace testutil {

class FakeEngine final : public airlock::docker::Engine {
public:
  explicit FakeEngine(std::string state_file);
  std::set<std::string> crashing; // releases whose containers exit at once
  bool complete_only = false;     // loads_thin_archives() is false, and a thin archive is refused
  // The project's named volumes; each started container also writes written-by-<release> into every local one.
  std::vector<airlock::docker::EngineVolume> project_volumes;

  void set_observer(airlock::docker::Observer o) override { observer_ = std::move(o); }
  void ping() override;
  const std::vector<std::string>& compose_command() override;
  void validate(const airlock::docker::Project& p) override;
  std::vector<std::string> services(const airlock::docker::Project& p) override;
  // The compose file itself read as compose v1 would print it (the test files are written in that shape).
  airlock::docker::ComposeModel model(const airlock::docker::Project& p) override;
  void up(const airlock::docker::Project& p) override;
  bool image_present(const std::string& id) override;
  std::vector<airlock::docker::LocalImage> images() override;
  bool loads_thin_archives() override { return !complete_only; }
  void load(const airlock::docker::ArchiveWriter& write, const std::string& id,
            const std::vector<std::string>& tags) override;
  void save(const std::string& id, const std::string& path) override;
  bool remove_image(const std::string& id) override;
  std::vector<airlock::docker::Stopped> stop(const airlock::docker::Project* running,
                                             const std::string& project) override;
  std::vector<airlock::docker::EngineVolume> volumes(const std::string& project) override;
  std::vector<airlock::docker::Container> containers(const std::string& project) override;

  // Forgets image `id` whatever uses it, as `docker rmi -f` does.
  void prune_image(const std::string& id);
  // The release whose containers run in `project` ("" when none runs).
  std::string running_release(const std::string& project);
  // Every call so far, one line each ("up shop 1.1.0"), across processes.
  std::vector<std::string> calls();

private:
  void record(const std::string& line);
  std::string file_;
  airlock::docker::Observer observer_;
};

} // namespace testutil
