#include "trust/metadata.hpp"

#include "util/error.hpp"
#include "util/hash.hpp"
#include "util/names.hpp"
#include "util/text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <ctime>
#include <set>

namespace airlock::trust {
namespace {

const json::Value& field(const json::Value& obj, const std::string& key, json::Value::Type type,
                         const std::string& what, const std::string& path) {
  static const char* const names[] = {"null", "a boolean", "an integer", "a string", "an array", "an object"};
  const json::Value* v = obj.find(key);
  if (!v) fail(ExitCode::bad_input, fmt::format("{}: field '{}.{}' is missing", what, path, key));
  if (v->type() != type)
    fail(ExitCode::bad_input,
         fmt::format("{}: field '{}.{}' must be {}", what, path, key, names[static_cast<int>(type)]));
  return *v;
}

using T = json::Value::Type;

// A string from the file for a message: nothing of it reaches the terminal unescaped (util::printable).
std::string shown(std::string_view s) { return util::quoted(s, 64, '\''); }

Common parse_common(const json::Value& s, const std::string& expected_type, const std::string& what) {
  if (!s.is_object()) fail(ExitCode::bad_input, what + ": 'signed' must be an object");
  Common c;
  c.type = field(s, "_type", T::string, what, "signed").as_string();
  if (c.type != expected_type)
    fail(ExitCode::bad_input,
         fmt::format("{}: _type is {} where '{}' metadata was expected", what, shown(c.type), expected_type));
  c.spec_version = field(s, "spec_version", T::string, what, "signed").as_string();
  // Accept any 1.x; a major version we do not know is refused (spec 5: "spec_version ... MUST be checked").
  if (c.spec_version.rfind("1.", 0) != 0)
    fail(ExitCode::bad_input,
         fmt::format("{}: spec_version {} is not TUF 1.x, which is all airlock supports", what, shown(c.spec_version)));
  c.version = field(s, "version", T::integer, what, "signed").as_int();
  if (c.version < 1) fail(ExitCode::bad_input, fmt::format("{}: version {} is below 1", what, c.version));
  c.expires = field(s, "expires", T::string, what, "signed").as_string();
  c.expires_at = parse_time(c.expires, what + " (signed.expires)");
  return c;
}

MetaFile parse_metafile(const json::Value& v, const std::string& what, const std::string& path) {
  if (!v.is_object()) fail(ExitCode::bad_input, fmt::format("{}: '{}' must be an object", what, path));
  MetaFile m;
  m.version = field(v, "version", T::integer, what, path).as_int();
  if (m.version < 1) fail(ExitCode::bad_input, fmt::format("{}: '{}.version' is below 1", what, path));
  if (v.find("length")) {
    auto len = field(v, "length", T::integer, what, path).as_int();
    if (len < 0) fail(ExitCode::bad_input, fmt::format("{}: '{}.length' is negative", what, path));
    m.length = static_cast<std::uint64_t>(len);
  }
  if (v.find("hashes")) {
    const auto& hashes = field(v, "hashes", T::object, what, path);
    if (const auto* h = hashes.find("sha256")) {
      if (!h->is_string() || !util::is_sha256_hex(h->as_string()))
        fail(ExitCode::bad_input, fmt::format("{}: '{}.hashes.sha256' is not 64 lowercase hex digits", what, path));
      m.sha256 = h->as_string();
    }
  }
  return m;
}

void put_common(json::Value& s, const Common& c, const char* type) {
  s["_type"] = type;
  s["spec_version"] = c.spec_version.empty() ? std::string("1.0.31") : c.spec_version;
  s["version"] = c.version;
  s["expires"] = c.expires.empty() ? format_time(c.expires_at) : c.expires;
}

json::Value metafile_json(const MetaFile& m) {
  json::Value v;
  v["version"] = m.version;
  if (m.length) v["length"] = static_cast<std::int64_t>(*m.length);
  if (m.sha256) v["hashes"]["sha256"] = *m.sha256;
  return v;
}

constexpr util::NameTable<Role, 4> role_names{
    {{Role::root, "root"}, {Role::timestamp, "timestamp"}, {Role::snapshot, "snapshot"}, {Role::targets, "targets"}}};

} // namespace

const char* role_name(Role r) { return util::name_of(role_names, r).data(); }

Envelope parse_envelope(std::string_view bytes, const std::string& what, std::size_t max_bytes) {
  if (bytes.size() > max_bytes)
    fail(ExitCode::verify_failed,
         fmt::format("{}: {} bytes exceeds the {} bytes allowed for this metadata (endless-data defence)", what,
                     bytes.size(), max_bytes));
  json::Value doc = json::parse(bytes, what, {max_bytes, 64});
  if (!doc.is_object()) fail(ExitCode::bad_input, what + ": not a TUF metadata object");
  Envelope e;
  e.signed_part = field(doc, "signed", T::object, what, "");
  std::set<std::string> seen;
  for (const auto& s : field(doc, "signatures", T::array, what, "").as_array()) {
    if (!s.is_object()) fail(ExitCode::bad_input, what + ": an entry of 'signatures' is not an object");
    Signature sig{field(s, "keyid", T::string, what, "signatures[]").as_string(),
                  field(s, "sig", T::string, what, "signatures[]").as_string()};
    // The same key listed twice must not count twice towards a threshold (spec 5.3.4); refuse it outright.
    if (!seen.insert(sig.keyid).second)
      fail(ExitCode::verify_failed, fmt::format("{}: key {} signs more than once", what, shown(sig.keyid)));
    e.signatures.push_back(std::move(sig));
  }
  return e;
}

Root parse_root(const Envelope& e, const std::string& what) {
  Root r;
  static_cast<Common&>(r) = parse_common(e.signed_part, "root", what);
  const auto& s = e.signed_part;
  r.consistent_snapshot = field(s, "consistent_snapshot", T::boolean, what, "signed").as_bool();
  for (const auto& [keyid, kv] : field(s, "keys", T::object, what, "signed").as_object()) {
    const std::string path = "signed.keys." + util::printable(keyid, 64);
    if (!kv.is_object()) fail(ExitCode::bad_input, fmt::format("{}: '{}' must be an object", what, path));
    PublicKey k;
    k.keytype = field(kv, "keytype", T::string, what, path).as_string();
    k.scheme = field(kv, "scheme", T::string, what, path).as_string();
    if ((k.keytype != "ecdsa" && k.keytype != "ecdsa-sha2-nistp256") || k.scheme != "ecdsa-sha2-nistp256")
      fail(ExitCode::bad_input, fmt::format("{}: key {} has type {} and scheme {}; airlock supports only ecdsa with "
                                            "ecdsa-sha2-nistp256",
                                            what, shown(keyid), shown(k.keytype), shown(k.scheme)));
    k.public_pem =
        field(field(kv, "keyval", T::object, what, path), "public", T::string, what, path + ".keyval").as_string();
    // The key ID must be the hash of the key (spec 4.2): otherwise one key could be listed under two IDs and
    // count twice towards a threshold.
    if (k.keyid() != keyid)
      fail(ExitCode::bad_input,
           fmt::format("{}: key ID {} does not match its key (expected {})", what, shown(keyid), k.keyid()));
    r.keys.emplace(keyid, std::move(k));
  }
  const auto& roles = field(s, "roles", T::object, what, "signed");
  for (Role role : {Role::root, Role::timestamp, Role::snapshot, Role::targets}) {
    const std::string path = std::string("signed.roles.") + role_name(role);
    const auto& rv = field(roles, role_name(role), T::object, what, "signed.roles");
    RoleKeys rk;
    rk.threshold = field(rv, "threshold", T::integer, what, path).as_int();
    if (rk.threshold < 1) fail(ExitCode::bad_input, fmt::format("{}: '{}.threshold' must be at least 1", what, path));
    for (const auto& id : field(rv, "keyids", T::array, what, path).as_array()) {
      if (!id.is_string()) fail(ExitCode::bad_input, fmt::format("{}: '{}.keyids' holds a non-string", what, path));
      if (!r.keys.count(id.as_string()))
        fail(ExitCode::bad_input, fmt::format("{}: role {} names key {} that is not in 'keys'", what, role_name(role),
                                              shown(id.as_string())));
      rk.keyids.push_back(id.as_string());
    }
    // Distinct keys, not distinct IDs: one public key under two IDs (another keytype or PEM spelling) is one.
    std::set<std::string> distinct;
    for (const auto& id : rk.keyids) distinct.insert(key_identity(r.keys.at(id)));
    if (static_cast<std::int64_t>(distinct.size()) < rk.threshold)
      fail(ExitCode::bad_input, fmt::format("{}: role {} has threshold {} but only {} distinct keys", what,
                                            role_name(role), rk.threshold, distinct.size()));
    r.roles[role] = std::move(rk);
  }
  return r;
}

Timestamp parse_timestamp(const Envelope& e, const std::string& what) {
  Timestamp t;
  static_cast<Common&>(t) = parse_common(e.signed_part, "timestamp", what);
  const auto& meta = field(e.signed_part, "meta", T::object, what, "signed");
  const auto* snap = meta.find("snapshot.json");
  if (!snap) fail(ExitCode::bad_input, what + ": 'signed.meta' does not list snapshot.json");
  t.snapshot = parse_metafile(*snap, what, "signed.meta.snapshot.json");
  return t;
}

Snapshot parse_snapshot(const Envelope& e, const std::string& what) {
  Snapshot s;
  static_cast<Common&>(s) = parse_common(e.signed_part, "snapshot", what);
  for (const auto& [name, v] : field(e.signed_part, "meta", T::object, what, "signed").as_object())
    s.meta.emplace(name, parse_metafile(v, what, "signed.meta." + util::printable(name)));
  if (!s.meta.count("targets.json")) fail(ExitCode::bad_input, what + ": 'signed.meta' does not list targets.json");
  return s;
}

Targets parse_targets(const Envelope& e, const std::string& what) {
  Targets t;
  static_cast<Common&>(t) = parse_common(e.signed_part, "targets", what);
  if (const auto* d = e.signed_part.find("delegations"); d && !d->is_null())
    fail(ExitCode::bad_input, what + ": uses delegated targets roles, which this airlock version does not support yet; "
                                     "publish the release from the top-level targets role");
  for (const auto& [name, v] : field(e.signed_part, "targets", T::object, what, "signed").as_object()) {
    const std::string path = "signed.targets." + util::printable(name);
    if (!v.is_object()) fail(ExitCode::bad_input, fmt::format("{}: '{}' must be an object", what, path));
    TargetFile f;
    f.name = name;
    auto len = field(v, "length", T::integer, what, path).as_int();
    if (len < 0) fail(ExitCode::bad_input, fmt::format("{}: '{}.length' is negative", what, path));
    f.length = static_cast<std::uint64_t>(len);
    const auto& hashes = field(v, "hashes", T::object, what, path);
    const auto* h = hashes.find("sha256");
    if (!h || !h->is_string() || !util::is_sha256_hex(h->as_string()))
      fail(ExitCode::bad_input,
           fmt::format("{}: '{}.hashes.sha256' is missing or not 64 lowercase hex digits", what, path));
    f.sha256 = h->as_string();
    if (const auto* c = v.find("custom")) {
      if (!c->is_object()) fail(ExitCode::bad_input, fmt::format("{}: '{}.custom' must be an object", what, path));
      f.custom = *c;
    }
    t.targets.emplace(name, std::move(f));
  }
  return t;
}

std::int64_t count_valid_signatures(const Envelope& e, const Root& root, Role role) {
  const auto& rk = root.roles.at(role);
  const std::string message = json::canonical(e.signed_part);
  std::set<std::string> good;
  for (const auto& sig : e.signatures) {
    if (std::find(rk.keyids.begin(), rk.keyids.end(), sig.keyid) == rk.keyids.end()) continue;
    auto key = root.keys.find(sig.keyid);
    // Counted by the key itself: two IDs of one key (see key_identity) sign as one key.
    if (key != root.keys.end() && verify_signature(key->second, message, sig.sig))
      good.insert(key_identity(key->second));
  }
  return static_cast<std::int64_t>(good.size());
}

void verify_role(const Envelope& e, const Root& root, Role role, const std::string& what) {
  const auto& rk = root.roles.at(role);
  std::int64_t n = count_valid_signatures(e, root, role);
  if (n < rk.threshold) {
    std::string seen;
    for (const auto& s : e.signatures) seen += (seen.empty() ? "" : ", ") + util::printable(s.keyid, 12);
    fail(
        ExitCode::verify_failed,
        fmt::format("{}: has valid signatures from {} of the {} required {} keys of root v{} (signatures present from: "
                    "{}); refusing it. The file was tampered with or signed by a wrong or unknown key.",
                    what, n, rk.threshold, role_name(role), root.version, seen.empty() ? "none" : seen));
  }
}

std::int64_t parse_time(const std::string& iso, const std::string& what) {
  // Strictly "YYYY-MM-DDTHH:MM:SSZ" (spec 4.2), each field digits only and a real date, so that a date reads one
  // way only: the sscanf("%2d") this replaces also took " 1" and "+1", and timegm() moved 2030-02-31 to March 3
  // and second 60 into the next minute (tests/fuzz/tuf.cpp checks that every accepted date prints back as itself).
  static const char layout[] = "dddd-dd-ddTdd:dd:ddZ";
  bool ok = iso.size() == sizeof layout - 1;
  for (std::size_t i = 0; ok && i < iso.size(); ++i)
    ok = layout[i] == 'd' ? iso[i] >= '0' && iso[i] <= '9' : iso[i] == layout[i];
  auto num = [&](std::size_t at, std::size_t len) {
    int n = 0;
    for (std::size_t i = at; i < at + len; ++i) n = n * 10 + (iso[i] - '0');
    return n;
  };
  const int y = ok ? num(0, 4) : 0, mo = ok ? num(5, 2) : 0, d = ok ? num(8, 2) : 0;
  const int h = ok ? num(11, 2) : 0, mi = ok ? num(14, 2) : 0, s = ok ? num(17, 2) : 0;
  static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (!ok || y < 1970 || mo < 1 || mo > 12 || d < 1 || d > days[mo - 1] + (mo == 2 && leap ? 1 : 0) || h > 23 ||
      mi > 59 || s > 59)
    fail(ExitCode::bad_input, fmt::format("{}: '{}' is not a date of the form YYYY-MM-DDTHH:MM:SSZ", what, iso));
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  return static_cast<std::int64_t>(::timegm(&tm));
}

std::string format_time(std::int64_t t) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  ::gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

json::Value to_json(const PublicKey& k) {
  json::Value v;
  v["keytype"] = k.keytype;
  v["scheme"] = k.scheme;
  v["keyval"]["public"] = k.public_pem;
  return v;
}

json::Value to_json(const Root& r) {
  json::Value s;
  put_common(s, r, "root");
  s["consistent_snapshot"] = r.consistent_snapshot;
  s["keys"] = json::Object{};
  for (const auto& [id, k] : r.keys) s["keys"][id] = to_json(k);
  s["roles"] = json::Object{};
  for (const auto& [role, rk] : r.roles) {
    json::Array ids;
    for (const auto& id : rk.keyids) ids.emplace_back(id);
    s["roles"][role_name(role)]["keyids"] = ids;
    s["roles"][role_name(role)]["threshold"] = rk.threshold;
  }
  return s;
}

json::Value to_json(const Timestamp& t) {
  json::Value s;
  put_common(s, t, "timestamp");
  s["meta"]["snapshot.json"] = metafile_json(t.snapshot);
  return s;
}

json::Value to_json(const Snapshot& sn) {
  json::Value s;
  put_common(s, sn, "snapshot");
  s["meta"] = json::Object{};
  for (const auto& [name, m] : sn.meta) s["meta"][name] = metafile_json(m);
  return s;
}

json::Value to_json(const Targets& t) {
  json::Value s;
  put_common(s, t, "targets");
  s["targets"] = json::Object{};
  for (const auto& [name, f] : t.targets) {
    json::Value v;
    v["length"] = static_cast<std::int64_t>(f.length);
    v["hashes"]["sha256"] = f.sha256;
    if (!f.custom.is_null()) v["custom"] = f.custom;
    s["targets"][name] = v;
  }
  return s;
}

std::string sign_envelope(const json::Value& signed_part, const std::vector<Signer*>& signers) {
  const std::string message = json::canonical(signed_part);
  json::Array sigs;
  for (Signer* s : signers) {
    json::Value sig;
    sig["keyid"] = s->public_key().keyid();
    sig["sig"] = s->sign_hex(message);
    sigs.push_back(sig);
  }
  json::Value doc;
  doc["signatures"] = sigs;
  doc["signed"] = signed_part;
  return json::pretty(doc);
}

} // namespace airlock::trust
