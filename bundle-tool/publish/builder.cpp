#include "publish/builder.hpp"

#include "fleet/offer.hpp"

#include "archive/gzip.hpp"
#include "archive/tar.hpp"
#include "docker/compose_model.hpp"
#include "docker/docker.hpp"
#include "fleet/offer.hpp"
#include "health/health.hpp"
#include "image/archive.hpp"
#include "image/plan.hpp"
#include "policy/policy.hpp"
#include "release/version.hpp"
#include "site/stage.hpp"
#include "trust/target.hpp"
#include "util/error.hpp"
#include "util/hash.hpp"
#include "util/io.hpp"
#include "util/json.hpp"
#include "util/process.hpp"
#include "util/yaml.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <sys/stat.h>
#include <unistd.h>

namespace airlock::bundle_tool {
namespace fs = std::filesystem;
using release::FileEntry;
using release::Manifest;

namespace {

const char* const release_source_file = "airlock-release.json";
// Where the compose file's site variables point while release add judges it: a site's app directory.
const char* const site_root = "/airlock-site";

// A scratch directory removed on every exit path.
struct WorkDir {
  std::string path;
  WorkDir() {
    std::string t = (fs::temp_directory_path() / "airlock-bundle.XXXXXX").string();
    if (!::mkdtemp(t.data()))
      fail(ExitCode::failure, "cannot create a temporary directory in " + fs::temp_directory_path().string());
    path = t;
  }
  ~WorkDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  WorkDir(const WorkDir&) = delete;
  WorkDir& operator=(const WorkDir&) = delete;
};

// Walks the release source tree: every entry with its kind, mode, size and SHA-256. Refuses what an app tree
// must never hold. Sorted by path, so a tree always gives the same archive and manifest.
std::vector<FileEntry> scan_tree(const std::string& root) {
  std::vector<FileEntry> out;
  const fs::path real_root = fs::canonical(root);
  std::vector<fs::path> paths;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator(); ++it)
    paths.push_back(it->path());
  std::sort(paths.begin(), paths.end());
  for (const auto& p : paths) {
    const std::string rel = p.lexically_relative(root).generic_string(); // never follows links
    if (rel == release_source_file) continue;
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0) fail(ExitCode::failure, "cannot stat " + p.string());
    FileEntry e;
    e.path = rel;
    e.mode = st.st_mode & 07777;
    // A site refuses these (site::check_tree_policy): say so here, before anything is signed.
    if (S_ISREG(st.st_mode) && (e.mode & 06000) != 0)
      fail(ExitCode::bad_input, fmt::format("{}: {} is setuid or setgid (mode 0{:o}); a release tree grants no "
                                            "privileges and sites refuse it: chmod u-s,g-s it (a service that needs "
                                            "privileges gets them from its image or compose file)",
                                            root, rel, e.mode));
    if (!S_ISLNK(st.st_mode) && (e.mode & 0002) != 0)
      fail(ExitCode::bad_input, fmt::format("{}: {} is writable by others (mode 0{:o}); sites refuse world-writable "
                                            "entries: chmod o-w it",
                                            root, rel, e.mode));
    if (S_ISREG(st.st_mode)) {
      e.type = FileEntry::Type::file;
      e.size = static_cast<std::uint64_t>(st.st_size);
      e.sha256 = util::sha256_file_hex(p.string());
    } else if (S_ISDIR(st.st_mode)) {
      e.type = FileEntry::Type::dir;
    } else if (S_ISLNK(st.st_mode)) {
      e.type = FileEntry::Type::symlink;
      e.target = fs::read_symlink(p).string();
      // The target must stay inside the tree, judged lexically from the link's own directory.
      // Lexically, and then through the filesystem, so a chain of in-tree links cannot lead out either.
      fs::path resolved = (fs::path(rel).parent_path() / e.target).lexically_normal();
      const fs::path real = fs::weakly_canonical(p).lexically_relative(real_root);
      if (fs::path(e.target).is_absolute() || resolved.empty() || *resolved.begin() == ".." || real.empty() ||
          *real.begin() == "..")
        fail(ExitCode::bad_input, fmt::format("{}: symlink {} -> {} points outside the app tree; releases may only "
                                              "hold links within the tree",
                                              root, rel, e.target));
    } else {
      fail(ExitCode::bad_input, fmt::format("{}: {} is a device, fifo or socket; an app tree holds only files, "
                                            "directories and symlinks",
                                            root, rel));
    }
    out.push_back(std::move(e));
  }
  return out;
}

archive::Entry tar_entry(const FileEntry& f, std::int64_t mtime) {
  archive::Entry e;
  e.path = f.path;
  e.mode = f.mode;
  e.mtime = mtime;
  switch (f.type) {
  case FileEntry::Type::file:
    e.type = archive::Entry::Type::file;
    e.size = f.size;
    break;
  case FileEntry::Type::dir:
    e.type = archive::Entry::Type::directory;
    e.path += "/";
    break;
  case FileEntry::Type::symlink:
    e.type = archive::Entry::Type::symlink;
    e.link_target = f.target;
    break;
  }
  return e;
}

// Writes a tar.gz of the given entries of `root` (owners root:root, mtimes kept).
void write_tree_archive(const std::string& root, const std::vector<FileEntry>& entries, const std::string& out_path) {
  util::AtomicFile out(out_path);
  archive::GzipSink gz(out, 6);
  archive::TarWriter tar(gz);
  for (const auto& f : entries) {
    struct stat st {};
    ::lstat((root + "/" + f.path).c_str(), &st);
    archive::Entry e = tar_entry(f, st.st_mtime);
    if (f.type == FileEntry::Type::file) {
      util::FileSource src(root + "/" + f.path);
      tar.add(e, &src);
    } else {
      tar.add(e, nullptr);
    }
  }
  tar.finish();
  gz.finish();
  out.commit();
}

std::string load_manifest(Repository& repo, const std::string& dir, std::string* target_name, Manifest* m) {
  const std::string name = dir + "/release.json";
  auto it = repo.targets().targets.find(name);
  if (it == repo.targets().targets.end()) return "";
  std::string bytes = util::read_file(repo.target_file(it->second), 8u << 20);
  if (util::sha256_hex(bytes) != it->second.sha256)
    fail(ExitCode::verify_failed,
         repo.target_file(it->second) + " does not match its signed hash; the repository is damaged");
  *m = release::parse_manifest(bytes, name);
  if (target_name) *target_name = name;
  return bytes;
}

json::Value custom_for(const Manifest& m, const char* role) {
  json::Value c;
  c["app"] = m.app;
  c["version"] = m.version;
  c["arch"] = m.arch;
  c["kind"] = m.is_patch ? "patch" : "full";
  if (m.is_patch) c["base_version"] = m.base_version;
  c["role"] = role;
  return c;
}

} // namespace

namespace {

json::Value blob_custom(const std::string& app, const char* role) {
  json::Value c;
  c["app"] = app;
  c["role"] = role;
  return c;
}

// Stages `file` as content-addressed target `name` unless the repository holds it already (published by an
// earlier release, or staged by this one). Returns the target's length; counts each distinct blob once in `stats`
// (`counted`: the blobs this release counted so far).
std::uint64_t stage_blob(Repository& repo, const std::string& name, const std::string& file, const char* role,
                         ImageStats& stats, std::set<std::string>& counted) {
  const bool first = counted.insert(name).second;
  if (const auto* t = repo.find_target(name)) {
    if (first) ++stats.reused;
    return t->length;
  }
  repo.stage_target(name, file, blob_custom(repo.app(), role));
  ++stats.added;
  const auto* t = repo.find_target(name);
  stats.added_bytes += t->length;
  return t->length;
}

// Splits each `docker save` archive into a config and layers, and stages each as a shared blob.
std::vector<release::Image> stage_images(Repository& repo, const std::vector<std::string>& archives,
                                         const std::string& work, ImageStats& stats) {
  std::vector<release::Image> out;
  std::set<std::string> seen_ids, counted;
  for (std::size_t a = 0; a < archives.size(); ++a) {
    const std::string split_dir = work + "/split-" + std::to_string(a);
    fs::create_directories(split_dir);
    auto published = [&](const std::string& diff_id) {
      return repo.find_target(release::layer_blob_name(repo.app(), diff_id)) != nullptr;
    };
    for (const auto& s : image::split_archive(archives[a], split_dir, published)) {
      if (!seen_ids.insert(s.id).second) continue;
      release::Image img;
      img.id = s.id;
      img.tags = s.tags;
      img.config = release::config_blob_name(repo.app(), s.id);
      const std::string config_file = split_dir + "/" + s.id.substr(7) + ".config.json";
      util::write_file_atomic(config_file, s.config);
      stage_blob(repo, img.config, config_file, "config", stats, counted);
      for (const auto& l : s.layers) {
        release::Layer layer{l.diff_id, release::layer_blob_name(repo.app(), l.diff_id), 0, l.uncompressed_size,
                             std::nullopt};
        layer.size = stage_blob(repo, layer.blob, l.blob_file, "layer", stats, counted);
        img.layers.push_back(std::move(layer));
      }
      out.push_back(std::move(img));
    }
  }
  return out;
}

// compose's effective configuration of the source, with the site's variables pointing outside the tree: what
// sites judge at stage. nullopt (said on stderr) without a compose on this machine: the checks are then left to
// the sites.
std::optional<docker::ComposeModel> compose_model(const std::string& src, const std::string& compose_file,
                                                  const std::string& app) {
  std::vector<std::string> compose;
  for (std::vector<std::string> c : {std::vector<std::string>{"docker", "compose"}, {"docker-compose"}}) {
    auto probe = c;
    probe.push_back("version");
    try {
      if (util::run_process(probe, 30).exit_code == 0) {
        compose = c;
        break;
      }
    } catch (const Error&) { // not installed
    }
  }
  if (compose.empty()) {
    std::cerr << "note: no docker compose here: bind mounts, the host policy and the images the compose file runs "
                 "are checked by the sites at stage\n";
    return std::nullopt;
  }
  const std::string root = fs::weakly_canonical(src).string();
  util::ProcessOptions o;
  o.timeout_seconds = 120;
  o.extra_env = {"AIRLOCK_DATA=" + std::string(site_root) + "/data", "AIRLOCK_SITE=" + std::string(site_root) + "/site",
                 "AIRLOCK_RELEASE=" + root};
  auto argv = compose;
  argv.insert(argv.end(), {"--project-name", docker::project_name(app), "--project-directory", root, "-f",
                           root + "/" + compose_file, "config"});
  auto r = util::run_process(argv, o);
  if (r.exit_code != 0 || r.timed_out)
    fail(ExitCode::bad_input, fmt::format("{}/{} is refused by {}: {}", src, compose_file, util::describe_argv(compose),
                                          r.output.substr(0, 1500)));
  const std::string what = src + "/" + compose_file;
  const std::size_t first = r.out.find_first_not_of(" \n");
  const json::Value doc =
      first != std::string::npos && r.out[first] == '{' ? json::parse(r.out, what) : yaml::parse(r.out, what);
  return docker::parse_compose_config(doc, docker::project_name(app), what);
}

} // namespace

Manifest add_release(Repository& repo, const ReleaseInput& in, const KeyRing& keys, std::int64_t now,
                     ImageStats* stats_out) {
  ImageStats stats;
  if (in.arch != "x86_64" && in.arch != "aarch64")
    fail(ExitCode::usage, "--arch must be x86_64 or aarch64, got '" + in.arch + "'");
  repo.require_publish_keys(keys);
  const std::string src_json = in.source_dir + "/" + release_source_file;
  if (!fs::exists(src_json))
    fail(ExitCode::not_found, src_json + " is missing: a release source directory needs it (see docs/repository.md)");
  json::Value rs = json::parse(util::read_file(src_json, 1 << 20), src_json);
  Manifest m;
  m.app = repo.app();
  if (const auto* app = rs.find("app"); app && app->is_string() && app->as_string() != repo.app())
    fail(ExitCode::usage, fmt::format("{} is for app '{}' but repository {} is for '{}'", src_json, app->as_string(),
                                      repo.dir(), repo.app()));
  const auto* version = rs.find("version");
  if (!version || !version->is_string() || !release::is_valid_version(version->as_string()))
    fail(ExitCode::bad_input, src_json + ": 'version' is missing or not a version such as 1.2.3");
  m.version = version->as_string();
  m.arch = in.arch;
  if (const auto* c = rs.find("compose_file"); c && c->is_string()) m.compose_file = c->as_string();
  if (const auto* v = rs.find("min_agent_version"); v && v->is_string()) m.min_agent_version = v->as_string();
  if (!release::is_valid_version(m.min_agent_version))
    fail(ExitCode::bad_input, fmt::format("{}: 'min_agent_version' is '{}', which is not a version such as 0.1.0",
                                          src_json, m.min_agent_version));
  if (const auto* h = rs.find("health")) m.health = *h;
  // Who is offered it (fleet/offer.hpp): channels (--channel, else airlock-release.json's, else stable) and the
  // oldest version it can be installed over; both signed in its release target.
  json::Value offer_src;
  if (const auto* c = rs.find("channels")) offer_src["channels"] = *c;
  if (const auto* mu = rs.find("min_upgrade_from")) offer_src["min_upgrade_from"] = *mu;
  if (!in.channels.empty()) {
    json::Array chans;
    for (const auto& c : in.channels) chans.emplace_back(c);
    offer_src["channels"] = chans;
  }
  const fleet::Offer offer = fleet::offer_of(offer_src, src_json);
  if (!offer.min_upgrade_from.empty() && release::compare_versions(offer.min_upgrade_from, m.version) >= 0)
    fail(ExitCode::bad_input, fmt::format("{}: 'min_upgrade_from' {} must be older than the release's version {}",
                                          src_json, offer.min_upgrade_from, m.version));
  const std::string dir = release::release_dir(m.app, m.version, m.arch);
  if (repo.targets().targets.count(dir + "/release.json"))
    fail(ExitCode::usage, fmt::format("version {} for {} is already published in {}; a published release never "
                                      "changes, so give the new build a new version",
                                      m.version, m.arch, repo.dir()));

  m.files = scan_tree(in.source_dir);
  site::check_tree_policy(m); // exactly what a site checks: symlinks resolved through the listing's links
  bool has_compose = false;
  for (const auto& f : m.files)
    has_compose = has_compose || (f.path == m.compose_file && f.type == FileEntry::Type::file);
  if (!has_compose)
    fail(ExitCode::bad_input,
         fmt::format("{}: the compose file '{}' is not in the source tree", in.source_dir, m.compose_file));

  // What a site checks before it stops anything, checked before signing: the health gate, and on compose's own
  // configuration the binds into the tree and the default host policy (the images once they are split, below).
  health::parse_gate(m.health, health::Gate{}, src_json);
  const auto model = compose_model(in.source_dir, m.compose_file, m.app);
  const std::string what = in.source_dir + "/" + m.compose_file;
  if (model) {
    const std::string root = fs::weakly_canonical(in.source_dir).string();
    docker::refuse_writable_binds_inside(*model, root, what, "Nothing was published.");
    policy::enforce(*model, policy::Policy{}, {site_root, root}, what, "Nothing was published.");
  }

  WorkDir work;
  const std::string app_archive = work.path + "/app.tar.gz";
  write_tree_archive(in.source_dir, m.files, app_archive);
  m.payload = dir + "/app.tar.gz";

  // Images: archives given as files, plus names saved with docker now.
  std::vector<std::string> archives = in.image_archives;
  std::vector<std::string> names = in.image_names;
  if (const auto* imgs = rs.find("images"); imgs && imgs->is_array())
    for (const auto& n : imgs->as_array())
      if (n.is_string()) {
        if (std::find(names.begin(), names.end(), n.as_string()) != names.end())
          fail(ExitCode::usage,
               fmt::format("image {} is named both in {} and by --image; name it once", n.as_string(), src_json));
        names.push_back(n.as_string());
      }
  for (std::size_t i = 0; i < names.size(); ++i) {
    const std::string out = work.path + "/saved-" + std::to_string(i) + ".tar";
    auto r = util::run_process({"docker", "save", "-o", out, names[i]}, 3600);
    if (r.exit_code != 0)
      fail(ExitCode::failure, fmt::format("docker save {} failed (exit {}): {}", names[i], r.exit_code, r.output));
    archives.push_back(out);
  }
  m.images = stage_images(repo, archives, work.path, stats);
  if (model) policy::require_shipped_images(*model, m.images, what, "Nothing was published.");
  const std::string manifest_file = work.path + "/release.json";
  util::write_file_atomic(manifest_file, release::to_json_text(m));
  repo.stage_target(m.payload, app_archive, custom_for(m, "payload"));
  repo.stage_target(dir + "/release.json", manifest_file, fleet::with_offer(custom_for(m, "release"), offer));
  repo.publish(keys, now);
  if (stats_out) *stats_out = stats;
  return m;
}

Manifest add_patch(Repository& repo, const std::string& from, const std::string& to, const std::string& arch,
                   const KeyRing& keys, std::int64_t now, ImageStats* stats, const DeltaOptions& delta_options) {
  repo.require_publish_keys(keys);
  Manifest base, full;
  if (load_manifest(repo, release::release_dir(repo.app(), from, arch), nullptr, &base).empty())
    fail(ExitCode::not_found,
         fmt::format("release {} for {} is not in {}; publish it with 'release add' first", from, arch, repo.dir()));
  if (load_manifest(repo, release::release_dir(repo.app(), to, arch), nullptr, &full).empty())
    fail(ExitCode::not_found,
         fmt::format("release {} for {} is not in {}; publish it with 'release add' first", to, arch, repo.dir()));
  if (release::compare_versions(from, to) >= 0)
    fail(ExitCode::usage, fmt::format("a patch goes forward: --from {} must be older than --to {}", from, to));
  const std::string dir = release::patch_dir(repo.app(), to, arch, from);
  if (repo.targets().targets.count(dir + "/release.json"))
    fail(ExitCode::usage, fmt::format("the patch from {} to {} for {} is already published", from, to, arch));

  std::map<std::string, const FileEntry*> old_files;
  for (const auto& f : base.files) old_files[f.path] = &f;
  std::set<std::string> changed;
  for (const auto& f : full.files) {
    auto it = old_files.find(f.path);
    const FileEntry* o = it == old_files.end() ? nullptr : it->second;
    bool same = o && o->type == f.type && o->mode == f.mode && o->sha256 == f.sha256 && o->target == f.target;
    if (!same) changed.insert(f.path);
  }
  std::set<std::string> new_paths;
  for (const auto& f : full.files) new_paths.insert(f.path);
  Manifest p = full;
  p.is_patch = true;
  p.base_version = from;
  p.payload = dir + "/patch.tar.gz";
  for (auto it = base.files.rbegin(); it != base.files.rend(); ++it) // deepest first
    if (!new_paths.count(it->path)) p.deletes.push_back(it->path);
  if (base.format != 2 || full.format != 2)
    fail(ExitCode::usage, fmt::format("release {} or {} was published in release.json format 1 (whole image archives); "
                                      "a patch needs both by layer: publish them again with this airlock-bundle",
                                      from, to));
  WorkDir work;
  const DeltaStats deltas = add_deltas(repo, base, p, delta_options, work.path);
  if (stats) { // what a site running `from` lacks of the images: the deltas in place of the layers they rebuild
    std::vector<docker::LocalImage> held;
    for (const auto& i : base.images) {
      held.push_back({i.id, {}});
      for (const auto& l : i.layers) held.back().layers.push_back(l.diff_id);
    }
    for (const auto& name : image::blobs(image::needs(p, held))) {
      ++stats->added;
      stats->added_bytes += repo.find_target(name)->length;
    }
    stats->deltas = deltas;
  }

  // The patch archive: the changed entries, copied from the verified full app archive.
  const auto& app_target = repo.targets().targets.at(full.payload);
  const std::string patch_file = work.path + "/patch.tar.gz";
  {
    const std::string app_path = repo.target_file(app_target);
    util::FileSource check(app_path);
    trust::verify_target(app_target, check, "repository " + repo.dir());
    util::FileSource file(app_path);
    archive::GzipSource gin(file, app_path);
    archive::TarReader tin(gin, app_path);
    util::AtomicFile out(patch_file);
    archive::GzipSink gz(out, 6);
    archive::TarWriter tar(gz);
    archive::Entry e;
    while (tin.next(e)) {
      std::string path = e.path;
      if (!path.empty() && path.back() == '/') path.pop_back();
      if (!changed.count(path)) continue;
      if (e.type == archive::Entry::Type::file) {
        struct EntrySource : util::Source {
          archive::TarReader& r;
          explicit EntrySource(archive::TarReader& rr) : r(rr) {}
          std::size_t read(void* b, std::size_t n) override { return r.read(b, n); }
        } content(tin);
        tar.add(e, &content);
      } else {
        tar.add(e, nullptr);
      }
    }
    tar.finish();
    gz.finish();
    out.commit();
  }
  const std::string manifest_file = work.path + "/release.json";
  util::write_file_atomic(manifest_file, release::to_json_text(p));
  repo.stage_target(p.payload, patch_file, custom_for(p, "payload"));
  // The patch is offered as its release is (the channels, rollout and upgrade path of `to` now).
  const auto& to_target = repo.targets().targets.at(release::release_dir(repo.app(), to, arch) + "/release.json");
  repo.stage_target(dir + "/release.json", manifest_file,
                    fleet::with_offer(custom_for(p, "release"), fleet::offer_of(to_target.custom, to_target.name)));
  repo.publish(keys, now);
  return p;
}

} // namespace airlock::bundle_tool
