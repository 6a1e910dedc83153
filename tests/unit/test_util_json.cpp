#include "util/error.hpp"
#include "util/json.hpp"

#include "testutil.hpp"
#include <doctest/doctest.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

using airlock::ExitCode;
namespace json = airlock::json;
using json::Array;
using json::Object;
using json::Value;
using namespace std::string_literals;

namespace {

struct Outcome {
  ExitCode code = ExitCode::ok;
  std::string message;
};

Outcome outcome_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const airlock::Error& e) {
    return {e.code(), e.what()};
  }
  return {};
}

// Parsing `text` fails with bad_input and exactly `message` (which includes the document name and offset).
void check_rejected(const std::string& text, const std::string& message) {
  CAPTURE(text);
  Outcome o = outcome_of([&] { (void)json::parse(text, "doc.json"); });
  CHECK(o.code == ExitCode::bad_input);
  CHECK(o.message == message);
}

std::string nested(std::size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }

// A TUF-like document with every kind of value, escapes and non-ASCII text.
const std::string tuf_doc = R"({
  "signatures": [
    {"keyid": "4e777de0d275f9d28588dd9a1606cc748e548f9e22b6795b7cb3f63f98035fcb",
     "sig": "a3b5c7e9f0d2c4b6a8e0f2d4c6b8a0e2f4d6c8b0a2e4f6d8c0b2a4e6f8d0c2b4"}
  ],
  "signed": {
    "_type": "root",
    "consistent_snapshot": true,
    "expires": "2030-01-01T00:00:00Z",
    "keys": {
      "4e777de0d275f9d28588dd9a1606cc748e548f9e22b6795b7cb3f63f98035fcb": {
        "keytype": "ed25519", "scheme": "ed25519",
        "keyval": {"public": "72378e5bc588793e58f81c8533da64a2e8f1565c1fcc7f253496394ffc52542c"}
      }
    },
    "roles": {
      "root": {"keyids": ["4e777de0d275f9d28588dd9a1606cc748e548f9e22b6795b7cb3f63f98035fcb"], "threshold": 1},
      "targets": {"keyids": [], "threshold": 2}
    },
    "spec_version": "1.0.31",
    "version": 9223372036854775807,
    "x-note": "caf\u00e9 \ud83d\ude00 \"q\" \\ \/ \b\f\n\r\t \u0001 日本",
    "x-min": -9223372036854775808,
    "x-null": null, "x-false": false, "x-empty": {}, "x-list": [[], [0, -1, {"": ""}]]
  }
}
)";

} // namespace

// ---- parse: accepted input ---------------------------------------------------------------------------------

TEST_CASE("json::parse reads every kind of value") {
  Value v = json::parse(tuf_doc, "root.json");
  const Value& s = v.as_object().at("signed");
  CHECK(s.find("_type")->as_string() == "root");
  CHECK(s.find("consistent_snapshot")->as_bool() == true);
  CHECK(s.find("x-false")->as_bool() == false);
  CHECK(s.find("x-null")->is_null());
  CHECK(s.find("version")->as_int() == std::numeric_limits<std::int64_t>::max());
  CHECK(s.find("x-min")->as_int() == std::numeric_limits<std::int64_t>::min());
  CHECK(s.find("x-note")->as_string() ==
        "caf\xc3\xa9 \xf0\x9f\x98\x80 \"q\" \\ / \b\f\n\r\t \x01 \xe6\x97\xa5\xe6\x9c\xac");
  CHECK(s.find("x-empty")->as_object().empty());
  const Array& list = s.find("x-list")->as_array();
  REQUIRE(list.size() == 2);
  CHECK(list[0].as_array().empty());
  CHECK(list[1] == Value(Array{0, -1, Object{{"", ""}}}));
  CHECK(s.find("roles")->find("targets")->find("keyids")->as_array().empty());
  CHECK(v.as_object().at("signatures").as_array().size() == 1);
}

TEST_CASE("json::parse accepts scalars at the top level, surrounding whitespace, and edge cases") {
  CHECK(json::parse("0", "d") == Value(0));
  CHECK(json::parse("-0", "d") == Value(0));
  CHECK(json::parse(" \t\r\n-42 \t\r\n", "d") == Value(-42));
  CHECK(json::parse("true", "d") == Value(true));
  CHECK(json::parse("null", "d").is_null());
  CHECK(json::parse("\"\"", "d") == Value(""));
  CHECK(json::parse("{}", "d") == Value(Object{}));
  CHECK(json::parse("[ ]", "d") == Value(Array{}));
  CHECK(json::parse("{\"\":1}", "d") == Value(Object{{"", 1}}));
  CHECK(json::parse("\"\\u0000\"", "d").as_string() == std::string(1, '\0'));
  CHECK(json::parse("\"\\u00E9\\u00e9\"", "d").as_string() == "\xc3\xa9\xc3\xa9");
  CHECK(json::parse("\"\\uD83D\\uDE00\"", "d").as_string() == "\xf0\x9f\x98\x80");
  CHECK(json::parse("\"\\uDBFF\\uDFFF\"", "d").as_string() == "\xf4\x8f\xbf\xbf");
  CHECK(json::parse("\"\xf4\x8f\xbf\xbf \xef\xbf\xbf \x7f\"", "d").as_string() == "\xf4\x8f\xbf\xbf \xef\xbf\xbf \x7f");
  CHECK(json::parse("\"\\uFFFD\"", "d").as_string() == "\xef\xbf\xbd");
  CHECK(json::parse("9223372036854775807", "d").as_int() == std::numeric_limits<std::int64_t>::max());
  CHECK(json::parse("-9223372036854775808", "d").as_int() == std::numeric_limits<std::int64_t>::min());
}

// ---- parse: rejected input ---------------------------------------------------------------------------------

TEST_CASE("json::parse rejects duplicate keys") {
  check_rejected(R"({"a":1,"a":2})", "doc.json: duplicate key \"a\" at byte 7");
  // Keys are compared after unescaping.
  check_rejected(R"({"a":1,"\u0061":2})", "doc.json: duplicate key \"a\" at byte 7");
  check_rejected(R"({"signed":{"version":1,"version":1}})", "doc.json: duplicate key \"version\" at byte 23");
  check_rejected("{\"\":1,\"\":1}", "doc.json: duplicate key \"\" at byte 6");
  // Attacker-controlled keys are escaped and cut short in the message.
  std::string long_key(100, 'k');
  Outcome o = outcome_of([&] { (void)json::parse("{\"" + long_key + "\":1,\"" + long_key + "\":2}", "d"); });
  CHECK(o.message == "d: duplicate key \"" + std::string(64, 'k') + "...\" at byte 106");
  o = outcome_of([&] { (void)json::parse("{\"\\n\\\"\":1,\"\\n\\\"\":2}", "d"); });
  CHECK(o.message == "d: duplicate key \"\\x0a\\x22\" at byte 10");
  // Different keys in different objects are fine.
  CHECK_NOTHROW(json::parse(R"({"a":{"a":1},"b":{"a":2}})", "d"));
}

TEST_CASE("json::parse rejects trailing garbage, missing and extra separators") {
  check_rejected("", "doc.json: unexpected end of input, expected a JSON value at byte 0");
  check_rejected("   ", "doc.json: unexpected end of input, expected a JSON value at byte 3");
  check_rejected("{} x", "doc.json: unexpected data after the JSON value at byte 3");
  check_rejected("{}{}", "doc.json: unexpected data after the JSON value at byte 2");
  check_rejected("1 2", "doc.json: unexpected data after the JSON value at byte 2");
  check_rejected("truex", "doc.json: unexpected data after the JSON value at byte 4");
  check_rejected("[1,]", "doc.json: unexpected ']', expected a JSON value at byte 3");
  check_rejected("{\"a\":1,}", "doc.json: unexpected '}', expected a string key at byte 7");
  check_rejected("[1 2]", "doc.json: unexpected '2', expected ',' or ']' at byte 3");
  check_rejected("{\"a\":1 \"b\":2}", "doc.json: unexpected '\"', expected ',' or '}' at byte 7");
  check_rejected("{\"a\" 1}", "doc.json: unexpected '1', expected ':' at byte 5");
  check_rejected("{a:1}", "doc.json: unexpected 'a', expected a string key at byte 1");
  check_rejected("{1:1}", "doc.json: unexpected '1', expected a string key at byte 1");
  check_rejected("[", "doc.json: unexpected end of input, expected a JSON value at byte 1");
  check_rejected("[1", "doc.json: unexpected end of input, expected ',' or ']' at byte 2");
  check_rejected("{\"a\":", "doc.json: unexpected end of input, expected a JSON value at byte 5");
  check_rejected("]", "doc.json: unexpected ']', expected a JSON value at byte 0");
  check_rejected("tru", "doc.json: unexpected 't', expected a JSON value at byte 0");
  check_rejected("True", "doc.json: unexpected 'T', expected a JSON value at byte 0");
  check_rejected("nul", "doc.json: unexpected 'n', expected a JSON value at byte 0");
  check_rejected("'a'", "doc.json: unexpected ''', expected a JSON value at byte 0");
  check_rejected("NaN", "doc.json: unexpected 'N', expected a JSON value at byte 0");
  check_rejected("[1,,2]", "doc.json: unexpected ',', expected a JSON value at byte 3");
  check_rejected("/*c*/1", "doc.json: unexpected '/', expected a JSON value at byte 0");
}

TEST_CASE("json::parse rejects whitespace outside RFC 8259 and a byte order mark") {
  check_rejected("\v1", "doc.json: unexpected \"\\x0b\", expected a JSON value at byte 0");
  check_rejected("\f1", "doc.json: unexpected \"\\x0c\", expected a JSON value at byte 0");
  check_rejected("\xc2\xa0"
                 "1",
                 "doc.json: unexpected \"\\xc2\", expected a JSON value at byte 0");
  check_rejected("\xef\xbb\xbf{}", "doc.json: unexpected \"\\xef\", expected a JSON value at byte 0");
}

TEST_CASE("json::parse rejects invalid UTF-8") {
  const char* bad[] = {
      "\x80",             // lone continuation byte
      "\xbf",             // lone continuation byte
      "\xc0\x80",         // overlong NUL
      "\xc1\xbf",         // overlong
      "\xe0\x80\x80",     // overlong
      "\xe0\x9f\xbf",     // overlong
      "\xed\xa0\x80",     // encoded high surrogate U+D800
      "\xed\xbf\xbf",     // encoded low surrogate U+DFFF
      "\xf0\x80\x80\x80", // overlong
      "\xf0\x8f\xbf\xbf", // overlong
      "\xf4\x90\x80\x80", // above U+10FFFF
      "\xf5\x80\x80\x80", // invalid lead byte
      "\xff",             // invalid byte
      "\xfe",             // invalid byte
      "\xe2\x82",         // truncated sequence
      "\xe2\x82x",        // truncated sequence
      "\xf0\x9f\x98",     // truncated sequence
      "\xc3\xc3",         // lead byte where a continuation is due
  };
  for (const char* b : bad) check_rejected(std::string("[\"ab") + b + "\"]", "doc.json: invalid UTF-8 at byte 4");
  // At the very end of input.
  check_rejected("\"\xe2\x82", "doc.json: invalid UTF-8 at byte 1");
  // Outside strings any non-ASCII byte is unexpected.
  check_rejected("[\xc3\xa9]", "doc.json: unexpected \"\\xc3\", expected a JSON value at byte 1");
}

TEST_CASE("json::parse rejects unescaped control characters and bad escapes") {
  for (int c = 1; c < 0x20; ++c)
    check_rejected("\"a" + std::string(1, static_cast<char>(c)) + "\"",
                   "doc.json: unescaped control character in string at byte 2");
  check_rejected("\"a\\x41\"", "doc.json: invalid escape sequence at byte 2");
  check_rejected("\"\\'\"", "doc.json: invalid escape sequence at byte 1");
  check_rejected("\"\\U0041\"", "doc.json: invalid escape sequence at byte 1");
  check_rejected("\"\\0\"", "doc.json: invalid escape sequence at byte 1");
  check_rejected("\"\\u004\"", "doc.json: unexpected '\"', expected a hex digit in a \\u escape at byte 6");
  check_rejected("\"\\u00g0\"", "doc.json: unexpected 'g', expected a hex digit in a \\u escape at byte 5");
  check_rejected("\"\\u00", "doc.json: unexpected end of input, expected a hex digit in a \\u escape at byte 5");
  check_rejected("\"abc", "doc.json: unterminated string at byte 4");
  check_rejected("\"abc\\", "doc.json: unterminated string at byte 5");
  check_rejected("{\"abc", "doc.json: unterminated string at byte 5");
}

TEST_CASE("json::parse rejects lone and invalid surrogate escapes") {
  check_rejected("\"\\ud800\"", "doc.json: high surrogate not followed by a low surrogate at byte 1");
  check_rejected("\"x\\uDBFF\"", "doc.json: high surrogate not followed by a low surrogate at byte 2");
  check_rejected("\"\\ud800\\u0041\"", "doc.json: high surrogate not followed by a low surrogate at byte 1");
  check_rejected("\"\\ud800\\ud800\"", "doc.json: high surrogate not followed by a low surrogate at byte 1");
  check_rejected("\"\\ud800\\n\"", "doc.json: high surrogate not followed by a low surrogate at byte 1");
  check_rejected("\"\\ud800a\"", "doc.json: high surrogate not followed by a low surrogate at byte 1");
  check_rejected("\"\\udc00\"", "doc.json: lone low surrogate in \\u escape at byte 1");
  check_rejected("\"\\uDFFF\\uD800\"", "doc.json: lone low surrogate in \\u escape at byte 1");
  check_rejected("\"\\ude00\\ud83d\"", "doc.json: lone low surrogate in \\u escape at byte 1");
}

TEST_CASE("json::parse rejects leading zeros, fractions, exponents and malformed numbers") {
  check_rejected("01", "doc.json: leading zeros are not allowed in numbers at byte 0");
  check_rejected("-01", "doc.json: leading zeros are not allowed in numbers at byte 1");
  check_rejected("[00]", "doc.json: leading zeros are not allowed in numbers at byte 1");
  const std::string no_fraction = "fractions and exponents are not allowed (numbers in TUF metadata are integers)";
  check_rejected("1.0", "doc.json: " + no_fraction + " at byte 1");
  check_rejected("1.5", "doc.json: " + no_fraction + " at byte 1");
  check_rejected("-0.5", "doc.json: " + no_fraction + " at byte 2");
  check_rejected("1e3", "doc.json: " + no_fraction + " at byte 1");
  check_rejected("1E3", "doc.json: " + no_fraction + " at byte 1");
  check_rejected("{\"version\":2.0}", "doc.json: " + no_fraction + " at byte 12");
  check_rejected("-", "doc.json: unexpected end of input, expected a digit at byte 1");
  check_rejected("-a", "doc.json: unexpected 'a', expected a digit at byte 1");
  check_rejected("--1", "doc.json: unexpected '-', expected a digit at byte 1");
  check_rejected("+1", "doc.json: unexpected '+', expected a JSON value at byte 0");
  check_rejected(".5", "doc.json: unexpected '.', expected a JSON value at byte 0");
  check_rejected("0x10", "doc.json: unexpected data after the JSON value at byte 1");
}

TEST_CASE("json::parse rejects integers outside int64") {
  const std::string out_of_range = "integer out of range (must fit in a signed 64-bit integer)";
  check_rejected("9223372036854775808", "doc.json: " + out_of_range + " at byte 0");
  check_rejected("-9223372036854775809", "doc.json: " + out_of_range + " at byte 0");
  check_rejected("[18446744073709551616]", "doc.json: " + out_of_range + " at byte 1");
  check_rejected("99999999999999999999999999999999999999", "doc.json: " + out_of_range + " at byte 0");
  CHECK(json::parse("-9223372036854775807", "d").as_int() == -9223372036854775807);
  CHECK(json::parse("9223372036854775806", "d").as_int() == 9223372036854775806);
}

TEST_CASE("json::parse refuses deep nesting without crashing") {
  CHECK(json::parse(nested(64), "d").is_array());
  check_rejected(nested(65), "doc.json: nesting deeper than 64 levels at byte 64");
  check_rejected(std::string(65, '['), "doc.json: nesting deeper than 64 levels at byte 64");
  // A million levels: refused at the limit, long before the stack is in danger.
  check_rejected(std::string(1000000, '['), "doc.json: nesting deeper than 64 levels at byte 64");
  std::string objects;
  for (int i = 0; i < 100000; ++i) objects += "{\"a\":";
  check_rejected(objects, "doc.json: nesting deeper than 64 levels at byte 320");
  json::ParseLimits tight;
  tight.max_depth = 2;
  CHECK(json::parse("[{\"a\":1}]", "d", tight).is_array());
  Outcome o = outcome_of([&] { (void)json::parse("[{\"a\":[]}]", "d", tight); });
  CHECK(o.code == ExitCode::bad_input);
  CHECK(o.message == "d: nesting deeper than 2 levels at byte 6");
  tight.max_depth = 0;
  CHECK(json::parse("7", "d", tight) == Value(7));
  CHECK(outcome_of([&] { (void)json::parse("[]", "d", tight); }).code == ExitCode::bad_input);
}

TEST_CASE("json::parse rejects input larger than max_bytes") {
  json::ParseLimits limits;
  limits.max_bytes = 8;
  CHECK(json::parse("[1,2,33]", "d", limits) == Value(Array{1, 2, 33}));
  Outcome o = outcome_of([&] { (void)json::parse("[1,2,333]", "timestamp.json", limits); });
  CHECK(o.code == ExitCode::bad_input);
  CHECK(o.message == "timestamp.json: document is larger than the limit of 8 bytes at byte 8");
  // The default is 16 MiB.
  std::string big = "\"" + std::string((16u << 20) - 2, 'x') + "\"";
  CHECK(json::parse(big, "d").as_string().size() == (16u << 20) - 2);
  big.insert(1, "x");
  CHECK(outcome_of([&] { (void)json::parse(big, "d"); }).message ==
        "d: document is larger than the limit of 16777216 bytes at byte 16777216");
}

TEST_CASE("json::parse rejects NUL bytes anywhere") {
  check_rejected(std::string("\"a\0b\"", 5), "doc.json: NUL byte at byte 2");
  check_rejected(std::string("{}\0", 3), "doc.json: NUL byte at byte 2");
  check_rejected(std::string("\0", 1), "doc.json: NUL byte at byte 0");
  check_rejected(std::string("[1,\0]", 5), "doc.json: NUL byte at byte 3");
}

// ---- Value ------------------------------------------------------------------------------------------------

TEST_CASE("json::Value reports its type and refuses the wrong accessor") {
  Value n, b(false), i(42), s("x"), a(Array{}), o(Object{});
  CHECK(n.type() == Value::Type::null);
  CHECK(Value(nullptr).is_null());
  CHECK(b.is_bool());
  CHECK(i.is_int());
  CHECK(s.is_string());
  CHECK(a.is_array());
  CHECK(o.is_object());
  CHECK(Value(std::string("x")) == s);
  CHECK(Value(std::string_view("x")) == s);
  CHECK(Value(true).type() == Value::Type::boolean); // not an integer
  CHECK(Value(std::uint32_t{7}).as_int() == 7);
  CHECK(Value(std::uint64_t{9223372036854775807u}).as_int() == std::numeric_limits<std::int64_t>::max());
  CHECK(Value(std::size_t{3}).as_int() == 3);
  CHECK(Value(-5L).as_int() == -5);
  CHECK(Value(-5LL).as_int() == -5);
  Outcome big = outcome_of([] { Value v(std::uint64_t{9223372036854775808u}); });
  CHECK(big.code == ExitCode::bad_input);
  CHECK(big.message == "integer 9223372036854775808 does not fit in a signed 64-bit integer");

  auto message = [](const std::function<void()>& f) {
    Outcome r = outcome_of(f);
    CHECK(r.code == ExitCode::bad_input);
    return r.message;
  };
  CHECK(message([&] { (void)n.as_bool(); }) == "expected boolean, found null");
  CHECK(message([&] { (void)b.as_int(); }) == "expected integer, found boolean");
  CHECK(message([&] { (void)i.as_string(); }) == "expected string, found integer");
  CHECK(message([&] { (void)s.as_array(); }) == "expected array, found string");
  CHECK(message([&] { (void)a.as_object(); }) == "expected object, found array");
  CHECK(message([&] { (void)std::as_const(o).as_array(); }) == "expected array, found object");
  CHECK(message([&] { (void)i["k"]; }) == "expected object, found integer");
  CHECK(std::string(json::type_name(Value::Type::object)) == "object");
}

TEST_CASE("json::Value find, operator[], copies, moves and equality") {
  Value v;
  v["b"] = 2;
  v["a"]["nested"] = "x";
  v["list"] = Array{1, "two", nullptr, true, Object{}};
  CHECK(v.is_object());
  CHECK(v.find("b")->as_int() == 2);
  CHECK(v.find("a")->find("nested")->as_string() == "x");
  CHECK(v.find("missing") == nullptr);
  CHECK(v.find("b")->find("b") == nullptr); // not an object
  CHECK(Value(Array{}).find("x") == nullptr);
  v["c"];
  CHECK(v.find("c")->is_null());

  Value copy = v;
  CHECK(copy == v);
  copy["a"]["nested"] = "y";
  CHECK(v.find("a")->find("nested")->as_string() == "x"); // deep copy
  CHECK_FALSE(copy == v);
  Value moved = std::move(copy);
  CHECK(moved.find("a")->find("nested")->as_string() == "y");
  CHECK(copy.is_null()); // NOLINT(bugprone-use-after-move): documented to leave the source null
  copy = moved;
  CHECK(copy == moved);
  Value& alias = copy;
  copy = alias; // self-assignment
  CHECK(copy == moved);
  Value arr = Array{1};
  arr.as_array().push_back(2);
  CHECK(arr == Value(Array{1, 2}));
  CHECK_FALSE(Value(1) == Value(true));
  CHECK_FALSE(Value(0) == Value());
  CHECK_FALSE(Value(Object{{"a", 1}}) == Value(Object{{"a", 2}}));
  CHECK_FALSE(Value(Object{{"a", 1}}) == Value(Object{{"b", 1}}));
}

// ---- canonical ----------------------------------------------------------------------------------------------

TEST_CASE("json::canonical writes no whitespace and integers in plain decimal") {
  CHECK(json::canonical(Value()) == "null");
  CHECK(json::canonical(Value(true)) == "true");
  CHECK(json::canonical(Value(false)) == "false");
  CHECK(json::canonical(Value(0)) == "0");
  CHECK(json::canonical(Value(-17)) == "-17");
  CHECK(json::canonical(Value(std::numeric_limits<std::int64_t>::max())) == "9223372036854775807");
  CHECK(json::canonical(Value(std::numeric_limits<std::int64_t>::min())) == "-9223372036854775808");
  CHECK(json::canonical(Value(Array{})) == "[]");
  CHECK(json::canonical(Value(Object{})) == "{}");
  CHECK(json::canonical(Value(Array{Array{}, Object{}, ""})) == "[[],{},\"\"]");
  CHECK(json::canonical(json::parse(" { \"b\" : [ 1 , 2 ] , \"a\" : { } } ", "d")) == "{\"a\":{},\"b\":[1,2]}");
}

TEST_CASE("json::canonical escapes only quote and backslash") {
  std::string all_controls;
  for (int c = 1; c < 0x20; ++c) all_controls.push_back(static_cast<char>(c));
  Value v = "q\"b\\s/" + all_controls + "\x7f\xc3\xa9\xf0\x9f\x98\x80" + std::string(1, '\0');
  CHECK(json::canonical(v) ==
        "\"q\\\"b\\\\s/" + all_controls + "\x7f\xc3\xa9\xf0\x9f\x98\x80" + std::string(1, '\0') + "\"");
  CHECK(json::canonical(Value(Object{{"\"\\", "\n"}})) == "{\"\\\"\\\\\":\"\n\"}");
}

TEST_CASE("json::canonical sorts keys by UTF-16 code units, not UTF-8 bytes") {
  const std::string e_acute = "\xc3\xa9";          // U+00E9
  const std::string private_use = "\xee\x80\x80";  // U+E000
  const std::string replacement = "\xef\xbf\xbd";  // U+FFFD
  const std::string linear_b = "\xf0\x90\x80\x80"; // U+10000 = D800 DC00
  const std::string grinning = "\xf0\x9f\x98\x80"; // U+1F600 = D83D DE00
  const std::string last = "\xf4\x8f\xbf\xbf";     // U+10FFFF = DBFF DFFF
  Object o;
  for (const std::string& k : {std::string("b"), std::string("a"), std::string(""), std::string("A"), std::string("aa"),
                               std::string("a\0", 2), e_acute, private_use, replacement, linear_b, grinning, last})
    o[k] = 0;
  std::string expected = "{\"\":0,\"A\":0,\"a\":0,\"a" + std::string(1, '\0') + "\":0,\"aa\":0,\"b\":0,\"" + e_acute +
                         "\":0,\"" + linear_b + "\":0,\"" + grinning + "\":0,\"" + last + "\":0,\"" + private_use +
                         "\":0,\"" + replacement + "\":0}";
  CHECK(json::canonical(Value(o)) == expected);
  // The simplest case: an astral key sorts before U+FFFD, the reverse of std::map (UTF-8 byte) order.
  Value pair(Object{{replacement, 1}, {grinning, 2}});
  CHECK(pair.as_object().begin()->first == replacement);
  CHECK(json::canonical(pair) == "{\"" + grinning + "\":2,\"" + replacement + "\":1}");
  // The same holds past a common prefix and inside nested objects.
  Value inner(Array{Object{{"x" + replacement, 1}, {"x" + grinning, 2}}});
  CHECK(json::canonical(inner) == "[{\"x" + grinning + "\":2,\"x" + replacement + "\":1}]");
}

TEST_CASE("json::canonical and json::pretty refuse strings that are not UTF-8") {
  for (const Value& v : {Value("\xff"), Value(Array{"ok", "\xed\xa0\x80"}), Value(Object{{"\xc0\x80", 1}})}) {
    Outcome c = outcome_of([&] { (void)json::canonical(v); });
    CHECK(c.code == ExitCode::bad_input);
    CHECK(c.message.find("is not valid UTF-8") != std::string::npos);
    CHECK(outcome_of([&] { (void)json::pretty(v); }).code == ExitCode::bad_input);
  }
}

// ---- pretty -------------------------------------------------------------------------------------------------

TEST_CASE("json::pretty indents by two spaces, escapes control characters and ends with a newline") {
  Value v(Object{{"b", Array{1, "x\n\x01\x1f\"\\/\t\r\b\f\x7f"}},
                 {"a", Object{}},
                 {"c", Array{}},
                 {"\xc3\xa9", nullptr},
                 {"d", Object{{"k", false}, {"n", -3}}}});
  CHECK(json::pretty(v) == "{\n"
                           "  \"a\": {},\n"
                           "  \"b\": [\n"
                           "    1,\n"
                           "    \"x\\n\\u0001\\u001f\\\"\\\\/\\t\\r\\b\\f\x7f\"\n"
                           "  ],\n"
                           "  \"c\": [],\n"
                           "  \"d\": {\n"
                           "    \"k\": false,\n"
                           "    \"n\": -3\n"
                           "  },\n"
                           "  \"\xc3\xa9\": null\n"
                           "}\n");
  CHECK(json::pretty(Value(5)) == "5\n");
  CHECK(json::pretty(Value(Array{})) == "[]\n");
  CHECK(json::pretty(Value(std::string(1, '\0'))) == "\"\\u0000\"\n");
}

TEST_CASE("json round trips: parse(pretty(v)) == v and canonical is stable") {
  Value v = json::parse(tuf_doc, "root.json");
  CHECK(json::parse(json::pretty(v), "pretty") == v);
  CHECK(json::pretty(json::parse(json::pretty(v), "pretty")) == json::pretty(v));
  // Canonical output of a document without control characters is itself strict JSON that parses back.
  Value plain = v;
  plain["signed"]["x-note"] = "caf\xc3\xa9 \xf0\x9f\x98\x80 \"q\" \\ /";
  std::string c = json::canonical(plain);
  CHECK(json::parse(c, "canonical") == plain);
  CHECK(json::canonical(json::parse(c, "canonical")) == c);
  std::string all_controls;
  for (int ch = 0; ch < 0x20; ++ch) all_controls.push_back(static_cast<char>(ch));
  Value controls(Object{{all_controls, all_controls}});
  CHECK(json::parse(json::pretty(controls), "d") == controls);
}

// ---- fuzz ---------------------------------------------------------------------------------------------------

TEST_CASE("json::parse survives truncated and mutated documents") {
  // Every proper prefix of a document whose value is an object is incomplete.
  for (std::size_t n = 0; n < tuf_doc.size(); ++n) {
    std::string prefix = tuf_doc.substr(0, n);
    if (tuf_doc.find_first_not_of(" \t\r\n", n) == std::string::npos) break; // only trailing whitespace left
    Outcome o = outcome_of([&] { (void)json::parse(prefix, "prefix"); });
    CHECK_MESSAGE(o.code == ExitCode::bad_input, "prefix length " << n);
  }

  // Deterministic mutations: std::mt19937 output is fixed by the standard; take values with % rather than a
  // distribution (whose algorithm is implementation-defined).
  std::mt19937 rng(20240601);
  auto below = [&](std::size_t n) { return static_cast<std::size_t>(rng() % n); };
  // clang-format off
  const std::string interesting[] = {"{", "}", "[", "]", "\"", ":", ",", "\\", "\\u", "0", "-", "9", "1e5", ".",
                                     "true", "null", " ", "\n", "\x01", "\x7f", "\xc3", "\xa9", "\xed\xa0\x80",
                                     "\xf0\x9f\x98\x80", "\xff", "\\ud83d", "\\ude00", "\"a\":1,", "[[[[", "}}}}",
                                     "99999999999999999999"};
  // clang-format on
  int parsed = 0, rejected = 0;
  for (int iteration = 0; iteration < 20000; ++iteration) {
    std::string doc = tuf_doc;
    std::size_t edits = 1 + below(4);
    for (std::size_t e = 0; e < edits && !doc.empty(); ++e) {
      std::size_t at = below(doc.size());
      switch (below(6)) {
      case 0:
        doc[at] = static_cast<char>(below(256));
        break;
      case 1:
        doc.erase(at, 1 + below(8));
        break;
      case 2:
        doc.insert(at, interesting[below(std::size(interesting))]);
        break;
      case 3:
        doc.resize(at);
        break;
      case 4:
        doc.insert(at, doc.substr(below(doc.size()), below(40)));
        break;
      case 5:
        doc[at] = interesting[below(std::size(interesting))][0];
        break;
      }
    }
    try {
      Value v = json::parse(doc, "fuzz");
      ++parsed;
      // Whatever parses must encode, and the readable form must read back to the same value.
      (void)json::canonical(v);
      if (!(json::parse(json::pretty(v), "fuzz-pretty") == v)) FAIL("pretty round trip differs for: " << doc);
    } catch (const airlock::Error& e) {
      ++rejected;
      if (e.code() != ExitCode::bad_input || std::string(e.what()).rfind("fuzz: ", 0) != 0)
        FAIL("unexpected error " << e.what() << " for: " << doc);
    } catch (const std::exception& e) {
      FAIL("non-airlock exception " << e.what() << " for: " << doc);
    }
  }
  MESSAGE("fuzz: " << parsed << " parsed, " << rejected << " rejected");
  CHECK(parsed > 100);
  CHECK(rejected > 10000);
}

// ---- interop with @tufjs/canonical-json ---------------------------------------------------------------------

namespace {

std::string base64(std::string_view in) {
  static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    unsigned n = static_cast<unsigned char>(in[i]) << 16 | static_cast<unsigned char>(in[i + 1]) << 8 |
                 static_cast<unsigned char>(in[i + 2]);
    for (int shift = 18; shift >= 0; shift -= 6) out.push_back(alphabet[(n >> shift) & 63]);
  }
  if (std::size_t rest = in.size() - i) {
    unsigned n = static_cast<unsigned char>(in[i]) << 16;
    if (rest == 2) n |= static_cast<unsigned>(static_cast<unsigned char>(in[i + 1])) << 8;
    out.push_back(alphabet[(n >> 18) & 63]);
    out.push_back(alphabet[(n >> 12) & 63]);
    out.push_back(rest == 2 ? alphabet[(n >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Documents on which a hand-written canonicalizer is most likely to differ from the reference.
Array awkward_documents() {
  const std::string e_acute = "\xc3\xa9", private_use = "\xee\x80\x80", private_use_end = "\xef\xa3\xbf",
                    replacement = "\xef\xbf\xbd", bmp_last = "\xef\xbf\xbf", linear_b = "\xf0\x90\x80\x80",
                    grinning = "\xf0\x9f\x98\x80", last = "\xf4\x8f\xbf\xbf", cjk = "\xe6\x97\xa5\xe6\x9c\xac",
                    line_sep = "\xe2\x80\xa8", para_sep = "\xe2\x80\xa9";
  std::string controls;
  for (int c = 0; c < 0x20; ++c) controls.push_back(static_cast<char>(c));
  Array docs;
  Object keys;
  // clang-format off
  const std::string key_list[] = {""s, "a"s, "A"s, "b"s, "aa"s, "a\0"s, "\0"s, "\x7f"s, "\"quoted\""s, "back\\slash"s,
                                  "1"s, "10"s, "2"s, "-1"s, "__proto__"s, "constructor"s, "toString"s, e_acute,
                                  private_use, private_use_end, replacement, bmp_last, linear_b, grinning, last, cjk,
                                  line_sep, para_sep, "x" + grinning, "x" + replacement, grinning + "a", grinning + "b",
                                  controls, "tab\there"s, "nl\nhere"s};
  // clang-format on
  for (const std::string& k : key_list) keys[k] = Value(k);
  docs.emplace_back(keys);
  docs.emplace_back("all escapes: \" \\ / " + controls + " \x7f " + line_sep + para_sep);
  docs.emplace_back(Array{0, 1, -1, 9007199254740991, -9007199254740991, 4294967296, -4294967296, 2147483647,
                          -2147483648, 1000000, 100});
  docs.emplace_back(Object{});
  docs.emplace_back(Array{});
  docs.emplace_back(Array{Object{}, Array{}, Object{{"", Object{}}}, Array{Array{}}});
  docs.emplace_back(nullptr);
  docs.emplace_back(true);
  docs.emplace_back(false);
  docs.emplace_back(7);
  docs.emplace_back("");
  Value deep = "bottom";
  for (int i = 0; i < 40; ++i)
    deep = i % 2 ? Value(Array{i, deep}) : Value(Object{{std::to_string(i), deep}, {"z", i}});
  docs.push_back(deep);
  // JavaScript numbers are exact only up to 2^53-1, so the reference cannot check the int64 extremes.
  Value tuf = json::parse(tuf_doc, "root.json");
  tuf["signed"]["version"] = 9007199254740991;
  tuf["signed"]["x-min"] = -9007199254740991;
  docs.push_back(tuf);
  // Random objects over an alphabet that mixes ASCII, BMP private use, U+FFFD and astral characters.
  const std::string alphabet[] = {"a",     "b",         "\"",        "\\",     "\n",     std::string(1, '\0'),
                                  e_acute, private_use, replacement, bmp_last, linear_b, grinning,
                                  last,    cjk};
  std::mt19937 rng(7);
  for (int d = 0; d < 100; ++d) {
    Object o;
    for (unsigned k = 0; k < 1 + rng() % 12; ++k) {
      std::string key;
      for (unsigned c = 0; c < rng() % 5; ++c) key += alphabet[rng() % std::size(alphabet)];
      o[key] = static_cast<std::int64_t>(rng()) - 2000000000;
    }
    docs.emplace_back(o);
  }
  return docs;
}

} // namespace

TEST_CASE("json::canonical matches @tufjs/canonical-json on awkward inputs") {
#ifdef AIRLOCK_SOURCE_DIR
  const std::filesystem::path repo = AIRLOCK_SOURCE_DIR;
#else
  const std::filesystem::path repo;
#endif
  const std::filesystem::path script = repo / "tests/interop/canonical_json.js";
  const std::filesystem::path module = repo / "tests/interop/node_modules/@tufjs/canonical-json/package.json";
  std::string missing;
  if (repo.empty())
    missing = "the build did not define AIRLOCK_SOURCE_DIR";
  else if (std::system("node --version >/dev/null 2>&1") != 0)
    missing = "node is not installed";
  else if (!std::filesystem::exists(module))
    missing = module.string() + " is missing (run: npm ci --prefix " + (repo / "tests/interop").string() + ")";
  if (!missing.empty()) {
    const char* ci = std::getenv("CI");
    if (ci && std::string(ci) == "true") FAIL("interop test cannot run in CI: " << missing);
    MESSAGE("SKIPPED interop with @tufjs/canonical-json: " << missing);
    return;
  }

  Array docs = awkward_documents();
  testutil::TempDir dir;
  const std::string input = dir / "docs.json";
  // The reference reads what json::pretty wrote, so this also checks that pretty output is JSON that node reads
  // back to the same values.
  testutil::write_file(input, json::pretty(Value(docs)));
  std::string command = "node " + shell_quote(script.string()) + " " + shell_quote(input);
  FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string output;
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, pipe)) output.append(buf, n);
  int status = ::pclose(pipe);
  REQUIRE_MESSAGE(status == 0, command << " failed with status " << status);

  std::vector<std::string> lines;
  for (std::size_t start = 0, end; start < output.size(); start = end + 1) {
    end = output.find('\n', start);
    if (end == std::string::npos) end = output.size();
    lines.push_back(output.substr(start, end - start));
  }
  REQUIRE(lines.size() == docs.size());
  for (std::size_t i = 0; i < docs.size(); ++i) {
    std::string ours = json::canonical(docs[i]);
    CHECK_MESSAGE(base64(ours) == lines[i], "document " << i << ": ours is " << ours);
  }
}
