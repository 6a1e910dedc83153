// A strict reader for the YAML subset that `docker-compose config` (compose v1, PyYAML safe_dump, block style)
// prints, into our JSON value type. It exists so the agent can read compose v1's effective configuration; it is not a
// general YAML library, and what it does not understand it refuses instead of guessing.
//
// Supported:
// - one document, optionally opened by `---` and closed by `...` (nothing else on those lines but a comment);
// - block mappings and block sequences, nested to any depth up to the limit, including PyYAML's "indentless"
//   sequences (`key:` followed by `- item` at the key's indentation) and compact entries (`- key: value`,
//   `- - item`); explicit keys `? key` / `: value` whose key is a scalar, plain, quoted or block (PyYAML writes
//   keys longer than 128 characters that way);
// - plain scalars, also spanning lines (folded as YAML folds them); single-quoted scalars (`''` escape) and
//   double-quoted scalars (every YAML escape: \0 \a \b \t \n \v \f \r \e \  \" \/ \\ \N \_ \L \P \xXX \uXXXX
//   \UXXXXXXXX, and escaped line breaks), also spanning lines;
// - literal `|` and folded `>` block scalars with the chomping indicators `-` and `+` and an indentation digit;
// - flow sequences `[a, 'b', "c"]` and flow mappings `{k: v}` of scalars, on one line (`{}` and `[]` are what
//   PyYAML prints for empty collections);
// - comments, blank lines.
//
// Values: a plain scalar `null`, `Null`, `NULL`, `~` or an empty value becomes json null; a plain `true` or `false`
// (lower case only) a boolean; a plain integer in canonical decimal form (-?(0|[1-9][0-9]*), not "-0", within
// std::int64_t) an integer. Everything else is a string holding exactly the scalar's text: quoted scalars always,
// and plain ones such as `3.8`, `0755`, `1e3`, `0x1F`, `True`, `yes`, `on`, `30s`, `8080:80`. So the original
// text of a boolean or an integer is exactly scalar_text() of it, and nothing that compose prints as a string
// (versions, ports, octal modes, quoted "true") is ever turned into a number. Mapping keys are always strings
// (the key's text, `true:` gives the key "true").
//
// Refused, with Error(bad_input, "<what>: line N: <problem>") (N counted from 1): anchors, aliases and tags
// (`&a`, `*a`, `!tag`), directives (`%YAML`), merge keys (`<<`), keys that are collections, empty keys,
// duplicate keys (compared after unquoting), tabs in indentation, a second document, content on the `---` line,
// nested or multi-line flow collections, explicit keys inside flow collections, implicit keys spanning lines, bad
// indentation, unterminated quotes, unknown escapes, escapes of surrogates or of code points above U+10FFFF,
// content after a value on its line. Refused for the whole input:
// more than limits.max_bytes bytes, invalid UTF-8, a byte order mark, NUL, carriage returns, control characters
// other than tab and line feed, U+0085, U+2028 and U+2029 (line breaks to YAML 1.1 but not to 1.2: PyYAML itself
// reads them back inconsistently), and nesting deeper than limits.max_depth. Nothing returns a partial result.
// Not errors: an empty document (null), empty strings and values, tabs inside scalars and comments, a NUL byte
// produced by an escape ("\0": code that turns strings into paths must reject it).
//
// Bounded: the parser recurses once per nesting level (at most limits.max_depth), and reads each line a small,
// fixed number of times.
//
// Thread-safety: parse and scalar_text are pure and may run concurrently.
#pragma once

#include "util/json.hpp"

#include <cstddef>
#include <string>
#include <string_view>

namespace airlock::yaml {

struct ParseLimits {
  std::size_t max_bytes = 16u << 20;
  // Collections may nest this deep ("a: [1]" is depth 2).
  int max_depth = 64;
};

// Parses one YAML document of the subset above. `what` names it in error messages (a file name, or the command
// whose output it is). Throws Error(bad_input) as described above.
json::Value parse(std::string_view text, const std::string& what, ParseLimits limits = {});

// The text of a scalar as the document wrote it: a string itself, "true"/"false", the integer in decimal, and ""
// for null (which the document wrote as null, ~ or nothing). Throws Error(bad_input, "expected a scalar, found
// <type>") for arrays and objects.
std::string scalar_text(const json::Value& v);

} // namespace airlock::yaml
