#include "util/json.hpp"

#include "util/text.hpp"

#include <algorithm>
#include <cstring>
#include <utility>

namespace airlock::json {

// ---- Value ----------------------------------------------------------------------------------------------

Value::Value(Object o) : type_(Type::object), object_(std::make_unique<Object>(std::move(o))) {}

Value::Value(const Value& other)
    : type_(other.type_), bool_(other.bool_), int_(other.int_), string_(other.string_), array_(other.array_),
      object_(other.object_ ? std::make_unique<Object>(*other.object_) : nullptr) {}

Value::Value(Value&& other) noexcept
    : type_(other.type_), bool_(other.bool_), int_(other.int_), string_(std::move(other.string_)),
      array_(std::move(other.array_)), object_(std::move(other.object_)) {
  other.type_ = Type::null;
}

Value& Value::operator=(Value other) noexcept {
  std::swap(type_, other.type_);
  std::swap(bool_, other.bool_);
  std::swap(int_, other.int_);
  string_.swap(other.string_);
  array_.swap(other.array_);
  object_.swap(other.object_);
  return *this;
}

Value::~Value() = default;

const char* type_name(Value::Type t) noexcept {
  switch (t) {
  case Value::Type::null:
    return "null";
  case Value::Type::boolean:
    return "boolean";
  case Value::Type::integer:
    return "integer";
  case Value::Type::string:
    return "string";
  case Value::Type::array:
    return "array";
  case Value::Type::object:
    return "object";
  }
  return "unknown";
}

void Value::expect(Type t) const {
  if (type_ != t) fail(ExitCode::bad_input, std::string("expected ") + type_name(t) + ", found " + type_name(type_));
}

bool Value::as_bool() const {
  expect(Type::boolean);
  return bool_;
}
std::int64_t Value::as_int() const {
  expect(Type::integer);
  return int_;
}
const std::string& Value::as_string() const {
  expect(Type::string);
  return string_;
}
const Array& Value::as_array() const {
  expect(Type::array);
  return array_;
}
Array& Value::as_array() {
  expect(Type::array);
  return array_;
}
const Object& Value::as_object() const {
  expect(Type::object);
  return *object_;
}
Object& Value::as_object() {
  expect(Type::object);
  return *object_;
}

const Value* Value::find(const std::string& key) const {
  if (type_ != Type::object) return nullptr;
  auto it = object_->find(key);
  return it == object_->end() ? nullptr : &it->second;
}

Value& Value::operator[](const std::string& key) {
  if (type_ == Type::null) *this = Value(Object{});
  return as_object()[key];
}

bool Value::operator==(const Value& other) const {
  if (type_ != other.type_) return false;
  switch (type_) {
  case Type::null:
    return true;
  case Type::boolean:
    return bool_ == other.bool_;
  case Type::integer:
    return int_ == other.int_;
  case Type::string:
    return string_ == other.string_;
  case Type::array:
    return array_ == other.array_;
  case Type::object:
    return *object_ == *other.object_;
  }
  return false;
}

// ---- UTF-8 ------------------------------------------------------------------------------------------------

namespace {

// Decodes the well-formed UTF-8 sequence at s[i] (Unicode table 3-7: no overlongs, no surrogates, nothing above
// U+10FFFF) into `cp` and advances `i`. Returns false, leaving `i` alone, when the bytes are not well-formed.
bool decode_utf8(std::string_view s, std::size_t& i, char32_t& cp) {
  if (i >= s.size()) return false;
  auto byte = [&](std::size_t k) { return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : 0u; };
  unsigned b0 = byte(0);
  if (b0 < 0x80) {
    cp = b0;
    i += 1;
    return true;
  }
  std::size_t len;
  unsigned lo = 0x80, hi = 0xBF; // allowed range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    return false;
  }
  char32_t c = b0 & (0xFFu >> (len + 1));
  for (std::size_t k = 1; k < len; ++k) {
    unsigned b = byte(k);
    if (b < (k == 1 ? lo : 0x80u) || b > (k == 1 ? hi : 0xBFu)) return false;
    c = (c << 6) | (b & 0x3Fu);
  }
  cp = c;
  i += len;
  return true;
}

void append_utf8(std::string& out, char32_t cp) {
  auto put = [&](char32_t b) { out.push_back(static_cast<char>(b)); };
  if (cp < 0x80) {
    put(cp);
  } else if (cp < 0x800) {
    put(0xC0 | (cp >> 6));
    put(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    put(0xE0 | (cp >> 12));
    put(0x80 | ((cp >> 6) & 0x3F));
    put(0x80 | (cp & 0x3F));
  } else {
    put(0xF0 | (cp >> 18));
    put(0x80 | ((cp >> 12) & 0x3F));
    put(0x80 | ((cp >> 6) & 0x3F));
    put(0x80 | (cp & 0x3F));
  }
}

// The string as UTF-16 code units, for JavaScript's sort order. Throws when it is not valid UTF-8.
std::u16string to_utf16(std::string_view s) {
  std::u16string out;
  for (std::size_t i = 0; i < s.size();) {
    char32_t cp;
    if (!decode_utf8(s, i, cp))
      fail(ExitCode::bad_input, "JSON encoding: string " + util::quoted(s, 64) + " is not valid UTF-8");
    if (cp < 0x10000) {
      out.push_back(static_cast<char16_t>(cp));
    } else {
      out.push_back(static_cast<char16_t>(0xD800 + ((cp - 0x10000) >> 10)));
      out.push_back(static_cast<char16_t>(0xDC00 + ((cp - 0x10000) & 0x3FF)));
    }
  }
  return out;
}

void check_utf8(std::string_view s) {
  char32_t cp;
  for (std::size_t i = 0; i < s.size();)
    if (!decode_utf8(s, i, cp))
      fail(ExitCode::bad_input, "JSON encoding: string " + util::quoted(s, 64) + " is not valid UTF-8");
}

// ---- Parser -----------------------------------------------------------------------------------------------

class Parser {
public:
  Parser(std::string_view text, const std::string& what, int max_depth)
      : s_(text), what_(what), max_depth_(max_depth) {}

  Value document() {
    Value v = value(0);
    skip_ws();
    if (pos_ != s_.size()) error("unexpected data after the JSON value");
    return v;
  }

private:
  [[noreturn]] void error(const std::string& problem) { error_at(pos_, problem); }
  [[noreturn]] void error_at(std::size_t at, const std::string& problem) {
    fail(ExitCode::bad_input, what_ + ": " + problem + " at byte " + std::to_string(at));
  }

  bool eof() const { return pos_ >= s_.size(); }
  char peek() const { return eof() ? '\0' : s_[pos_]; }

  void skip_ws() {
    while (!eof() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
  }

  [[noreturn]] void unexpected(const char* expected) {
    if (eof()) error(std::string("unexpected end of input, expected ") + expected);
    auto c = static_cast<unsigned char>(s_[pos_]);
    std::string found =
        c >= 0x20 && c < 0x7F ? std::string("'") + static_cast<char>(c) + "'" : util::quoted(s_.substr(pos_, 1));
    error("unexpected " + found + ", expected " + expected);
  }

  Value value(int depth) {
    skip_ws();
    switch (peek()) {
    case '{':
      return parse_object(depth + 1);
    case '[':
      return parse_array(depth + 1);
    case '"':
      return Value(parse_string());
    case 't':
      literal("true");
      return Value(true);
    case 'f':
      literal("false");
      return Value(false);
    case 'n':
      literal("null");
      return Value();
    default:
      if (peek() == '-' || (peek() >= '0' && peek() <= '9')) return Value(parse_number());
      unexpected("a JSON value");
    }
  }

  void enter(int depth) {
    if (depth > max_depth_) error("nesting deeper than " + std::to_string(max_depth_) + " levels");
    ++pos_; // the opening bracket
    skip_ws();
  }

  Value parse_object(int depth) {
    enter(depth);
    Object obj;
    if (peek() == '}') {
      ++pos_;
      return Value(std::move(obj));
    }
    for (;;) {
      if (peek() != '"') unexpected("a string key");
      std::size_t key_at = pos_;
      std::string key = parse_string();
      if (obj.count(key)) error_at(key_at, "duplicate key " + util::quoted(key, 64));
      skip_ws();
      if (peek() != ':') unexpected("':'");
      ++pos_;
      obj.emplace(std::move(key), value(depth));
      skip_ws();
      if (peek() == '}') {
        ++pos_;
        return Value(std::move(obj));
      }
      if (peek() != ',') unexpected("',' or '}'");
      ++pos_;
      skip_ws();
    }
  }

  Value parse_array(int depth) {
    enter(depth);
    Array arr;
    if (peek() == ']') {
      ++pos_;
      return Value(std::move(arr));
    }
    for (;;) {
      arr.push_back(value(depth));
      skip_ws();
      if (peek() == ']') {
        ++pos_;
        return Value(std::move(arr));
      }
      if (peek() != ',') unexpected("',' or ']'");
      ++pos_;
    }
  }

  void literal(std::string_view word) {
    if (s_.substr(pos_, word.size()) != word) unexpected("a JSON value");
    pos_ += word.size();
  }

  std::int64_t parse_number() {
    std::size_t start = pos_;
    bool negative = peek() == '-';
    if (negative) ++pos_;
    if (!(peek() >= '0' && peek() <= '9')) unexpected("a digit");
    if (peek() == '0' && pos_ + 1 < s_.size() && s_[pos_ + 1] >= '0' && s_[pos_ + 1] <= '9')
      error("leading zeros are not allowed in numbers");
    // Accumulate the magnitude; -2^63 is one more than 2^63-1.
    const std::uint64_t limit = negative ? std::uint64_t{1} << 63 : (std::uint64_t{1} << 63) - 1;
    std::uint64_t magnitude = 0;
    while (peek() >= '0' && peek() <= '9') {
      auto digit = static_cast<std::uint64_t>(peek() - '0');
      if (magnitude > (limit - digit) / 10)
        error_at(start, "integer out of range (must fit in a signed 64-bit integer)");
      magnitude = magnitude * 10 + digit;
      ++pos_;
    }
    if (peek() == '.' || peek() == 'e' || peek() == 'E')
      error("fractions and exponents are not allowed (numbers in TUF metadata are integers)");
    if (!negative) return static_cast<std::int64_t>(magnitude);
    return magnitude == limit ? std::numeric_limits<std::int64_t>::min() : -static_cast<std::int64_t>(magnitude);
  }

  unsigned hex4() {
    unsigned v = 0;
    for (int k = 0; k < 4; ++k) {
      char c = peek();
      unsigned d;
      if (c >= '0' && c <= '9')
        d = static_cast<unsigned>(c - '0');
      else if (c >= 'a' && c <= 'f')
        d = static_cast<unsigned>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F')
        d = static_cast<unsigned>(c - 'A' + 10);
      else
        unexpected("a hex digit in a \\u escape");
      v = v * 16 + d;
      ++pos_;
    }
    return v;
  }

  std::string parse_string() {
    ++pos_; // the opening quote
    std::string out;
    for (;;) {
      if (eof()) error("unterminated string");
      auto c = static_cast<unsigned char>(s_[pos_]);
      if (c == '"') {
        ++pos_;
        return out;
      }
      if (c < 0x20) error("unescaped control character in string");
      if (c >= 0x80) {
        std::size_t start = pos_;
        char32_t cp;
        if (!decode_utf8(s_, pos_, cp)) error("invalid UTF-8");
        out.append(s_.substr(start, pos_ - start));
        continue;
      }
      if (c != '\\') {
        out.push_back(static_cast<char>(c));
        ++pos_;
        continue;
      }
      std::size_t escape_at = pos_++;
      if (eof()) error("unterminated string");
      switch (s_[pos_++]) {
      case '"':
        out.push_back('"');
        break;
      case '\\':
        out.push_back('\\');
        break;
      case '/':
        out.push_back('/');
        break;
      case 'b':
        out.push_back('\b');
        break;
      case 'f':
        out.push_back('\f');
        break;
      case 'n':
        out.push_back('\n');
        break;
      case 'r':
        out.push_back('\r');
        break;
      case 't':
        out.push_back('\t');
        break;
      case 'u': {
        char32_t cp = hex4();
        if (cp >= 0xDC00 && cp <= 0xDFFF) error_at(escape_at, "lone low surrogate in \\u escape");
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          if (s_.substr(pos_, 2) != "\\u") error_at(escape_at, "high surrogate not followed by a low surrogate");
          pos_ += 2;
          char32_t low = hex4();
          if (low < 0xDC00 || low > 0xDFFF) error_at(escape_at, "high surrogate not followed by a low surrogate");
          cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        }
        append_utf8(out, cp);
        break;
      }
      default:
        error_at(escape_at, "invalid escape sequence");
      }
    }
  }

  std::string_view s_;
  const std::string& what_;
  int max_depth_;
  std::size_t pos_ = 0;
};

// ---- Writers ----------------------------------------------------------------------------------------------

void write_canonical_string(std::string& out, const std::string& s) {
  check_utf8(s);
  out.push_back('"');
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
}

void write_canonical(std::string& out, const Value& v) {
  switch (v.type()) {
  case Value::Type::null:
    out += "null";
    break;
  case Value::Type::boolean:
    out += v.as_bool() ? "true" : "false";
    break;
  case Value::Type::integer:
    out += std::to_string(v.as_int());
    break;
  case Value::Type::string:
    write_canonical_string(out, v.as_string());
    break;
  case Value::Type::array: {
    out.push_back('[');
    bool first = true;
    for (const Value& e : v.as_array()) {
      if (!first) out.push_back(',');
      first = false;
      write_canonical(out, e);
    }
    out.push_back(']');
    break;
  }
  case Value::Type::object: {
    // @tufjs/canonical-json: Object.keys(o).sort(), which compares UTF-16 code units.
    std::vector<std::pair<std::u16string, const Object::value_type*>> members;
    for (const auto& m : v.as_object()) members.emplace_back(to_utf16(m.first), &m);
    std::sort(members.begin(), members.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    out.push_back('{');
    bool first = true;
    for (const auto& m : members) {
      if (!first) out.push_back(',');
      first = false;
      write_canonical_string(out, m.second->first);
      out.push_back(':');
      write_canonical(out, m.second->second);
    }
    out.push_back('}');
    break;
  }
  }
}

void write_pretty_string(std::string& out, const std::string& s) {
  static const char hex[] = "0123456789abcdef";
  check_utf8(s);
  out.push_back('"');
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    switch (c) {
    case '"':
      out += "\\\"";
      break;
    case '\\':
      out += "\\\\";
      break;
    case '\b':
      out += "\\b";
      break;
    case '\f':
      out += "\\f";
      break;
    case '\n':
      out += "\\n";
      break;
    case '\r':
      out += "\\r";
      break;
    case '\t':
      out += "\\t";
      break;
    default:
      if (c < 0x20) {
        out += "\\u00";
        out.push_back(hex[c >> 4]);
        out.push_back(hex[c & 15]);
      } else {
        out.push_back(ch);
      }
    }
  }
  out.push_back('"');
}

// indent == npos: compact (no whitespace at all).
void write_pretty(std::string& out, const Value& v, std::size_t indent) {
  constexpr std::size_t compact = std::string::npos;
  auto newline = [&](std::size_t n) {
    if (indent == compact) return;
    out.push_back('\n');
    out.append(n, ' ');
  };
  const std::size_t inner = indent == compact ? compact : indent + 2;
  switch (v.type()) {
  case Value::Type::null:
  case Value::Type::boolean:
  case Value::Type::integer:
    write_canonical(out, v);
    break;
  case Value::Type::string:
    write_pretty_string(out, v.as_string());
    break;
  case Value::Type::array: {
    const Array& a = v.as_array();
    if (a.empty()) {
      out += "[]";
      break;
    }
    out.push_back('[');
    for (std::size_t i = 0; i < a.size(); ++i) {
      if (i) out.push_back(',');
      newline(inner);
      write_pretty(out, a[i], inner);
    }
    newline(indent);
    out.push_back(']');
    break;
  }
  case Value::Type::object: {
    const Object& o = v.as_object();
    if (o.empty()) {
      out += "{}";
      break;
    }
    out.push_back('{');
    bool first = true;
    for (const auto& [key, member] : o) {
      if (!first) out.push_back(',');
      first = false;
      newline(inner);
      write_pretty_string(out, key);
      out += indent == compact ? ":" : ": ";
      write_pretty(out, member, inner);
    }
    newline(indent);
    out.push_back('}');
    break;
  }
  }
}

} // namespace

Value parse(std::string_view text, const std::string& what, ParseLimits limits) {
  if (text.size() > limits.max_bytes)
    fail(ExitCode::bad_input, what + ": document is larger than the limit of " + std::to_string(limits.max_bytes) +
                                  " bytes at byte " + std::to_string(limits.max_bytes));
  if (const void* nul = text.empty() ? nullptr : std::memchr(text.data(), '\0', text.size()))
    fail(ExitCode::bad_input,
         what + ": NUL byte at byte " + std::to_string(static_cast<const char*>(nul) - text.data()));
  return Parser(text, what, limits.max_depth).document();
}

std::string canonical(const Value& v) {
  std::string out;
  write_canonical(out, v);
  return out;
}

std::string compact(const Value& v) {
  std::string out;
  write_pretty(out, v, std::string::npos);
  return out;
}

std::string pretty(const Value& v) {
  std::string out;
  write_pretty(out, v, 0);
  out.push_back('\n');
  return out;
}

std::string string_or(const Value& v, const std::string& key, const std::string& fallback) {
  const Value* m = v.find(key);
  return m && m->is_string() ? m->as_string() : fallback;
}

} // namespace airlock::json
