// The one place where errors become exit codes. Both tools' run() functions wrap their body in guarded():
// airlock::Error maps to its ExitCode with "<tool>: error: <message>" on stderr; any other exception is
// ExitCode::failure. Nothing else in airlock catches-and-exits.
#pragma once

#include <functional>
#include <string>

namespace airlock::cli {

int guarded(const std::string& tool, const std::function<int()>& body);

} // namespace airlock::cli
