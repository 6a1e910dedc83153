#include "pipeline/context.hpp"

namespace airlock::pipeline {

Context::Context(config::Config cfg, Seams seams)
    : cfg_(std::move(cfg)), layout_(site::Layout::of(cfg_)), engine_(seams.engine),
      clock_(seams.clock ? seams.clock : &util::system_clock()),
      free_bytes_(seams.free_bytes ? std::move(seams.free_bytes) : util::FreeBytes(util::statvfs_free_bytes)),
      hook_(std::move(seams.hook)) {
  if (!engine_) {
    own_engine_ = std::make_unique<docker::Docker>(
        docker::Settings{cfg_.docker_host, cfg_.compose, static_cast<int>(cfg_.docker_timeout_s), cfg_.image_load});
    engine_ = own_engine_.get();
  }
}

Context::~Context() = default;

std::string Context::project_name() const {
  return docker::project_name(cfg_.docker_project.empty() ? cfg_.app_name : cfg_.docker_project);
}

docker::Project Context::project(const std::string& version, const std::string& compose_file) const {
  return {project_name(), layout_, version, compose_file};
}

health::Gate Context::health_defaults() const {
  health::Gate g;
  g.timeout_s = static_cast<int>(cfg_.health_timeout_s);
  g.stable_s = static_cast<int>(cfg_.health_stable_s);
  g.interval_s = static_cast<int>(cfg_.health_interval_s);
  return g;
}

policy::Policy Context::host_policy() const {
  policy::Policy p;
  p.privileged = cfg_.policy_privileged;
  p.host_pid = cfg_.policy_host_pid;
  p.host_ipc = cfg_.policy_host_ipc;
  p.host_network = cfg_.policy_host_network;
  p.unconfined = cfg_.policy_unconfined;
  p.host_userns = cfg_.policy_host_userns;
  p.cap_add = cfg_.policy_cap_add;
  p.devices = cfg_.policy_devices;
  p.bind_paths = cfg_.policy_bind_paths;
  return p;
}

} // namespace airlock::pipeline
