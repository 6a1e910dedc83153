// A small command-line parser for "tool [global options] command [subcommand] [options] [operands]".
// Options are "--name", "--name value" or "--name=value"; "--" ends options. Which options take a value
// is declared up front, so "--json FILE" is never misread. Unknown options are a usage error (ExitCode::usage).
// Thread-safety: none needed; an Args is used by one thread.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace airlock::util {

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
  const std::vector<std::string>& operands() const { return operands_; }

private:
  std::set<std::string> flags_;
  std::multimap<std::string, std::string> values_;
  std::vector<std::string> operands_;
};

} // namespace airlock::util
