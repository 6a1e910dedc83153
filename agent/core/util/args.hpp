// A small command-line parser for "tool [global options] command [subcommand] [options] [operands]".
// Options are "--name", "--name value" or "--name=value"; "--" ends options. Which options take a value
// is declared up front, so "--json FILE" is never misread. Unknown options are a usage error (ExitCode::usage).
// Thread-safety: none needed; an Args is used by one thread.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace airlock::util {

// A byte count: decimal digits, then optionally a unit (letters in any case): none or B for bytes; K, M, G, T
// or KiB, MiB, GiB, TiB for powers of 1024; KB, MB, GB, TB for powers of 1000 (as GNU coreutils). No spaces,
// signs or fractions. nullopt when the text is not one, or the number does not fit in 64 bits.
std::optional<std::uint64_t> parse_bytes(std::string_view text);

class Args {
public:
  // Parses argv[first..argc). `valued` lists the options that take a value, `flags` those that do not.
  // Throws Error(usage) naming the offending option when an option is unknown or lacks its value.
  Args(int argc, const char* const* argv, int first, const std::set<std::string>& valued,
       const std::set<std::string>& flags);

  bool has(const std::string& name) const { return flags_.count(name) > 0 || values_.count(name) > 0; }
  std::optional<std::string> value(const std::string& name) const;
  // The value of a repeatable option, in command-line order (empty when absent).
  std::vector<std::string> values(const std::string& name) const;
  // The value of a required option; Error(usage) names it when absent.
  std::string required(const std::string& name) const;
  // The value of a numeric option as a whole number in [min, max] (decimal digits, a leading '-' for negative
  // numbers, nothing else); nullopt when the option is absent. Anything else throws Error(usage)
  // "--<name> takes <what>, not '<value>'", where `what` defaults to "a whole number from <min> to <max>".
  std::optional<long> number(const std::string& name, long min, long max, const std::string& what = {}) const;
  // The value of a size option (parse_bytes) in [min, max] bytes; nullopt when absent. Anything else throws
  // Error(usage) "--<name> takes a size such as 4G, 4096M, 3900MiB or 1000000 (bytes), at least <min> [and at most
  // <max>] bytes, not '<value>'" (the maximum is left out when it is the largest 64-bit number).
  std::optional<std::uint64_t> bytes(const std::string& name, std::uint64_t min, std::uint64_t max) const;
  const std::vector<std::string>& operands() const { return operands_; }

private:
  std::set<std::string> flags_;
  std::multimap<std::string, std::string> values_;
  std::vector<std::string> operands_;
};

} // namespace airlock::util
