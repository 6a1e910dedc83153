// The pipeline as a state machine, against a fake engine and a fake clock (in the style of Mender's
// state_test.cpp): for each step, a crash there (a forked child that the step hook ends with _exit) followed by
// recover() gives the expected chain of journal rows and end state. The same crashes on the static binary and
// the real dockerd are tests/integration/kill_at_every_pipeline_step_recovers_to_old_or_new.sh.
#include "archive/tar.hpp"
#include "bundle/container.hpp"
#include "log/log.hpp"
#include "pipeline/site_report.hpp"
#include "pipeline/steps.hpp"
#include "pipeline/upgrade.hpp"
#include "publish/builder.hpp"
#include "release/manifest.hpp"
#include "repo/repository.hpp"
#include "report/report.hpp"
#include "site/identity.hpp"
#include "site/stage.hpp"
#include "state/db.hpp"
#include "trust/keys.hpp"
#include "util/clock.hpp"
#include "util/error.hpp"
#include "util/hash.hpp"
#include "util/io.hpp"
#include "util/json.hpp"

#include "fake_engine.hpp"
#include "image_archive.hpp"
#include "testutil.hpp"
#include <doctest/doctest.h>

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <sys/wait.h>
#include <unistd.h>

namespace fs = std::filesystem;
using namespace airlock;
using pipeline::Outcome;
using pipeline::Path;
using pipeline::When;

namespace {

constexpr const char* A = "1.0.0";
constexpr const char* B = "1.1.0";
constexpr const char* C = "1.2.0"; // its service exits at once: it fails the health gate

// A signed repository with releases A, B and C of app "shop", one image each; built once.
struct Repo {
  testutil::TempDir tmp;
  std::string dir = tmp / "repo";
  Repo() {
    const std::int64_t now = std::time(nullptr);
    std::vector<std::string> keys;
    for (const char* k : {"root", "targets", "snapshot", "timestamp"}) keys.push_back(tmp / (std::string(k) + ".pem"));
    for (const auto& k : keys) trust::generate_key(k);
    bundle_tool::KeyRing ring;
    ring.load(keys);
    auto pub = [](const std::string& pem) { return trust::public_key_from_pem(util::read_file(pem, 65536), pem); };
    bundle_tool::InitOptions o;
    o.app = "shop";
    o.root_keys = {pub(keys[0])};
    o.targets_key = pub(keys[1]);
    o.snapshot_key = pub(keys[2]);
    o.timestamp_key = pub(keys[3]);
    bundle_tool::Repository::init(dir, o, ring, now);
    for (const char* v : {A, B, C}) {
      const std::string src = tmp / (std::string("src-") + v);
      fs::create_directories(src);
      testutil::write_file(src + "/docker-compose.yml",
                           std::string("services:\n  web:\n    image: shop/web:") + v + "\n    network_mode: host\n");
      testutil::write_file(src + "/app.txt", std::string("app ") + v + "\n");
      testutil::write_file(src + "/airlock-release.json", std::string(R"({"version": ")") + v + R"("})");
      const std::string image = tmp / (std::string("image-") + v + ".tar");
      testutil::write_image_archive(image, std::string("shop/web:") + v, v);
      bundle_tool::Repository repo(dir);
      bundle_tool::add_release(repo, {src, about_arch(), {image}, {}, {}}, ring, now);
    }
  }
  static std::string about_arch();
};

const Repo& repo() {
  static Repo r;
  return r;
}

// A copy of repo() with the patch A -> B, and its patch-only bundle.
struct PatchRepo {
  testutil::TempDir tmp;
  std::string dir = tmp / "repo", bundle = tmp / "patch.airlock";
  PatchRepo() {
    fs::copy(repo().dir, dir, fs::copy_options::recursive);
    std::vector<std::string> keys;
    for (const char* k : {"targets", "snapshot", "timestamp"}) keys.push_back(repo().tmp / (std::string(k) + ".pem"));
    bundle_tool::KeyRing ring;
    ring.load(keys);
    bundle_tool::Repository r(dir);
    bundle_tool::add_patch(r, A, B, Repo::about_arch(), ring, std::time(nullptr));
    bundle_tool::ExportOptions o;
    o.version = B;
    o.arch = Repo::about_arch();
    o.from = A;
    o.patch_only = true;
    o.out = bundle;
    bundle_tool::export_bundle(r, o);
  }
};

const PatchRepo& patch_repo() {
  static PatchRepo r;
  return r;
}

class FakeClock final : public util::Clock {
public:
  std::int64_t unix_seconds() const override { return static_cast<std::int64_t>(std::time(nullptr)); }
  steady_time steady() const override { return now_; }
  void sleep_until(steady_time t) override { now_ = std::max(now_, t); }

private:
  steady_time now_ = steady_time{} + std::chrono::hours(1);
};

std::string digest_of(const std::string& dir) {
  std::map<std::string, std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    files[fs::relative(e.path(), dir).string()] =
        e.is_regular_file() ? util::sha256_hex(testutil::read_file(e.path().string())) : "dir";
  std::string all;
  for (const auto& [k, v] : files) all += k + "=" + v + "\n";
  return all;
}

// One site of app "shop" on the fake engine, with operator data in data/.
struct Site {
  testutil::TempDir tmp{testutil::memory_dir()};
  config::Config cfg;
  testutil::FakeEngine engine{tmp / "engine.json"};
  FakeClock clock;

  Site() {
    cfg.app_name = "shop";
    cfg.install_root = tmp / "opt";
    cfg.state_dir = tmp / "state";
    cfg.health_timeout_s = 30;
    cfg.health_stable_s = 2;
    cfg.health_interval_s = 1;
    cfg.backup_level = 1;
    cfg.hooks_dir = tmp / "hooks.d"; // none unless a test writes some
    engine.crashing = {C};
    const auto l = site::Layout::of(cfg);
    for (const auto& d :
         {l.releases_dir(), l.data_dir(), l.site_dir(), l.trust_dir(), l.downloads_dir(), l.backups_dir()})
      fs::create_directories(d);
    fs::copy_file(repo().dir + "/metadata/1.root.json", l.trusted_root());
    testutil::write_file(l.data_dir() + "/orders.db", "precious rows\n");
    log::init({"", log::Level::error, false, true});
  }
  site::Layout layout() const { return site::Layout::of(cfg); }
  // The image ID of `version`'s release.json.
  std::string image_of(const std::string& version) {
    return release::parse_manifest(util::read_file(layout().manifest_path(version), 1u << 20), version).images.at(0).id;
  }
  pipeline::Seams seams(pipeline::StepHook hook = {}) { return {&engine, &clock, {}, std::move(hook)}; }

  pipeline::Report import(const char* version, bool stage_only = false, pipeline::StepHook hook = {}) {
    pipeline::Context ctx(cfg, seams(std::move(hook)));
    state::StateDb db(cfg.state_dir);
    auto source = bundle::open_container(repo().dir);
    pipeline::Options o;
    o.version = version;
    o.stage_only = stage_only;
    return pipeline::import(ctx, db, *source, o);
  }
  std::optional<pipeline::Report> recover() {
    pipeline::Context ctx(cfg, seams());
    state::StateDb db(cfg.state_dir);
    return pipeline::recover(ctx, db);
  }
  std::string current() { return site::current_version(layout().app_dir()).value_or(""); }
  // "step:status ..." of the newest upgrade.
  std::string chain() {
    state::StateDb db(cfg.state_dir);
    std::string out;
    for (const auto& r : db.journal_for(db.latest_upgrade()->upgrade_id))
      out += (out.empty() ? "" : " ") + r.step + ":" + state::name(r.status);
    return out;
  }
  bool unfinished() {
    state::StateDb db(cfg.state_dir);
    std::vector<std::string> terminal;
    for (const auto& s : pipeline::steps)
      if (s.terminal) terminal.emplace_back(s.name);
    return db.unfinished_upgrade(terminal).has_value();
  }
};

std::string Repo::about_arch() {
#if defined(__aarch64__)
  return "aarch64";
#else
  return "x86_64";
#endif
}

// The site a path starts from, and the operation that a crash interrupts.
struct Scenario {
  std::string old_version, new_version;
  std::function<void(Site&, pipeline::StepHook)> run;
};

Scenario prepare(Site& s, Path path) {
  REQUIRE(s.import(A).outcome == Outcome::updated);
  switch (path) {
  case Path::upgrade:
    return {A, B, [](Site& x, pipeline::StepHook h) { x.import(B, false, std::move(h)); }};
  case Path::rollback:
    return {A, C, [](Site& x, pipeline::StepHook h) { x.import(C, false, std::move(h)); }};
  case Path::stage_only:
    return {A, B, [](Site& x, pipeline::StepHook h) { x.import(B, true, std::move(h)); }};
  case Path::apply:
    REQUIRE(s.import(B, true).outcome == Outcome::staged);
    return {A, B, [](Site& x, pipeline::StepHook h) {
              pipeline::Context ctx(x.cfg, x.seams(std::move(h)));
              state::StateDb db(x.cfg.state_dir);
              pipeline::apply(ctx, db);
            }};
  case Path::manual_restore:
    REQUIRE(s.import(B).outcome == Outcome::updated);
    return {B, A, [](Site& x, pipeline::StepHook h) {
              pipeline::Context ctx(x.cfg, x.seams(std::move(h)));
              state::StateDb db(x.cfg.state_dir);
              pipeline::rollback(ctx, db, true);
            }};
  }
  FAIL("unknown path");
  return {};
}

// Runs `sc.run` in a forked child that exits with 137 when the hook reaches (step, when); returns its status.
int crash_at(Site& s, const Scenario& sc, std::string_view step, When when) {
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    try {
      sc.run(s, [&](const pipeline::StepInfo& si, When w) {
        if (si.name == step && w == when) ::_exit(137);
      });
    } catch (...) {
      ::_exit(1);
    }
    ::_exit(0);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

const char* const F = "begin:done fetch:done stage:done load:done";
const char* const RB = "rb-stop:done rb-switch:done rb-start:done rb-health:done rollback:done";
const char* const RBD = "rb-stop:done rb-switch:done rb-restore:done rb-start:done rb-health:done rollback:done";
const char* const H = "pre-copy:done stop:done snapshot:done switch:done start:done health:failed";

struct Case {
  const char* point; // step killed at the end of its work
  Path path;
  std::string chain; // the journal of the upgrade after the crash and recover()
  Outcome outcome;   // what recover() reports
  bool on_new;       // the site ends on the new release
};

std::string cat(std::initializer_list<std::string> parts) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : " ") + p;
  return out;
}

} // namespace

TEST_CASE("pipeline: a healthy upgrade journals every step once and commits") {
  Site s;
  REQUIRE(s.import(A).outcome == Outcome::updated);
  const std::string data_before = digest_of(s.layout().data_dir());
  auto r = s.import(B);
  CHECK(r.outcome == Outcome::updated);
  CHECK(r.from == A);
  CHECK(r.to == B);
  CHECK(s.chain() ==
        cat({F, "pre-copy:done stop:done snapshot:done switch:done start:done health:done commit:done archive:done"}));
  CHECK(s.current() == B);
  CHECK(s.engine.running_release("shop") == B);
  CHECK(fs::exists(s.layout().data_dir() + "/written-by-1.1.0"));
  CHECK(data_before.find("orders.db") != std::string::npos);
  CHECK(!s.recover());
}

TEST_CASE("pipeline: a release that fails its health gate is rolled back with data/ as before") {
  Site s;
  REQUIRE(s.import(A).outcome == Outcome::updated);
  const std::string data_before = digest_of(s.layout().data_dir());
  auto r = s.import(C);
  CHECK(r.outcome == Outcome::rolled_back);
  CHECK(r.reason.find("service web exited with code 3") != std::string::npos);
  CHECK(s.chain() == cat({F, H, RBD}));
  CHECK(s.current() == A);
  CHECK(s.engine.running_release("shop") == A);
  CHECK(digest_of(s.layout().data_dir()) == data_before);
}

TEST_CASE("pipeline: a crash at each step, then recover(), gives the expected journal and end state") {
  const std::string SD = "pre-copy:done stop:done snapshot:done switch:done";
  const std::vector<Case> cases = {
      {"begin", Path::upgrade, "begin:started rollback:done", Outcome::abandoned, false},
      {"fetch", Path::upgrade, "begin:done fetch:started rollback:done", Outcome::abandoned, false},
      {"stage", Path::upgrade, "begin:done fetch:done stage:started rollback:done", Outcome::abandoned, false},
      {"load", Path::upgrade, "begin:done fetch:done stage:done load:started rollback:done", Outcome::abandoned, false},
      {"staged", Path::stage_only, cat({F, "staged:started rollback:done"}), Outcome::abandoned, false},
      {"verify-staged", Path::apply, cat({F, "staged:done verify-staged:started rollback:done"}), Outcome::abandoned,
       false},
      {"pre-copy", Path::upgrade, cat({F, "pre-copy:started rollback:done"}), Outcome::abandoned, false},
      {"stop", Path::upgrade, cat({F, "pre-copy:done stop:started", RB}), Outcome::rolled_back, false},
      {"snapshot", Path::upgrade, cat({F, "pre-copy:done stop:done snapshot:started", RB}), Outcome::rolled_back,
       false},
      {"switch", Path::upgrade, cat({F, "pre-copy:done stop:done snapshot:done switch:started", RB}),
       Outcome::rolled_back, false},
      {"restore", Path::manual_restore, cat({"begin:done", SD, "restore:started", RBD}), Outcome::rolled_back, false},
      {"start", Path::upgrade, cat({F, SD, "start:started", RBD}), Outcome::rolled_back, false},
      {"health", Path::upgrade, cat({F, SD, "start:done health:started", RBD}), Outcome::rolled_back, false},
      {"commit", Path::upgrade, cat({F, SD, "start:done health:done commit:started commit:done archive:done"}),
       Outcome::updated, true},
      {"archive", Path::upgrade,
       cat({F, SD, "start:done health:done commit:done archive:started commit:done archive:done"}), Outcome::updated,
       true},
      {"rb-stop", Path::rollback, cat({F, H, "rb-stop:started", RBD}), Outcome::rolled_back, false},
      {"rb-switch", Path::rollback, cat({F, H, "rb-stop:done rb-switch:started", RBD}), Outcome::rolled_back, false},
      {"rb-restore", Path::rollback, cat({F, H, "rb-stop:done rb-switch:done rb-restore:started", RBD}),
       Outcome::rolled_back, false},
      {"rb-start", Path::rollback, cat({F, H, "rb-stop:done rb-switch:done rb-restore:done rb-start:started", RBD}),
       Outcome::rolled_back, false},
      {"rb-health", Path::rollback,
       cat({F, H, "rb-stop:done rb-switch:done rb-restore:done rb-start:done rb-health:started", RBD}),
       Outcome::rolled_back, false},
      {"rollback", Path::rollback,
       cat({F, H, "rb-stop:done rb-switch:done rb-restore:done rb-start:done rb-health:done rollback:started", RBD}),
       Outcome::rolled_back, false},
  };
  // Every step of the table has its case here: a new step needs its expected chain.
  for (const auto& st : pipeline::steps) {
    const bool listed = std::any_of(cases.begin(), cases.end(), [&](const Case& c) { return c.point == st.name; });
    CHECK_MESSAGE(listed, "no case for step " << st.name);
  }
  for (const auto& c : cases) {
    CAPTURE(c.point);
    Site s;
    const auto sc = prepare(s, c.path);
    const std::string data_before = digest_of(s.layout().data_dir());
    REQUIRE(crash_at(s, sc, c.point, When::end) == 137);
    CHECK(s.unfinished());
    auto r = s.recover();
    REQUIRE(r);
    CHECK(r->outcome == c.outcome);
    CHECK(s.chain() == c.chain);
    const std::string want = c.on_new ? sc.new_version : sc.old_version;
    CHECK(s.current() == want);
    CHECK(s.engine.running_release("shop") == want);
    if (!c.on_new) CHECK(digest_of(s.layout().data_dir()) == data_before);
    CHECK(!s.unfinished());
    CHECK(!s.recover());
  }
}

TEST_CASE("pipeline: every step of the table, crashed at its begin and at its end, recovers to old or new") {
  int n = 0;
  for (const auto& st : pipeline::steps)
    for (When when : {When::begin, When::end}) {
      CAPTURE(st.name);
      CAPTURE(when == When::begin ? "begin" : "end");
      Site s;
      const auto sc = prepare(s, st.path);
      const std::string data_before = digest_of(s.layout().data_dir());
      REQUIRE_MESSAGE(crash_at(s, sc, st.name, when) == 137,
                      "the step is not reached by its path " << pipeline::path_name(st.path));
      REQUIRE(s.recover());
      const bool forward = st.on_crash == pipeline::OnCrash::roll_forward;
      const std::string want = forward ? sc.new_version : sc.old_version;
      CHECK(s.current() == want);
      CHECK(s.engine.running_release("shop") == want);
      if (!forward) CHECK(digest_of(s.layout().data_dir()) == data_before);
      CHECK(!s.unfinished());
      ++n;
    }
  CHECK(n == static_cast<int>(2 * pipeline::steps.size()));
}

TEST_CASE("pipeline: a named volume is protected: a crash at every step, then recover(), leaves it byte-identical") {
  for (const auto& st : pipeline::steps) {
    if (st.on_crash == pipeline::OnCrash::roll_forward) continue; // ends on the new release, with its writes
    CAPTURE(st.name);
    Site s;
    const std::string vol = s.tmp / "engine-volumes/shop_pgdata/_data";
    fs::create_directories(vol);
    testutil::write_file(vol + "/PG_VERSION", "15\n");
    s.engine.project_volumes = {{"shop_pgdata", "pgdata", "local", vol}};
    const auto sc = prepare(s, st.path);
    const std::string before = digest_of(vol);
    REQUIRE(crash_at(s, sc, st.name, When::end) == 137);
    REQUIRE(s.recover());
    CHECK(s.current() == sc.old_version);
    CHECK(digest_of(vol) == before);
    for (const auto& e : fs::directory_iterator(fs::path(vol).parent_path()))
      CHECK(e.path().filename().string().rfind(".airlock-", 0) != 0);
  }
}

TEST_CASE("pipeline: a volume of another driver is refused before the stop unless [backup] exclude_volumes names it") {
  Site s;
  REQUIRE(s.import(A).outcome == Outcome::updated);
  s.engine.project_volumes = {{"shop_shared", "shared", "nfs", ""}};
  auto e = testutil::error_of([&] { s.import(B); });
  CHECK(e.code() == ExitCode::not_applicable);
  CHECK(std::string(e.what()).find("volume shop_shared of project shop uses the 'nfs' driver") != std::string::npos);
  CHECK(std::string(e.what()).find("[backup] exclude_volumes") != std::string::npos);
  CHECK(s.current() == A);
  CHECK(s.engine.running_release("shop") == A);
  s.cfg.exclude_volumes = {"shared"};
  CHECK(s.import(B).outcome == Outcome::updated);
  // A volume removed by hand (its mountpoint gone) is no longer in the data set: not an error.
  s.cfg.exclude_volumes.clear();
  s.engine.project_volumes = {{"shop_gone", "gone", "local", s.tmp / "no-such-volume/_data"}};
  const auto r = s.import(C);
  CHECK_MESSAGE(r.outcome == Outcome::rolled_back, r.reason);
  CHECK(s.current() == B);
}

TEST_CASE("pipeline: an upgrade fetches and loads only the layers the engine lacks, as a thin or a complete archive") {
  for (const bool complete : {false, true}) {
    CAPTURE(complete);
    Site s;
    s.engine.complete_only = complete;
    REQUIRE(s.import(A).outcome == Outcome::updated);
    REQUIRE(s.import(B).outcome == Outcome::updated);
    const auto calls = s.engine.calls();
    auto has = [&](const std::string& prefix) {
      return std::any_of(calls.begin(), calls.end(), [&](const std::string& c) { return c.rfind(prefix, 0) == 0; });
    };
    // A: both layers from the release. B shares A's base: a thin archive leaves it out, a complete one holds it,
    // exported from A's image.
    CHECK(has("load " + s.image_of(A) + " 2/2 layers"));
    CHECK(has("load " + s.image_of(B) + (complete ? " 2/2 layers" : " 1/2 layers")));
    CHECK(has("save " + s.image_of(A)) == complete);
    state::StateDb db(s.cfg.state_dir);
    for (const auto& r : db.journal_for(db.latest_upgrade()->upgrade_id)) {
      if (r.step == "fetch") CHECK(r.detail.find("3 target(s) verified") != std::string::npos); // payload, config, 1
      if (r.step == "load")
        CHECK(r.detail.find(complete ? "1 loaded (1 layer(s) from the release, 1 from the engine, complete archives)"
                                     : "1 loaded (1 layer(s) from the release, 1 from the engine, thin archives)") !=
              std::string::npos);
    }
    CHECK(fs::is_empty(s.layout().downloads_dir())); // the exported image is removed after the load
  }
}

TEST_CASE("pipeline: a patch bundle whose base layers the engine lacks is refused before anything changes") {
  Site s;
  REQUIRE(s.import(A).outcome == Outcome::updated);
  const std::string before = s.chain();
  s.engine.prune_image(s.image_of(A)); // as `docker rmi -f` and `docker image prune` would
  const std::size_t calls_before = s.engine.calls().size();
  pipeline::Context ctx(s.cfg, s.seams());
  state::StateDb db(s.cfg.state_dir);
  auto source = bundle::open_container(patch_repo().bundle);
  pipeline::Options o;
  auto e = testutil::error_of([&] { pipeline::import(ctx, db, *source, o); });
  CHECK(e.code() == ExitCode::not_applicable);
  const std::string what = e.what();
  CHECK(what.find("the config of image") == std::string::npos); // the config is in the patch bundle
  CHECK(what.find("layer 1 (sha256:") != std::string::npos);
  CHECK(what.find("is neither in the docker engine nor in") != std::string::npos);
  CHECK(what.find("import the full bundle of 1.1.0") != std::string::npos);
  CHECK(s.chain() == before); // no upgrade began
  CHECK(s.current() == A);
  CHECK(s.engine.running_release("shop") == A);
  const auto calls = s.engine.calls();
  CHECK(std::none_of(calls.begin() + static_cast<std::ptrdiff_t>(calls_before), calls.end(),
                     [](const std::string& c) { return c.rfind("stop", 0) == 0 || c.rfind("load", 0) == 0; }));
  CHECK(fs::is_empty(s.layout().downloads_dir()));
}

TEST_CASE("pipeline: a release the host policy refuses, or with a health gate the site cannot read, fails before "
          "the stop") {
  Site s;
  REQUIRE(s.import(A).outcome == Outcome::updated);
  s.cfg.policy_host_network = false; // the releases run with network_mode: host
  auto e = testutil::error_of([&] { s.import(B); });
  CHECK(e.code() == ExitCode::not_applicable);
  CHECK(std::string(e.what()).find("service 'web': network_mode: host") != std::string::npos);
  CHECK(s.chain() == "begin:done fetch:done stage:failed rollback:done");
  CHECK(s.current() == A);
  CHECK(s.engine.running_release("shop") == A);
  const auto calls = s.engine.calls();
  CHECK(std::none_of(calls.begin(), calls.end(),
                     [](const std::string& c) { return c.rfind("stop shop 1.0.0", 0) == 0; }));
}

TEST_CASE("pipeline: a clock set back is not trusted below the last verification, and apply re-checks expiry") {
  Site s;
  REQUIRE(s.import(A).outcome == Outcome::updated);
  REQUIRE(s.import(B, true).outcome == Outcome::staged);
  const std::string verified_at = s.layout().trust_dir() + "/verified-at";
  REQUIRE(fs::exists(verified_at)); // written by each refresh that succeeded
  CHECK(std::stoll(testutil::read_file(verified_at)) >= std::time(nullptr) - 60);
  // As if this site had verified metadata in 2100: what it holds has expired by then, whatever the clock says.
  testutil::write_file(verified_at, "4102444800\n");
  {
    pipeline::Context ctx(s.cfg, s.seams());
    state::StateDb db(s.cfg.state_dir);
    auto e = testutil::error_of([&] { pipeline::apply(ctx, db); });
    CHECK(e.code() == ExitCode::verify_failed);
    CHECK(std::string(e.what()).find("expired") != std::string::npos);
  }
  CHECK(s.current() == A);
  CHECK(s.engine.running_release("shop") == A);
  auto e = testutil::error_of([&] { s.import(C); });
  CHECK(e.code() == ExitCode::verify_failed);
  CHECK(std::string(e.what()).find("this site's last successful verification") != std::string::npos);
  CHECK(s.current() == A);
}

TEST_CASE("pipeline: the step table names each step once and ends upgrades only at staged, archive and rollback") {
  std::vector<std::string> names, terminal;
  for (const auto& s : pipeline::steps) {
    names.emplace_back(s.name);
    if (s.terminal) terminal.emplace_back(s.name);
    CHECK(pipeline::find_step(s.name)->step == s.step);
  }
  auto sorted = names;
  std::sort(sorted.begin(), sorted.end());
  CHECK(std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end());
  CHECK(terminal == std::vector<std::string>{"staged", "archive", "rollback"});
  CHECK(!pipeline::find_step("no-such-step"));
  CHECK(pipeline::info(pipeline::Step::switch_current).name == "switch");
}

TEST_CASE("pipeline: a disk that fills during the pre-copy fails the upgrade before the stop, leaving nothing") {
  if (::geteuid() != 0) {
    MESSAGE("skipped: needs root to mount a tmpfs");
    return;
  }
  Site s;
  REQUIRE(s.import(A).outcome == Outcome::updated);
  // The app directory on a 4 MiB tmpfs holding 3 MiB of data: the pre-copy cannot fit. The disk probe says there
  // is room (a fault injector), so the copy itself meets ENOSPC.
  const std::string app = s.layout().app_dir(), moved = s.tmp / "app-moved";
  fs::rename(app, moved);
  fs::create_directories(app);
  if (::system(("mount -t tmpfs -o size=4m tmpfs " + app).c_str()) != 0) {
    MESSAGE("skipped: cannot mount a tmpfs here");
    return;
  }
  struct Unmount {
    std::string dir;
    ~Unmount() { ::system(("umount -l " + dir).c_str()); }
  } unmount{app};
  REQUIRE(::system(("cp -a " + moved + "/. " + app).c_str()) == 0);
  testutil::write_file(app + "/data/big", std::string(3 << 20, 'd'));
  const std::string data_before = digest_of(s.layout().data_dir());
  pipeline::Seams seams = s.seams();
  seams.free_bytes = [](const std::string&) -> std::uint64_t { return std::uint64_t{1} << 40; };
  pipeline::Context ctx(s.cfg, seams);
  state::StateDb db(s.cfg.state_dir);
  auto source = bundle::open_container(repo().dir);
  pipeline::Options o;
  o.version = B;
  auto e = testutil::error_of([&] { pipeline::import(ctx, db, *source, o); });
  CHECK(e.code() == ExitCode::failure);
  CHECK(std::string(e.what()).find("no space left") != std::string::npos);
  CHECK(s.chain() == cat({F, "pre-copy:failed rollback:done"}));
  CHECK(s.current() == A);
  CHECK(s.engine.running_release("shop") == A);
  CHECK(digest_of(s.layout().data_dir()) == data_before);
  for (const auto& f : fs::directory_iterator(app)) CHECK(f.path().filename().string().rfind(".airlock-", 0) != 0);
  CHECK(!s.unfinished());
}

namespace {

// A copy of repo() plus one more release target of "shop", correctly signed: release A's release.json with its
// "version" set to `manifest_version`, listed with custom "version" `signed_version`. airlock-bundle refuses to
// build such a release (its version check), so the target is staged and signed directly, as a compromised CI could.
struct HostileRepo {
  testutil::TempDir tmp;
  std::string dir = tmp / "repo";
  HostileRepo(const std::string& signed_version, const std::string& manifest_version) {
    fs::copy(repo().dir, dir, fs::copy_options::recursive);
    std::vector<std::string> keys;
    for (const char* k : {"targets", "snapshot", "timestamp"}) keys.push_back(repo().tmp / (std::string(k) + ".pem"));
    bundle_tool::KeyRing ring;
    ring.load(keys);
    bundle_tool::Repository r(dir);
    const std::string base = std::string("shop/") + A + "/" + Repo::about_arch();
    const auto* t = r.find_target(base + "/release.json");
    REQUIRE(t);
    auto doc = json::parse(util::read_file(r.target_file(*t), 1u << 20), "release.json of A");
    doc["version"] = manifest_version;
    const std::string file = tmp / "release.json";
    testutil::write_file(file, json::pretty(doc));
    json::Value custom;
    custom["app"] = "shop";
    custom["version"] = signed_version;
    custom["arch"] = Repo::about_arch();
    custom["kind"] = "full";
    custom["role"] = "release";
    r.stage_target("shop/hostile/" + Repo::about_arch() + "/release.json", file, custom);
    r.publish(ring, std::time(nullptr));
  }
};

// Every path below `dir` with its content's SHA-256 ("dir" for directories), except the state database.
std::map<std::string, std::string> files_below(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    const std::string rel = fs::relative(e.path(), dir).string();
    if (rel.find("state.db") != std::string::npos) continue;
    out[rel] = e.is_regular_file() ? util::sha256_hex(testutil::read_file(e.path().string())) : "dir";
  }
  return out;
}

} // namespace

TEST_CASE("pipeline: a signed release whose version is a path ('../trust/root') is refused before anything is "
          "written, and the site stays usable") {
  struct Case {
    const char* name;
    std::string signed_version, manifest_version;
    std::optional<std::string> wanted; // --version
    std::string message;
  };
  const std::vector<Case> cases = {
      {"the requested version, on a first install", "../trust/root", "../trust/root", "../trust/root",
       "the signed target shop/hostile/" + Repo::about_arch() +
           "/release.json gives version '../trust/root', which is not a version"},
      {"among valid releases", "../trust/root", "../trust/root", std::nullopt,
       "gives version '../trust/root', which is not a version"},
      {"only in release.json", "9.0.0", "../trust/root", "9.0.0",
       "release.json: 'version' is '../trust/root', which is not a version"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    HostileRepo hostile(c.signed_version, c.manifest_version);
    Site s;
    { state::StateDb db(s.cfg.state_dir); }
    const auto l = s.layout();
    const std::string root_before = testutil::read_file(l.trusted_root());
    const auto before = files_below(s.tmp.path().string());
    {
      pipeline::Context ctx(s.cfg, s.seams());
      state::StateDb db(s.cfg.state_dir);
      auto source = bundle::open_container(hostile.dir);
      pipeline::Options o;
      o.version = c.wanted;
      auto e = testutil::error_of([&] { pipeline::import(ctx, db, *source, o); });
      CHECK(e.code() == ExitCode::bad_input);
      CHECK_MESSAGE(std::string(e.what()).find(c.message) != std::string::npos, e.what());
      CHECK_MESSAGE(std::string(e.what()).find("Nothing was changed.") != std::string::npos, e.what());
      CHECK(!db.latest_upgrade()); // no upgrade began: no journal row
    }
    CHECK(testutil::read_file(l.trusted_root()) == root_before);
    // Only the trusted metadata moved forward (timestamp, snapshot, targets); nothing else appeared or changed.
    auto after = files_below(s.tmp.path().string());
    for (const auto& [path, sha] : after) {
      CAPTURE(path);
      if (path.rfind("state/trust/", 0) == 0 && path != "state/trust/root.json") continue;
      CHECK((before.count(path) && before.at(path) == sha));
    }
    CHECK(fs::is_empty(l.releases_dir()));
    CHECK(fs::is_empty(l.downloads_dir()));
    CHECK(!fs::exists(l.manifests_dir()));
    CHECK(s.current().empty());
    // The site is not left with an upgrade to recover, and a valid release of the same source installs.
    CHECK(!s.recover());
    pipeline::Context ctx(s.cfg, s.seams());
    state::StateDb db(s.cfg.state_dir);
    auto source = bundle::open_container(hostile.dir);
    pipeline::Options o;
    o.version = A;
    CHECK(pipeline::import(ctx, db, *source, o).outcome == Outcome::updated);
    CHECK(s.current() == A);
  }
}

namespace {

// Hooks of a Site, in a directory of their own (not in /dev/shm, which may be mounted noexec).
struct SiteHooks {
  testutil::TempDir dir;
  explicit SiteHooks(Site& s) {
    s.cfg.hooks_dir = dir / "hooks.d";
    s.cfg.hooks_timeout_s = 5;
  }
  void add(Site& s, const char* event, const char* name, const std::string& body) {
    const std::string d = s.cfg.hooks_dir + "/" + event;
    fs::create_directories(d);
    testutil::write_file(d + "/" + name, "#!/bin/sh\n" + body + "\n");
    fs::permissions(d + "/" + name, fs::perms(0755));
  }
  std::vector<state::HookRun> runs(Site& s) {
    state::StateDb db(s.cfg.state_dir);
    return db.hook_runs(db.latest_upgrade()->upgrade_id);
  }
};

} // namespace

TEST_CASE("pipeline: a failing pre-upgrade hook stops the upgrade before anything changes, with exit 11") {
  Site s;
  REQUIRE(s.import(A).outcome == Outcome::updated);
  SiteHooks h(s);
  const std::string seen = h.dir / "seen.json";
  h.add(s, "pre-upgrade", "10-record", "cat > " + seen);
  h.add(s, "pre-upgrade", "20-veto", "echo 'the line is producing' >&2; exit 4");
  h.add(s, "pre-upgrade", "30-never", "touch " + (h.dir / "never"));
  const std::string data_before = digest_of(s.layout().data_dir());
  auto e = testutil::error_of([&] { s.import(B); });
  CHECK(e.code() == ExitCode::hook_refused);
  CHECK(static_cast<int>(ExitCode::hook_refused) == 11);
  CHECK(std::string(e.what()).find("pre-upgrade hook " + s.cfg.hooks_dir +
                                   "/pre-upgrade/20-veto exited with code 4: the line is producing; the upgrade 1.0.0 "
                                   "-> 1.1.0 was stopped before anything changed (nothing was stopped)") == 0);
  CHECK(s.chain() == "begin:done rollback:done");
  CHECK(s.current() == A);
  CHECK(s.engine.running_release("shop") == A);
  CHECK(!fs::exists(s.layout().release_dir(B)));
  CHECK(digest_of(s.layout().data_dir()) == data_before);
  CHECK(!fs::exists(h.dir / "never"));
  const auto runs = h.runs(s);
  REQUIRE(runs.size() == 2);
  CHECK(runs[0].outcome == "ok");
  CHECK(runs[1].outcome == "failed");
  CHECK(runs[1].exit_code == 4);
  auto v = json::parse(testutil::read_file(seen), "seen");
  CHECK(v["event"].as_string() == "pre-upgrade");
  CHECK(v["from"].as_string() == A);
  CHECK(v["to"].as_string() == B);
  CHECK(v["upgrade_id"].as_string() == runs[0].upgrade_id);
  CHECK(v["site_id"].as_string().size() == 32);
  state::StateDb db(s.cfg.state_dir);
  CHECK(db.audit(1).at(0).outcome == "failed");
  CHECK(!s.recover()); // the refused upgrade is closed
}

TEST_CASE("pipeline: post-commit and post-rollback hooks get the outcome; their failures change nothing") {
  Site s;
  REQUIRE(s.import(A).outcome == Outcome::updated);
  SiteHooks h(s);
  h.add(s, "post-commit", "10-save", "cat > " + (h.dir / "commit.json") + "; exit 1");
  h.add(s, "post-rollback", "10-save", "cat > " + (h.dir / "rollback.json"));
  auto r = s.import(B);
  CHECK(r.outcome == Outcome::updated); // the failing post-commit hook is only reported
  auto v = json::parse(testutil::read_file(h.dir / "commit.json"), "commit");
  CHECK(v["event"].as_string() == "post-commit");
  CHECK(v["outcome"].as_string() == "updated");
  CHECK(v["from"].as_string() == A);
  CHECK(v["to"].as_string() == B);
  CHECK(v["backup_id"].as_string() == r.backup_id);
  CHECK(v["downtime_ms"].as_int() == r.downtime_ms);
  CHECK(h.runs(s).at(0).outcome == "failed");
  CHECK(!fs::exists(h.dir / "rollback.json"));

  r = s.import(C);
  CHECK(r.outcome == Outcome::rolled_back);
  v = json::parse(testutil::read_file(h.dir / "rollback.json"), "rollback");
  CHECK(v["event"].as_string() == "post-rollback");
  CHECK(v["outcome"].as_string() == "rolled-back");
  CHECK(v["to"].as_string() == C);
  CHECK(v["reason"].as_string() == r.reason);
}

TEST_CASE("pipeline: with --stage-only the pre-upgrade hooks run at apply, and a refusal keeps the upgrade staged") {
  Site s;
  REQUIRE(s.import(A).outcome == Outcome::updated);
  SiteHooks h(s);
  const std::string gate = h.dir / "closed";
  testutil::write_file(gate, "");
  h.add(s, "pre-upgrade", "gate", "test ! -e " + gate);
  REQUIRE(s.import(B, true).outcome == Outcome::staged); // no pre-upgrade hook: nothing stops
  CHECK(h.runs(s).empty());
  auto apply = [&] {
    pipeline::Context ctx(s.cfg, s.seams());
    state::StateDb db(s.cfg.state_dir);
    return pipeline::apply(ctx, db);
  };
  CHECK(testutil::error_of(apply).code() == ExitCode::hook_refused);
  CHECK(s.current() == A);
  CHECK(s.engine.running_release("shop") == A);
  CHECK(s.chain() == cat({F, "staged:done"}));
  fs::remove(gate);
  CHECK(apply().outcome == Outcome::updated);
  CHECK(s.current() == B);
  const auto runs = h.runs(s);
  REQUIRE(runs.size() == 2);
  CHECK(runs[0].outcome == "failed");
  CHECK(runs[1].outcome == "ok");
}

TEST_CASE("pipeline: a site report names the installed version, its images, health and the last runs, signed") {
  Site s;
  REQUIRE(s.import(A).outcome == Outcome::updated);
  REQUIRE(s.import(C).outcome == Outcome::rolled_back);
  const auto l = s.layout();
  const std::string id = site::ensure_site_id(l);
  const auto key = site::ensure_site_key(l);
  CHECK(site::ensure_site_key(l) == key); // made once
  CHECK((fs::status(l.site_key_file()).permissions() & fs::perms::all) == fs::perms(0600));
  pipeline::Context ctx(s.cfg, s.seams());
  state::StateDb db(s.cfg.state_dir);
  const auto r = pipeline::site_report(ctx, db);
  CHECK(r.site_id == id);
  CHECK(r.app == "shop");
  CHECK(r.version == A);
  CHECK(r.image_ids == std::vector<std::string>{s.image_of(A)});
  CHECK(r.health == "healthy");
  REQUIRE(r.containers.size() == 1);
  CHECK(r.containers[0].status == "running");
  REQUIRE(r.runs.size() == 2);
  CHECK(r.runs[0].outcome == "rolled-back");
  CHECK(r.runs[0].to == C);
  CHECK(r.runs[0].downtime_ms > 0);
  CHECK(r.runs[1].outcome == "ok");
  CHECK(r.disk_free_state > 0);
  const std::string out = s.tmp / "stick";
  fs::create_directories(out);
  const std::string path = pipeline::write_site_report(ctx, r, out);
  CHECK(path == out + "/" + report::file_name(r));
  const auto v = report::verify(util::read_file(path, 1u << 20), path, {{id, {"here", key}}});
  CHECK(v.report.version == A);
  CHECK(testutil::error_of([&] { pipeline::write_site_report(ctx, r, s.tmp / "no-such-dir"); }).code() ==
        ExitCode::not_found);
}
