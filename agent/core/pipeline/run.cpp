#include "pipeline/run.hpp"

#include "health/containers.hpp"
#include "log/log.hpp"
#include "site/identity.hpp"
#include "site/stage.hpp"
#include "util/error.hpp"
#include "util/io.hpp"
#include "util/names.hpp"

#include <fmt/format.h>

#include <filesystem>

namespace airlock::pipeline {
namespace fs = std::filesystem;

namespace {

constexpr util::NameTable<UpgradeKind, 3> kind_names{
    {{UpgradeKind::full, "full"}, {UpgradeKind::patch, "patch"}, {UpgradeKind::rollback, "rollback"}}};

} // namespace

const char* kind_name(UpgradeKind k) { return util::name_of(kind_names, k).data(); }

state::ReleaseKind release_kind(UpgradeKind k) {
  return k == UpgradeKind::patch ? state::ReleaseKind::patch : state::ReleaseKind::full;
}

std::string Plan::to_json() const {
  json::Value v;
  v["from"] = from;
  v["to"] = to;
  v["kind"] = kind_name(kind);
  v["bundle_sha256"] = bundle_sha256;
  v["source"] = source;
  v["restore_backup"] = restore_backup;
  v["action"] = action;
  return json::canonical(v);
}

Plan Plan::from_json(const std::string& text) {
  auto v = json::parse(text, "journal plan");
  auto str = [&](const char* k) { return json::string_or(v, k, ""); };
  Plan p;
  p.from = str("from");
  p.to = str("to");
  p.kind = util::value_of(kind_names, str("kind")).value_or(UpgradeKind::full);
  p.bundle_sha256 = str("bundle_sha256");
  p.source = str("source");
  p.restore_backup = str("restore_backup");
  p.action = str("action");
  return p;
}

std::optional<release::Manifest> stored_manifest(const site::Layout& l, const std::string& version) {
  const std::string p = l.manifest_path(version);
  if (!fs::exists(p)) return std::nullopt;
  return release::parse_manifest(util::read_file(p, 8u << 20), p);
}

release::Manifest require_manifest(const site::Layout& l, const std::string& version) {
  auto m = stored_manifest(l, version);
  if (!m)
    fail(ExitCode::not_found, fmt::format("no release description of {} at {} (was it staged by airlock?)", version,
                                          l.manifest_path(version)));
  return *m;
}

std::int64_t ms_since(const Context& ctx, util::Clock::steady_time t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(ctx.clock().steady() - t).count();
}

Run::Run(Context& ctx, state::StateDb& db, std::string id, Plan plan)
    : ctx_(ctx), db_(db), id_(std::move(id)), plan_(std::move(plan)) {
  ctx_.engine().set_observer([this](const std::vector<std::string>& argv, const util::ProcessResult& r) {
    const std::string out = r.output.size() > 4000 ? "..." + r.output.substr(r.output.size() - 4000) : r.output;
    calls_ += fmt::format("$ {}\n{}{}[exit {}{}]\n", util::describe_argv(argv), out,
                          out.empty() || out.back() == '\n' ? "" : "\n", r.exit_code, r.timed_out ? ", timed out" : "");
    if (calls_.size() > 64000) calls_ = "...(earlier output cut)\n" + calls_.substr(calls_.size() - 60000);
  });
}

Run::~Run() { ctx_.engine().set_observer({}); }

void Run::step(Step s, const std::string& what, const std::function<std::string()>& work,
               const std::string& begin_detail) {
  const StepInfo& si = info(s);
  const std::string name(si.name);
  log::event(log::Level::info, "upgrade", name, fmt::format("{}: {}", name, what),
             {{"upgrade", json::Value(id_)}, {"step", json::Value(name)}});
  calls_.clear();
  const auto row = db_.journal_begin(id_, name, begin_detail.empty() ? what : begin_detail);
  ctx_.at_step(si, When::begin);
  const auto t0 = ctx_.clock().steady();
  std::string detail;
  try {
    detail = work();
  } catch (const std::exception& e) {
    db_.journal_end(row, state::StepStatus::failed, std::string(e.what()) + (calls_.empty() ? "" : "\n" + calls_));
    throw;
  }
  ctx_.at_step(si, When::end);
  db_.journal_end(row, state::StepStatus::done, detail + (calls_.empty() ? "" : "\n" + calls_));
  const auto ms = ms_since(ctx_, t0);
  log::event(log::Level::info, "upgrade", "step-done",
             fmt::format("  {} done in {:.1f} s", name, static_cast<double>(ms) / 1000.0),
             {{"upgrade", json::Value(id_)}, {"step", json::Value(name)}, {"ms", json::Value(ms)}});
}

void Run::mark(Step s, state::StepStatus status, const std::string& detail) {
  const StepInfo& si = info(s);
  const auto row = db_.journal_begin(id_, std::string(si.name), detail);
  ctx_.at_step(si, When::begin);
  ctx_.at_step(si, When::end);
  db_.journal_end(row, status, detail);
}

void Run::record_install() {
  for (const auto& i : db_.installs(ctx_.cfg().app_name))
    if (i.upgrade_id == id_) return;
  state::Install inst;
  inst.app = ctx_.cfg().app_name;
  inst.version = plan_.to;
  inst.kind = release_kind(plan_.kind);
  inst.bundle_sha256 = plan_.bundle_sha256;
  inst.upgrade_id = id_;
  db_.install_add(inst);
}

void Run::audit(const std::string& action, const std::string& outcome, const std::string& backup_id,
                std::int64_t downtime_ms, const std::string& detail) {
  auto a = state::audit_who(action);
  a.from_version = plan_.from;
  a.to_version = plan_.to;
  a.outcome = outcome;
  a.bundle_sha256 = plan_.bundle_sha256;
  a.backup_id = backup_id;
  a.downtime_ms = downtime_ms;
  a.detail = detail;
  db_.audit_add(a);
}

hooks::Notice Run::notice(hooks::Event e) const {
  hooks::Notice n;
  n.event = e;
  try {
    n.site_id = site::ensure_site_id(layout());
  } catch (const std::exception& ex) { // a damaged site-id file must not keep the hooks from running
    log::event(log::Level::warning, "hooks", "no-site-id", std::string("hooks get no site ID: ") + ex.what());
  }
  n.app = ctx_.cfg().app_name;
  n.upgrade_id = id_;
  n.from = plan_.from;
  n.to = plan_.to;
  n.kind = kind_name(plan_.kind);
  n.action = plan_.action;
  return n;
}

void Run::pre_upgrade_hooks(Staged staged) {
  const hooks::Settings s{ctx_.cfg().hooks_dir, static_cast<int>(ctx_.cfg().hooks_timeout_s)};
  for (const auto& r : hooks::run(s, db_, notice(hooks::Event::pre_upgrade), hooks::OnFailure::stop)) {
    if (r.outcome == "ok") continue;
    const std::string why = fmt::format(
        "{}; the upgrade {} -> {} was stopped before anything changed (nothing was stopped). Fix what the hook "
        "reports (or the hook), then run it again",
        hooks::describe_failure(r, s.timeout_s), plan_.from.empty() ? "(nothing)" : plan_.from, plan_.to);
    if (staged == Staged::close)
      mark(Step::rollback, state::StepStatus::done, "refused by a pre-upgrade hook; nothing to undo: " + why);
    audit(plan_.action, "failed", "", 0, why);
    fail(ExitCode::hook_refused, why);
  }
}

void Run::post_hooks(hooks::Event e, const Report& rep) {
  auto n = notice(e);
  n.outcome = outcome_name(rep.outcome);
  n.reason = rep.reason;
  n.backup_id = rep.backup_id;
  n.downtime_ms = rep.downtime_ms;
  const hooks::Settings s{ctx_.cfg().hooks_dir, static_cast<int>(ctx_.cfg().hooks_timeout_s)};
  try {
    hooks::run(s, db_, n, hooks::OnFailure::go_on); // each failure is logged as a warning there
  } catch (const std::exception& ex) {              // the outcome stands whatever the hooks do
    log::event(log::Level::warning, "hooks", "hooks-failed",
               fmt::format("the {} hooks could not run: {}", hooks::event_name(e), ex.what()));
  }
}

docker::Project Run::project(const std::string& version) {
  return ctx_.project(version, require_manifest(layout(), version).compose_file);
}

std::string Run::stop(const std::string& running) {
  std::optional<docker::Project> p;
  if (!running.empty() && stored_manifest(layout(), running)) p = project(running);
  const auto stopped = engine().stop(p ? &*p : nullptr, ctx_.project_name());
  std::string detail = fmt::format("{} container(s) stopped", stopped.size());
  for (const auto& c : stopped)
    detail += fmt::format("\n  {} {}: {}", c.service.empty() ? "(no service)" : c.service, c.id.substr(0, 12),
                          c.killed ? "killed at the end of its grace period (exit 137)"
                                   : fmt::format("exited by itself with code {}", c.exit_code));
  return detail;
}

void Run::start(const std::string& version) {
  auto p = project(version);
  services_ = engine().services(p);
  engine().up(p);
  baseline_.clear();
  for (const auto& c : engine().containers(p.name)) baseline_[c.id] = c.restart_count;
}

health::Outcome Run::health_gate(const std::string& version) {
  const auto g = health::parse_gate(require_manifest(layout(), version).health, ctx_.health_defaults(),
                                    layout().manifest_path(version));
  if (services_.empty()) services_ = engine().services(project(version));
  const std::string name = ctx_.project_name();
  auto containers = [&]() -> health::Result {
    try {
      return health::judge_containers(services_, engine().containers(name), baseline_);
    } catch (const Error& e) {
      return {false, false, e.what()};
    }
  };
  auto on_change = [](const health::Check& c, const health::Result& r) {
    log::event(r.ok ? log::Level::info : log::Level::warning, "health", r.ok ? "pass" : "fail",
               fmt::format("  health {}: {}", c.name(), r.detail),
               {{"check", json::Value(c.name())}, {"ok", json::Value(r.ok)}});
  };
  auto h = health::run_gate(g, containers, on_change, ctx_.clock());
  services_.clear(); // the next gate (a rollback's) asks compose again
  return h;
}

std::string Run::site_state_text() {
  const std::string cur = layout().current_link();
  std::string text =
      fmt::format("  current -> {}\n", fs::is_symlink(cur) ? fs::read_symlink(cur).string() : std::string("(missing)"));
  const std::string name = ctx_.project_name();
  try {
    auto cs = engine().containers(name);
    if (cs.empty()) text += "  no containers of project " + name + "\n";
    for (const auto& c : cs)
      text += fmt::format("  service {}: {}{} (restarts {})\n", c.service, c.status,
                          c.health.empty() ? "" : ", " + c.health, c.restart_count);
  } catch (const std::exception& e) {
    text += std::string("  containers unknown: ") + e.what() + "\n";
  }
  return text;
}

Report report_of(const Run& run) {
  Report r;
  r.upgrade_id = run.id();
  r.from = run.plan().from;
  r.to = run.plan().to;
  r.kind = kind_name(run.plan().kind);
  return r;
}

std::string backup_of(state::StateDb& db, const std::string& upgrade_id) {
  std::string id;
  for (const auto& r : db.journal_for(upgrade_id))
    if (r.step == info(Step::archive).name && r.status == state::StepStatus::done && r.detail.rfind("failed", 0) != 0)
      id = r.detail.substr(0, r.detail.find_first_of(" :\n"));
  return id;
}

} // namespace airlock::pipeline
