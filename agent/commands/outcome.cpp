#include "commands/outcome.hpp"

#include "util/error.hpp"
#include "util/json.hpp"

#include <fmt/format.h>

#include <iostream>

namespace airlock::commands {

int exit_code(pipeline::Outcome o) {
  using pipeline::Outcome;
  if (o == Outcome::rolled_back) return static_cast<int>(ExitCode::rolled_back);
  if (o == Outcome::needs_attention) return static_cast<int>(ExitCode::needs_attention);
  return 0;
}

int print_outcome(const pipeline::Report& r, Output output) {
  using pipeline::Outcome;
  if (output == Output::json) {
    json::Value v;
    v["outcome"] = pipeline::outcome_name(r.outcome);
    v["upgrade_id"] = r.upgrade_id;
    v["from"] = r.from;
    v["to"] = r.to;
    v["kind"] = r.kind;
    v["backup_id"] = r.backup_id;
    v["downtime_ms"] = r.downtime_ms;
    v["reason"] = r.reason;
    json::Array path;
    for (const auto& p : r.path) path.emplace_back(p);
    v["path"] = path;
    v["steps_done"] = static_cast<std::int64_t>(r.steps_done);
    std::cout << json::compact(v) << "\n";
    return exit_code(r.outcome);
  }
  const std::string downtime =
      r.downtime_ms > 0 ? fmt::format(", downtime {:.1f} s", static_cast<double>(r.downtime_ms) / 1000.0) : "";
  switch (r.outcome) {
  case Outcome::none:
    std::cout << "nothing to do: " << r.reason << "\n";
    return 0;
  case Outcome::planned:
    return 0;
  case Outcome::staged:
    std::cout << fmt::format("staged {} (upgrade {}): the site still runs {}; run 'airlock apply' to finish\n", r.to,
                             r.upgrade_id, r.from.empty() ? "nothing" : r.from);
    return 0;
  case Outcome::updated:
    std::cout << fmt::format("updated {} -> {} ({}{}{}{})\n", r.from.empty() ? "(nothing)" : r.from, r.to, r.kind,
                             downtime, r.backup_id.empty() ? "" : ", backup " + r.backup_id,
                             r.reason.empty() ? "" : ", " + r.reason);
    if (!r.path.empty())
      std::cout << fmt::format("upgrade path {}: {} of {} steps committed\n", pipeline::path_text(r.path), r.steps_done,
                               r.path.size() - 1);
    return 0;
  case Outcome::abandoned:
    std::cout << "recovered upgrade " << r.upgrade_id << ": " << r.reason << "\n";
    return 0;
  case Outcome::downloaded:
    std::cout << fmt::format("downloaded {} -> {} ({}): {}; 'airlock apply' installs it without the network\n",
                             r.from.empty() ? "(nothing)" : r.from, r.to, r.kind, r.reason);
    return 0;
  case Outcome::rolled_back:
    std::cerr << fmt::format("ROLLED BACK to {}: {}\n", r.from.empty() ? "nothing installed" : r.from, r.reason);
    std::cout << fmt::format("rolled back {} -> {}; the site runs {} again{}{}\n", r.to, r.from,
                             r.from.empty() ? "nothing" : r.from, downtime,
                             r.backup_id.empty() ? "" : ", data/ as in backup " + r.backup_id);
    break;
  case Outcome::needs_attention:
    std::cerr << "SITE NEEDS ATTENTION: " << r.reason << "\n";
    break;
  }
  return exit_code(r.outcome);
}

} // namespace airlock::commands
