#include "commands/session.hpp"

#include "site/layout.hpp"

#include "commands/outcome.hpp"
#include "log/log.hpp"
#include "pipeline/steps.hpp"
#include "pipeline/upgrade.hpp"
#include "util/error.hpp"

#include <fmt/format.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>

namespace airlock::commands {
namespace fs = std::filesystem;
namespace {

config::Config load_site(const util::Args& a) {
  config::Config cfg = config::load(a.value("config").value_or(config::default_path));
  const std::string log_file = cfg.log_file.empty() ? site::Layout::of(cfg).default_log_file() : cfg.log_file;
  log::init({fs::is_directory(fs::path(log_file).parent_path()) ? log_file : "", log::parse_level(cfg.log_level),
             a.has("json"), a.has("cron")});
  if (cfg.app_name.empty())
    fail(ExitCode::usage, "no [app] name in the configuration; run 'airlock init' first or pass --config FILE");
  if (!fs::is_directory(cfg.app_dir()) || !fs::exists(site::Layout::of(cfg).state_db()))
    fail(ExitCode::not_found, fmt::format("{} is not initialised (no {} or no state database in {}); run 'airlock "
                                          "init' first",
                                          cfg.app_name, cfg.app_dir(), cfg.state_dir));
  return cfg;
}

} // namespace

pipeline::StepHook kill_hook(std::string_view point) {
  return [point = std::string(point)](const pipeline::StepInfo& step, pipeline::When when) {
    const std::string here =
        std::string(step.name) + (when == pipeline::When::begin ? std::string(":begin") : std::string());
    if (here != point) return;
    log::event(log::Level::warning, "upgrade", "fault", "AIRLOCK_TEST_KILL_AT=" + point + ": killing myself");
    ::raise(SIGKILL);
  };
}

Session::Session(const util::Args& a) : cfg_(load_site(a)), layout_(site::Layout::of(cfg_)) {}
Session::Session(Session&&) noexcept = default;
Session& Session::operator=(Session&&) noexcept = default;
Session::~Session() = default;

void Session::open_read_only() {
  if (!db_) db_ = std::make_unique<state::StateDb>(layout_.state_dir());
}

void Session::lock() {
  if (!lock_) lock_ = std::make_unique<state::RunLock>(layout_.state_dir());
}

void Session::open_for_change(Recover recover) {
  lock();
  open_read_only();
  if (recover == Recover::by_command) return;
  auto r = pipeline::recover(ctx(), *db_);
  if (!r) return;
  print_outcome(*r, Output::text);
  if (r->outcome == pipeline::Outcome::needs_attention)
    fail(ExitCode::needs_attention, "an interrupted upgrade could not be undone; nothing else was done");
}

state::StateDb& Session::db() {
  if (!db_) throw std::logic_error("commands::Session::db() before open_read_only() or open_for_change()");
  return *db_;
}

pipeline::Context& Session::ctx() {
  if (!ctx_) {
    pipeline::Seams seams;
    if (const char* point = std::getenv("AIRLOCK_TEST_KILL_AT"); point && *point) seams.hook = kill_hook(point);
    if (const auto now = util::pinned_now()) {
      clock_ = std::make_unique<util::PinnedClock>(*now);
      seams.clock = clock_.get();
    }
    ctx_ = std::make_unique<pipeline::Context>(cfg_, std::move(seams));
  }
  return *ctx_;
}

} // namespace airlock::commands
