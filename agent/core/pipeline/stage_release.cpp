// `airlock stage` and the adopted release of `airlock init --adopt`: release trees without an upgrade.
#include "pipeline/choose.hpp"
#include "pipeline/run.hpp"
#include "pipeline/upgrade.hpp"

#include "about/build_info.hpp"
#include "docker/compose_model.hpp"
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
  auto sel =
      select(st, source, {ctx.cfg().app_name, arch, current, version, true, ctx.cfg().channel, std::nullopt, false});
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

std::vector<std::string> adopt_relative_data(Context& ctx, const std::string& compose_file) {
  const auto& l = ctx.layout();
  const std::string tree = l.release_dir("0"), file = tree + "/" + compose_file;
  const auto inside = docker::writable_bind_sources_inside(ctx.engine().model(ctx.project("0", compose_file)), tree);
  if (inside.empty()) return {};
  for (const auto& c : ctx.engine().containers(ctx.project_name()))
    if (c.status == "running")
      fail(ExitCode::usage, fmt::format("{} mounts data from its own directory, which airlock moves into {}; stop "
                                        "the project first (docker-compose -p {} stop), then run init --adopt again",
                                        compose_file, l.data_dir(), ctx.project_name()));
  std::string text = util::read_file(file, 1 << 20);
  std::vector<std::pair<std::string, std::string>> moves; // relative path, its line for the operator
  for (const auto& src : inside) {
    const std::string rel = src.substr(tree.size() + 1), was = "./" + rel;
    if (text.find(was) == std::string::npos)
      fail(ExitCode::usage, fmt::format("{} mounts {} from its own directory but does not write it as '{}'; change "
                                        "it to '${{AIRLOCK_DATA}}/{}', move the data into {}, and adopt again",
                                        compose_file, rel, was, rel, l.data_dir()));
    moves.emplace_back(rel, fmt::format("moved {} to {}/{}; {} now mounts ${{AIRLOCK_DATA}}/{}", was, l.data_dir(), rel,
                                        compose_file, rel));
  }
  std::vector<std::string> out;
  for (const auto& [rel, line] : moves) {
    for (std::size_t at = 0; (at = text.find("./" + rel, at)) != std::string::npos;)
      text.replace(at, rel.size() + 2, "${AIRLOCK_DATA}/" + rel);
    const std::string to = l.data_dir() + "/" + rel;
    fs::create_directories(fs::path(to).parent_path());
    if (fs::exists(tree + "/" + rel)) fs::rename(tree + "/" + rel, to);
    out.push_back(line);
  }
  util::write_file_atomic(file, text);
  util::fsync_dir(l.data_dir());
  return out;
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
