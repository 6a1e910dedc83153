#include "pipeline/choose.hpp"
#include "pipeline/layers.hpp"

#include "about/build_info.hpp"
#include "log/log.hpp"
#include "pipeline/run.hpp"
#include "release/version.hpp"
#include "site/stage.hpp"
#include "util/error.hpp"
#include "util/hash.hpp"

#include <fmt/format.h>

#include <filesystem>
#include <map>
#include <set>
#include <sys/stat.h>

namespace airlock::pipeline {
namespace fs = std::filesystem;
namespace {

// The choice's verdict on the installed version: nothing to do, refused as older, or go on.
bool judge_against_current(Context& ctx, Choice& ch, const bundle::Container& source, const Options& o,
                           bool older_is_error) {
  const Candidate& c = *ch.c;
  const int cmp = release::compare_versions(c.version, *ch.current);
  if (cmp == 0 && fs::is_directory(ctx.layout().release_dir(c.version))) {
    ch.rep.outcome = Outcome::none;
    ch.rep.reason = "already at " + c.version;
    return false;
  }
  if (cmp < 0 && !o.allow_downgrade) {
    ch.rep.reason = fmt::format("{} {} in {} is older than the installed {}; refused (add --allow-downgrade to "
                                "install it)",
                                ctx.cfg().app_name, c.version, source.describe(), *ch.current);
    if (older_is_error) fail(ExitCode::not_applicable, ch.rep.reason);
    return false;
  }
  return true;
}

} // namespace

Choice choose(Context& ctx, trust::TrustedState& st, bundle::Container& source, const Options& o, bool older_is_error) {
  Choice ch;
  const auto& l = ctx.layout();
  ch.current = o.assume_current ? o.assume_current : site::current_version(l.app_dir());
  trust::refresh(st, source, {ctx.clock().unix_seconds()});
  if (!o.plan) st.save(l.trust_dir()); // versions only move forward from here on (rollback protection)

  Wanted w{ctx.cfg().app_name,
           about::target_arch(),
           ch.current,
           o.version,
           !o.force_full && ch.current && (o.assume_current || installed_tree_intact(l, *ch.current)),
           ctx.cfg().channel,
           o.site_id,
           false};
  auto path = upgrade_path(st, source, w);
  ch.skipped = path.skipped;
  if (!path.unreachable.empty()) fail(ExitCode::not_applicable, path.unreachable + ". Nothing was changed.");
  if (path.steps.empty()) {
    std::string why;
    for (const auto& k : path.skipped) why += "\n  " + k;
    fail(ExitCode::not_applicable,
         fmt::format("{} holds no release of {} for {} that this site can install{}{}", source.describe(),
                     ctx.cfg().app_name, w.arch, why.empty() ? " (it holds no releases at all)" : ":", why));
  }
  ch.c = path.steps.front();
  if (path.steps.size() > 1) {
    // Every step must be there before the first one starts: a path that cannot be completed is refused now.
    ch.path.push_back(ch.current.value_or(""));
    for (const auto& s : path.steps) {
      const auto m = read_manifest(st, source, s);
      if (!source.holds(signed_target(st, m.payload, m.version)))
        fail(ExitCode::not_applicable,
             fmt::format("{} {} is a required step of the upgrade path {}, but {} lacks its {}: export the bundle "
                         "again with 'airlock-bundle bundle export --from {}'. Nothing was changed.",
                         m.app, m.version, fmt::join(ch.path, " -> "), source.describe(), m.payload,
                         ch.current.value_or("VERSION")));
      ch.path.push_back(s.version);
    }
  }
  ch.rep.from = ch.current.value_or("");
  ch.rep.to = ch.c->version;
  ch.rep.kind = kind_name(ch.c->patch ? UpgradeKind::patch : UpgradeKind::full);
  if (ch.current && !judge_against_current(ctx, ch, source, o, older_is_error)) {
    ch.c.reset();
    return ch;
  }
  ch.m = read_manifest(st, source, *ch.c, &ch.release_json);
  if (release::compare_versions(about::airlock_version(), ch.m.min_agent_version) < 0)
    fail(ExitCode::not_applicable,
         fmt::format("{} {} needs airlock {} or newer; this is {}: update the agent first", ch.m.app, ch.m.version,
                     ch.m.min_agent_version, about::airlock_version()));
  return ch;
}

bool installed_tree_intact(const site::Layout& l, const std::string& version) {
  auto m = stored_manifest(l, version);
  if (!m || m->files.empty()) return false;
  try {
    site::verify_tree(l.release_dir(version), *m);
    return true;
  } catch (const Error& e) {
    log::event(log::Level::warning, "upgrade", "base-modified",
               fmt::format("releases/{} does not match its release.json ({}); a patch cannot apply, a full release "
                           "is needed",
                           version, e.what()));
    return false;
  }
}

void check_space(const Context& ctx, std::uint64_t state_bytes, std::uint64_t release_bytes) {
  struct Need {
    std::string dirs; // "<dir>" or "<dir> and <dir>" for messages
    std::string probe;
    std::uint64_t bytes = 0;
  };
  std::map<dev_t, Need> per_fs;
  for (const auto& [dir, bytes] :
       {std::pair{ctx.layout().state_dir(), state_bytes}, std::pair{ctx.layout().releases_dir(), release_bytes}}) {
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0) continue;
    Need& n = per_fs[st.st_dev];
    n.dirs = n.dirs.empty() ? dir : n.dirs + " and " + dir;
    if (n.probe.empty()) n.probe = dir;
    n.bytes += bytes;
  }
  for (const auto& [dev, n] : per_fs) {
    const std::uint64_t free = ctx.free_bytes(n.probe);
    if (free < n.bytes)
      fail(ExitCode::failure,
           fmt::format("not enough disk space: the upgrade needs about {} in {}, {} free; free some space (e.g. "
                       "'airlock backup prune --keep N') and run again. Nothing was changed.",
                       log::human_bytes(n.bytes), n.dirs, log::human_bytes(free)));
  }
}

std::vector<image::Need> image_needs(Context& ctx, const release::Manifest& m) {
  std::vector<docker::LocalImage> local;
  try {
    local = ctx.engine().images();
  } catch (const Error&) { // no engine reachable now: every layer counts as needed
  }
  return image::needs(m, local);
}

std::vector<const trust::TargetFile*> targets_to_fetch(const trust::TrustedState& st, const release::Manifest& m,
                                                       const std::vector<image::Need>& needs,
                                                       bundle::Container* source) {
  std::vector<const trust::TargetFile*> out{&signed_target(st, m.payload, m.version)};
  for (const auto& name : image::blobs(needs, deltas_in(st, source, m.version)))
    out.push_back(&signed_target(st, name, m.version));
  return out;
}

std::uint64_t tree_bytes(const std::string& dir) {
  std::uint64_t n = 0;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return 0;
  for (auto it = fs::recursive_directory_iterator(dir, fs::directory_options::skip_permission_denied, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    if (it->is_regular_file(ec) && !it->is_symlink(ec)) n += it->file_size(ec);
  }
  return n;
}

void prune_downloads(const Context& ctx, state::StateDb& db, const trust::TrustedState& st) {
  const auto& l = ctx.layout();
  if (!fs::is_directory(l.downloads_dir()) || !st.targets) return;
  std::set<std::string> wanted;
  for (const auto& [_, t] : st.targets->meta.targets) wanted.insert(t.sha256);
  for (const auto& e : fs::directory_iterator(l.downloads_dir())) {
    std::string name = e.path().filename().string();
    const bool partial = name.size() > 8 && name.compare(name.size() - 8, 8, ".partial") == 0;
    if (partial) name.resize(name.size() - 8);
    if (!util::is_sha256_hex(name) || wanted.count(name)) continue;
    std::error_code ec;
    fs::remove(e.path(), ec);
    db.download_delete(name);
    log::event(log::Level::info, "net", "pruned",
               fmt::format("removed {} from {}: no signed target names it any more", e.path().filename().string(),
                           l.downloads_dir()));
  }
}

} // namespace airlock::pipeline
