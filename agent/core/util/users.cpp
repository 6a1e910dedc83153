#include "util/users.hpp"

#include <fstream>

namespace airlock::util {
namespace {

std::string lookup(std::uint32_t id, const std::string& file) {
  std::ifstream in(file);
  std::string line;
  const std::string wanted = std::to_string(id);
  while (std::getline(in, line)) {
    // name:password:id:...
    auto c1 = line.find(':');
    if (c1 == std::string::npos || c1 == 0 || line[0] == '#') continue;
    auto c2 = line.find(':', c1 + 1);
    if (c2 == std::string::npos) continue;
    auto c3 = line.find(':', c2 + 1);
    if (line.compare(c2 + 1, (c3 == std::string::npos ? line.size() : c3) - c2 - 1, wanted) == 0)
      return line.substr(0, c1);
  }
  return "";
}

} // namespace

std::string user_name(std::uint32_t uid, const std::string& file) { return lookup(uid, file); }
std::string group_name(std::uint32_t gid, const std::string& file) { return lookup(gid, file); }

} // namespace airlock::util
