// The pipeline::Options of import, check and upgrade, from their command line: --plan, --stage-only,
// --allow-downgrade, --force-full, --download-only, --version V, and the confirmation asked once the
// preflight passed (prompt.hpp; --yes, and --cron never asks).
// Thread-safety: none.
#pragma once

#include "pipeline/upgrade.hpp"
#include "util/args.hpp"

namespace airlock::commands {

// The returned Options' confirm refers to `a`, which must outlive the pipeline run.
pipeline::Options update_options(const util::Args& a);

} // namespace airlock::commands
