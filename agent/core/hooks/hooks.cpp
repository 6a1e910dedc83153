#include "hooks/hooks.hpp"

#include "log/log.hpp"
#include "util/error.hpp"
#include "util/json.hpp"
#include "util/process.hpp"
#include "util/text.hpp"
#include "util/users.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <sys/stat.h>
#include <unistd.h>

namespace airlock::hooks {
namespace fs = std::filesystem;
namespace {

constexpr std::size_t output_tail = 2000; // bytes of a hook's output kept in its row

std::string owner_name(uid_t uid) {
  const std::string name = util::user_name(uid);
  return name.empty() ? std::to_string(uid) : name + " (" + std::to_string(uid) + ")";
}

// Why the file or directory `path` is not safe to take hooks from, or "".
std::string unsafe_entry(const std::string& path, const char* what, uid_t agent_uid) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return fmt::format("{} {} cannot be read", what, path);
  const std::string fix =
      fmt::format("make it owned by root and not writable by others (chown root {}; chmod o-w {})", path, path);
  if (st.st_uid != 0 && st.st_uid != agent_uid)
    return fmt::format("{} {} is owned by {}, not by root or the agent's user; {}", what, path, owner_name(st.st_uid),
                       fix);
  if (st.st_mode & S_IWOTH)
    return fmt::format("{} {} is world-writable (mode {:04o}); {}", what, path, st.st_mode & 07777, fix);
  return "";
}

bool ignored(const std::string& name) { return name.empty() || name[0] == '.' || name.back() == '~'; }

std::string tail(const std::string& s) { return s.size() > output_tail ? s.substr(s.size() - output_tail) : s; }

// The last non-empty line of a hook's output, for a message.
std::string last_line(const std::string& out) {
  auto end = out.find_last_not_of("\n\r ");
  if (end == std::string::npos) return "";
  auto start = out.rfind('\n', end);
  return out.substr(start == std::string::npos ? 0 : start + 1, end + 1 - (start == std::string::npos ? 0 : start + 1));
}

state::HookRun run_one(const Settings& s, const Notice& n, const std::string& path) {
  state::HookRun r;
  r.at = state::utc_now();
  r.upgrade_id = n.upgrade_id;
  r.event = std::string(event_name(n.event));
  r.hook = path;
  if (auto why = unsafe_reason(path, ::geteuid()); !why.empty()) {
    r.outcome = "refused";
    r.output = why;
    return r;
  }
  util::ProcessOptions o;
  o.timeout_seconds = s.timeout_s;
  o.group = util::ProcessGroup::own;
  o.env_allow = {"HOME", "TZ", "LANG", "LC_*"};
  o.extra_env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "AIRLOCK_EVENT=" + r.event,
                 "AIRLOCK_APP=" + n.app};
  const std::string input = notice_json(n) + "\n";
  // A hook need not read its stdin: a write that fails because it went away is not an error.
  o.stdin_writer = [&input](util::Sink& sink) {
    try {
      sink.write(input.data(), input.size());
    } catch (const Error&) {
    }
  };
  const auto t0 = std::chrono::steady_clock::now();
  try {
    const auto res = util::run_process({path}, o);
    r.exit_code = res.timed_out ? -1 : res.exit_code;
    r.outcome = res.timed_out ? "timed-out" : res.exit_code == 0 ? "ok" : "failed";
    r.output = tail(res.output);
  } catch (const Error& e) { // it could not be started at all (exec format error, ...)
    r.outcome = "failed";
    r.output = e.what();
  }
  r.duration_ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

} // namespace

std::string_view event_name(Event e) {
  switch (e) {
  case Event::pre_upgrade:
    return "pre-upgrade";
  case Event::post_commit:
    return "post-commit";
  case Event::post_rollback:
    return "post-rollback";
  case Event::needs_attention:
    return "needs-attention";
  }
  return "unknown";
}

std::string notice_json(const Notice& n) {
  json::Value v;
  v["event"] = event_name(n.event);
  v["site_id"] = n.site_id;
  v["app"] = n.app;
  v["upgrade_id"] = n.upgrade_id;
  v["from"] = n.from;
  v["to"] = n.to;
  v["kind"] = n.kind;
  v["action"] = n.action;
  if (n.event != Event::pre_upgrade) {
    v["outcome"] = n.outcome;
    v["reason"] = n.reason;
  }
  if (n.event == Event::post_commit || n.event == Event::post_rollback) v["downtime_ms"] = n.downtime_ms;
  if (n.event == Event::post_commit) v["backup_id"] = n.backup_id;
  return json::canonical(v);
}

std::vector<std::string> list(const Settings& s, Event e) {
  const std::string dir = s.dir + "/" + std::string(event_name(e));
  std::vector<std::string> names;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return {};
  for (const auto& entry : fs::directory_iterator(dir, ec))
    if (!ignored(entry.path().filename().string())) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  for (auto& name : names) name = dir + "/" + name;
  return names;
}

std::string unsafe_reason(const std::string& path, uid_t agent_uid) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode))
    return fmt::format("hook {} is not a regular file (or a link to one)", path);
  if (auto why = unsafe_entry(path, "hook", agent_uid); !why.empty()) return why;
  const fs::path event_dir = fs::path(path).parent_path();
  if (auto why = unsafe_entry(event_dir.string(), "hook directory", agent_uid); !why.empty()) return why;
  return unsafe_entry(event_dir.parent_path().string(), "hooks directory", agent_uid);
}

std::vector<state::HookRun> run(const Settings& s, state::StateDb& db, const Notice& n, OnFailure on_failure) {
  std::vector<state::HookRun> runs;
  const std::string event(event_name(n.event));
  for (const auto& path : list(s, n.event)) {
    if (::access(path.c_str(), X_OK) != 0 && unsafe_reason(path, ::geteuid()).empty()) {
      log::event(log::Level::warning, "hooks", "hook-skipped",
                 fmt::format("{} hook {} is not executable; skipped (chmod +x it to run it)", event, path),
                 {{"hook", json::Value(path)}, {"event", json::Value(event)}});
      continue;
    }
    auto r = run_one(s, n, path);
    r.id = db.hook_run_add(r);
    if (r.outcome == "ok")
      log::event(log::Level::info, "hooks", "hook-ok",
                 fmt::format("{} hook {}: ok in {} ms", event, path, r.duration_ms),
                 {{"hook", json::Value(path)},
                  {"event", json::Value(event)},
                  {"exit_code", json::Value(r.exit_code)},
                  {"ms", json::Value(r.duration_ms)}});
    else
      log::event(log::Level::warning, "hooks", "hook-failed", describe_failure(r, s.timeout_s),
                 {{"hook", json::Value(path)},
                  {"event", json::Value(event)},
                  {"outcome", json::Value(r.outcome)},
                  {"exit_code", json::Value(r.exit_code)},
                  {"ms", json::Value(r.duration_ms)}});
    runs.push_back(r);
    if (r.outcome != "ok" && on_failure == OnFailure::stop) break;
  }
  return runs;
}

std::string describe_failure(const state::HookRun& r, int timeout_s) {
  if (r.outcome == "refused") return fmt::format("{} hook {} was refused: {}", r.event, r.hook, r.output);
  if (r.outcome == "timed-out")
    return fmt::format("{} hook {} did not finish within {} s ([hooks] timeout) and was killed with its process group",
                       r.event, r.hook, timeout_s);
  const std::string line = last_line(r.output);
  return fmt::format("{} hook {} {}{}", r.event, r.hook,
                     r.exit_code >= 0 ? fmt::format("exited with code {}", r.exit_code) : std::string("failed"),
                     line.empty() ? "" : ": " + util::printable(line, 300));
}

} // namespace airlock::hooks
