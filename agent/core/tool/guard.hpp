// The one place where errors become exit codes. Both tools' run() functions wrap their body in guarded():
// airlock::Error maps to its ExitCode with "<tool>: error: <message>" on stderr; any other exception is
// ExitCode::failure, reported as a bug. Nothing else in airlock catches-and-exits.
// Thread-safety: as the body's.
#pragma once

#include <functional>
#include <string>

namespace airlock::tool {

// Returns body()'s result, or the exit code of the exception it threw (after printing it). Never throws.
int guarded(const std::string& tool, const std::function<int()>& body);

} // namespace airlock::tool
