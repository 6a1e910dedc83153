// yaml::parse: what docker-compose 1.29.2 `config` really prints (tests/fixtures/compose, compared with PyYAML's own
// reading of it), every construct of the subset, the exact refusal of what is outside it, and a mutation loop.
#include "util/error.hpp"
#include "util/json.hpp"
#include "util/yaml.hpp"

#include "testutil.hpp"
#include <doctest/doctest.h>

#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <utility>
#include <vector>

using airlock::ExitCode;
namespace json = airlock::json;
namespace yaml = airlock::yaml;
using json::Array;
using json::Object;
using json::Value;
using namespace std::string_literals;

namespace {

const std::string fixtures = AIRLOCK_SOURCE_DIR "/tests/fixtures/compose/";

std::string fixture(const std::string& name) {
  std::string text = testutil::read_file(fixtures + name);
  REQUIRE_MESSAGE(!text.empty(), "missing fixture " << name);
  return text;
}

Value parse(const std::string& text) { return yaml::parse(text, "doc.yml"); }

// Parsing `text` fails with bad_input and exactly `message`.
void check_rejected(const std::string& text, const std::string& message) {
  CAPTURE(text);
  const airlock::Error e = testutil::error_of([&] { (void)yaml::parse(text, "doc.yml"); });
  CHECK(e.code() == ExitCode::bad_input);
  CHECK(std::string(e.what()) == message);
}

const Value& at(const Value& v, const std::string& path) {
  const Value* cur = &v;
  std::size_t start = 0;
  while (start <= path.size()) {
    const std::size_t dot = path.find('/', start);
    const std::string key = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    const Value* next = cur->find(key);
    REQUIRE_MESSAGE(next, "no member " << path);
    cur = next;
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return *cur;
}

} // namespace

// ---- real compose v1 output -------------------------------------------------------------------------------------

TEST_CASE("yaml::parse reads docker-compose 1.29.2 config output exactly as PyYAML does") {
  for (const char* project : {"shop", "hostile", "strings", "format_v2", "format_v1"}) {
    CAPTURE(project);
    const Value got = yaml::parse(fixture(project + "/config.v1.yml"s), "config.v1.yml");
    const Value want = json::parse(fixture(project + "/config.v1.json"s), "config.v1.json");
    CHECK_MESSAGE(got == want, json::pretty(got));
  }
}

TEST_CASE("yaml::parse keeps compose's strings as compose printed them") {
  const Value doc = yaml::parse(fixture("strings/config.v1.yml"), "config.v1.yml");
  const Value& env = at(doc, "services/app/environment");
  // A plain scalar folded over two lines, a single-quoted one with '' and ': ' and ' #', a double-quoted one with an
  // escaped line break and "\ " at the start of the next line.
  CHECK(at(env, "LONG") == Value("this is a rather long environment value that certainly exceeds the eighty column "
                                 "width limit of the dumper"));
  CHECK(at(env, "LONGQ") == Value("it's a: long value # with hash, it's quoted and it really needs more than eighty "
                                  "columns to show wrapping"));
  CHECK(at(env, "LONGD") ==
        Value("tab\there and a long line that goes on and on and on beyond the eighty column limit for sure yes"));
  CHECK(at(env, "CTRL") == Value("bell\a esc\x1b del\x7f bom\xef\xbb\xbf nbsp\xc2\xa0."));
  CHECK(at(env, "UNI") ==
        Value("caf\xc3\xa9 \xe2\x98\x95 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80 zero\xe2\x80\x8bwidth"));
  CHECK(at(env, "NEWLINES") == Value("a\nb\n\nc"));
  CHECK(at(env, "MULTI_LONG") == Value("first line that is long enough to be folded by the emitter when it is written "
                                       "out\nsecond line also long enough to be folded by the emitter for sure when "
                                       "written out\n"));
  CHECK(at(env, "DOLLAR") == Value("$$literal and $${braced}"));
  CHECK(at(env, "LITERAL") == Value("line one\n  indented \"quoted\" 'single'\nlast: line\n"));
  CHECK(at(env, "FOLDED") == Value("folded text on two lines\nand a paragraph"));
  // Typed: only plain null, true/false and integers; quoted look-alikes and other numbers stay strings.
  CHECK(at(env, "NUMBER") == Value(5432));
  CHECK(at(env, "NOTHING").is_null());
  CHECK(at(env, "OCTAL") == Value("0755"));
  CHECK(at(env, "BOOL") == Value("true"));
  CHECK(at(env, "NULLSTR") == Value("null"));
  CHECK(at(env, "EMPTYSTR") == Value(""));
  CHECK(at(env, "true") == Value("yes")); // compose v1 read the key YES as a boolean
  CHECK(at(doc, "services/app/cpus") == Value("0.5"));
  CHECK(at(doc, "services/app/init") == Value(true));
  CHECK(at(doc, "services/app/read_only") == Value(false));
  CHECK(at(doc, "version") == Value("3.8"));
  CHECK(at(doc, "services/app/sysctls/net.core.somaxconn") == Value("1024"));
  // A key longer than 128 characters, which PyYAML writes as "? key" over two lines and ": value".
  const Object& labels = at(doc, "services/app/labels").as_object();
  CHECK(labels.at("a very long label key that has more than one hundred and twenty eight characters is emitted by "
                  "pyyaml as a complex key, so says its emitter") == Value("x"));
  CHECK(labels.at("1") == Value("one"));
  CHECK(labels.at("sp ace ") == Value("trailing space key"));
  // Empty collections, nested sequences.
  CHECK(at(doc, "services/app/configs") == Value(Array{}));
  CHECK(at(doc, "services/app/logging/options") == Value(Object{}));
  CHECK(at(doc, "services/app/x-merged/lists") == Value(Array{Array{1, 2}, Array{3}, Array{}}));
  CHECK(at(doc, "services/app/x-merged/maps") == Value(Array{Object{{"a", 1}}, Object{}}));
}

// ---- scalars ----------------------------------------------------------------------------------------------------

TEST_CASE("yaml::parse types only plain null, lower-case true/false and canonical integers") {
  const std::vector<std::pair<std::string, Value>> cases = {
      {"null", Value()},
      {"Null", Value()},
      {"NULL", Value()},
      {"~", Value()},
      {"", Value()},
      {"true", Value(true)},
      {"false", Value(false)},
      {"0", Value(0)},
      {"-7", Value(-7)},
      {"5432", Value(5432)},
      {"9223372036854775807", Value(INT64_MAX)},
      {"-9223372036854775808", Value(INT64_MIN)},
      {"9223372036854775808", Value("9223372036854775808")},
      {"-0", Value("-0")},
      {"+1", Value("+1")},
      {"0755", Value("0755")},
      {"0x1F", Value("0x1F")},
      {"1_000", Value("1_000")},
      {"3.8", Value("3.8")},
      {"1e3", Value("1e3")},
      {".inf", Value(".inf")},
      {"True", Value("True")},
      {"TRUE", Value("TRUE")},
      {"yes", Value("yes")},
      {"on", Value("on")},
      {"30s", Value("30s")},
      {"8080:80", Value("8080:80")},
      {"'true'", Value("true")},
      {"\"5432\"", Value("5432")},
      {"'null'", Value("null")},
      {"''", Value("")},
      {"\"~\"", Value("~")},
      {"|\n  5432\n", Value("5432\n")},
  };
  for (const auto& [text, want] : cases) {
    CAPTURE(text);
    const Value doc = parse("k: " + text + "\n");
    CHECK(at(doc, "k") == want);
    // The text of what stays a plain scalar, or becomes a boolean or an integer, is exactly what the document says.
    if (!want.is_null() && text[0] != '\'' && text[0] != '"' && text[0] != '|') CHECK(yaml::scalar_text(want) == text);
  }
  CHECK(yaml::scalar_text(Value(true)) == "true");
  CHECK(yaml::scalar_text(Value(-12)) == "-12");
  CHECK(yaml::scalar_text(Value("0755")) == "0755");
  CHECK(yaml::scalar_text(Value()) == "");
  const airlock::Error e = testutil::error_of([] { (void)yaml::scalar_text(Value(Array{})); });
  CHECK(e.code() == ExitCode::bad_input);
  CHECK(std::string(e.what()) == "expected a scalar, found array");
}

TEST_CASE("yaml::parse folds plain scalars that span lines") {
  CHECK(parse("k: one\n  two\n   three\n") == Value(Object{{"k", "one two three"}}));
  CHECK(parse("k: one\n\n  two\n\n\n  three\nn: 1\n") == Value(Object{{"k", "one\ntwo\n\nthree"}, {"n", 1}}));
  CHECK(parse("- a\n  - b\n- c\n") == Value(Array{"a - b", "c"}));
  CHECK(parse("k: a # comment\nl: b#not\n") == Value(Object{{"k", "a"}, {"l", "b#not"}}));
  CHECK(parse("k: one\n  # a comment ends it\nl: 2\n") == Value(Object{{"k", "one"}, {"l", 2}}));
  CHECK(parse("k: http://x:80/a?b#c\n") == Value(Object{{"k", "http://x:80/a?b#c"}}));
  CHECK(parse("k: -x\nl: ?y\nm: :z\n") == Value(Object{{"k", "-x"}, {"l", "?y"}, {"m", ":z"}}));
  CHECK(parse("k: a\t b \t\n") == Value(Object{{"k", "a\t b"}}));
  CHECK(parse("k:\n  value on its own line\n") == Value(Object{{"k", "value on its own line"}}));
  CHECK(parse("just a scalar\nat the top\n") == Value("just a scalar at the top"));
}

TEST_CASE("yaml::parse reads single- and double-quoted scalars with escapes and folding") {
  CHECK(at(parse("k: 'it''s: # not a comment'\n"), "k") == Value("it's: # not a comment"));
  CHECK(at(parse("k: 'a\n  b\n\n  c  \n   '\n"), "k") == Value("a b\nc "));
  CHECK(at(parse("k: \"\\0\\a\\b\\t\\\t\\n\\v\\f\\r\\e\\ \\\"\\/\\\\\"\n"), "k") ==
        Value("\0\a\b\t\t\n\v\f\r\x1b \"/\\"s));
  CHECK(at(parse("k: \"\\N\\_\\L\\P\"\n"), "k") == Value("\xc2\x85\xc2\xa0\xe2\x80\xa8\xe2\x80\xa9"));
  CHECK(at(parse("k: \"\\x41\\u00e9\\u65E5\\U0001F600\"\n"), "k") == Value("A\xc3\xa9\xe6\x97\xa5\xf0\x9f\x98\x80"));
  CHECK(at(parse("k: \"a \\\n    b\\\n\n    \\ c\"\n"), "k") == Value("a b\n c"));
  CHECK(at(parse("k: \"one\n    two  \n\n    three\"\n"), "k") == Value("one two\nthree"));
  CHECK(at(parse("k: \"tab\\t end\\t\"\n"), "k") == Value("tab\t end\t"));
  CHECK(parse("- \"a: b\"\n- 'c #d'\n- \"\"\n") == Value(Array{"a: b", "c #d", ""}));
  CHECK(parse("'quoted key': 1\n\"k\\x41\": 2\n\"\": 3\n") == Value(Object{{"quoted key", 1}, {"kA", 2}, {"", 3}}));
  CHECK(parse("k: \"x\" # comment\n") == Value(Object{{"k", "x"}}));
}

TEST_CASE("yaml::parse reads literal and folded block scalars with every chomping indicator") {
  const std::string body = "  one\n  two\n\n   more\n   indented\n  three\n\n\n";
  CHECK(at(parse("k: |\n" + body), "k") == Value("one\ntwo\n\n more\n indented\nthree\n"));
  CHECK(at(parse("k: |-\n" + body), "k") == Value("one\ntwo\n\n more\n indented\nthree"));
  CHECK(at(parse("k: |+\n" + body), "k") == Value("one\ntwo\n\n more\n indented\nthree\n\n\n"));
  CHECK(at(parse("k: >\n" + body), "k") == Value("one two\n\n more\n indented\nthree\n"));
  CHECK(at(parse("k: >-\n" + body), "k") == Value("one two\n\n more\n indented\nthree"));
  CHECK(at(parse("k: >+\n" + body), "k") == Value("one two\n\n more\n indented\nthree\n\n\n"));
  // An indentation indicator (relative to the owner's indentation), in either order with the chomping indicator.
  CHECK(at(parse("k: |2\n    four\n  two\n"), "k") == Value("  four\ntwo\n"));
  CHECK(at(parse("k: |-1 # comment\n  two\n"), "k") == Value(" two"));
  CHECK(at(parse("k: |1-\n  two\n"), "k") == Value(" two"));
  // Leading empty lines, '#' lines inside, an empty scalar, the end of the input without a final line break.
  CHECK(at(parse("k: |\n\n  # not a comment\n  x\n"), "k") == Value("\n# not a comment\nx\n"));
  CHECK(parse("k: |\nl: 1\n") == Value(Object{{"k", ""}, {"l", 1}}));
  CHECK(parse("k: |+\n\nl: 1\n") == Value(Object{{"k", "\n"}, {"l", 1}}));
  CHECK(at(parse("k: |\n  x"), "k") == Value("x"));
  CHECK(at(parse("k: >\n  a\n  b"), "k") == Value("a b"));
  // In a sequence and in a compact mapping: the content is indented deeper than its owner.
  CHECK(parse("- |\n  a\n- >-\n  b\n  c\n") == Value(Array{"a\n", "b c"}));
  CHECK(parse("- k: |\n    a\n  l: 1\n") == Value(Array{Object{{"k", "a\n"}, {"l", 1}}}));
  CHECK(parse("|\n a\n") == Value("a\n"));
}

TEST_CASE("yaml::parse reads nested block mappings and sequences as PyYAML prints them") {
  const std::string text = "---\n"
                           "# a comment\n"
                           "services:\n"
                           "  db:\n"
                           "    cap_add:\n"
                           "    - SYS_NICE\n" // PyYAML's indentless sequence
                           "    volumes:\n"
                           "    - source: /a\n" // a compact mapping in a sequence entry
                           "      target: /b\n"
                           "    - - nested\n" // a compact sequence in a sequence entry
                           "      - twice\n"
                           "    -\n"
                           "      late: value\n"
                           "    -\n"
                           "    empty:\n"
                           "  web: {}\n"
                           "\n"
                           "top:   spaced   # trailing comment\n"
                           "...\n"
                           "# after the end\n";
  const Value want =
      Object{{"services",
              Object{{"db", Object{{"cap_add", Array{"SYS_NICE"}},
                                   {"volumes", Array{Object{{"source", "/a"}, {"target", "/b"}},
                                                     Array{"nested", "twice"}, Object{{"late", "value"}}, Value()}},
                                   {"empty", Value()}}},
                     {"web", Object{}}}},
             {"top", "spaced"}};
  CHECK(parse(text) == want);
  CHECK(parse("") == Value());
  CHECK(parse("# only a comment\n\n") == Value());
  CHECK(parse("---\n") == Value());
  CHECK(parse("  indented: root\n  second: 2\n") == Value(Object{{"indented", "root"}, {"second", 2}}));
  CHECK(parse("- - - deep\n") == Value(Array{Array{Array{"deep"}}}));
  CHECK(parse("a:\n- 1\nb:\n  - 2\n") == Value(Object{{"a", Array{1}}, {"b", Array{2}}}));
  CHECK(parse("key with spaces  : v\n") == Value(Object{{"key with spaces", "v"}}));
  CHECK(parse("k: v\n\t\n  \n") == Value(Object{{"k", "v"}})); // blank lines may hold tabs
}

TEST_CASE("yaml::parse reads one-line flow collections of scalars") {
  CHECK(parse("k: []\nl: {}\n") == Value(Object{{"k", Array{}}, {"l", Object{}}}));
  CHECK(at(parse("k: [CMD, 'pg_isready', \"-U\", 5432, null, true, a b, ]\n"), "k") ==
        Value(Array{"CMD", "pg_isready", "-U", 5432, Value(), true, "a b"}));
  CHECK(at(parse("k: {a: 1, 'b': \"x, y\", c: , d:, \"e\":f}  # comment\n"), "k") ==
        Value(Object{{"a", 1}, {"b", "x, y"}, {"c", Value()}, {"d", Value()}, {"e", "f"}}));
  CHECK(at(parse("k: [http://x:80/a, a:b]\n"), "k") == Value(Array{"http://x:80/a", "a:b"}));
  CHECK(parse("- [a]\n- {b: c}\n") == Value(Array{Array{"a"}, Object{{"b", "c"}}}));
}

TEST_CASE("yaml::parse reads explicit keys whose key is a scalar") {
  CHECK(parse("? a long key\n  that continues\n: value\nnext: 1\n") ==
        Value(Object{{"a long key that continues", "value"}, {"next", 1}}));
  CHECK(parse("? 'quoted'\n:\n  - x\n") == Value(Object{{"quoted", Array{"x"}}}));
  CHECK(parse("? |\n  block\n: - x\n  - y\n") == Value(Object{{"block\n", Array{"x", "y"}}}));
  CHECK(parse("? k\n: a: 1\n  b: 2\n") == Value(Object{{"k", Object{{"a", 1}, {"b", 2}}}}));
  CHECK(parse("- ? k\n  : v\n") == Value(Array{Object{{"k", "v"}}}));
}

// ---- refusals -----------------------------------------------------------------------------------------------------

TEST_CASE("yaml::parse refuses what is outside the subset, naming the line") {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"a: &anchor 1\n", "line 1: anchors, aliases and tags (&, *, !) are not supported"},
      {"a: 1\nb: *anchor\n", "line 2: anchors, aliases and tags (&, *, !) are not supported"},
      {"a: !!str 1\n", "line 1: anchors, aliases and tags (&, *, !) are not supported"},
      {"- !tag x\n", "line 1: anchors, aliases and tags (&, *, !) are not supported"},
      {"&a k: v\n", "line 1: anchors, aliases and tags (&, *, !) are not supported"},
      {"k: [*a]\n", "line 1: anchors, aliases and tags (&, *, !) are not supported"},
      {"%YAML 1.1\n---\na: 1\n", "line 1: directives (%YAML, %TAG) are not supported"},
      {"a: 1\n<<: {b: 2}\n", "line 2: merge keys (<<) are not supported"},
      {"a: {<<: x}\n", "line 1: merge keys (<<) are not supported"},
      {"a: 1\nb: 2\na: 3\n", "line 3: duplicate key 'a'"},
      {"a: 1\n'a': 3\n", "line 2: duplicate key 'a'"},
      {"\"\\x41\": 1\nA: 3\n", "line 2: duplicate key 'A'"},
      {"a: {x: 1, \"x\": 2}\n", "line 1: duplicate key 'x'"},
      {"\"\\e\": 1\n\"\\e\": 2\n", "line 2: duplicate key '\\x1b'"},
      {"? a\n: 1\na: 2\n", "line 3: duplicate key 'a'"},
      {"a:\n\tb: 1\n", "line 2: tab character in indentation (indent with spaces)"},
      {"a:\n  \tb: 1\n", "line 2: tab character in indentation (indent with spaces)"},
      {"-\tx\n", "line 1: tab character after an indicator (separate with spaces)"},
      {"a: 1\n---\nb: 2\n", "line 2: a second document ('---') is not supported"},
      {"a: 1\n...\n---\nb: 2\n", "line 3: a second document is not supported"},
      {"a: 1\n...\nb: 2\n", "line 3: content after the end of the document ('...')"},
      {"--- a: 1\n", "line 1: content on the '---' line is not supported (start the document on the next line)"},
      {"  a: 1\nb: 2\n", "line 2: bad indentation: this line belongs to no collection"},
      {"a:\n  b: 1\n c: 2\n", "line 3: bad indentation of a mapping entry"},
      {"a:\n  b: 'x'\n    c: 2\n", "line 3: bad indentation of a mapping entry"},
      {"a: 'x'\n  b: 2\n", "line 2: bad indentation of a mapping entry"},
      {"- 'a'\n - b\n", "line 2: bad indentation of a sequence entry"},
      {"a: 1\n- b\n", "line 2: a sequence entry where a mapping entry was expected (check the indentation)"},
      {"a: 1\nb\n", "line 2: expected a mapping entry 'key: value' (check the indentation, or quote a value)"},
      {"a: b: c\n", "line 1: mapping values are not allowed here (a mapping cannot start on the line of its key)"},
      {"a: - b\n", "line 1: a block sequence cannot start on the line of its key"},
      {"a: b\n  c: d\n", "line 2: mapping values are not allowed here (a key indented too deep, or a value that "
                         "needs quotes?)"},
      {"\"a\n b\": c\n", "line 2: a quoted key must end on its line (keys cannot span lines)"},
      {"[a]: b\n", "line 1: a flow collection cannot be a mapping key"},
      {"? [a]\n: b\n", "line 1: only scalars can be mapping keys"},
      {"? - a\n: b\n", "line 1: only scalars can be mapping keys"},
      {"? a\nb: 1\n", "line 1: expected ': value' after the explicit key '?', at the key's indentation"},
      {": v\n", "line 1: empty mapping keys are not supported"},
      {"a: 'unterminated\n", "line 1: unterminated quoted scalar (the closing quote is missing)"},
      {"a: \"unterminated\n\n  still\n", "line 1: unterminated quoted scalar (the closing quote is missing)"},
      {"a: 'x\n---\n'\n", "line 2: document marker inside a quoted scalar"},
      {"a:\n  b: 'x\n  y'\n", "line 3: a quoted scalar's continuation line must be indented deeper than its owner"},
      {"a: \"\\q\"\n", "line 1: unknown escape '\\q'"},
      {"a: \"\\\xc3\xa9\"\n", "line 1: unknown escape (a backslash before a non-ASCII character)"},
      {"a: \"\\x4\"\n", "line 1: escape '\\x' needs 2 hex digits"},
      {"a: \"\\u12G4\"\n", "line 1: escape '\\u' needs 4 hex digits"},
      {"a: \"\\ud83d\"\n", "line 1: escape of a UTF-16 surrogate (not a character)"},
      {"a: \"\\U00110000\"\n", "line 1: escape of a code point above U+10FFFF"},
      {"a: 'x' y\n", "line 1: unexpected text after the value"},
      {"a: [x] y\n", "line 1: unexpected text after the value"},
      {"a: 'x'#c\n", "line 1: unexpected text after the value"},
      {"a: [x]: y\n", "line 1: a flow collection cannot be a mapping key"},
      {"- [x]: y\n", "line 1: a flow collection cannot be a mapping key"},
      {"a: [x, [y]]\n", "line 1: nested flow collections are not supported"},
      {"a: [x, {y: 1}]\n", "line 1: nested flow collections are not supported"},
      {"a: [x,\n  y]\n", "line 1: a flow collection must close on the line it opens (multi-line flow collections are "
                         "not supported)"},
      {"a: [x # c\n", "line 1: a flow collection must close on the line it opens (multi-line flow collections are "
                      "not supported)"},
      {"a: ['x\n  y']\n", "line 1: a quoted scalar in a flow collection must end on its line"},
      {"a: [x: 1]\n", "line 1: mappings inside flow sequences are not supported"},
      {"a: {x}\n", "line 1: expected ':' after a key in a flow mapping"},
      {"a: [x,,y]\n", "line 1: unexpected ',' in a flow collection"},
      {"a: [x y z\n", "line 1: a flow collection must close on the line it opens (multi-line flow collections are "
                      "not supported)"},
      {"a: [x] ]\n", "line 1: unexpected text after the value"},
      {"a: {x: 'a' b}\n", "line 1: expected ',' or '}' in a flow collection"},
      {"a: |x\n", "line 1: bad block scalar header (expected '|' or '>', optionally '-' or '+' and a digit 1-9, then "
                  "the end of the line or a comment)"},
      {"a: |0\n  x\n", "line 1: bad block scalar header (expected '|' or '>', optionally '-' or '+' and a digit 1-9, "
                       "then the end of the line or a comment)"},
      {"a: |--\n  x\n", "line 1: bad block scalar header (expected '|' or '>', optionally '-' or '+' and a digit 1-9, "
                        "then the end of the line or a comment)"},
      {"a: @x\n", "line 1: reserved character '@' cannot start a plain scalar"},
      {"a: `x\n", "line 1: reserved character '`' cannot start a plain scalar"},
      {"a: %x\n", "line 1: '%' cannot start a plain scalar (directives are not supported)"},
      {"a: ,x\n", "line 1: unexpected ','"},
      {"a: 1\r\n", "line 1: carriage return (only LF line ends are supported)"},
      {"a: 1\nb: \x01\n", "line 2: control character 0x01 (write it as an escape)"},
      {"a: \x7f\n", "line 1: control character 0x7F (write it as an escape)"},
      {"a: x\0y\n"s, "line 1: NUL byte"},
      {"\xef\xbb\xbf"
       "a: 1\n",
       "line 1: byte order mark U+FEFF"},
      {"a: \xc2\x9b\n", "line 1: control character U+009B (write it as an escape)"},
      {"a: \xc2\x85\n", "line 1: line separator character U+0085 (YAML 1.1 reads it as a line break; write it as an "
                        "escape)"},
      {"a: 'x\xe2\x80\xa8y'\n", "line 1: line separator character U+2028 (YAML 1.1 reads it as a line break; write it "
                                "as an escape)"},
      {"a: \xef\xbf\xbe\n", "line 1: non-character U+FFFE"},
      {"a: \xff\n", "line 1: invalid UTF-8"},
      {"a: \xc3\n", "line 1: invalid UTF-8"},
      {"a: \xc0\xaf\n", "line 1: invalid UTF-8"},
      {"a: \xe0\x80\xaf\n", "line 1: invalid UTF-8"},
      {"a: \xed\xa0\x80\n", "line 1: invalid UTF-8"},
      {"a: \xf4\x90\x80\x80\n", "line 1: invalid UTF-8"},
  };
  for (const auto& [text, message] : cases) check_rejected(text, "doc.yml: " + message);
}

TEST_CASE("yaml::parse bounds the input size and the nesting depth") {
  yaml::ParseLimits small;
  small.max_bytes = 8;
  CHECK(yaml::parse("a: 1\n", "doc.yml", small) == Value(Object{{"a", 1}}));
  const airlock::Error big = testutil::error_of([&] { (void)yaml::parse("a: 12345\n", "doc.yml", small); });
  CHECK(big.code() == ExitCode::bad_input);
  CHECK(std::string(big.what()) == "doc.yml: 9 bytes is more than the limit of 8");

  // 64 levels are read, 65 refused: by block sequences on one line, by indentation, and with a flow collection.
  auto dashes = [](int n) {
    std::string s;
    for (int i = 0; i < n; ++i) s += "- ";
    return s + "x\n";
  };
  // n mappings, each the value of the one above, and `leaf` as the value of the last.
  auto nested = [](int n, const std::string& leaf) {
    std::string s;
    for (int i = 0; i < n; ++i) s += std::string(static_cast<std::size_t>(i), ' ') + "k:\n";
    return s + std::string(static_cast<std::size_t>(n), ' ') + leaf + "\n";
  };
  Value v = parse(dashes(64));
  for (int i = 0; i < 64; ++i) v = Value(v.as_array().at(0));
  CHECK(v == Value("x"));
  check_rejected(dashes(65), "doc.yml: line 1: nesting deeper than 64 levels");
  CHECK(parse(nested(64, "v")).is_object());
  check_rejected(nested(65, "v"), "doc.yml: line 65: nesting deeper than 64 levels");
  CHECK(parse(nested(63, "[x]")).is_object());
  check_rejected(nested(64, "[x]"), "doc.yml: line 65: nesting deeper than 64 levels");

  // Hostile input ends quickly with an error, without exhausting the stack.
  check_rejected(dashes(200000), "doc.yml: line 1: nesting deeper than 64 levels");
  std::string deep;
  for (int i = 0; i < 5000; ++i) deep += std::string(static_cast<std::size_t>(i), ' ') + "- \n";
  check_rejected(deep, "doc.yml: line 65: nesting deeper than 64 levels");
  check_rejected(std::string(100000, '['), "doc.yml: line 1: nested flow collections are not supported");
  CHECK(at(parse("k: " + std::string(1u << 20, 'x') + "\n"), "k").as_string().size() == 1u << 20);
}

// ---- fuzz -------------------------------------------------------------------------------------------------------

TEST_CASE("yaml::parse survives truncated and mutated compose output") {
  const std::string doc = fixture("strings/config.v1.yml");
  auto check_one = [](const std::string& text, int& parsed, int& rejected) {
    try {
      const Value v = yaml::parse(text, "fuzz");
      ++parsed;
      (void)json::pretty(v); // every string it produces is valid UTF-8
    } catch (const airlock::Error& e) {
      ++rejected;
      if (e.code() != ExitCode::bad_input || std::string(e.what()).rfind("fuzz: line ", 0) != 0)
        FAIL("unexpected error " << e.what() << " for: " << text);
    } catch (const std::exception& e) {
      FAIL("non-airlock exception " << e.what() << " for: " << text);
    }
  };
  int parsed = 0, rejected = 0;
  for (std::size_t n = 0; n < doc.size(); n += 7) check_one(doc.substr(0, n), parsed, rejected);

  // Deterministic mutations: std::mt19937 output is fixed by the standard; take values with % rather than a
  // distribution (whose algorithm is implementation-defined).
  std::mt19937 rng(20240601);
  auto below = [&](std::size_t n) { return static_cast<std::size_t>(rng() % n); };
  // clang-format off
  const std::string interesting[] = {"-", "- ", ":", ": ", "? ", "'", "\"", "\\", "\\u", "\\x", "#", " #", "\n", "\t",
                                     "  ", "    ", "|", ">", "|-", ">+", "|2", "[", "]", "{", "}", ",", "&a", "*a", "!t",
                                     "%", "@", "---\n", "...\n", "<<: ", "\xc3", "\xe2\x80\xa8", "\xff", "\r", "''",
                                     "\\\n", "null", "true", "9223372036854775808", "\n- ", "\n  ", "\n    - "};
  // clang-format on
  for (int iteration = 0; iteration < 20000; ++iteration) {
    std::string text = doc;
    const std::size_t edits = 1 + below(4);
    for (std::size_t e = 0; e < edits && !text.empty(); ++e) {
      const std::size_t at_ = below(text.size());
      switch (below(6)) {
      case 0:
        text[at_] = static_cast<char>(below(256));
        break;
      case 1:
        text.erase(at_, 1 + below(8));
        break;
      case 2:
        text.insert(at_, interesting[below(std::size(interesting))]);
        break;
      case 3:
        text.resize(at_);
        break;
      case 4:
        text.insert(at_, text.substr(below(text.size()), below(80)));
        break;
      case 5:
        text[at_] = interesting[below(std::size(interesting))][0];
        break;
      }
    }
    check_one(text, parsed, rejected);
  }
  MESSAGE("fuzz: " << parsed << " parsed, " << rejected << " rejected");
  CHECK(parsed > 1000);
  CHECK(rejected > 5000);
}
