#include "util/args.hpp"

#include "util/error.hpp"

#include <cctype>
#include <charconv>
#include <limits>
#include <map>
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

std::optional<std::uint64_t> parse_bytes(std::string_view text) {
  std::uint64_t n = 0;
  const char* const end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, n);
  if (text.empty() || ec != std::errc() || ptr == text.data()) return std::nullopt;
  std::string unit(ptr, end);
  for (auto& c : unit) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  static const std::map<std::string, std::uint64_t> units = {{"", 1},
                                                             {"B", 1},
                                                             {"K", 1ull << 10},
                                                             {"KIB", 1ull << 10},
                                                             {"KB", 1000ull},
                                                             {"M", 1ull << 20},
                                                             {"MIB", 1ull << 20},
                                                             {"MB", 1000ull * 1000},
                                                             {"G", 1ull << 30},
                                                             {"GIB", 1ull << 30},
                                                             {"GB", 1000ull * 1000 * 1000},
                                                             {"T", 1ull << 40},
                                                             {"TIB", 1ull << 40},
                                                             {"TB", 1000ull * 1000 * 1000 * 1000}};
  const auto it = units.find(unit);
  if (it == units.end() || n > std::numeric_limits<std::uint64_t>::max() / it->second) return std::nullopt;
  return n * it->second;
}

std::optional<std::uint64_t> Args::bytes(const std::string& name, std::uint64_t min, std::uint64_t max) const {
  const auto v = value(name);
  if (!v) return std::nullopt;
  const auto n = parse_bytes(*v);
  if (!n || *n < min || *n > max)
    fail(ExitCode::usage,
         "--" + name + " takes a size such as 4G, 4096M, 3900MiB or 1000000 (bytes), at least " + std::to_string(min) +
             (max < std::numeric_limits<std::uint64_t>::max() ? " and at most " + std::to_string(max) : std::string()) +
             " bytes, not '" + *v + "'");
  return n;
}

} // namespace airlock::util
