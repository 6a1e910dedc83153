// What a signed release may do on a host (DESIGN.md "What a signed release may do on a host"). A signature says
// who published a release, not that it is harmless: the operator's [policy] in airlock.conf decides. Judged on
// compose's effective configuration (docker/compose_model.hpp, with the site's overrides) before anything stops,
// and by `airlock-bundle release add` with the default policy before it signs.
//
// By default a release may not: run a service `privileged`; share the host's pid or ipc namespace; add a
// capability (cap_add) outside the allow-list; map a host device; bind-mount a host path outside its own
// directories (the app directory on a site) and the allowed prefixes; turn off seccomp, AppArmor, SELinux labels
// or the masked /proc paths (security_opt); share the host's user namespace. `network_mode: host` is allowed unless
// [policy] host_network = no. Every `image:` must be an image the release ships (by tag, or by ID "sha256:<hex>"),
// so compose never pulls; a service that compose would build is refused too.
// Thread-safety: plain values; pure functions.
#pragma once

#include "docker/compose_model.hpp"
#include "release/manifest.hpp"

#include <string>
#include <vector>

namespace airlock::policy {

struct Policy {
  bool privileged = false, host_pid = false, host_ipc = false, host_network = true;
  bool unconfined = false;  // security_opt that turns confinement off: seccomp/apparmor unconfined, label disable,
                            // systempaths unconfined
  bool host_userns = false; // userns_mode: host
  std::vector<std::string> cap_add;    // capabilities a service may add ("NET_ADMIN"; "CAP_" prefix optional)
  std::vector<std::string> devices;    // host device paths a service may map ("/dev/ttyUSB0")
  std::vector<std::string> bind_paths; // host directories (and what is below them) a service may bind-mount
};

// Every way `model` goes beyond `p`, one line each ("service 'web': privileged: true (allow it with [policy]
// privileged = yes)"); `own_dirs` are the directories binds may always use (the app directory).
std::vector<std::string> violations(const docker::ComposeModel& model, const Policy& p,
                                    const std::vector<std::string>& own_dirs);

// Throws Error(not_applicable) listing violations(), naming `what` (the compose file) and ending with `outcome`
// ("Nothing was stopped.").
void enforce(const docker::ComposeModel& model, const Policy& p, const std::vector<std::string>& own_dirs,
             const std::string& what, const std::string& outcome);

// The services whose image is not one of `images` (by tag, docker's normalisation: "redis" is
// "docker.io/library/redis:latest", or by ID), one line each. A service without an image (built by compose)
// is one too.
std::vector<std::string> unshipped_images(const docker::ComposeModel& model, const std::vector<release::Image>& images);

// Throws Error(bad_input) listing unshipped_images(): compose would pull them, unsigned, from a registry.
void require_shipped_images(const docker::ComposeModel& model, const std::vector<release::Image>& images,
                            const std::string& what, const std::string& outcome);

} // namespace airlock::policy
