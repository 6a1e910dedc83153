// The "containers" check of the health gate (health.hpp): judged from what the engine reports, no docker calls
// here, so it is unit-tested on plain values.
// Thread-safety: a plain function over the caller's values.
#pragma once

#include "docker/docker.hpp"
#include "health/health.hpp"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace airlock::health {

// Restart counts at the start of the gate, per container ID.
using RestartBaseline = std::map<std::string, std::int64_t>;

// Every service of `services` has a container in `cs` (a running one preferred) that is running, has not
// restarted since its baseline (a container not in `baseline` is added with its current count), and whose
// HEALTHCHECK, where it has one, is healthy. Exited, dead and restarted containers are fatal.
Result judge_containers(const std::vector<std::string>& services, const std::vector<docker::Container>& cs,
                        RestartBaseline& baseline);

} // namespace airlock::health
