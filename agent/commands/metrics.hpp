// `airlock metrics [--write]`, and the recording every command that changes or checks the site does when it ends
// (docs/fleet.md "Monitoring: metrics"): its exit code goes into the state database (the fact
// "run/<command>", metrics/metrics.hpp) and, when [metrics] textfile is set, the whole exposition is rewritten
// there atomically, for node_exporter's textfile collector.
// Thread-safety: none.
#pragma once

#include "util/args.hpp"

#include <functional>
#include <string>

namespace airlock::commands {

using Handler = std::function<int(const util::Args&)>;

// Prints the site's metrics in the Prometheus text format (read-only: no lock). --write writes them to
// [metrics] textfile instead (Error(usage) when it is not set). Returns 0.
int metrics(const util::Args& a);

// `run` wrapped for the command table: after it returns or throws, the exit code it gives (an Error's code, 1 for
// any other exception) is recorded as the fact "run/<command>" and the textfile is rewritten; then its result is
// returned or its exception rethrown, unchanged. Recording is skipped when the configuration cannot be loaded or
// the site has no state database (nothing to record into); a failure to record is a warning, never the
// command's result.
Handler recorded(const std::string& command, Handler run);

} // namespace airlock::commands
