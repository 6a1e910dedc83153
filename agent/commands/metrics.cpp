#include "commands/metrics.hpp"

#include "commands/session.hpp"
#include "config/config.hpp"
#include "log/log.hpp"
#include "metrics/metrics.hpp"
#include "site/layout.hpp"
#include "state/db.hpp"
#include "util/error.hpp"

#include <filesystem>
#include <iostream>

namespace airlock::commands {
namespace {

void record(const util::Args& a, const std::string& command, int exit_code) noexcept {
  config::Config cfg;
  try {
    cfg = config::load(a.value("config").value_or(config::default_path));
  } catch (const std::exception&) {
    return; // the command said what is wrong with it
  }
  try {
    const auto layout = site::Layout::of(cfg);
    if (cfg.app_name.empty() || !std::filesystem::exists(layout.state_db())) return;
    state::StateDb db(layout.state_dir());
    db.fact_set({metrics::run_fact_prefix + command, exit_code, "", ""});
    if (!cfg.metrics_textfile.empty())
      metrics::write_textfile(cfg.metrics_textfile, metrics::render(metrics::collect(cfg, db)));
  } catch (const std::exception& e) {
    try {
      log::event(log::Level::warning, "metrics", "record-failed",
                 std::string("the metrics of this run were not recorded: ") + e.what());
    } catch (...) {
    }
  }
}

} // namespace

int metrics(const util::Args& a) {
  Session s(a);
  s.open_read_only();
  const std::string text = metrics::render(metrics::collect(s.cfg(), s.db()));
  if (!a.has("write")) {
    std::cout << text;
    return 0;
  }
  if (s.cfg().metrics_textfile.empty())
    fail(ExitCode::usage, "--write needs [metrics] textfile in the configuration (docs/airlock.conf.example)");
  metrics::write_textfile(s.cfg().metrics_textfile, text);
  return 0;
}

Handler recorded(const std::string& command, Handler run) {
  return [command, run = std::move(run)](const util::Args& a) {
    int rc = 0;
    try {
      rc = run(a);
    } catch (const Error& e) {
      record(a, command, static_cast<int>(e.code()));
      throw;
    } catch (const std::exception&) {
      record(a, command, static_cast<int>(ExitCode::failure));
      throw;
    }
    record(a, command, rc);
    return rc;
  };
}

} // namespace airlock::commands
