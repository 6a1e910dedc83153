#include "commands/apply.hpp"

#include "commands/outcome.hpp"
#include "commands/prompt.hpp"
#include "commands/session.hpp"
#include "pipeline/upgrade.hpp"

namespace airlock::commands {

int apply(const util::Args& a) {
  Session s(a);
  s.open_for_change();
  if (!confirmed(a, "Apply the staged or downloaded upgrade of " + s.cfg().app_name + " now (services restart)?",
                 WithoutTerminal::go_ahead))
    return refused();
  const auto r = pipeline::apply(s.ctx(), s.db());
  return print_outcome(r, a.has("json") ? Output::json : Output::text);
}

} // namespace airlock::commands
