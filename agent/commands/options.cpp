#include "commands/options.hpp"

#include "commands/prompt.hpp"

namespace airlock::commands {

pipeline::Options update_options(const util::Args& a) {
  pipeline::Options o;
  o.plan = a.has("plan");
  o.stage_only = a.has("stage-only");
  o.allow_downgrade = a.has("allow-downgrade");
  o.force_full = a.has("force-full");
  o.download_only = a.has("download-only");
  o.version = a.value("version");
  // --cron never prompts (and neither does a run without a terminal, see prompt.hpp).
  if (!a.has("cron"))
    o.confirm = [&a, stage_only = o.stage_only](const std::string& summary) {
      return confirmed(a, "Upgrade " + summary + (stage_only ? " (stage only)?" : "?"), WithoutTerminal::go_ahead);
    };
  return o;
}

} // namespace airlock::commands
