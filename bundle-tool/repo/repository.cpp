#include "repo/repository.hpp"

#include "bundle/container.hpp"
#include "util/error.hpp"
#include "util/hash.hpp"
#include "util/io.hpp"
#include "util/json.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <set>

namespace airlock::bundle_tool {
namespace fs = std::filesystem;
using trust::Role;

namespace {

constexpr std::int64_t day = 86400;

std::string config_path(const std::string& dir) { return dir + "/airlock-repo.json"; }

void write_config(const std::string& dir, const std::string& app, const Expiry& e) {
  json::Value c;
  c["app"] = app;
  c["expires_days"]["root"] = e.root_days;
  c["expires_days"]["targets"] = e.targets_days;
  c["expires_days"]["snapshot"] = e.snapshot_days;
  c["expires_days"]["timestamp"] = e.timestamp_days;
  util::write_file_atomic(config_path(dir), json::pretty(c));
}

template <class M, class Parse>
M load_role(const std::string& path, std::size_t max, const trust::Root& root, Role role, Parse parse) {
  std::string bytes = util::read_file(path, max);
  trust::Envelope e = trust::parse_envelope(bytes, path, max);
  M m = parse(e, path);
  trust::verify_role(e, root, role, path);
  return m;
}

std::int64_t highest_root_version(const std::string& meta_dir) {
  std::int64_t best = 0;
  for (const auto& e : fs::directory_iterator(meta_dir)) {
    const std::string n = e.path().filename().string();
    if (n.size() > 10 && n.compare(n.size() - 10, 10, ".root.json") == 0) {
      try {
        best = std::max<std::int64_t>(best, std::stoll(n.substr(0, n.size() - 10)));
      } catch (const std::exception&) {
      }
    }
  }
  return best;
}

bool release_name_ok(const std::string& s) {
  if (s.empty() || s.size() > 64 || s[0] == '.' || s[0] == '-') return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.')) return false;
  return true;
}

} // namespace

std::int64_t Expiry::days(Role r) const {
  switch (r) {
  case Role::root:
    return root_days;
  case Role::targets:
    return targets_days;
  case Role::snapshot:
    return snapshot_days;
  case Role::timestamp:
    return timestamp_days;
  }
  return 1;
}

void Expiry::set(const std::string& spec) {
  auto eq = spec.find('=');
  std::int64_t n = 0;
  try {
    n = eq == std::string::npos ? 0 : std::stoll(spec.substr(eq + 1));
  } catch (const std::exception&) {
  }
  const std::string role = spec.substr(0, eq);
  if (n < 1 || n > 3650) fail(ExitCode::usage, "--expires wants ROLE=DAYS with 1..3650 days, got '" + spec + "'");
  if (role == "root")
    root_days = n;
  else if (role == "targets")
    targets_days = n;
  else if (role == "snapshot")
    snapshot_days = n;
  else if (role == "timestamp")
    timestamp_days = n;
  else
    fail(ExitCode::usage, "--expires: unknown role '" + role + "' (root, targets, snapshot or timestamp)");
}

void KeyRing::add(std::unique_ptr<trust::Signer> s) { signers_.push_back(std::move(s)); }

void KeyRing::load(const std::vector<std::string>& pem_files) {
  for (const auto& f : pem_files) add(trust::load_pem_signer(f));
}

std::vector<trust::Signer*> KeyRing::for_role(const trust::Root& root, Role role) const {
  const auto& rk = root.roles.at(role);
  std::vector<trust::Signer*> out;
  std::set<std::string> used;
  for (const auto& s : signers_) {
    const std::string id = s->public_key().keyid();
    if (std::find(rk.keyids.begin(), rk.keyids.end(), id) != rk.keyids.end() && used.insert(id).second)
      out.push_back(s.get());
  }
  if (static_cast<std::int64_t>(out.size()) < rk.threshold) {
    std::string ids;
    for (const auto& id : rk.keyids) ids += "\n  " + id;
    fail(ExitCode::usage, fmt::format("the {} role of root v{} needs {} of these keys and {} of them were given "
                                      "with --key:{}",
                                      trust::role_name(role), root.version, rk.threshold, out.size(), ids));
  }
  return out;
}

void Repository::init(const std::string& dir, const InitOptions& opt, const KeyRing& keys, std::int64_t now) {
  if (fs::exists(dir + "/metadata") || fs::exists(config_path(dir)))
    fail(ExitCode::usage, dir + " already holds a repository; refusing to overwrite it");
  if (opt.app.empty() || !release_name_ok(opt.app))
    fail(ExitCode::usage, "--app '" + opt.app + "' must be lowercase letters, digits, '-', '_' or '.'");
  if (opt.root_keys.empty()) fail(ExitCode::usage, "give at least one --root-key");
  if (opt.root_threshold < 1 || opt.root_threshold > static_cast<std::int64_t>(opt.root_keys.size()))
    fail(ExitCode::usage, fmt::format("--root-threshold {} must be between 1 and the {} root keys given",
                                      opt.root_threshold, opt.root_keys.size()));
  fs::create_directories(dir + "/metadata");
  fs::create_directories(dir + "/targets");
  write_config(dir, opt.app, opt.expiry);

  trust::Root root;
  root.type = "root";
  root.version = 1;
  root.expires_at = now + opt.expiry.root_days * day;
  root.consistent_snapshot = true;
  auto add_key = [&](const trust::PublicKey& k) {
    root.keys[k.keyid()] = k;
    return k.keyid();
  };
  for (const auto& k : opt.root_keys) root.roles[Role::root].keyids.push_back(add_key(k));
  root.roles[Role::root].threshold = opt.root_threshold;
  root.roles[Role::targets] = {{add_key(opt.targets_key)}, 1};
  root.roles[Role::snapshot] = {{add_key(opt.snapshot_key)}, 1};
  root.roles[Role::timestamp] = {{add_key(opt.timestamp_key)}, 1};
  const std::string root_bytes = trust::sign_envelope(trust::to_json(root), keys.for_role(root, Role::root));
  util::write_file_atomic(dir + "/metadata/1.root.json", root_bytes);
  util::write_file_atomic(dir + "/metadata/root.json", root_bytes);

  Repository repo(dir, root);
  repo.publish(keys, now);
}

Repository::Repository(std::string dir, const trust::Root& root) : dir_(std::move(dir)), root_(root) {
  // Used by init() only: an empty state before the first publish.
  read_config();
}

Repository::Repository(std::string dir) : dir_(std::move(dir)) {
  const std::string cfg_path = config_path(dir_);
  if (!fs::exists(cfg_path))
    fail(ExitCode::not_found, dir_ + " is not an airlock repository (no airlock-repo.json); create one with "
                                     "'airlock-bundle repo init'");
  read_config();

  const std::string meta = dir_ + "/metadata/";
  const std::int64_t n = highest_root_version(meta);
  if (n < 1) fail(ExitCode::bad_input, meta + " holds no N.root.json");
  const std::string root_path = meta + std::to_string(n) + ".root.json";
  root_ = trust::TrustedState::from_root(util::read_file(root_path, trust::max_root_bytes), root_path).root.meta;
  timestamp_ = load_role<trust::Timestamp>(meta + "timestamp.json", trust::max_timestamp_bytes, root_, Role::timestamp,
                                           trust::parse_timestamp);
  snapshot_ =
      load_role<trust::Snapshot>(meta + std::to_string(timestamp_.snapshot.version) + ".snapshot.json",
                                 trust::default_max_snapshot_bytes, root_, Role::snapshot, trust::parse_snapshot);
  targets_ =
      load_role<trust::Targets>(meta + std::to_string(snapshot_.meta.at("targets.json").version) + ".targets.json",
                                trust::default_max_targets_bytes, root_, Role::targets, trust::parse_targets);
}

Repository::~Repository() {
  for (const auto& [name, t] : staged_) {
    std::error_code ec;
    fs::remove(dir_ + "/" + bundle::target_path(t), ec);
  }
}

void Repository::require_publish_keys(const KeyRing& keys) const {
  keys.for_role(root_, Role::targets);
  keys.for_role(root_, Role::snapshot);
  keys.for_role(root_, Role::timestamp);
}

void Repository::read_config() {
  const std::string path = config_path(dir_);
  json::Value cfg = json::parse(util::read_file(path, 64 * 1024), path);
  const json::Value* app = cfg.find("app");
  const json::Value* days = cfg.find("expires_days");
  if (!app || !app->is_string() || !days || !days->is_object())
    fail(ExitCode::bad_input, path + " lacks 'app' or 'expires_days'; it was not written by airlock-bundle");
  app_ = app->as_string();
  for (Role r : {Role::root, Role::targets, Role::snapshot, Role::timestamp})
    if (const json::Value* d = days->find(trust::role_name(r)); d && d->is_int())
      expiry_.set(std::string(trust::role_name(r)) + "=" + std::to_string(d->as_int()));
}

const trust::TargetFile* Repository::find_target(const std::string& name) const {
  if (auto it = staged_.find(name); it != staged_.end()) return &it->second;
  auto it = targets_.targets.find(name);
  return it == targets_.targets.end() ? nullptr : &it->second;
}

void Repository::stage_target(const std::string& name, const std::string& src_path, const json::Value& custom) {
  if (targets_.targets.count(name) || staged_.count(name))
    fail(ExitCode::usage, fmt::format("target {} is already in repository {}; a published target never changes "
                                      "(publish a new version instead)",
                                      name, dir_));
  trust::TargetFile t;
  t.name = name;
  t.custom = custom;
  t.length = fs::file_size(src_path);
  t.sha256 = util::sha256_file_hex(src_path);
  const std::string dest = dir_ + "/" + bundle::target_path(t);
  fs::create_directories(fs::path(dest).parent_path());
  {
    util::FileSource in(src_path);
    util::AtomicFile out(dest);
    std::vector<char> buf(1 << 20);
    for (std::size_t got; (got = in.read(buf.data(), buf.size())) > 0;) out.write(buf.data(), got);
    out.commit();
  }
  staged_.emplace(name, std::move(t));
}

void Repository::set_custom(const std::string& name, const json::Value& custom) {
  if (!targets_.targets.count(name))
    fail(ExitCode::not_found, fmt::format("target {} is not published in repository {}", name, dir_));
  recustom_[name] = custom;
}

void Repository::write_role(const std::string& name, const json::Value& signed_part, Role role, const KeyRing& keys) {
  util::write_file_atomic(dir_ + "/metadata/" + name, trust::sign_envelope(signed_part, keys.for_role(root_, role)));
}

void Repository::publish(const KeyRing& keys, std::int64_t now) {
  require_publish_keys(keys); // a missing key fails before any metadata is written
  trust::Targets next = targets_;
  next.type = "targets";
  next.version = targets_.version + 1;
  next.expires.clear();
  next.expires_at = now + expiry_.targets_days * day;
  for (auto& [name, t] : staged_) next.targets[name] = t;
  for (auto& [name, c] : recustom_) next.targets.at(name).custom = c;
  const std::string name = std::to_string(next.version) + ".targets.json";
  write_role(name, trust::to_json(next), Role::targets, keys);
  targets_ = std::move(next);
  staged_.clear();
  recustom_.clear();
  write_snapshot_and_timestamp(keys, now, true);
}

void Repository::write_snapshot_and_timestamp(const KeyRing& keys, std::int64_t now, bool new_snapshot) {
  const std::string meta = dir_ + "/metadata/";
  if (new_snapshot) {
    const std::string targets_name = std::to_string(targets_.version) + ".targets.json";
    const std::string targets_bytes = util::read_file(meta + targets_name, trust::default_max_targets_bytes);
    trust::Snapshot sn;
    sn.type = "snapshot";
    sn.version = snapshot_.version + 1;
    sn.expires_at = now + expiry_.snapshot_days * day;
    sn.meta["targets.json"] = {targets_.version, targets_bytes.size(), util::sha256_hex(targets_bytes)};
    write_role(std::to_string(sn.version) + ".snapshot.json", trust::to_json(sn), Role::snapshot, keys);
    snapshot_ = std::move(sn);
  }
  const std::string snap_bytes =
      util::read_file(meta + std::to_string(snapshot_.version) + ".snapshot.json", trust::default_max_snapshot_bytes);
  trust::Timestamp ts;
  ts.type = "timestamp";
  ts.version = timestamp_.version + 1;
  ts.expires_at = now + expiry_.timestamp_days * day;
  ts.snapshot = {snapshot_.version, snap_bytes.size(), util::sha256_hex(snap_bytes)};
  write_role("timestamp.json", trust::to_json(ts), Role::timestamp, keys);
  timestamp_ = std::move(ts);
}

void Repository::refresh(const KeyRing& keys, std::int64_t now, bool snapshot_too) {
  keys.for_role(root_, Role::timestamp);
  if (snapshot_too) keys.for_role(root_, Role::snapshot);
  write_snapshot_and_timestamp(keys, now, snapshot_too);
}

void Repository::rotate_root(trust::Root next, const KeyRing& keys, std::int64_t now) {
  next.type = "root";
  next.version = root_.version + 1;
  next.expires.clear();
  next.expires_at = now + expiry_.root_days * day;
  next.consistent_snapshot = true;
  // Signed by a threshold of the old root keys and of the new ones (spec 5.3.4).
  std::vector<trust::Signer*> signers = keys.for_role(root_, Role::root);
  for (auto* s : keys.for_role(next, Role::root))
    if (std::find(signers.begin(), signers.end(), s) == signers.end()) signers.push_back(s);
  const std::string bytes = trust::sign_envelope(trust::to_json(next), signers);
  const std::string meta = dir_ + "/metadata/";
  const trust::Root old = root_;
  util::write_file_atomic(meta + std::to_string(next.version) + ".root.json", bytes);
  util::write_file_atomic(meta + "root.json", bytes);
  root_ = std::move(next);
  // New keys for a role: re-sign what it signs, so the published state verifies under the new root.
  const bool targets_changed = old.roles.at(Role::targets).keyids != root_.roles.at(Role::targets).keyids ||
                               old.roles.at(Role::targets).threshold != root_.roles.at(Role::targets).threshold;
  if (targets_changed) {
    publish(keys, now);
  } else {
    write_snapshot_and_timestamp(keys, now, true);
  }
}

std::string Repository::target_file(const trust::TargetFile& t) const { return dir_ + "/" + bundle::target_path(t); }

std::vector<std::string> Repository::metadata_files() const {
  std::vector<std::string> out;
  for (std::int64_t v = 1; v <= root_.version; ++v) out.push_back(std::to_string(v) + ".root.json");
  out.push_back("timestamp.json");
  out.push_back(std::to_string(snapshot_.version) + ".snapshot.json");
  out.push_back(std::to_string(targets_.version) + ".targets.json");
  return out;
}

} // namespace airlock::bundle_tool
