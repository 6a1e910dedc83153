#include "release/version.hpp"

#include "util/error.hpp"

#include <vector>

namespace airlock::release {
namespace {

struct Parsed {
  std::vector<unsigned long long> nums;
  std::vector<std::string> pre; // empty: a release
};

bool all_digits(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

bool ident_ok(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-')) return false;
  return true;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (;;) {
    auto pos = s.find(sep, start);
    out.push_back(s.substr(start, pos - start));
    if (pos == std::string::npos) break;
    start = pos + 1;
  }
  return out;
}

std::optional<Parsed> parse(std::string v) {
  if (v.empty() || v.size() > 128) return std::nullopt;
  if (v[0] == 'v' || v[0] == 'V') v.erase(0, 1);
  if (auto plus = v.find('+'); plus != std::string::npos) {
    for (const auto& id : split(v.substr(plus + 1), '.'))
      if (!ident_ok(id)) return std::nullopt;
    v.resize(plus);
  }
  Parsed p;
  if (auto dash = v.find('-'); dash != std::string::npos) {
    p.pre = split(v.substr(dash + 1), '.');
    for (const auto& id : p.pre)
      if (!ident_ok(id)) return std::nullopt;
    v.resize(dash);
  }
  for (const auto& part : split(v, '.')) {
    if (!all_digits(part) || part.size() > 18) return std::nullopt;
    p.nums.push_back(std::stoull(part));
  }
  return p;
}

int cmp_pre(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  if (a.empty() || b.empty()) return a.empty() == b.empty() ? 0 : (a.empty() ? 1 : -1);
  for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) {
    bool na = all_digits(a[i]), nb = all_digits(b[i]);
    if (na && nb) {
      if (a[i].size() != b[i].size()) return a[i].size() < b[i].size() ? -1 : 1;
      if (a[i] != b[i]) return a[i] < b[i] ? -1 : 1;
    } else if (na != nb) {
      return na ? -1 : 1; // numeric identifiers sort before alphanumeric ones
    } else if (a[i] != b[i]) {
      return a[i] < b[i] ? -1 : 1;
    }
  }
  return a.size() == b.size() ? 0 : (a.size() < b.size() ? -1 : 1);
}

} // namespace

bool is_valid_version(const std::string& v) { return parse(v).has_value(); }

int compare_versions(const std::string& a, const std::string& b) {
  auto pa = parse(a), pb = parse(b);
  if (!pa)
    fail(ExitCode::bad_input, "'" + a + "' is not a version (expected dotted numbers such as 1.2.3 or v2.0-rc.1)");
  if (!pb)
    fail(ExitCode::bad_input, "'" + b + "' is not a version (expected dotted numbers such as 1.2.3 or v2.0-rc.1)");
  std::size_t n = std::max(pa->nums.size(), pb->nums.size());
  for (std::size_t i = 0; i < n; ++i) {
    unsigned long long x = i < pa->nums.size() ? pa->nums[i] : 0, y = i < pb->nums.size() ? pb->nums[i] : 0;
    if (x != y) return x < y ? -1 : 1;
  }
  return cmp_pre(pa->pre, pb->pre);
}

} // namespace airlock::release
