#include "util/args.hpp"

#include "util/error.hpp"

#include <charconv>
#include <string>

namespace airlock::util {

Args::Args(int argc, const char* const* argv, int first, const std::set<std::string>& valued,
           const std::set<std::string>& flags) {
  bool options_done = false;
  for (int i = first; i < argc; ++i) {
    std::string a = argv[i];
    if (options_done || a.size() < 2 || a.rfind("--", 0) != 0) {
      if (!options_done && a.size() > 1 && a[0] == '-' && a != "-")
        fail(ExitCode::usage, "unknown option '" + a + "'; options are spelled --name (see --help)");
      operands_.push_back(a);
      continue;
    }
    if (a == "--") {
      options_done = true;
      continue;
    }
    std::string name = a.substr(2);
    std::optional<std::string> inline_value;
    if (auto eq = name.find('='); eq != std::string::npos) {
      inline_value = name.substr(eq + 1);
      name.resize(eq);
    }
    if (valued.count(name)) {
      if (inline_value) {
        values_.emplace(name, *inline_value);
      } else if (i + 1 < argc) {
        values_.emplace(name, argv[++i]);
      } else {
        fail(ExitCode::usage, "option --" + name + " needs a value");
      }
    } else if (flags.count(name)) {
      if (inline_value) fail(ExitCode::usage, "option --" + name + " takes no value");
      flags_.insert(name);
    } else {
      fail(ExitCode::usage, "unknown option --" + name + " (see --help)");
    }
  }
}

std::optional<std::string> Args::value(const std::string& name) const {
  auto range = values_.equal_range(name);
  if (range.first == range.second) return std::nullopt;
  return std::prev(range.second)->second; // the last one wins, as in most tools
}

std::vector<std::string> Args::values(const std::string& name) const {
  std::vector<std::string> out;
  for (auto [it, end] = values_.equal_range(name); it != end; ++it) out.push_back(it->second);
  return out;
}

std::string Args::required(const std::string& name) const {
  auto v = value(name);
  if (!v) fail(ExitCode::usage, "option --" + name + " is required (see --help)");
  return *v;
}

std::optional<long> Args::number(const std::string& name, long min, long max, const std::string& what) const {
  const auto v = value(name);
  if (!v) return std::nullopt;
  long n = 0;
  const char* const end = v->data() + v->size();
  const auto [ptr, ec] = std::from_chars(v->data(), end, n); // no '+', no spaces, no hex
  if (v->empty() || ec != std::errc() || ptr != end || n < min || n > max)
    fail(ExitCode::usage,
         "--" + name + " takes " +
             (what.empty() ? "a whole number from " + std::to_string(min) + " to " + std::to_string(max) : what) +
             ", not '" + *v + "'");
  return n;
}

} // namespace airlock::util
