#include "commands/rollback.hpp"

#include "commands/outcome.hpp"
#include "commands/prompt.hpp"
#include "commands/session.hpp"
#include "pipeline/upgrade.hpp"

#include <fmt/format.h>

#include <iostream>

namespace airlock::commands {

int rollback(const util::Args& a) {
  Session s(a);
  s.open_for_change();
  const bool restore_data = a.has("restore-data");
  if (!confirmed(a,
                 fmt::format("Roll {} back to the previous release{}?", s.cfg().app_name,
                             restore_data ? " and restore data/ from its pre-upgrade backup" : ""),
                 WithoutTerminal::go_ahead))
    return refused();
  const auto r = pipeline::rollback(s.ctx(), s.db(), restore_data);
  return print_outcome(r, a.has("json") ? Output::json : Output::text);
}

int recover(const util::Args& a) {
  Session s(a);
  s.open_for_change(Recover::by_command);
  const auto r = pipeline::recover(s.ctx(), s.db());
  if (!r) {
    std::cout << "nothing to recover\n";
    return 0;
  }
  // Recovered (finished or undone): the site is healthy again, which is what `recover` is asked for.
  const int rc = print_outcome(*r, a.has("json") ? Output::json : Output::text);
  return r->outcome == pipeline::Outcome::needs_attention ? rc : 0;
}

} // namespace airlock::commands
