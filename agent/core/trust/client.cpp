#include "trust/client.hpp"

#include "util/error.hpp"
#include "util/hash.hpp"
#include "util/io.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>

#include <sys/stat.h>

namespace airlock::trust {
namespace fs = std::filesystem;
namespace {

void check_expiry(const Common& m, const std::string& what, std::int64_t now) {
  if (m.expires_at <= now)
    fail(ExitCode::verify_failed,
         fmt::format("{}: {} metadata version {} expired at {} (now {}); refusing it as a possible freeze attack. "
                     "Ask the publisher for fresh metadata ('airlock-bundle repo refresh') or check this host's clock.",
                     what, m.type, m.version, m.expires, format_time(now)));
}

// Length and hash pins from the referring role (mix-and-match and endless-data defence).
void check_pins(const std::string& bytes, const MetaFile& pin, const std::string& what, const std::string& by) {
  if (pin.length && bytes.size() != *pin.length)
    fail(ExitCode::verify_failed, fmt::format("{}: is {} bytes but {} says {}; it was altered or belongs to another "
                                              "repository state",
                                              what, bytes.size(), by, *pin.length));
  if (pin.sha256 && util::sha256_hex(bytes) != *pin.sha256)
    fail(ExitCode::verify_failed, fmt::format("{}: SHA-256 differs from the hash in {}; it was altered or "
                                              "belongs to another repository state",
                                              what, by));
}

std::string must_fetch(MetadataSource& src, const std::string& name, std::size_t max) {
  auto bytes = src.fetch(name, max);
  if (!bytes)
    fail(ExitCode::verify_failed,
         fmt::format("{} does not contain {}, which the trusted metadata requires", src.describe(), name));
  return *bytes;
}

bool same_keys(const Root& a, const Root& b, Role role) {
  const auto& ra = a.roles.at(role);
  const auto& rb = b.roles.at(role);
  return ra.keyids == rb.keyids && ra.threshold == rb.threshold;
}

void update_root(TrustedState& st, MetadataSource& src, const RefreshOptions& opt) {
  for (std::size_t i = 0; i < opt.max_root_rotations; ++i) {
    const std::int64_t next = st.root.meta.version + 1;
    const std::string name = fmt::format("{}.root.json", next);
    auto bytes = src.fetch(name, max_root_bytes);
    if (!bytes) return;
    const std::string what = fmt::format("{} in {}", name, src.describe());
    Envelope e = parse_envelope(*bytes, what, max_root_bytes);
    Root candidate = parse_root(e, what);
    // Spec 5.3.4-5.3.5: signed by a threshold of the trusted root's keys AND of its own new keys.
    try {
      verify_role(e, st.root.meta, Role::root, what);
    } catch (const Error& err) {
      fail(err.code(), std::string(err.what()) +
                           fmt::format(" (a new root must be signed by the keys of root v{})", st.root.meta.version));
    }
    verify_role(e, candidate, Role::root, what);
    if (candidate.version != next)
      fail(ExitCode::verify_failed, fmt::format("{}: holds root version {} where {} was expected; a root version "
                                                "may not be skipped or repeated",
                                                what, candidate.version, next));
    const Root old = st.root.meta;
    st.root = {std::move(candidate), std::move(*bytes)};
    // Spec 5.3.11: after a rotation of the timestamp or snapshot keys, forget what they signed before, so a
    // compromised key's inflated versions cannot block updates forever.
    if (!same_keys(old, st.root.meta, Role::timestamp) || !same_keys(old, st.root.meta, Role::snapshot)) {
      st.timestamp.reset();
      st.snapshot.reset();
    }
    if (!same_keys(old, st.root.meta, Role::targets)) st.targets.reset();
  }
  fail(ExitCode::verify_failed, fmt::format("{}: more than {} root versions in one update; refusing (endless data)",
                                            src.describe(), opt.max_root_rotations));
}

void update_timestamp(TrustedState& st, MetadataSource& src, const RefreshOptions& opt) {
  const std::string what = "timestamp.json in " + src.describe();
  std::string bytes = must_fetch(src, "timestamp.json", max_timestamp_bytes);
  Envelope e = parse_envelope(bytes, what, max_timestamp_bytes);
  Timestamp ts = parse_timestamp(e, what);
  verify_role(e, st.root.meta, Role::timestamp, what);
  if (st.timestamp) {
    const auto& old = st.timestamp->meta;
    if (ts.version < old.version)
      fail(ExitCode::verify_failed, fmt::format("{}: version {} is older than the trusted version {}; refusing a "
                                                "rollback of the timestamp role",
                                                what, ts.version, old.version));
    if (ts.version == old.version) { // spec 5.4.3.1: keep the trusted one
      check_expiry(old, what, opt.now);
      return;
    }
    if (ts.snapshot.version < old.snapshot.version)
      fail(ExitCode::verify_failed, fmt::format("{}: names snapshot version {}, older than the trusted {}; refusing "
                                                "a rollback of the snapshot role",
                                                what, ts.snapshot.version, old.snapshot.version));
  }
  check_expiry(ts, what, opt.now);
  st.timestamp = Trusted<Timestamp>{std::move(ts), std::move(bytes)};
}

// Fetches the snapshot or targets file that `pin` (from timestamp or snapshot, named `by`) refers to, and checks
// its length and hash pins, its signatures and that its version is the pinned one (mix-and-match defence).
// Returns nullopt when the trusted copy already is that version (spec 5.5/5.6 allow skipping the download).
template <class M, class Parse>
std::optional<Trusted<M>> fetch_pinned(const TrustedState& st, const std::optional<Trusted<M>>& trusted,
                                       MetadataSource& src, const MetaFile& pin, Role role, const char* by,
                                       std::size_t cap, Parse parse) {
  if (trusted && trusted->meta.version == pin.version) return std::nullopt;
  const std::string base = std::string(role_name(role)) + ".json";
  const std::string name = st.root.meta.consistent_snapshot ? fmt::format("{}.{}", pin.version, base) : base;
  const std::string what = name + " in " + src.describe();
  // The fixed cap bounds the download; the pinned length is then checked exactly (check_pins).
  const std::size_t max = std::max<std::size_t>(cap, pin.length.value_or(0));
  std::string bytes = must_fetch(src, name, max);
  check_pins(bytes, pin, what, by);
  Envelope e = parse_envelope(bytes, what, max);
  M m = parse(e, what);
  verify_role(e, st.root.meta, role, what);
  if (m.version != pin.version)
    fail(ExitCode::verify_failed, fmt::format("{}: is {} version {} but {} pins version {}; refusing a mix of "
                                              "repository states",
                                              what, role_name(role), m.version, by, pin.version));
  return Trusted<M>{std::move(m), std::move(bytes)};
}

void update_snapshot(TrustedState& st, MetadataSource& src, const RefreshOptions& opt) {
  auto fresh = fetch_pinned<Snapshot>(st, st.snapshot, src, st.timestamp->meta.snapshot, Role::snapshot,
                                      "timestamp.json", default_max_snapshot_bytes, parse_snapshot);
  if (!fresh) {
    check_expiry(st.snapshot->meta, "trusted snapshot.json", opt.now);
    return;
  }
  const std::string what = "snapshot.json in " + src.describe();
  if (st.snapshot) {
    for (const auto& [file, old] : st.snapshot->meta.meta) {
      auto it = fresh->meta.meta.find(file);
      if (it == fresh->meta.meta.end())
        fail(ExitCode::verify_failed,
             fmt::format("{}: no longer lists {}, which the trusted snapshot did", what, file));
      if (it->second.version < old.version)
        fail(ExitCode::verify_failed, fmt::format("{}: lists {} version {}, older than the trusted {}; refusing a "
                                                  "rollback of that role",
                                                  what, file, it->second.version, old.version));
    }
  }
  check_expiry(fresh->meta, what, opt.now);
  st.snapshot = std::move(fresh);
}

void update_targets(TrustedState& st, MetadataSource& src, const RefreshOptions& opt) {
  auto fresh = fetch_pinned<Targets>(st, st.targets, src, st.snapshot->meta.meta.at("targets.json"), Role::targets,
                                     "snapshot.json", default_max_targets_bytes, parse_targets);
  if (!fresh) {
    check_expiry(st.targets->meta, "trusted targets.json", opt.now);
    return;
  }
  check_expiry(fresh->meta, "targets.json in " + src.describe(), opt.now);
  st.targets = std::move(fresh);
}

template <class M, class Parse>
std::optional<Trusted<M>> load_optional(const std::string& path, std::size_t max, const Root& root, Role role,
                                        Parse parse) {
  struct stat sb {};
  if (::stat(path.c_str(), &sb) != 0) return std::nullopt;
  std::string bytes = util::read_file(path, max);
  try {
    Envelope e = parse_envelope(bytes, path, max);
    M m = parse(e, path);
    verify_role(e, root, role, path);
    return Trusted<M>{std::move(m), std::move(bytes)};
  } catch (const Error&) {
    // Left over from before a key rotation (a crash between saving root.json and removing it): it is no
    // longer trusted, and the next refresh fetches a current one.
    return std::nullopt;
  }
}

} // namespace

TrustedState TrustedState::from_root(const std::string& root_bytes, const std::string& what) {
  Envelope e = parse_envelope(root_bytes, what, max_root_bytes);
  Root r = parse_root(e, what);
  verify_role(e, r, Role::root, what);
  TrustedState st;
  st.root = {std::move(r), root_bytes};
  return st;
}

TrustedState TrustedState::load(const std::string& dir) {
  const std::string root_path = dir + "/root.json";
  TrustedState st = from_root(util::read_file(root_path, max_root_bytes), root_path);
  st.timestamp = load_optional<Timestamp>(dir + "/timestamp.json", max_timestamp_bytes, st.root.meta, Role::timestamp,
                                          parse_timestamp);
  st.snapshot = load_optional<Snapshot>(dir + "/snapshot.json", default_max_snapshot_bytes, st.root.meta,
                                        Role::snapshot, parse_snapshot);
  st.targets = load_optional<Targets>(dir + "/targets.json", default_max_targets_bytes, st.root.meta, Role::targets,
                                      parse_targets);
  if (std::error_code ec; fs::exists(dir + "/verified-at", ec)) {
    const std::string text = util::read_file(dir + "/verified-at", 64);
    try {
      st.verified_at = std::stoll(text);
    } catch (const std::exception&) {
      fail(ExitCode::bad_input, dir + "/verified-at does not hold a time (seconds since the epoch): '" + text +
                                    "'; remove it to trust the clock again");
    }
  }
  return st;
}

void TrustedState::save(const std::string& dir) const {
  // Root first: a crash between files leaves an older timestamp/snapshot next to a newer root, which the next
  // refresh handles; never the reverse. A file that already holds the same bytes is left alone, so a check against
  // an unchanged repository writes nothing.
  bool changed = util::write_file_if_changed(dir + "/root.json", root.bytes);
  auto put = [&](const char* name, const auto& t) {
    const std::string path = dir + "/" + name;
    if (t)
      changed |= util::write_file_if_changed(path, t->bytes);
    else if (::unlink(path.c_str()) == 0)
      changed = true;
  };
  put("timestamp.json", timestamp);
  put("snapshot.json", snapshot);
  put("targets.json", targets);
  if (verified_at <= 0) return;
  // The clock floor moves with every refresh, but is written only with new metadata or once it is a day ahead of
  // the file: a day-old floor still stops a clock set back by more than a day, and the metadata verified at that
  // time is unexpired for the whole day by definition (it was verified then).
  std::int64_t stored = 0;
  try {
    stored = std::stoll(util::read_file(dir + "/verified-at", 64));
  } catch (const std::exception&) {
  }
  if (changed || verified_at >= stored + clock_floor_step || verified_at < stored)
    util::write_file_atomic(dir + "/verified-at", std::to_string(verified_at) + "\n");
}

void refresh(TrustedState& state, MetadataSource& source, const RefreshOptions& options) {
  RefreshOptions o = options;
  o.now = std::max(options.now, state.verified_at);
  try {
    update_root(state, source, o);
    check_expiry(state.root.meta,
                 "root.json (v" + std::to_string(state.root.meta.version) + ") from " + source.describe(), o.now);
    update_timestamp(state, source, o);
    update_snapshot(state, source, o);
    update_targets(state, source, o);
  } catch (const Error& e) {
    if (o.now == options.now) throw;
    fail(e.code(), fmt::format("{} (judged at {}, this site's last successful verification: the clock says {}, "
                               "which is earlier; set the clock right)",
                               e.what(), format_time(o.now), format_time(options.now)));
  }
  state.verified_at = o.now;
}

void check_unexpired(const TrustedState& state, std::int64_t now) {
  now = std::max(now, state.verified_at);
  check_expiry(state.root.meta, "trusted root.json", now);
  if (state.timestamp) check_expiry(state.timestamp->meta, "trusted timestamp.json", now);
  if (state.snapshot) check_expiry(state.snapshot->meta, "trusted snapshot.json", now);
  if (state.targets) check_expiry(state.targets->meta, "trusted targets.json", now);
}

} // namespace airlock::trust
