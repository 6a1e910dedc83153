#include "pipeline/select.hpp"

#include "bundle/verify.hpp"
#include "log/log.hpp"
#include "release/version.hpp"
#include "site/stage.hpp"
#include "trust/target.hpp"
#include "util/error.hpp"
#include "util/hash.hpp"
#include "util/io.hpp"
#include "util/json.hpp"
#include "util/parallel.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <mutex>

#include <filesystem>

namespace airlock::pipeline {
namespace fs = std::filesystem;
namespace {

std::string custom_str(const trust::TargetFile& t, const char* key) { return json::string_or(t.custom, key, ""); }

// The versions of a release target name directories and files of the site and are compared: a signed entry whose
// version or base_version is not a version is refused here, where it enters, before anything uses it.
void check_version(const trust::TargetFile& t, const char* key) {
  const std::string v = custom_str(t, key);
  if (!release::is_valid_version(v))
    fail(ExitCode::bad_input, fmt::format("the signed target {} gives {} '{}', which is not a version (dotted numbers "
                                          "such as 1.2.3 or v2.0-rc.1); the release is refused. Nothing was changed.",
                                          t.name, key, v));
}

} // namespace

Selection select(const trust::TrustedState& st, bundle::Container& source, const Wanted& w) {
  Selection sel;
  for (const auto& [name, t] : st.targets->meta.targets) {
    if (custom_str(t, "role") != "release") continue;
    const std::string app = custom_str(t, "app"), arch = custom_str(t, "arch"), v = custom_str(t, "version");
    const bool patch = custom_str(t, "kind") == "patch";
    const std::string what =
        fmt::format("{} {}{} for {}", app, v, patch ? " (patch from " + custom_str(t, "base_version") + ")" : "", arch);
    if (!source.holds(t)) continue; // signed, but not in this bundle
    if (app != w.app) {
      sel.skipped.push_back(what + ": another app (this site runs " + w.app + ")");
      continue;
    }
    if (arch != w.arch) {
      sel.skipped.push_back(what + ": another architecture (this host is " + w.arch + ")");
      continue;
    }
    // A patch for another base is no use, unless it leads to the installed version (then "nothing to do").
    if (patch && (!w.current || custom_str(t, "base_version") != *w.current) && !(w.current && v == *w.current)) {
      sel.skipped.push_back(what + ": a patch for another base (installed: " + w.current.value_or("none") + ")");
      continue;
    }
    if (patch && !w.allow_patch) {
      sel.skipped.push_back(what + ": patches not used (full release wanted)");
      continue;
    }
    if (w.version && v != *w.version) {
      sel.skipped.push_back(what + ": not the requested version " + *w.version);
      continue;
    }
    check_version(t, "version"); // a candidate: from here on its versions are compared and used
    if (patch) check_version(t, "base_version");
    const fleet::Offer offer = fleet::offer_of(t.custom, "the signed target " + t.name);
    if (!offer.in_channel(w.channel)) {
      std::string chans;
      for (const auto& c : offer.channels) chans += (chans.empty() ? "" : ", ") + c;
      sel.skipped.push_back(fmt::format("{}: not in channel {} (published to {})", what, w.channel, chans));
      continue;
    }
    if (!fleet::offered(offer, w.site_id, app, v) && !(w.current && v == *w.current)) {
      sel.skipped.push_back(what + ": " + fleet::rollout_reason(offer, *w.site_id, app, v));
      continue;
    }
    if (!w.ignore_required && w.current && !offer.min_upgrade_from.empty() &&
        release::compare_versions(*w.current, offer.min_upgrade_from) < 0) {
      sel.skipped.push_back(fmt::format("{}: can be installed only over {} or newer (installed: {})", what,
                                        offer.min_upgrade_from, *w.current));
      continue;
    }
    const int cmp = sel.best ? release::compare_versions(v, sel.best->version) : 1;
    if (cmp > 0 || (cmp == 0 && patch && !sel.best->patch)) {
      if (sel.best) sel.skipped.push_back(fmt::format("{} {}: superseded by {}", w.app, sel.best->version, v));
      sel.best = Candidate{&t, v, patch, offer};
    } else {
      sel.skipped.push_back(what + ": superseded by " + sel.best->version);
    }
  }
  return sel;
}

UpgradePath upgrade_path(const trust::TrustedState& st, bundle::Container& source, const Wanted& w) {
  UpgradePath path;
  Wanted goal_w = w;
  goal_w.ignore_required = true;
  const auto goal = select(st, source, goal_w).best;
  auto first = select(st, source, w);
  path.skipped = first.skipped;
  if (!goal) return path; // nothing at all: the caller says so with `skipped`
  if (first.best && first.best->version == goal->version) {
    path.steps.push_back(*first.best);
    return path;
  }
  // Forward: each step the newest release installable over the one before (select() honours min_upgrade_from).
  Wanted step = w;
  step.version.reset();
  auto next_from = [&](const Wanted& from) {
    auto n = select(st, source, from).best;
    if (n && release::compare_versions(n->version, goal->version) > 0) { // past a --version asked for
      Wanted exact = from;
      exact.version = goal->version;
      n = select(st, source, exact).best;
    }
    return n;
  };
  std::optional<Candidate> next = next_from(step);
  while (next && step.current && release::compare_versions(next->version, *step.current) > 0 &&
         release::compare_versions(next->version, goal->version) < 0) {
    path.steps.push_back(*next);
    step.current = next->version;
    step.allow_patch = true; // the tree of a step is the one just staged
    next = next_from(step);
  }
  if (next && next->version == goal->version) {
    path.steps.push_back(*next);
    return path;
  }
  std::string so_far = w.current.value_or("nothing");
  for (const auto& c : path.steps) so_far += " -> " + c.version;
  path.unreachable = fmt::format(
      "{} {} can be installed only over {} or newer, and {} holds no release that leads there from {} (the path "
      "ends at {}): import a bundle exported with 'airlock-bundle bundle export --from {}', which holds every "
      "required step, or install the steps one by one",
      w.app, goal->version, goal->offer.min_upgrade_from, source.describe(), w.current.value_or("nothing"), so_far,
      w.current.value_or("VERSION"));
  path.steps.clear();
  return path;
}

std::string read_verified(bundle::Container& source, const trust::TargetFile& t, std::size_t max_bytes) {
  if (t.length > max_bytes)
    fail(ExitCode::verify_failed,
         fmt::format("target {} is {} bytes, more than the {} allowed", t.name, t.length, max_bytes));
  auto src = source.open(bundle::target_path(t));
  if (!src) fail(ExitCode::not_found, fmt::format("{} does not hold target {}", source.describe(), t.name));
  util::StringSink sink;
  bundle::verify_target_in(source, t, *src, &sink);
  return std::move(sink.data);
}

namespace {

// A file of downloads/ that an earlier run (interrupted, or --stage-only / --download-only) left: reused when its
// bytes still hash to the signed SHA-256, removed otherwise.
bool reuse_download(const std::string& path, const trust::TargetFile& t) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec) || fs::file_size(path, ec) != t.length) return false;
  if (util::sha256_file_hex(path) == t.sha256) return true;
  fs::remove(path, ec);
  return false;
}

// Progress of several targets verified at once: one bar for all of them, fed from every thread.
class SharedProgress {
public:
  SharedProgress(std::string label, std::uint64_t total) : p_(std::move(label), total) {}
  void add(std::uint64_t n) {
    std::lock_guard<std::mutex> lock(m_);
    p_.update(done_ += n);
  }
  void finish() { p_.finish(); }

private:
  std::mutex m_;
  log::Progress p_;
  std::uint64_t done_ = 0;
};

class SharedProgressSink : public util::Sink {
public:
  SharedProgressSink(util::Sink& out, SharedProgress& p) : out_(out), p_(p) {}
  void write(const void* data, std::size_t size) override {
    out_.write(data, size);
    p_.add(size);
  }
  using Sink::write;

private:
  util::Sink& out_;
  SharedProgress& p_;
};

void fetch_into(bundle::Container& source, const std::vector<const trust::TargetFile*>& ts, const site::Layout& l,
                std::vector<std::string>& paths);

} // namespace

std::string fetch_verified(bundle::Container& source, const trust::TargetFile& t, const site::Layout& l) {
  return fetch_all_verified(source, {&t}, l).front();
}

std::vector<std::string> fetch_all_verified(bundle::Container& source, const std::vector<const trust::TargetFile*>& ts,
                                            const site::Layout& l) {
  std::vector<std::string> paths(ts.size());
  try {
    fetch_into(source, ts, l, paths);
  } catch (...) {
    for (const auto& p : paths) { // refused or failed: none of these will be used
      std::error_code ec;
      if (!p.empty()) fs::remove(p, ec);
    }
    throw;
  }
  return paths;
}

namespace {

void fetch_into(bundle::Container& source, const std::vector<const trust::TargetFile*>& ts, const site::Layout& l,
                std::vector<std::string>& paths) {
  if (source.fetches_targets()) {
    for (std::size_t i = 0; i < ts.size(); ++i) paths[i] = *source.fetch_target(*ts[i], l.downloads_dir());
    return;
  }
  std::vector<std::size_t> todo; // indices, largest first
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < ts.size(); ++i) {
    paths[i] = l.download_path(ts[i]->sha256);
    if (reuse_download(paths[i], *ts[i])) continue;
    todo.push_back(i);
    total += ts[i]->length;
  }
  std::stable_sort(todo.begin(), todo.end(),
                   [&](std::size_t a, std::size_t b) { return ts[a]->length > ts[b]->length; });
  SharedProgress progress(
      todo.size() == 1 ? "verify " + ts[todo[0]]->name : fmt::format("verify {} targets", todo.size()), total);
  std::mutex open_mutex; // Container::open is one thread at a time; the reads of what it opens are not
  util::for_each_index(todo.size(), util::worker_threads(), [&](std::size_t k) {
    const trust::TargetFile& t = *ts[todo[k]];
    std::unique_ptr<util::Source> src;
    {
      std::lock_guard<std::mutex> lock(open_mutex);
      src = source.open(bundle::target_path(t));
    }
    if (!src) fail(ExitCode::not_found, fmt::format("{} does not hold target {}", source.describe(), t.name));
    util::AtomicFile out(paths[todo[k]], 0600);
    SharedProgressSink counting(out, progress);
    bundle::verify_target_in(source, t, *src, &counting);
    // No fsync: a download is hashed again before any later run uses it (reuse_download), so a crash can lose
    // it but not pass it off; this run reads what it hashed from the page cache.
    out.commit(util::AtomicFile::Sync::no);
  });
  progress.finish();
}

} // namespace

const trust::TargetFile& signed_target(const trust::TrustedState& st, const std::string& name,
                                       const std::string& what) {
  auto it = st.targets->meta.targets.find(name);
  if (it == st.targets->meta.targets.end())
    fail(ExitCode::verify_failed, fmt::format("{} names {}, which no signed target lists", what, name));
  return it->second;
}

release::Manifest read_manifest(const trust::TrustedState& st, bundle::Container& source, const Candidate& c,
                                std::string* bytes) {
  const auto& t = *c.release_json;
  std::string text = read_verified(source, t);
  release::Manifest m;
  try {
    m = release::parse_manifest(text, t.name);
  } catch (const Error& e) {
    fail(e.code(), std::string(e.what()) + ". Nothing was changed.");
  }
  if (bytes) *bytes = std::move(text);
  if (m.app != custom_str(t, "app") || m.arch != custom_str(t, "arch") || m.version != c.version ||
      m.is_patch != c.patch || (m.is_patch && m.base_version != custom_str(t, "base_version")))
    fail(ExitCode::verify_failed, t.name + " describes another app, architecture, version, base or kind than its "
                                           "signed target entry; the release is refused");
  if (m.format == 1)
    fail(ExitCode::bad_input, fmt::format("{} is release.json format 1, whose images are whole archives; this airlock "
                                          "loads images by layer (format 2): republish {} {} with this airlock-bundle "
                                          "('airlock-bundle release add') and export the bundle again",
                                          t.name, m.app, m.version));
  site::check_tree_policy(m); // before anything is fetched or stopped
  signed_target(st, m.payload, t.name);
  for (const auto& img : m.images) {
    if (img.config != release::config_blob_name(m.app, img.id))
      fail(ExitCode::verify_failed,
           fmt::format("{}: image {} names config {}; the release is refused", t.name, img.id, img.config));
    signed_target(st, img.config, t.name);
    for (const auto& l : img.layers) {
      if (l.blob != release::layer_blob_name(m.app, l.diff_id))
        fail(ExitCode::verify_failed,
             fmt::format("{}: layer {} names blob {}; the release is refused", t.name, l.diff_id, l.blob));
      signed_target(st, l.blob, t.name);
    }
  }
  return m;
}

} // namespace airlock::pipeline
