// What a pipeline run works on: the site's configuration and layout, and the seams (DESIGN.md "The shape of the
// code"): the container engine, the clock, the disk probe and the step hook. Commands build one Context per
// run with the real parts; the pipeline's unit tests pass a fake engine, a fake clock and a fault hook.
// Thread-safety: one Context per run, used by one thread.
#pragma once

#include "config/config.hpp"
#include "docker/docker.hpp"
#include "health/health.hpp"
#include "pipeline/steps.hpp"
#include "policy/policy.hpp"
#include "site/layout.hpp"
#include "util/clock.hpp"
#include "util/disk.hpp"

#include <functional>
#include <memory>

namespace airlock::pipeline {

// Called at every journaled step, at its begin and its end (steps.hpp When). The shipped binary installs one
// hook only: the kill hook of the black-box tests (commands/session.hpp, docs/architecture.md).
using StepHook = std::function<void(const StepInfo& step, When when)>;

struct Seams {
  docker::Engine* engine = nullptr; // nullptr: the docker and compose CLIs, as [docker] configures them
  util::Clock* clock = nullptr;     // nullptr: the system clock
  util::FreeBytes free_bytes;       // empty: statvfs
  StepHook hook;                    // empty: none
};

class Context {
public:
  explicit Context(config::Config cfg, Seams seams = {});
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;
  ~Context();

  const config::Config& cfg() const { return cfg_; }
  const site::Layout& layout() const { return layout_; }
  docker::Engine& engine() const { return *engine_; }
  util::Clock& clock() const { return *clock_; }
  std::uint64_t free_bytes(const std::string& dir) const { return free_bytes_(dir); }
  const util::FreeBytes& disk_probe() const { return free_bytes_; }
  void at_step(const StepInfo& s, When w) const {
    if (hook_) hook_(s, w);
  }
  // The compose project name: [docker] project, else the app name, sanitized as compose does.
  std::string project_name() const;
  // The compose project of `version` (its compose file from the stored release.json).
  docker::Project project(const std::string& version, const std::string& compose_file) const;
  // The health gate settings a release does not set: [health].
  health::Gate health_defaults() const;
  // What a release may do on this host: [policy].
  policy::Policy host_policy() const;

private:
  config::Config cfg_;
  site::Layout layout_;
  std::unique_ptr<docker::Engine> own_engine_;
  docker::Engine* engine_;
  util::Clock* clock_;
  util::FreeBytes free_bytes_;
  StepHook hook_;
};

} // namespace airlock::pipeline
