#include "pipeline/site_report.hpp"

#include "pipeline/run.hpp"

#include "about/build_info.hpp"
#include "health/containers.hpp"
#include "site/identity.hpp"
#include "site/stage.hpp"
#include "trust/metadata.hpp"
#include "util/error.hpp"
#include "util/io.hpp"

#include <fmt/format.h>

#include <filesystem>

namespace airlock::pipeline {
namespace fs = std::filesystem;
namespace {

bool is_run(const std::string& action) {
  for (const char* a : {"import", "upgrade", "apply", "rollback", "recover"})
    if (action == a) return true;
  return false;
}

std::int64_t free_bytes(const Context& ctx, const std::string& dir) {
  try {
    return static_cast<std::int64_t>(ctx.free_bytes(dir));
  } catch (const std::exception&) {
    return -1;
  }
}

// health, health_detail and containers of `r`, from the engine.
void judge_health(Context& ctx, report::SiteReport& r) {
  try {
    const auto cs = ctx.engine().containers(ctx.project_name());
    for (const auto& c : cs) r.containers.push_back({c.service, c.status, c.health, c.restart_count});
    if (r.version.empty() && cs.empty()) {
      r.health = "stopped";
      r.health_detail = "nothing is installed";
      return;
    }
    std::vector<std::string> services;
    if (auto m = stored_manifest(ctx.layout(), r.version))
      services = ctx.engine().services(ctx.project(r.version, m->compose_file));
    health::RestartBaseline baseline; // empty: restarts before now are not held against it
    const auto res = health::judge_containers(services, cs, baseline);
    bool running = false;
    for (const auto& c : cs) running = running || c.status == "running";
    r.health = res.ok ? "healthy" : running ? "unhealthy" : "stopped";
    r.health_detail = res.detail;
  } catch (const std::exception& e) {
    r.health = "unknown";
    r.health_detail = std::string("could not ask the docker engine: ") + e.what();
  }
}

} // namespace

report::SiteReport site_report(Context& ctx, state::StateDb& db) {
  const auto& l = ctx.layout();
  report::SiteReport r;
  const auto id = site::read_site_id(l);
  if (!id) fail(ExitCode::failure, "internal: site_report before the site has an ID");
  r.site_id = *id;
  r.generated_at = trust::format_time(ctx.clock().unix_seconds());
  r.agent_version = about::airlock_version();
  r.arch = about::target_arch();
  r.app = ctx.cfg().app_name;
  r.version = site::current_version(l.app_dir()).value_or("");
  if (!r.version.empty())
    if (auto m = stored_manifest(l, r.version))
      for (const auto& i : m->images) r.image_ids.push_back(i.id);
  judge_health(ctx, r);
  for (const auto& a : db.audit(1000)) {
    if (!is_run(a.action)) continue;
    r.runs.push_back({a.at, a.action, a.from_version, a.to_version, a.outcome, a.downtime_ms});
    if (r.runs.size() == report_runs) break;
  }
  r.disk_free_state = free_bytes(ctx, l.state_dir());
  r.disk_free_app = free_bytes(ctx, l.app_dir());
  return r;
}

std::string write_site_report(const Context& ctx, const report::SiteReport& r, const std::string& dir) {
  if (std::error_code ec; !fs::is_directory(dir, ec))
    fail(ExitCode::not_found, dir + " is not a directory; give the directory to write the report into");
  const auto signer = site::site_signer(ctx.layout());
  const std::string path = (fs::path(dir) / report::file_name(r)).string();
  util::write_file_atomic(path, report::sign(r, *signer), 0644);
  return path;
}

} // namespace airlock::pipeline
