// Strict JSON for TUF metadata: a parser for attacker-controlled input and the OLPC canonical encoding whose
// bytes get signed and verified. Poco JSON is not used because it silently accepts duplicate keys.
//
// Errors: every failure throws airlock::Error. Malformed input (parse) and values that cannot be encoded
// (a string that is not valid UTF-8) are Error(bad_input); asking a Value for the wrong type is
// Error(bad_input, "expected <type>, found <type>"). Nothing here returns a partial result.
// Not errors: empty objects and arrays, empty strings and keys, "\u0000" inside strings (the decoded string then
// holds a NUL byte: code that turns strings into paths must reject it), "-0" (read as 0).
//
// Thread-safety: parse, canonical and pretty are pure and may run concurrently. A Value behaves like a standard
// container: any number of threads may read one Value, a thread that modifies it needs exclusive access.
#pragma once

#include "util/error.hpp"

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace airlock::json {

class Value;
using Array = std::vector<Value>;
using Object = std::map<std::string, Value>; // keys are unique; iteration is in std::string (byte) order

// Integer types a Value accepts: every integral type except bool and the character types.
template <class T>
concept Integer = std::integral<T> && !std::same_as<T, bool> && !std::same_as<T, char> &&
                  !std::same_as<T, signed char> && !std::same_as<T, unsigned char> && !std::same_as<T, wchar_t> &&
                  !std::same_as<T, char8_t> && !std::same_as<T, char16_t> && !std::same_as<T, char32_t>;

// A JSON value. Numbers are integers only (TUF metadata has no fractions). Strings hold UTF-8 bytes; parse()
// only produces valid UTF-8, and canonical()/pretty() refuse strings that are not.
class Value {
public:
  enum class Type { null, boolean, integer, string, array, object };

  Value() noexcept = default;
  Value(std::nullptr_t) noexcept {}
  Value(bool b) noexcept : type_(Type::boolean), bool_(b) {}
  // Any integer type. Throws Error(bad_input) when an unsigned value does not fit in std::int64_t.
  template <Integer T> Value(T n) : type_(Type::integer), int_(to_int64(n)) {}
  Value(std::string s) noexcept : type_(Type::string), string_(std::move(s)) {}
  Value(std::string_view s) : type_(Type::string), string_(s) {}
  Value(const char* s) : type_(Type::string), string_(s) {}
  template <class T> Value(const T*) = delete; // no silent pointer -> bool conversion
  Value(Array a) noexcept : type_(Type::array), array_(std::move(a)) {}
  Value(Object o);

  Value(const Value& other);
  Value(Value&& other) noexcept; // leaves `other` null
  Value& operator=(Value other) noexcept;
  ~Value();

  Type type() const noexcept { return type_; }
  bool is_null() const noexcept { return type_ == Type::null; }
  bool is_bool() const noexcept { return type_ == Type::boolean; }
  bool is_int() const noexcept { return type_ == Type::integer; }
  bool is_string() const noexcept { return type_ == Type::string; }
  bool is_array() const noexcept { return type_ == Type::array; }
  bool is_object() const noexcept { return type_ == Type::object; }

  // Each throws Error(bad_input, "expected <type>, found <type>") when the value has another type.
  bool as_bool() const;
  std::int64_t as_int() const;
  const std::string& as_string() const;
  const Array& as_array() const;
  Array& as_array();
  const Object& as_object() const;
  Object& as_object();

  // The member `key`, or nullptr when it is absent or this is not an object.
  const Value* find(const std::string& key) const;
  // Object member access that inserts a null member when absent. A null Value first becomes an empty object;
  // any other non-object throws Error(bad_input, "expected object, found <type>").
  Value& operator[](const std::string& key);

  // Deep equality: same type and same contents (objects compare keys and values, arrays compare in order).
  bool operator==(const Value& other) const;

private:
  template <Integer T> static std::int64_t to_int64(T n) {
    if constexpr (std::is_unsigned_v<T>) {
      if (n > static_cast<std::make_unsigned_t<std::int64_t>>(std::numeric_limits<std::int64_t>::max()))
        fail(ExitCode::bad_input, "integer " + std::to_string(n) + " does not fit in a signed 64-bit integer");
    }
    return static_cast<std::int64_t>(n);
  }
  void expect(Type t) const;

  Type type_ = Type::null;
  bool bool_ = false;
  std::int64_t int_ = 0;
  std::string string_;
  Array array_;                    // std::vector may hold the incomplete Value (C++17)
  std::unique_ptr<Object> object_; // std::map may not, hence the pointer; non-null exactly when type_ is object
};

// The string member `key` of `v`, or `fallback` when `v` is not an object, has no such member, or it is not a
// string (for optional fields of documents already checked, e.g. a journal row or a target's custom data).
std::string string_or(const Value& v, const std::string& key, const std::string& fallback);

// "null", "boolean", "integer", "string", "array" or "object".
const char* type_name(Value::Type t) noexcept;

struct ParseLimits {
  std::size_t max_bytes = 16u << 20;
  // Containers may nest this deep ("[[1]]" is depth 2). The parser recurses once per level, so keep it modest.
  int max_depth = 64;
};

// Parses one JSON document (RFC 8259, strictly). `what` names the document in error messages, e.g. a file
// name or URL. Throws Error(bad_input, "<what>: <problem> at byte <offset>") (offset counted from 0) for:
// input larger than limits.max_bytes, NUL bytes, invalid UTF-8 anywhere, a byte order mark, whitespace other
// than space/tab/LF/CR, unescaped control characters in strings, unknown escapes, lone or invalid surrogate
// escapes, duplicate object keys (compared after unescaping), trailing commas, leading zeros, fractions and
// exponents, integers outside std::int64_t, nesting deeper than limits.max_depth, and any data after the value.
// Never crashes, hangs or exhausts the stack on garbage.
Value parse(std::string_view text, const std::string& what, ParseLimits limits = {});

// OLPC canonical JSON, byte-for-byte as @tufjs/canonical-json 2.x (the TUF interop reference) encodes it: no
// whitespace; object keys sorted by UTF-16 code units like JavaScript's default Array.prototype.sort (so a key
// starting with U+10000..U+10FFFF sorts before one starting with U+E000..U+FFFF, unlike UTF-8 byte order);
// strings escape only '"' and '\' and write every other byte verbatim, control characters included; integers
// in plain decimal. (JavaScript itself is exact only up to 2^53-1; larger integers are written exactly.)
// The output is not always valid JSON (raw control characters) and is meant for hashing and signing only.
// Throws Error(bad_input) when a string is not valid UTF-8.
std::string canonical(const Value& v);

// Readable JSON for files people look at: 2-space indent, keys in std::map order, escapes \" \\ \b \f \n \r \t
// and \u00xx for other control characters, other UTF-8 verbatim, a trailing newline. parse(pretty(v)) == v.
// Throws Error(bad_input) when a string is not valid UTF-8.
std::string pretty(const Value& v);

// The same escaping as pretty() on one line with no whitespace: valid JSON for JSON-lines logs and --json output.
std::string compact(const Value& v);

} // namespace airlock::json
