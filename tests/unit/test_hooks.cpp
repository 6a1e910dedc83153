// Hooks (hooks/hooks.hpp): which executables run, in which order, with what on stdin and in the environment, and
// how failures, timeouts and unsafe files end up in the state database.
#include "hooks/hooks.hpp"
#include "log/log.hpp"
#include "state/db.hpp"
#include "util/json.hpp"

#include "testutil.hpp"
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

namespace fs = std::filesystem;
using namespace airlock;

namespace {

struct Hooks {
  testutil::TempDir tmp; // not in /dev/shm: it may be mounted noexec
  hooks::Settings settings;
  Hooks() {
    settings.dir = tmp / "hooks.d";
    settings.timeout_s = 5;
    log::init({"", log::Level::error, false, true});
  }
  // Writes an executable shell script <dir>/<event>/<name>.
  std::string add(const char* event, const std::string& name, const std::string& body, mode_t mode = 0755) {
    const std::string dir = settings.dir + "/" + event;
    fs::create_directories(dir);
    ::chmod(settings.dir.c_str(), 0755);
    ::chmod(dir.c_str(), 0755);
    const std::string path = dir + "/" + name;
    testutil::write_file(path, "#!/bin/sh\n" + body + "\n");
    ::chmod(path.c_str(), mode);
    return path;
  }
  hooks::Notice notice(hooks::Event e) const {
    hooks::Notice n;
    n.event = e;
    n.site_id = "0123456789abcdef0123456789abcdef";
    n.app = "shop";
    n.upgrade_id = "20260101T000000Z-abcdef";
    n.from = "1.0.0";
    n.to = "1.1.0";
    n.kind = "full";
    n.action = "import";
    return n;
  }
};

bool gone(pid_t pid) { // no such process, or a zombie nobody reaped yet
  if (::kill(pid, 0) != 0) return true;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string s((std::istreambuf_iterator<char>(stat)), {});
  const auto close = s.rfind(')');
  return close == std::string::npos || s.substr(close + 2, 1) == "Z";
}

} // namespace

TEST_CASE("hooks::notice_json carries the fields of its event") {
  Hooks h;
  auto n = h.notice(hooks::Event::pre_upgrade);
  CHECK(hooks::notice_json(n) ==
        R"({"action":"import","app":"shop","event":"pre-upgrade","from":"1.0.0","kind":"full",)"
        R"("site_id":"0123456789abcdef0123456789abcdef","to":"1.1.0","upgrade_id":"20260101T000000Z-abcdef"})");
  n.event = hooks::Event::post_commit;
  n.outcome = "updated";
  n.backup_id = "b1";
  n.downtime_ms = 1200;
  auto v = json::parse(hooks::notice_json(n), "notice");
  CHECK(v["event"].as_string() == "post-commit");
  CHECK(v["outcome"].as_string() == "updated");
  CHECK(v["reason"].as_string() == "");
  CHECK(v["backup_id"].as_string() == "b1");
  CHECK(v["downtime_ms"].as_int() == 1200);
  n.event = hooks::Event::needs_attention;
  v = json::parse(hooks::notice_json(n), "notice");
  CHECK(v.find("backup_id") == nullptr);
  CHECK(v.find("downtime_ms") == nullptr);
  CHECK(v["outcome"].as_string() == "updated");
}

TEST_CASE("hooks::list gives the hooks of an event in name order, without dot files and backups") {
  Hooks h;
  CHECK(hooks::list(h.settings, hooks::Event::pre_upgrade).empty()); // no directory: no hooks
  h.add("pre-upgrade", "20-b", "exit 0");
  h.add("pre-upgrade", "10-a", "exit 0");
  h.add("pre-upgrade", "10-a~", "exit 0");
  h.add("pre-upgrade", ".hidden", "exit 0");
  h.add("post-commit", "x", "exit 0");
  const std::string d = h.settings.dir + "/pre-upgrade/";
  CHECK(hooks::list(h.settings, hooks::Event::pre_upgrade) == std::vector<std::string>{d + "10-a", d + "20-b"});
  CHECK(hooks::list(h.settings, hooks::Event::post_rollback).empty());
}

TEST_CASE("hooks::unsafe_reason refuses world-writable hooks and directories and foreign owners") {
  Hooks h;
  const std::string ok = h.add("pre-upgrade", "ok", "exit 0");
  CHECK(hooks::unsafe_reason(ok, ::geteuid()) == "");
  const std::string ww = h.add("pre-upgrade", "ww", "exit 0", 0757);
  CHECK(hooks::unsafe_reason(ww, ::geteuid()) ==
        "hook " + ww + " is world-writable (mode 0757); make it owned by root and not writable by others (chown root " +
            ww + "; chmod o-w " + ww + ")");
  if (::geteuid() == 0) {
    const std::string foreign = h.add("pre-upgrade", "foreign", "exit 0");
    REQUIRE(::chown(foreign.c_str(), 4242, 4242) == 0);
    CHECK(hooks::unsafe_reason(foreign, 0)
              .find("hook " + foreign +
                    " is owned by 4242, not by root or the agent's "
                    "user") == 0);
    CHECK(hooks::unsafe_reason(foreign, 4242) == ""); // the agent's own uid
  }
  ::chmod((h.settings.dir + "/pre-upgrade").c_str(), 0777);
  CHECK(hooks::unsafe_reason(ok, ::geteuid())
            .find("hook directory " + h.settings.dir +
                  "/pre-upgrade is "
                  "world-writable (mode 0777)") == 0);
  ::chmod((h.settings.dir + "/pre-upgrade").c_str(), 0755);
  ::chmod(h.settings.dir.c_str(), 01777);
  CHECK(hooks::unsafe_reason(ok, ::geteuid()).find("hooks directory " + h.settings.dir + " is world-writable") == 0);
  CHECK(hooks::unsafe_reason(h.settings.dir + "/pre-upgrade", ::geteuid()).find("is not a regular file") !=
        std::string::npos);
}

TEST_CASE("hooks::run passes the notice on stdin, a minimal environment, and records every run") {
  Hooks h;
  ::setenv("AIRLOCK_TEST_SECRET", "leaked", 1);
  const std::string out = h.tmp / "out";
  h.add("post-commit", "10-save", "cat > " + out + ".json; env | sort > " + out + ".env; echo saved");
  h.add("post-commit", "20-fail", "echo first line; echo 'it went wrong' >&2; exit 3");
  h.add("post-commit", "30-after", "touch " + out + ".after");
  h.add("post-commit", "40-noexec", "touch " + out + ".noexec", 0644);
  state::StateDb db(h.tmp.path().string());
  auto n = h.notice(hooks::Event::post_commit);
  n.outcome = "updated";
  auto runs = hooks::run(h.settings, db, n, hooks::OnFailure::go_on);
  ::unsetenv("AIRLOCK_TEST_SECRET");
  REQUIRE(runs.size() == 3); // the non-executable one is skipped
  CHECK(testutil::read_file(out + ".json") == hooks::notice_json(n) + "\n");
  const std::string env = testutil::read_file(out + ".env");
  CHECK(env.find("AIRLOCK_EVENT=post-commit\n") != std::string::npos);
  CHECK(env.find("AIRLOCK_APP=shop\n") != std::string::npos);
  CHECK(env.find("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n") != std::string::npos);
  CHECK(env.find("AIRLOCK_TEST_SECRET") == std::string::npos);
  CHECK(fs::exists(out + ".after")); // go_on: a failure does not stop the series
  CHECK(!fs::exists(out + ".noexec"));

  const auto rows = db.hook_runs(n.upgrade_id);
  REQUIRE(rows.size() == 3);
  CHECK(rows[0].hook == h.settings.dir + "/post-commit/10-save");
  CHECK(rows[0].event == "post-commit");
  CHECK(rows[0].outcome == "ok");
  CHECK(rows[0].exit_code == 0);
  CHECK(rows[0].output == "saved\n");
  CHECK(rows[1].outcome == "failed");
  CHECK(rows[1].exit_code == 3);
  CHECK(rows[1].output == "first line\nit went wrong\n");
  CHECK(hooks::describe_failure(rows[1], 5) ==
        "post-commit hook " + h.settings.dir + "/post-commit/20-fail exited with code 3: it went wrong");
  CHECK(rows[2].outcome == "ok");
}

TEST_CASE("hooks::run stops at the first failure with OnFailure::stop, and refuses an unsafe hook unrun") {
  Hooks h;
  const std::string out = h.tmp / "ran";
  h.add("pre-upgrade", "10-unsafe", "touch " + out, 0777);
  h.add("pre-upgrade", "20-next", "touch " + out + ".next");
  state::StateDb db(h.tmp.path().string());
  auto runs = hooks::run(h.settings, db, h.notice(hooks::Event::pre_upgrade), hooks::OnFailure::stop);
  REQUIRE(runs.size() == 1);
  CHECK(runs[0].outcome == "refused");
  CHECK(runs[0].exit_code == -1);
  CHECK(runs[0].output.find("is world-writable (mode 0777)") != std::string::npos);
  CHECK(!fs::exists(out));
  CHECK(!fs::exists(out + ".next"));
  CHECK(db.hook_runs(h.notice(hooks::Event::pre_upgrade).upgrade_id).size() == 1);
}

TEST_CASE("hooks::run kills a hook and what it started in the background when the timeout expires") {
  Hooks h;
  h.settings.timeout_s = 1;
  const std::string pids = h.tmp / "pids";
  // The background sleep holds no pipe of ours: only the process-group kill ends it.
  h.add("pre-upgrade", "slow", "sleep 300 >/dev/null 2>&1 & echo $! > " + pids + "; echo started; sleep 300");
  state::StateDb db(h.tmp.path().string());
  auto runs = hooks::run(h.settings, db, h.notice(hooks::Event::pre_upgrade), hooks::OnFailure::stop);
  REQUIRE(runs.size() == 1);
  CHECK(runs[0].outcome == "timed-out");
  CHECK(runs[0].exit_code == -1);
  CHECK(runs[0].output == "started\n");
  CHECK(hooks::describe_failure(runs[0], 1) ==
        "pre-upgrade hook " + h.settings.dir +
            "/pre-upgrade/slow did not finish within 1 s ([hooks] timeout) and was killed with its process group");
  const pid_t background = std::stoi(testutil::read_file(pids));
  for (int i = 0; i < 100 && !gone(background); ++i) ::usleep(10000); // SIGKILL is delivered asynchronously
  CHECK(gone(background));
}
