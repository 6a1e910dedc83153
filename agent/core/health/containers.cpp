#include "health/containers.hpp"

#include <fmt/format.h>

namespace airlock::health {

Result judge_containers(const std::vector<std::string>& services, const std::vector<docker::Container>& cs,
                        RestartBaseline& baseline) {
  for (const auto& svc : services) {
    const docker::Container* c = nullptr;
    for (const auto& k : cs)
      if (k.service == svc && (!c || k.status == "running")) c = &k;
    if (!c) return {false, false, "service " + svc + " has no container"};
    auto [it, fresh] = baseline.emplace(c->id, c->restart_count);
    if (c->restart_count > it->second)
      return {false, true,
              fmt::format("service {} restarted {} time(s) since it started (crash loop?)", svc,
                          c->restart_count - it->second)};
    if (c->status == "exited" || c->status == "dead")
      return {false, true,
              fmt::format("service {} {} with code {}{}", svc, c->status, c->exit_code,
                          c->oom_killed ? " (out of memory)" : "")};
    if (c->status != "running") return {false, false, "service " + svc + " is " + c->status};
    if (!c->health.empty() && c->health != "healthy")
      return {false, false, "service " + svc + " HEALTHCHECK is " + c->health};
  }
  return {true, false, fmt::format("{} service(s) running", services.size())};
}

} // namespace airlock::health
