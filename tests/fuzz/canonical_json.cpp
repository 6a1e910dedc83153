// util/json canonical(): the bytes that TUF signatures cover. A Value tree is built from the input (strings from
// code points, which this file encodes itself, or raw bytes that may not be UTF-8), and canonical() is compared
// with a second, deliberately naive encoder written here from the OLPC rules as @tufjs/canonical-json applies
// them (keys sorted by UTF-16 code units, only '"' and '\' escaped, integers in decimal). Also: canonical() and
// pretty() refuse exactly the trees with a string that is not UTF-8, and parse(pretty(v)) == v.
#include "fuzz.hpp"
#include "util/json.hpp"

#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <vector>

using namespace airlock;

namespace {

void encode_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// RFC 3629, written out independently of util/json: no overlong forms, no surrogates, nothing above U+10FFFF.
bool valid_utf8(const std::string& s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t len;
    char32_t cp, min;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2, cp = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3, cp = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4, cp = c & 0x07, min = 0x10000;
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    for (std::size_t k = 1; k < len; ++k) {
      const auto d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

// A string: from code points (a surrogate code point makes it invalid UTF-8), or raw bytes.
std::string make_string(FuzzedDataProvider& in) {
  std::string s;
  if (in.ConsumeBool()) return in.ConsumeRandomLengthString(32);
  const std::size_t n = in.ConsumeIntegralInRange<std::size_t>(0, 12);
  for (std::size_t i = 0; i < n; ++i) {
    char32_t cp;
    switch (in.ConsumeIntegralInRange(0, 4)) {
    case 0:
      cp = in.ConsumeIntegralInRange<char32_t>(0, 0x7F);
      break;
    case 1:
      cp = in.ConsumeIntegralInRange<char32_t>(0x80, 0x7FF);
      break;
    case 2:
      cp = in.ConsumeIntegralInRange<char32_t>(0x800, 0xFFFF);
      break;
    case 3:
      cp = in.ConsumeIntegralInRange<char32_t>(0x10000, 0x10FFFF);
      break;
    default:
      cp = in.PickValueInArray<char32_t>({'"', '\\', 0, '\n', 0xD800, 0xDFFF, 0xE000, 0xFFFF, 0x10000});
    }
    encode_utf8(s, cp);
  }
  return s;
}

json::Value make_value(FuzzedDataProvider& in, int depth) {
  switch (in.ConsumeIntegralInRange(0, depth > 6 ? 4 : 6)) {
  case 0:
    return nullptr;
  case 1:
    return in.ConsumeBool();
  case 2:
    return in.ConsumeIntegral<std::int64_t>();
  case 3:
    return in.ConsumeIntegralInRange<std::int64_t>(-1000, 1000);
  case 4:
    return make_string(in);
  case 5: {
    json::Array a;
    const std::size_t n = in.ConsumeIntegralInRange<std::size_t>(0, 5);
    for (std::size_t i = 0; i < n && in.remaining_bytes(); ++i) a.push_back(make_value(in, depth + 1));
    return a;
  }
  default: {
    json::Object o;
    const std::size_t n = in.ConsumeIntegralInRange<std::size_t>(0, 5);
    for (std::size_t i = 0; i < n && in.remaining_bytes(); ++i) {
      std::string key = make_string(in);
      o[key] = make_value(in, depth + 1);
    }
    return o;
  }
  }
}

// Whether every string and key of the tree is valid UTF-8 (a key may have been generated twice: the map keeps
// the second value, so this is judged on the finished tree).
bool all_utf8(const json::Value& v) {
  switch (v.type()) {
  case json::Value::Type::string:
    return valid_utf8(v.as_string());
  case json::Value::Type::array:
    return std::all_of(v.as_array().begin(), v.as_array().end(), [](const json::Value& e) { return all_utf8(e); });
  case json::Value::Type::object:
    for (const auto& [k, e] : v.as_object())
      if (!valid_utf8(k) || !all_utf8(e)) return false;
    return true;
  default:
    return true;
  }
}

std::u16string utf16(const std::string& s) {
  std::u16string out;
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    const int len = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    char32_t cp = len == 1 ? c : len == 2 ? c & 0x1F : len == 3 ? c & 0x0F : c & 0x07;
    for (int k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    i += len;
    if (cp < 0x10000) {
      out.push_back(static_cast<char16_t>(cp));
    } else {
      out.push_back(static_cast<char16_t>(0xD800 + ((cp - 0x10000) >> 10)));
      out.push_back(static_cast<char16_t>(0xDC00 + ((cp - 0x10000) & 0x3FF)));
    }
  }
  return out;
}

void reference_string(std::string& out, const std::string& s) {
  out.push_back('"');
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
}

void reference(std::string& out, const json::Value& v) {
  switch (v.type()) {
  case json::Value::Type::null:
    out += "null";
    break;
  case json::Value::Type::boolean:
    out += v.as_bool() ? "true" : "false";
    break;
  case json::Value::Type::integer:
    out += std::to_string(v.as_int());
    break;
  case json::Value::Type::string:
    reference_string(out, v.as_string());
    break;
  case json::Value::Type::array: {
    out.push_back('[');
    for (std::size_t i = 0; i < v.as_array().size(); ++i) {
      if (i) out.push_back(',');
      reference(out, v.as_array()[i]);
    }
    out.push_back(']');
    break;
  }
  case json::Value::Type::object: {
    std::vector<const std::string*> keys;
    for (const auto& [k, _] : v.as_object()) keys.push_back(&k);
    std::sort(keys.begin(), keys.end(),
              [](const std::string* a, const std::string* b) { return utf16(*a) < utf16(*b); });
    out.push_back('{');
    for (std::size_t i = 0; i < keys.size(); ++i) {
      if (i) out.push_back(',');
      reference_string(out, *keys[i]);
      out.push_back(':');
      reference(out, *v.find(*keys[i]));
    }
    out.push_back('}');
    break;
  }
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  const json::Value v = make_value(in, 0);
  const bool utf8 = all_utf8(v);
  std::string canonical, pretty;
  const bool canonical_refused = fuzz::refused([&] { canonical = json::canonical(v); });
  const bool pretty_refused = fuzz::refused([&] { pretty = json::pretty(v); });
  if (canonical_refused != !utf8 || pretty_refused != !utf8)
    fuzz::broken(utf8 ? "a valid UTF-8 tree was refused" : "a string that is not UTF-8 was encoded");
  if (!utf8) return 0;
  std::string expected;
  reference(expected, v);
  if (canonical != expected) fuzz::broken("canonical() differs from the reference encoder");
  json::Value back;
  if (fuzz::refused([&] { back = json::parse(pretty, "pretty"); }) || !(back == v))
    fuzz::broken("parse(pretty(v)) != v");
  if (json::canonical(back) != canonical) fuzz::broken("canonical() of the same value differs");
  return 0;
}
