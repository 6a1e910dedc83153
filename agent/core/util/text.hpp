// Text that came from untrusted input (zip entry names, tar paths, `_type` fields, key IDs, target names), made
// safe for a terminal, a log line or an error message.
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace airlock::util {

// `s` with printable ASCII verbatim and every other byte (control characters, DEL, bytes of 0x80 and above, and the
// quotes `"` and `'` and `\`) as \xNN, cut after `max` bytes of `s` with "..." appended. Nothing in the result can move
// a terminal's cursor, start an escape sequence or forge a line of output.
std::string printable(std::string_view s, std::size_t max = 200);

// printable(s, max) between two `quote` characters (double quotes unless told).
std::string quoted(std::string_view s, std::size_t max = 200, char quote = '"');

} // namespace airlock::util
