// `airlock stage` and the adopted release of `airlock init --adopt`: release trees without an upgrade.
#include "pipeline/choose.hpp"
#include "pipeline/run.hpp"
#include "pipeline/upgrade.hpp"

#include "about/build_info.hpp"
#include "log/log.hpp"
#include "site/stage.hpp"
#include "util/error.hpp"
#include "util/io.hpp"

#include <fmt/format.h>

#include <filesystem>

namespace airlock::pipeline {
namespace fs = std::filesystem;
namespace {

std::string kind_text(const release::Manifest& m) {
  return m.is_patch ? "patch from " + m.base_version : std::string("full");
}

} // namespace

release::Manifest stage_release(Context& ctx, state::StateDb& db, bundle::Container& source,
                                const std::optional<std::string>& version) {
  const auto& l = ctx.layout();
  auto st = trust::TrustedState::load(l.trust_dir());
  trust::refresh(st, source, {ctx.clock().unix_seconds()});
  st.save(l.trust_dir()); // versions only move forward from here on (rollback protection across runs)

  const auto current = site::current_version(l.app_dir());
  const std::string arch = about::target_arch();
  auto sel = select(st, source, {ctx.cfg().app_name, arch, current, version, true});
  if (!sel.best)
    fail(ExitCode::not_found, fmt::format("{} holds no release of {} for {}{}{}", source.describe(), ctx.cfg().app_name,
                                          arch, version ? " at version " + *version : std::string(),
                                          current ? " (patches need base version " + *current + ")" : std::string()));
  auto m = read_manifest(st, source, *sel.best);
  auto audit = state::audit_who("stage");
  audit.from_version = current.value_or("");
  audit.to_version = m.version;
  std::string payload_path;
  try {
    payload_path = fetch_verified(source, signed_target(st, m.payload, m.version), l);
    util::FileSource src(payload_path);
    if (m.is_patch)
      site::stage_patch(l.releases_dir(), *current, m, src);
    else
      site::stage_full(l.releases_dir(), m, src);
    fs::create_directories(l.manifests_dir());
    util::write_file_atomic(l.manifest_path(m.version), release::to_json_text(m));
  } catch (const Error& e) { // refused or failed: nothing of it stays (a kill skips this; the rerun reuses it)
    std::error_code ec;
    if (!payload_path.empty()) fs::remove(payload_path, ec);
    audit.outcome = "failed";
    audit.detail = e.what();
    db.audit_add(audit);
    throw;
  }
  fs::remove(payload_path);
  log::event(log::Level::info, "stage", "staged", "staged " + m.version,
             {{"version", json::Value(m.version)}, {"kind", json::Value(m.is_patch ? "patch" : "full")}});
  audit.outcome = "ok";
  audit.detail = kind_text(m) + " from " + source.describe();
  db.audit_add(audit);
  return m;
}

void record_adopted_release(Context& ctx, const std::string& compose_file) {
  release::Manifest m;
  m.app = ctx.cfg().app_name;
  m.version = "0";
  m.arch = about::target_arch();
  m.compose_file = compose_file;
  m.payload = "adopted";
  fs::create_directories(ctx.layout().manifests_dir());
  util::write_file_atomic(ctx.layout().manifest_path("0"), release::to_json_text(m));
}

} // namespace airlock::pipeline
