// How a command prints its result: text for people, or --json for programs.
// Thread-safety: constant data.
#pragma once

namespace airlock::commands {

enum class Output { text, json }; // json: one JSON value on one line of stdout

} // namespace airlock::commands
