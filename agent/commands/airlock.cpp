#include "commands/airlock.hpp"

#include "commands/about.hpp"
#include "commands/apply.hpp"
#include "commands/backup.hpp"
#include "commands/config_check.hpp"
#include "commands/debug.hpp"
#include "commands/import.hpp"
#include "commands/init.hpp"
#include "commands/metrics.hpp"
#include "commands/report.hpp"
#include "commands/rollback.hpp"
#include "commands/stage.hpp"
#include "commands/status.hpp"
#include "commands/upgrade.hpp"
#include "commands/verify.hpp"
#include "config/config.hpp"
#include "util/error.hpp"

#include <string>

namespace airlock::commands {
namespace {

const char* const usage_text = R"(usage: airlock [--version] [--help] <command> [options]

Keeps a docker-compose application up to date from a signed TUF repository or an offline bundle.

commands:
  verify PATH [--trusted-root ROOT.json] [--json]
                verify a bundle file or repository directory without installing anything
  init --app NAME --trusted-root ROOT.json [--install-root DIR] [--adopt DIR]
                create the site layout and state database
  stage PATH [--version V]      verify a bundle and stage its release (full or patch), without running it
  import BUNDLE | --scan DIR [--report]
                upgrade the site from a signed bundle (USB): stage, load, switch, health gate
  check [--json]                ask the online repository: up to date (exit 0) or update available (exit 10)
  upgrade [--cron] [--download-only]
                upgrade the site from the online repository (same pipeline as import)
  apply | rollback | recover    finish a staged/downloaded upgrade; go back; finish an interrupted one
  status [--json]               app, installed version, last upgrade
  metrics [--write]             the site's metrics in the Prometheus text format (node_exporter textfile)
  report --out DIR              write a signed site report into DIR (for the vendor, on the USB stick)
  site-key [--json]             print the public key that signs this site's reports (to register it)
  history [--json]              the audit log
  backup create|list|verify|restore|prune
                back up and restore data/, site/ and current
  config check [--config FILE]
                name every unknown key or bad value of the configuration, with its line
  self-test     run known-answer checks of every linked library on this host
  version       same as --version

Run 'airlock <command> --help' for a command's options. Exit codes are listed in docs/cli.md.
)";

// An unknown command is named as typed; "backup" alone lists its subcommands.
std::string describe_unknown(int, const char* const* argv) {
  const std::string cmd = argv[1];
  if (cmd == "backup") fail(ExitCode::usage, "backup needs one of: create, list, verify, restore, prune");
  return cmd;
}

} // namespace

int run(int argc, const char* const* argv) {
  return tool::run_tool({"airlock", usage_text, command_table(), describe_unknown}, argc, argv);
}

// The registration table: name, usage (printed by --help after "usage: airlock "), the options that take a
// value, the flags, and the handler.
const tool::CommandTable& command_table() {
  static const tool::CommandTable table = {
      {"verify",
       {"verify PATH [--trusted-root ROOT.json | --config FILE] [--json]\n"
        "  Verifies a bundle file or repository directory: the TUF chain, and every contained target's\n"
        "  length and SHA-256. Installs nothing and changes nothing. It starts from --trusted-root when given,\n"
        "  and otherwise from the site's trusted state (of --config, default /etc/airlock/airlock.conf), which\n"
        "  also refuses metadata older than the site has seen; the output names which. Exit 0 when everything\n"
        "  verifies; 3 for a verification failure, 4 for malformed input (docs/cli.md). A bundle split into a\n"
        "  part set (FILE.part-001, -002, ...) is given by its first part; the others must be beside it.",
        {"trusted-root", "config"},
        {"json"},
        verify}},
      {"init",
       {"init --app NAME --trusted-root ROOT.json [--install-root DIR] [--state-dir DIR] [--adopt COMPOSE_DIR] "
        "[--config FILE]\n  Creates the site layout and state, trusts ROOT.json, writes the configuration when it is "
        "missing;\n  --adopt makes a compose directory that already runs by hand version 0.",
        {"app", "trusted-root", "install-root", "state-dir", "adopt", "config"},
        {},
        recorded("init", init)}},
      {"stage",
       {"stage PATH [--version V] [--json] [--config FILE]\n  Verifies a bundle (or repository directory) against "
        "the trusted "
        "metadata and stages the newest release\n  of this app and architecture (a patch when it applies to the "
        "current version) in releases/<v>,\n  verified file by file. Nothing runs and current does not move.",
        {"config", "version"},
        {"json"},
        recorded("stage", stage)}},
      {"import",
       {"import BUNDLE | --scan DIR [--plan] [--stage-only] [--allow-downgrade] [--force-full] [--version V] "
        "[--yes] [--json] [--report] [--config FILE]\n"
        "  Verifies a signed bundle and upgrades the site to the newest release it holds for this app and\n"
        "  architecture: stage, load images, stop, back up, switch, start, health gate, commit or roll back.\n"
        "  --plan prints what would change; --stage-only stops after the image load ('airlock apply'\n"
        "  finishes); --scan picks the newest fitting bundle in DIR (a USB mount point). A part set\n"
        "  (FILE.part-001, -002, ...) is given by its first part, the others beside it. --report writes\n"
        "  a signed site report into the bundle's directory (DIR with --scan) afterwards, whatever the outcome.",
        {"config", "version"},
        {"scan", "plan", "stage-only", "allow-downgrade", "force-full", "yes", "json", "report"},
        recorded("import", import)}},
      {"check",
       {"check [--json] [--force-full] [--version V] [--config FILE]\n"
        "  Refreshes the signed metadata from the repository ([repository] urls) and prints what 'upgrade'\n"
        "  would do: none, patch or full, the version, and the bytes to download, and whether the site is\n"
        "  inside a maintenance window ([schedule] window) or when the next opens. Exit 0: up to date;\n"
        "  10: an update is available; any other code: an error (docs/cli.md).",
        {"config", "version"},
        {"json", "force-full"},
        recorded("check", check)}},
      {"upgrade",
       {"upgrade [--yes] [--force-full] [--download-only] [--allow-downgrade] [--stage-only] [--plan]\n"
        "        [--version V] [--cron [--max-delay S]] [--json] [--config FILE]\n"
        "  Online upgrade: check the repository, download the release (resumable, verified), then the\n"
        "  same pipeline as 'import'. --download-only stops after the download ('apply' or a later\n"
        "  'upgrade' uses the files without downloading again). --cron: wait a random 0..S seconds\n"
        "  (default 600), print nothing unless something happens, exit 0 when another run holds the lock;\n"
        "  outside every [schedule] window it only downloads and says when the next window opens.",
        {"config", "version", "max-delay"},
        {"yes", "force-full", "download-only", "allow-downgrade", "stage-only", "plan", "cron", "json"},
        recorded("upgrade", upgrade)}},
      {"apply",
       {"apply [--yes] [--json] [--config FILE]\n  Finishes the upgrade that 'import --stage-only' staged, or\n"
        "  installs what 'upgrade --download-only' downloaded (no network needed).",
        {"config"},
        {"yes", "json"},
        recorded("apply", apply)}},
      {"rollback",
       {"rollback [--restore-data] [--yes] [--json] [--config FILE]\n"
        "  Goes back to the release installed before the current one (health-gated); --restore-data also\n"
        "  puts back data/ and site/ from the backup taken before the current one was installed.",
        {"config"},
        {"restore-data", "yes", "json"},
        recorded("rollback", rollback)}},
      {"recover",
       {"recover [--json] [--config FILE]\n"
        "  Finishes or undoes an upgrade that was interrupted (crash, kill, power loss). Every command\n"
        "  that changes the site does this first anyway.",
        {"config"},
        {"json"},
        recorded("recover", recover)}},
      {"status",
       {"status [--json] [--config FILE]\n  App, installed version, active release, last upgrade and its outcome.",
        {"config"},
        {"json"},
        status}},
      {"metrics",
       {"metrics [--write] [--config FILE]\n"
        "  Prints the site's metrics in the Prometheus text format: installed version, update available, each\n"
        "  command's last result, downtime, rollbacks, bytes downloaded, backups, free disk. --write writes them\n"
        "  to [metrics] textfile instead (atomically), as every command that changes or checks the site does.",
        {"config"},
        {"write"},
        metrics}},
      {"report",
       {"report --out DIR [--config FILE]\n"
        "  Writes DIR/airlock-report-<site ID>-<UTC time>.json: the site ID, app, installed version, image IDs,\n"
        "  health, the last runs with their downtime, free disk and the agent version, signed by the site key\n"
        "  ('airlock-bundle report verify' checks it). Changes nothing on the site.",
        {"config", "out"},
        {},
        report}},
      {"site-key",
       {"site-key [--json] [--config FILE]\n"
        "  Prints the public key (PEM) that signs this site's reports, for the vendor to register; the site ID\n"
        "  and the command to register it go to stderr (--json: both on stdout). A site initialised before\n"
        "  site keys existed gets its key now.",
        {"config"},
        {"json"},
        site_key}},
      {"history",
       {"history [--json] [--limit N] [--config FILE]\n  The audit log, newest first.",
        {"config", "limit"},
        {"json"},
        history}},
      {"backup create",
       {"backup create [--level 0-9] [--threads N] [--note TEXT] [--json] [--config FILE]\n"
        "  Backs up data/, site/ and current.",
        {"config", "level", "threads", "note"},
        {"json"},
        recorded("backup create", backup_create)}},
      {"backup list", {"backup list [--json] [--config FILE]", {"config"}, {"json"}, backup_list}},
      {"backup verify",
       {"backup verify ID [--config FILE]\n  Re-hashes the archive against its recorded SHA-256.",
        {"config"},
        {},
        recorded("backup verify", backup_verify)}},
      {"backup restore",
       {"backup restore ID [--yes] [--json] [--config FILE]\n  Replaces data/, site/ and current from a complete "
        "backup (checked first).",
        {"config"},
        {"yes", "json"},
        recorded("backup restore", backup_restore)}},
      {"backup prune",
       {"backup prune --keep N [--config FILE]\n  Keeps the N newest complete backups.",
        {"config", "keep"},
        {},
        recorded("backup prune", backup_prune)}},
      {"config check",
       {std::string("config check [--config FILE]\n  Checks ") + config::default_path +
            " (or FILE): exit 0 when it is usable, 2 with every problem and its line otherwise.",
        {"config"},
        {},
        config_check}},
      {"self-test", {"self-test\n  Runs known-answer checks of every linked library on this host.", {}, {}, self_test}},
      {"version", {"version\n  Prints the version, git revision, architecture and libraries.", {}, {}, version}},
      // Hidden: not in the usage text (docs/architecture.md).
      {"debug steps",
       {"debug steps [--json]\n  The upgrade's step table: name, phase, what a crash there means, the path that "
        "reaches it.",
        {},
        {"json"},
        debug_steps}},
  };
  return table;
}

} // namespace airlock::commands
