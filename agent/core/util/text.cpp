#include "util/text.hpp"

namespace airlock::util {

std::string printable(std::string_view s, std::size_t max) {
  static const char hex[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < s.size() && i < max; ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7F && c != '"' && c != '\'' && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      out += "\\x";
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  if (s.size() > max) out += "...";
  return out;
}

std::string quoted(std::string_view s, std::size_t max, char quote) { return quote + printable(s, max) + quote; }

} // namespace airlock::util
