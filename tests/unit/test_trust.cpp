// The TUF client workflow against real repositories written by airlock-bundle's Repository, in temp dirs.
// Every attack of the TUF specification that applies to airlock is replayed here and must be refused with its
// own message; valid repositories and rotations must pass.
#include "bundle/container.hpp"
#include "bundle/verify.hpp"
#include "publish/builder.hpp"
#include "repo/repository.hpp"
#include "trust/client.hpp"
#include "trust/target.hpp"
#include "util/error.hpp"
#include "util/hash.hpp"
#include "util/io.hpp"

#include "testutil.hpp"
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <sys/stat.h>

namespace fs = std::filesystem;
using namespace airlock;
using trust::Role;

namespace {

constexpr std::int64_t day = 86400;
constexpr std::int64_t t0 = 1893456000; // 2030-01-01: a fixed "now" for building repositories

struct Fixture {
  testutil::TempDir tmp;
  std::string repo_dir = tmp / "repo";
  std::string root_key = tmp / "root.pem", targets_key = tmp / "targets.pem", snapshot_key = tmp / "snapshot.pem",
              timestamp_key = tmp / "timestamp.pem";
  bundle_tool::KeyRing ring;

  explicit Fixture(const std::function<void(bundle_tool::InitOptions&, bundle_tool::KeyRing&)>& tweak = {}) {
    for (const auto& k : {root_key, targets_key, snapshot_key, timestamp_key}) trust::generate_key(k);
    ring.load({root_key, targets_key, snapshot_key, timestamp_key});
    bundle_tool::InitOptions o;
    o.app = "demo";
    o.root_keys = {pub(root_key)};
    o.targets_key = pub(targets_key);
    o.snapshot_key = pub(snapshot_key);
    o.timestamp_key = pub(timestamp_key);
    if (tweak) tweak(o, ring);
    bundle_tool::Repository::init(repo_dir, o, ring, t0);
  }
  static trust::PublicKey pub(const std::string& pem) {
    return trust::public_key_from_pem(util::read_file(pem, 65536), pem);
  }
  std::string meta(const std::string& name) const { return repo_dir + "/metadata/" + name; }
  std::string trusted_root() const { return util::read_file(meta("1.root.json"), 1 << 20); }

  void add_release(const std::string& version, const std::string& content = "hello") {
    const std::string src = tmp / ("src-" + version);
    fs::create_directories(src);
    testutil::write_file(src + "/docker-compose.yml", "version: \"2.4\"\nservices: {}\n");
    testutil::write_file(src + "/app.txt", content);
    testutil::write_file(src + "/airlock-release.json", R"({"version": ")" + version + R"("})");
    bundle_tool::Repository repo(repo_dir);
    bundle_tool::add_release(repo, {src, "x86_64", {}, {}, {}}, ring, t0);
  }

  // Runs the client from the trusted root against the repository directory.
  trust::TrustedState refresh(std::int64_t now = t0 + day, trust::TrustedState* state = nullptr) {
    auto c = bundle::open_container(repo_dir);
    trust::TrustedState st = state ? *state : trust::TrustedState::from_root(trusted_root(), "trusted root");
    trust::refresh(st, *c, {now});
    return st;
  }
};

// Asserts that `f` throws airlock::Error with `code` and a message containing `needle`.
void expect_refusal(const std::function<void()>& f, ExitCode code, const std::string& needle) {
  try {
    f();
  } catch (const Error& e) {
    INFO("message: " << std::string(e.what()));
    CHECK(static_cast<int>(e.code()) == static_cast<int>(code));
    CHECK(std::string(e.what()).find(needle) != std::string::npos);
    return;
  }
  FAIL("no error; expected one containing: " << needle);
}

// Rewrites a JSON file through a text substitution (for tampering; signatures are left alone).
void tamper(const std::string& path, const std::string& from, const std::string& to) {
  std::string s = util::read_file(path, 1 << 24);
  auto pos = s.find(from);
  REQUIRE_MESSAGE(pos != std::string::npos, "'" << from << "' not found in " << path);
  s.replace(pos, from.size(), to);
  testutil::write_file(path, s);
}

std::string resign(const std::string& path, const std::vector<trust::Signer*>& signers,
                   const std::function<void(json::Value&)>& edit) {
  auto env = trust::parse_envelope(util::read_file(path, 1 << 24), path, 1 << 24);
  edit(env.signed_part);
  return trust::sign_envelope(env.signed_part, signers);
}

} // namespace

TEST_CASE("trust::refresh accepts a valid repository and its targets verify") {
  Fixture f;
  f.add_release("1.0.0");
  auto st = f.refresh();
  REQUIRE(st.targets);
  CHECK(st.targets->meta.targets.count("demo/1.0.0/x86_64/release.json") == 1);
  CHECK(st.targets->meta.targets.count("demo/1.0.0/x86_64/app.tar.gz") == 1);
  auto c = bundle::open_container(f.repo_dir);
  auto report = bundle::verify_container(*c, trust::TrustedState::from_root(f.trusted_root(), "root"), t0 + day);
  CHECK(report.verified.size() == 2);
  CHECK(report.unlisted.empty());
}

TEST_CASE("trust::refresh persists and reloads the trusted state") {
  Fixture f;
  f.add_release("1.0.0");
  auto st = f.refresh();
  const std::string dir = f.tmp / "trust";
  fs::create_directories(dir);
  st.save(dir);
  auto loaded = trust::TrustedState::load(dir);
  REQUIRE(loaded.targets);
  CHECK(loaded.targets->meta.version == st.targets->meta.version);
  CHECK(loaded.timestamp->bytes == st.timestamp->bytes);
}

TEST_CASE("TrustedState::save rewrites nothing that did not change, and the clock floor only once a day ahead") {
  Fixture f;
  f.add_release("1.0.0");
  const std::string dir = f.tmp / "trust";
  fs::create_directories(dir);
  auto st = f.refresh(t0 + day);
  st.save(dir);
  auto inode = [&](const char* name) {
    struct stat sb {};
    REQUIRE(::stat((dir + "/" + name).c_str(), &sb) == 0);
    return sb.st_ino; // a rename over the file gives it a new inode
  };
  const auto root = inode("root.json"), ts = inode("timestamp.json"), targets = inode("targets.json"),
             floor = inode("verified-at");
  // Same metadata an hour later: no file is replaced, verified-at keeps the first time.
  auto again = f.refresh(t0 + day + 3600, &st);
  again.save(dir);
  CHECK(inode("root.json") == root);
  CHECK(inode("timestamp.json") == ts);
  CHECK(inode("targets.json") == targets);
  CHECK(inode("verified-at") == floor);
  CHECK(trust::TrustedState::load(dir).verified_at == t0 + day);
  // A day later the floor moves; the metadata files still stay.
  auto later = f.refresh(t0 + day + trust::clock_floor_step, &again);
  later.save(dir);
  CHECK(inode("verified-at") != floor);
  CHECK(trust::TrustedState::load(dir).verified_at == t0 + day + trust::clock_floor_step);
  CHECK(inode("targets.json") == targets);
  // New metadata: the changed files are replaced and the floor written with them.
  f.add_release("1.1.0");
  auto newer = f.refresh(t0 + day + trust::clock_floor_step + 60, &later);
  newer.save(dir);
  CHECK(inode("targets.json") != targets);
  CHECK(inode("root.json") == root);
  CHECK(trust::TrustedState::load(dir).verified_at == t0 + day + trust::clock_floor_step + 60);
}

TEST_CASE("verify_container hashes targets on several threads and names a tampered one whatever the count") {
  Fixture f;
  for (const char* v : {"1.0.0", "1.1.0", "1.2.0", "1.3.0"}) f.add_release(v);
  for (const char* threads : {"1", "2", "7"}) {
    CAPTURE(threads);
    ::setenv("AIRLOCK_THREADS", threads, 1);
    auto c = bundle::open_container(f.repo_dir);
    auto report = bundle::verify_container(*c, trust::TrustedState::from_root(f.trusted_root(), "root"), t0 + day);
    CHECK(report.verified.size() == 8);
    std::uint64_t sum = 0;
    for (const auto& v : report.verified) sum += v.target.length;
    CHECK(report.bytes == sum);
  }
  // One payload altered on disk: refused, naming that target, with one thread and with several.
  auto c = bundle::open_container(f.repo_dir);
  auto clean = bundle::verify_container(*c, trust::TrustedState::from_root(f.trusted_root(), "root"), t0 + day);
  const auto& victim = *std::find_if(clean.verified.begin(), clean.verified.end(),
                                     [](const auto& v) { return v.target.name == "demo/1.2.0/x86_64/app.tar.gz"; });
  std::string bytes = testutil::read_file(f.repo_dir + "/" + victim.path);
  bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 1);
  testutil::write_file(f.repo_dir + "/" + victim.path, bytes);
  for (const char* threads : {"1", "2"}) {
    CAPTURE(threads);
    ::setenv("AIRLOCK_THREADS", threads, 1);
    auto again = bundle::open_container(f.repo_dir);
    expect_refusal(
        [&] { bundle::verify_container(*again, trust::TrustedState::from_root(f.trusted_root(), "root"), t0 + day); },
        ExitCode::verify_failed, "target demo/1.2.0/x86_64/app.tar.gz does not match its signed SHA-256");
  }
  ::unsetenv("AIRLOCK_THREADS");
}

TEST_CASE("trust::verify_target refuses a tampered target byte, a longer and a shorter target") {
  Fixture f;
  f.add_release("1.0.0");
  auto st = f.refresh();
  const auto& t = st.targets->meta.targets.at("demo/1.0.0/x86_64/app.tar.gz");
  const std::string path = f.repo_dir + "/" + bundle::target_path(t);
  std::string bytes = util::read_file(path, 1 << 24);
  std::string flipped = bytes;
  flipped[flipped.size() / 2] = static_cast<char>(flipped[flipped.size() / 2] ^ 1);
  testutil::write_file(path, flipped);
  expect_refusal(
      [&] {
        util::FileSource s(path);
        trust::verify_target(t, s, "test");
      },
      ExitCode::verify_failed, "does not match its signed SHA-256");
  testutil::write_file(path, bytes + "x");
  expect_refusal(
      [&] {
        util::FileSource s(path);
        trust::verify_target(t, s, "test");
      },
      ExitCode::verify_failed, "is longer than the");
  testutil::write_file(path, bytes.substr(0, bytes.size() - 1));
  expect_refusal(
      [&] {
        util::FileSource s(path);
        trust::verify_target(t, s, "test");
      },
      ExitCode::verify_failed, "(truncated copy?)");
}

TEST_CASE("trust::refresh refuses a tampered metadata field") {
  Fixture f;
  f.add_release("1.0.0");
  tamper(f.meta("2.targets.json"), "\"expires\": \"2031", "\"expires\": \"2099"); // same length
  // The snapshot pins the targets file's hash, so that is what trips first.
  expect_refusal([&] { f.refresh(); }, ExitCode::verify_failed, "SHA-256 differs from the hash in snapshot.json");
  // Without the hash pin, the signature check catches it.
  Fixture g;
  g.add_release("1.0.0");
  tamper(g.meta("timestamp.json"), "\"version\": 2", "\"version\": 3");
  expect_refusal([&] { g.refresh(); }, ExitCode::verify_failed,
                 "valid signatures from 0 of the 1 required timestamp keys");
}

TEST_CASE("trust::refresh refuses a root below its signature threshold") {
  testutil::TempDir keys;
  const std::string second = keys / "root2.pem";
  trust::generate_key(second);
  Fixture f([&](bundle_tool::InitOptions& o, bundle_tool::KeyRing& ring) {
    ring.add(trust::load_pem_signer(second));
    o.root_keys.push_back(Fixture::pub(second));
    o.root_threshold = 2;
  });
  // Signed by both: fine. Drop one signature: below threshold.
  (void)f.refresh();
  auto env = trust::parse_envelope(f.trusted_root(), "root", 1 << 20);
  auto one = trust::load_pem_signer(f.root_key);
  std::string single = trust::sign_envelope(env.signed_part, {one.get()});
  expect_refusal([&] { trust::TrustedState::from_root(single, "1.root.json"); }, ExitCode::verify_failed,
                 "valid signatures from 1 of the 2 required root keys");
}

TEST_CASE("trust: one key under two key IDs counts once towards a threshold") {
  Fixture f;
  auto env = trust::parse_envelope(f.trusted_root(), "root", 1 << 20);
  trust::PublicKey a = Fixture::pub(f.root_key), b = a;
  b.keytype = "ecdsa-sha2-nistp256"; // the same key, the other accepted keytype: another key ID
  REQUIRE(a.keyid() != b.keyid());
  CHECK(trust::key_identity(a) == trust::key_identity(b));
  CHECK(trust::key_identity(a).size() == 64);
  // The same key re-wrapped at another line length is still the same key.
  trust::PublicKey c = a;
  std::string pem;
  for (char ch : a.public_pem)
    if (ch != '\n') pem += ch;
  c.public_pem = "-----BEGIN PUBLIC KEY-----\n" + pem.substr(26, pem.size() - 26 - 24) + "\n-----END PUBLIC KEY-----\n";
  CHECK(trust::key_identity(c) == trust::key_identity(a));
  CHECK(trust::key_identity(trust::PublicKey{"ecdsa", "ecdsa-sha2-nistp256", "not a key"}).empty());

  json::Value s = env.signed_part;
  s["keys"][b.keyid()] = json::Object{{"keytype", json::Value(b.keytype)},
                                      {"scheme", json::Value(b.scheme)},
                                      {"keyval", json::Object{{"public", json::Value(b.public_pem)}}}};
  s["roles"]["root"]["keyids"] = json::Array{json::Value(a.keyid()), json::Value(b.keyid())};
  s["roles"]["root"]["threshold"] = 2;
  // A root that needs two keys but lists one key twice is refused as it is parsed.
  expect_refusal(
      [&] {
        trust::parse_root({s, {}}, "2.root.json");
      },
      ExitCode::bad_input, "role root has threshold 2 but only 1 distinct keys");
  // And a signature made once, listed under both IDs, is one valid signature, not two.
  s["roles"]["root"]["threshold"] = 1;
  trust::Root root = trust::parse_root({s, {}}, "2.root.json");
  auto signer = trust::load_pem_signer(f.root_key);
  std::string sig = signer->sign_hex(json::canonical(s));
  trust::Envelope twice{s, {{a.keyid(), sig}, {b.keyid(), sig}}};
  CHECK(trust::count_valid_signatures(twice, root, Role::root) == 1);
}

TEST_CASE("trust::refresh refuses metadata signed by a wrong or unknown key") {
  Fixture f;
  f.add_release("1.0.0");
  Fixture other;
  other.add_release("1.0.0");
  // A timestamp from another repository: well-formed, validly signed, by a key this root does not list.
  fs::copy_file(other.meta("timestamp.json"), f.meta("timestamp.json"), fs::copy_options::overwrite_existing);
  expect_refusal([&] { f.refresh(); }, ExitCode::verify_failed,
                 "valid signatures from 0 of the 1 required timestamp keys");
  // Targets signed by the snapshot key (a key of this repository, but not of the targets role).
  Fixture g;
  g.add_release("1.0.0");
  auto snap = trust::load_pem_signer(g.snapshot_key);
  std::string bad = resign(g.meta("2.targets.json"), {snap.get()}, [](json::Value&) {});
  testutil::write_file(g.meta("2.targets.json"), bad);
  tamper(g.meta("2.snapshot.json"), "\"hashes\"", "\"x-hashes\""); // not used by the client: hash pin removed
  tamper(g.meta("2.snapshot.json"), "\"length\"", "\"x-length\"");
  // The snapshot is now tampered too, so re-sign it properly to isolate the targets signature failure.
  auto snap2 = trust::load_pem_signer(g.snapshot_key);
  std::string resigned = resign(g.meta("2.snapshot.json"), {snap2.get()}, [](json::Value&) {});
  testutil::write_file(g.meta("2.snapshot.json"), resigned);
  auto ts = trust::load_pem_signer(g.timestamp_key);
  std::string snap_bytes = util::read_file(g.meta("2.snapshot.json"), 1 << 20);
  std::string new_ts = resign(g.meta("timestamp.json"), {ts.get()}, [&](json::Value& s) {
    s["meta"]["snapshot.json"]["length"] = static_cast<std::int64_t>(snap_bytes.size());
    s["meta"]["snapshot.json"]["hashes"]["sha256"] = util::sha256_hex(snap_bytes);
  });
  testutil::write_file(g.meta("timestamp.json"), new_ts);
  expect_refusal([&] { g.refresh(); }, ExitCode::verify_failed,
                 "valid signatures from 0 of the 1 required targets keys");
}

TEST_CASE("trust::refresh refuses expired timestamp, snapshot, targets and root (freeze attack)") {
  struct Case {
    const char* role;
    const char* needle;
  };
  for (Case c : {Case{"timestamp", "timestamp metadata version"}, Case{"snapshot", "snapshot metadata version"},
                 Case{"targets", "targets metadata version"}, Case{"root", "root metadata version"}}) {
    CAPTURE(c.role);
    Fixture f([&](bundle_tool::InitOptions& o, bundle_tool::KeyRing&) { o.expiry.set(std::string(c.role) + "=2"); });
    f.add_release("1.0.0");
    (void)f.refresh(t0 + 1 * day); // fresh: fine
    expect_refusal([&] { f.refresh(t0 + 3 * day); }, ExitCode::verify_failed, c.needle);
    expect_refusal([&] { f.refresh(t0 + 3 * day); }, ExitCode::verify_failed, "freeze attack");
  }
}

TEST_CASE("trust::refresh refuses a rollback of timestamp, snapshot and targets versions") {
  Fixture f;
  f.add_release("1.0.0");
  const std::string old_state = f.tmp / "old";
  fs::copy(f.repo_dir + "/metadata", old_state);
  f.add_release("1.1.0");
  auto st = f.refresh(); // the client has seen the newer state
  SUBCASE("timestamp") {
    fs::copy_file(old_state + "/timestamp.json", f.meta("timestamp.json"), fs::copy_options::overwrite_existing);
    expect_refusal([&] { f.refresh(t0 + day, &st); }, ExitCode::verify_failed,
                   "refusing a rollback of the timestamp role");
  }
  SUBCASE("snapshot (a new timestamp pointing at an old snapshot)") {
    auto ts = trust::load_pem_signer(f.timestamp_key);
    std::string rolled = resign(f.meta("timestamp.json"), {ts.get()}, [](json::Value& s) {
      s["version"] = s["version"].as_int() + 1;
      s["meta"]["snapshot.json"] = json::Object{{"version", json::Value(2)}};
    });
    testutil::write_file(f.meta("timestamp.json"), rolled);
    expect_refusal([&] { f.refresh(t0 + day, &st); }, ExitCode::verify_failed,
                   "refusing a rollback of the snapshot role");
  }
  SUBCASE("targets (a new snapshot listing an old targets version)") {
    auto sn = trust::load_pem_signer(f.snapshot_key);
    auto ts = trust::load_pem_signer(f.timestamp_key);
    const std::int64_t next = st.snapshot->meta.version + 1;
    std::string snap =
        resign(f.meta(std::to_string(st.snapshot->meta.version) + ".snapshot.json"), {sn.get()}, [&](json::Value& s) {
          s["version"] = next;
          s["meta"]["targets.json"] = json::Object{{"version", json::Value(2)}};
        });
    testutil::write_file(f.meta(std::to_string(next) + ".snapshot.json"), snap);
    std::string stamp = resign(f.meta("timestamp.json"), {ts.get()}, [&](json::Value& s) {
      s["version"] = s["version"].as_int() + 1;
      s["meta"]["snapshot.json"] = json::Object{{"version", json::Value(next)}};
    });
    testutil::write_file(f.meta("timestamp.json"), stamp);
    expect_refusal([&] { f.refresh(t0 + day, &st); }, ExitCode::verify_failed, "refusing a rollback of that role");
  }
}

TEST_CASE("trust::refresh refuses mix-and-match: a snapshot from another repository state") {
  Fixture f;
  f.add_release("1.0.0");
  const std::string snap2 = util::read_file(f.meta("2.snapshot.json"), 1 << 20);
  f.add_release("1.1.0");
  // Serve the older snapshot under the name the current timestamp pins.
  testutil::write_file(f.meta("3.snapshot.json"), snap2);
  expect_refusal([&] { f.refresh(); }, ExitCode::verify_failed, "belongs to another repository state");
}

TEST_CASE("trust::refresh refuses endless data: oversized timestamp and root") {
  Fixture f;
  f.add_release("1.0.0");
  std::string ts = util::read_file(f.meta("timestamp.json"), 1 << 20);
  testutil::write_file(f.meta("timestamp.json"), ts + std::string(20000, ' '));
  expect_refusal([&] { f.refresh(); }, ExitCode::verify_failed, "exceeds the 16384 bytes allowed");
  testutil::write_file(f.meta("timestamp.json"), ts);
  testutil::write_file(f.meta("2.root.json"), std::string(600 * 1024, ' '));
  expect_refusal([&] { f.refresh(); }, ExitCode::verify_failed, "exceeds the 524288 bytes allowed");
}

TEST_CASE("trust::refresh follows a valid root rotation and refuses invalid ones") {
  Fixture f;
  f.add_release("1.0.0");
  const std::string new_root = f.tmp / "root-new.pem";
  trust::generate_key(new_root);
  auto new_signer = trust::load_pem_signer(new_root);
  auto old_signer = trust::load_pem_signer(f.root_key);
  bundle_tool::Repository repo(f.repo_dir);
  trust::Root next = repo.root();
  const auto new_pub = new_signer->public_key();
  next.keys[new_pub.keyid()] = new_pub;
  next.roles[Role::root] = {{new_pub.keyid()}, 1};
  next.keys.erase(old_signer->public_key().keyid());

  SUBCASE("valid: v2 signed by the old and the new root key") {
    f.ring.add(trust::load_pem_signer(new_root));
    repo.rotate_root(next, f.ring, t0);
    auto st = f.refresh();
    CHECK(st.root.meta.version == 2);
    CHECK(st.root.meta.roles.at(Role::root).keyids == std::vector<std::string>{new_pub.keyid()});
  }
  SUBCASE("invalid: v2 signed only by the new key (missing the old keys' threshold)") {
    next.version = 2;
    next.expires_at = t0 + 365 * day;
    testutil::write_file(f.meta("2.root.json"), trust::sign_envelope(trust::to_json(next), {new_signer.get()}));
    expect_refusal([&] { f.refresh(); }, ExitCode::verify_failed, "a new root must be signed by the keys of root v1");
  }
  SUBCASE("invalid: v2 signed only by the old key (not by its own new keys)") {
    next.version = 2;
    next.expires_at = t0 + 365 * day;
    testutil::write_file(f.meta("2.root.json"), trust::sign_envelope(trust::to_json(next), {old_signer.get()}));
    expect_refusal([&] { f.refresh(); }, ExitCode::verify_failed,
                   "valid signatures from 0 of the 1 required root keys of root v2");
  }
  SUBCASE("invalid: a rollback of root (root v1 served again as the next version)") {
    f.ring.add(trust::load_pem_signer(new_root));
    repo.rotate_root(next, f.ring, t0);
    auto st = f.refresh();
    REQUIRE(st.root.meta.version == 2);
    testutil::write_file(f.meta("3.root.json"), f.trusted_root());
    expect_refusal([&] { f.refresh(t0 + day, &st); }, ExitCode::verify_failed,
                   "a new root must be signed by the keys of root v2");
  }
  SUBCASE("invalid: skipping a version (v3 served as 2.root.json)") {
    next.version = 3;
    next.expires_at = t0 + 365 * day;
    testutil::write_file(f.meta("2.root.json"),
                         trust::sign_envelope(trust::to_json(next), {old_signer.get(), new_signer.get()}));
    expect_refusal([&] { f.refresh(); }, ExitCode::verify_failed, "holds root version 3 where 2 was expected");
  }
}

TEST_CASE("trust::refresh recovers from a fast-forward attack after the timestamp key is rotated") {
  Fixture f;
  f.add_release("1.0.0");
  auto st = f.refresh();
  // An attacker with the old timestamp key made the client trust timestamp version 1000.
  auto old_ts = trust::load_pem_signer(f.timestamp_key);
  const std::string genuine = util::read_file(f.meta("timestamp.json"), 1 << 20);
  std::string inflated = resign(f.meta("timestamp.json"), {old_ts.get()}, [](json::Value& s) { s["version"] = 1000; });
  testutil::write_file(f.meta("timestamp.json"), inflated);
  st = f.refresh(t0 + day, &st);
  CHECK(st.timestamp->meta.version == 1000);
  testutil::write_file(f.meta("timestamp.json"), genuine); // the attacker's mirror is gone again
  // The publisher rotates the timestamp key; the client must accept the lower version signed by the new key.
  const std::string new_ts = f.tmp / "ts-new.pem";
  trust::generate_key(new_ts);
  f.ring.add(trust::load_pem_signer(new_ts));
  bundle_tool::Repository repo(f.repo_dir);
  trust::Root next = repo.root();
  auto pub = Fixture::pub(new_ts);
  next.keys[pub.keyid()] = pub;
  next.roles[Role::timestamp] = {{pub.keyid()}, 1};
  repo.rotate_root(next, f.ring, t0);
  st = f.refresh(t0 + day, &st);
  CHECK(st.root.meta.version == 2);
  CHECK(st.timestamp->meta.version < 1000);
}

TEST_CASE("trust::parse_targets refuses delegations and parsers refuse wrong types and unknown _type") {
  Fixture f;
  auto targets = trust::parse_envelope(util::read_file(f.meta("1.targets.json"), 1 << 20), "t", 1 << 20);
  json::Value with_deleg = targets.signed_part;
  with_deleg["delegations"] = json::Object{{"keys", json::Object{}}, {"roles", json::Array{}}};
  expect_refusal(
      [&] {
        trust::parse_targets({with_deleg, {}}, "1.targets.json");
      },
      ExitCode::bad_input, "uses delegated targets roles");
  json::Value wrong = targets.signed_part;
  wrong["version"] = "2";
  expect_refusal(
      [&] {
        trust::parse_targets({wrong, {}}, "1.targets.json");
      },
      ExitCode::bad_input, "field 'signed.version' must be an integer");
  json::Value unknown = targets.signed_part;
  unknown["_type"] = "mirrors";
  expect_refusal(
      [&] {
        trust::parse_targets({unknown, {}}, "1.targets.json");
      },
      ExitCode::bad_input, "_type is 'mirrors' where 'targets' metadata was expected");
  expect_refusal([&] { trust::parse_envelope(R"({"signed":{},"signed":{}})", "dup.json", 1000); }, ExitCode::bad_input,
                 "dup.json");
}

TEST_CASE("trust metadata parsers never crash on mutated input") {
  Fixture f;
  f.add_release("1.0.0");
  const std::string root = util::read_file(f.meta("1.root.json"), 1 << 20);
  std::uint32_t seed = 12345;
  auto rnd = [&] { return seed = seed * 1103515245u + 12345u; };
  int refused = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string m = root;
    for (int k = 0; k < 1 + static_cast<int>(rnd() % 4); ++k) {
      std::size_t at = rnd() % m.size();
      switch (rnd() % 3) {
      case 0:
        m[at] = static_cast<char>(rnd());
        break;
      case 1:
        m.erase(at, 1 + rnd() % 8);
        break;
      default:
        m.insert(at, 1, "{}[]\",:0a\\"[rnd() % 11]);
        break;
      }
      if (m.empty()) m = "x";
    }
    try {
      trust::TrustedState::from_root(m, "mutated root");
    } catch (const Error&) {
      ++refused;
    }
  }
  CHECK(refused > 2900); // nearly every mutation breaks the JSON or the signature; none crashes
}

TEST_CASE("trust::parse_time reads a date one way only (tests/fuzz/tuf: sscanf and timegm took more)") {
  CHECK(trust::parse_time("2030-01-01T00:00:00Z", "t") == 1893456000);
  CHECK(trust::parse_time("2028-02-29T23:59:59Z", "t") == 1835481599);
  CHECK(trust::format_time(trust::parse_time("2000-02-29T12:00:00Z", "t")) == "2000-02-29T12:00:00Z");
  // Each was accepted: blanks and signs by sscanf("%2d"), impossible days and second 60 normalised by timegm
  // into another date than the one written (2030-02-31 read as 2030-03-03).
  for (const char* bad :
       {"2030-02-31T00:00:00Z", "2029-02-29T00:00:00Z", "1900-02-29T00:00:00Z", "2030-04-31T00:00:00Z",
        "2030- 1-01T00:00:00Z", "2030-+1-01T00:00:00Z", "2030-01-01T00:00:60Z", " 2030-1-01T00:00:00Z",
        "2030-01-01T24:00:00Z", "2030-01-01t00:00:00Z", "2030-01-01T00:00:00z", "1969-12-31T23:59:59Z",
        "2030-01-01T00:00:00+", "2030-01-01 00:00:00Z", "2030-1-1T0:0:0Z"}) {
    const Error e = testutil::error_of([&] { trust::parse_time(bad, "timestamp.json"); });
    CHECK_MESSAGE(e.code() == ExitCode::bad_input, bad);
    CHECK(std::string(e.what()).find("is not a date of the form YYYY-MM-DDTHH:MM:SSZ") != std::string::npos);
  }
}
