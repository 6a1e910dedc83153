// The YAML subset reader: see yaml.hpp for what it accepts and refuses.
//
// The input is split into lines first; the parser then walks them with a cursor (line, byte column). Indentation
// is counted in spaces, which are single bytes, so byte columns are columns wherever indentation matters.
// Every node parser leaves the cursor at the start of the first line it did not consume, except the scalar
// scanners used inside a line (quoted, flow), which leave it just after what they read.
#include "util/yaml.hpp"

#include "util/error.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace airlock::yaml {
namespace {

using json::Value;

bool is_ws(char c) { return c == ' ' || c == '\t'; }
bool is_flow_indicator(char c) { return c == ',' || c == '[' || c == ']' || c == '{' || c == '}'; }

std::size_t leading_spaces(std::string_view l) {
  std::size_t i = 0;
  while (i < l.size() && l[i] == ' ') ++i;
  return i;
}

std::size_t skip_ws(std::string_view l, std::size_t p) {
  while (p < l.size() && is_ws(l[p])) ++p;
  return p;
}

std::string_view trim_right(std::string_view s) {
  while (!s.empty() && is_ws(s.back())) s.remove_suffix(1);
  return s;
}

// The rest of the line from p is whitespace, optionally followed by a comment ('#' after whitespace or at the
// start of the line).
bool rest_is_empty(std::string_view l, std::size_t p) {
  const std::size_t q = skip_ws(l, p);
  if (q == l.size()) return true;
  return l[q] == '#' && (q == 0 || is_ws(l[q - 1]));
}

// `c` at p, followed by whitespace or the end of the line: "- ", "? ", ": ".
bool is_indicator(std::string_view l, std::size_t p, char c) {
  return p < l.size() && l[p] == c && (p + 1 == l.size() || is_ws(l[p + 1]));
}

bool is_marker(std::string_view l, std::string_view marker) {
  return l.substr(0, 3) == marker && (l.size() == 3 || is_ws(l[3]));
}

// A node indented `indent` spaces belongs to a collection indented `n` (-1 for the document itself).
bool deeper(std::size_t indent, int n) { return n < 0 || indent > static_cast<std::size_t>(n); }

bool can_start_plain(std::string_view l, std::size_t p, bool flow) {
  const char c = l[p];
  if (c == '-' || c == '?' || c == ':')
    return p + 1 < l.size() && !is_ws(l[p + 1]) && !(flow && is_flow_indicator(l[p + 1]));
  static constexpr std::string_view indicators = ",[]{}#&*!|>'\"%@`";
  return indicators.find(c) == std::string_view::npos;
}

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

std::string hex2(unsigned v) {
  static constexpr char digits[] = "0123456789ABCDEF";
  return std::string{digits[(v >> 4) & 0xF], digits[v & 0xF]};
}

// A key for an error message: quoted, control characters escaped, long ones cut.
std::string shown(std::string_view s) { return util::quoted(s, 200, '\''); }

// The whole input, before any parsing: valid UTF-8 and only the characters the subset allows.
void check_characters(std::string_view text, const std::string& what) {
  std::size_t line = 1;
  auto bad = [&](const std::string& problem) {
    fail(ExitCode::bad_input, what + ": line " + std::to_string(line) + ": " + problem);
  };
  for (std::size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '\n') {
      ++line;
      ++i;
      continue;
    }
    if (c < 0x80) {
      if (c == '\r') bad("carriage return (only LF line ends are supported)");
      if (c == 0) bad("NUL byte");
      if ((c < 0x20 && c != '\t') || c == 0x7F) bad("control character 0x" + hex2(c) + " (write it as an escape)");
      ++i;
      continue;
    }
    std::size_t len = 0;
    std::uint32_t cp = 0;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2, cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3, cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4, cp = c & 0x07;
    } else {
      bad("invalid UTF-8");
    }
    if (text.size() - i < len) bad("invalid UTF-8");
    for (std::size_t k = 1; k < len; ++k) {
      const auto d = static_cast<unsigned char>(text[i + k]);
      if ((d & 0xC0) != 0x80) bad("invalid UTF-8");
      cp = cp << 6 | (d & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF))
      bad("invalid UTF-8");
    if (cp == 0x85 || cp == 0x2028 || cp == 0x2029)
      bad("line separator character U+" + std::string(cp > 0xFF ? hex2(cp >> 8) : "00") + hex2(cp & 0xFF) +
          " (YAML 1.1 reads it as a line break; write it as an escape)");
    if (cp < 0xA0) bad("control character U+00" + hex2(cp) + " (write it as an escape)");
    if (cp == 0xFEFF) bad("byte order mark U+FEFF");
    if (cp == 0xFFFE || cp == 0xFFFF) bad("non-character U+" + hex2(cp >> 8) + hex2(cp & 0xFF));
    i += len;
  }
}

class Parser {
public:
  Parser(std::string_view text, const std::string& what, ParseLimits limits) : what_(what), limits_(limits) {
    std::size_t start = 0;
    while (start < text.size()) {
      const std::size_t nl = text.find('\n', start);
      if (nl == std::string_view::npos) {
        lines_.push_back(text.substr(start));
        break;
      }
      lines_.push_back(text.substr(start, nl - start));
      start = nl + 1;
    }
    final_newline_ = !text.empty() && text.back() == '\n';
  }

  Value document() {
    Next nx = next_content(0);
    if (nx.kind == Kind::content && nx.indent == 0 && lines_[nx.line][0] == '%')
      error_at(nx.line, "directives (%YAML, %TAG) are not supported");
    if (nx.kind == Kind::doc_start) {
      if (!rest_is_empty(lines_[nx.line], 3))
        error_at(nx.line, "content on the '---' line is not supported (start the document on the next line)");
      nx = next_content(nx.line + 1);
    }
    Value root;
    if (nx.kind == Kind::content) {
      ln_ = nx.line;
      col_ = nx.indent;
      root = node_at(-1, 0);
      nx = next_content(ln_);
    }
    if (nx.kind == Kind::doc_end) {
      if (!rest_is_empty(lines_[nx.line], 3)) error_at(nx.line, "content after '...'");
      nx = next_content(nx.line + 1);
      if (nx.kind == Kind::doc_start) error_at(nx.line, "a second document is not supported");
      if (nx.kind != Kind::end_of_input) error_at(nx.line, "content after the end of the document ('...')");
    }
    if (nx.kind == Kind::doc_start) error_at(nx.line, "a second document ('---') is not supported");
    if (nx.kind == Kind::content) error_at(nx.line, "bad indentation: this line belongs to no collection");
    return root;
  }

private:
  // Where a node starts: after "key:" (a sequence may follow at the key's own indentation), after "-" (a
  // compact collection may start on the same line), or after the ":" of an explicit key (both).
  enum class Ctx { map_value, seq_entry, explicit_value };
  enum class Kind { content, end_of_input, doc_start, doc_end };
  struct Next {
    Kind kind;
    std::size_t line;
    std::size_t indent;
  };
  struct Quoted {
    std::string text;
    std::size_t line, col; // just after the closing quote
    bool closed;
  };
  struct Key {
    std::string text;
    std::size_t colon; // column of the ':'
    bool plain;
  };
  enum class Stop { eol, comment, colon };

  [[noreturn]] void error_at(std::size_t line, const std::string& problem) const {
    fail(ExitCode::bad_input, what_ + ": line " + std::to_string(line + 1) + ": " + problem);
  }
  [[noreturn]] void error(const std::string& problem) const { error_at(ln_, problem); }

  std::string_view line() const { return ln_ < lines_.size() ? lines_[ln_] : std::string_view{}; }
  bool has_newline(std::size_t l) const { return l + 1 < lines_.size() || final_newline_; }

  void check_depth(int depth) const {
    if (depth > limits_.max_depth) error("nesting deeper than " + std::to_string(limits_.max_depth) + " levels");
  }

  // The first line from `from` on that is not blank or a comment.
  Next next_content(std::size_t from) const {
    for (std::size_t l = from; l < lines_.size(); ++l) {
      const std::string_view s = lines_[l];
      if (is_marker(s, "---")) return {Kind::doc_start, l, 0};
      if (is_marker(s, "...")) return {Kind::doc_end, l, 0};
      const std::size_t sp = leading_spaces(s);
      const std::size_t q = skip_ws(s, sp);
      if (q == s.size() || s[q] == '#') continue;
      if (q != sp) error_at(l, "tab character in indentation (indent with spaces)");
      return {Kind::content, l, sp};
    }
    return {Kind::end_of_input, lines_.size(), 0};
  }

  [[noreturn]] void refuse(std::string_view s, std::size_t p) const {
    const char c = s[p];
    if (c == '&' || c == '*' || c == '!') error("anchors, aliases and tags (&, *, !) are not supported");
    if (c == '%') error("'%' cannot start a plain scalar (directives are not supported)");
    if (c == '@' || c == '`') error(std::string("reserved character '") + c + "' cannot start a plain scalar");
    if (c == '[' || c == '{') error("a flow collection cannot be a mapping key");
    if (c == '|' || c == '>') error("a block scalar cannot be a mapping key");
    if (is_indicator(s, p, '-')) error("a sequence entry where a mapping entry was expected (check the indentation)");
    if (is_indicator(s, p, ':')) error("empty mapping keys are not supported");
    if (is_indicator(s, p, '?')) error("an explicit key '?' is not supported here");
    error(std::string("unexpected '") + c + "'");
  }

  // ---- nodes --------------------------------------------------------------------------------------------------

  // The node whose first character is at the cursor, at the start of its line (after its indentation, which is
  // deeper than `n`).
  Value node_at(int n, int depth) {
    const std::string_view s = line();
    if (is_indicator(s, col_, '-')) return sequence(col_, depth + 1);
    if (is_indicator(s, col_, '?') || scan_key(ln_, col_)) return mapping(col_, depth + 1);
    return scalar_node(n, depth);
  }

  // The node after "key:" or "-", the cursor just after the indicator; `n` is the owning collection's indentation.
  Value node_after(int n, Ctx ctx, int depth) {
    const std::string_view s = line();
    if (rest_is_empty(s, col_)) {
      ++ln_;
      col_ = 0;
      const Next nx = next_content(ln_);
      if (nx.kind != Kind::content) return Value();
      if (deeper(nx.indent, n)) {
        ln_ = nx.line;
        col_ = nx.indent;
        return node_at(n, depth);
      }
      // PyYAML's "indentless" sequence: "key:" then "- item" at the key's own indentation.
      if (ctx != Ctx::seq_entry && nx.indent == static_cast<std::size_t>(n) &&
          is_indicator(lines_[nx.line], nx.indent, '-')) {
        ln_ = nx.line;
        col_ = nx.indent;
        return sequence(nx.indent, depth + 1);
      }
      return Value();
    }
    const std::size_t start = col_;
    col_ = skip_ws(s, col_);
    if (ctx != Ctx::map_value) {
      if (s.substr(start, col_ - start).find('\t') != std::string_view::npos)
        error("tab character after an indicator (separate with spaces)");
      return node_at(n, depth); // a compact collection ("- key: value", "- - item") is indented at its column
    }
    if (is_indicator(s, col_, '-')) error("a block sequence cannot start on the line of its key");
    if (is_indicator(s, col_, '?') || scan_key(ln_, col_))
      error("mapping values are not allowed here (a mapping cannot start on the line of its key)");
    return scalar_node(n, depth);
  }

  Value sequence(std::size_t s, int depth) {
    check_depth(depth);
    json::Array items;
    for (;;) {
      col_ = s + 1; // past the '-'
      items.push_back(node_after(static_cast<int>(s), Ctx::seq_entry, depth));
      const Next nx = next_content(ln_);
      col_ = 0;
      if (nx.kind != Kind::content || nx.indent < s) {
        ln_ = nx.line;
        break;
      }
      if (nx.indent > s) error_at(nx.line, "bad indentation of a sequence entry");
      ln_ = nx.line;
      if (!is_indicator(lines_[nx.line], s, '-')) break; // the owner decides (an indentless sequence's mapping)
    }
    return Value(std::move(items));
  }

  Value mapping(std::size_t m, int depth) {
    check_depth(depth);
    json::Object members;
    for (;;) {
      const std::string_view s = line();
      const std::size_t key_line = ln_;
      std::string key;
      bool plain = false;
      Ctx ctx = Ctx::map_value;
      if (is_indicator(s, col_, '?')) {
        key = explicit_key(m, plain);
        ctx = Ctx::explicit_value;
      } else {
        std::optional<Key> k = scan_key(ln_, col_);
        if (!k) {
          if (can_start_plain(s, col_, false) || s[col_] == '"' || s[col_] == '\'')
            error("expected a mapping entry 'key: value' (check the indentation, or quote a value)");
          refuse(s, col_);
        }
        key = std::move(k->text);
        plain = k->plain;
        col_ = k->colon + 1;
      }
      if (plain && key == "<<") error_at(key_line, "merge keys (<<) are not supported");
      if (members.count(key)) error_at(key_line, "duplicate key " + shown(key));
      Value v = node_after(static_cast<int>(m), ctx, depth);
      members.emplace(std::move(key), std::move(v));
      const Next nx = next_content(ln_);
      col_ = 0;
      if (nx.kind != Kind::content || nx.indent < m) {
        ln_ = nx.line;
        break;
      }
      if (nx.indent > m) error_at(nx.line, "bad indentation of a mapping entry");
      ln_ = nx.line;
      col_ = m;
    }
    return Value(std::move(members));
  }

  // "? key" then ": value" on a later line at the mapping's indentation; the key must be a scalar. Leaves the
  // cursor after the ':'.
  std::string explicit_key(std::size_t m, bool& plain) {
    const std::size_t key_line = ln_;
    const std::string_view s = line();
    col_ = skip_ws(s, col_ + 1);
    if (rest_is_empty(s, col_)) error("an explicit key '?' must have its key on the same line");
    std::string key;
    const char c = s[col_];
    if (c == '\'' || c == '"') {
      key = quoted(static_cast<int>(m));
      if (!rest_is_empty(line(), col_)) error("unexpected text after an explicit key");
      ++ln_;
      col_ = 0;
    } else if (c == '|' || c == '>') {
      key = block_scalar(static_cast<int>(m)).as_string();
    } else if (!can_start_plain(s, col_, false)) {
      if (c == '[' || c == '{' || is_indicator(s, col_, '-') || is_indicator(s, col_, '?'))
        error("only scalars can be mapping keys");
      refuse(s, col_);
    } else {
      key = plain_text(static_cast<int>(m));
      plain = true;
    }
    const Next nx = next_content(ln_);
    if (nx.kind != Kind::content || nx.indent != m || !is_indicator(lines_[nx.line], m, ':'))
      error_at(key_line, "expected ': value' after the explicit key '?', at the key's indentation");
    ln_ = nx.line;
    col_ = m + 1;
    return key;
  }

  // A scalar (plain, quoted or block) or a flow collection, starting at the cursor.
  Value scalar_node(int n, int depth) {
    const std::string_view s = line();
    const char c = s[col_];
    if (c == '|' || c == '>') return block_scalar(n);
    if (c == '\'' || c == '"') {
      const std::size_t start = ln_;
      std::string text = quoted(n);
      after_value(start != ln_ ? "a quoted key must end on its line (keys cannot span lines)"
                               : "mapping values are not allowed here");
      return Value(std::move(text));
    }
    if (c == '[' || c == '{') {
      Value v = flow(depth + 1);
      after_value("a flow collection cannot be a mapping key");
      return v;
    }
    if (!can_start_plain(s, col_, false)) refuse(s, col_);
    return resolve(plain_text(n));
  }

  // After a quoted scalar or a flow collection: only a comment may follow on its line.
  void after_value(const char* if_colon) {
    const std::string_view s = line();
    if (rest_is_empty(s, col_)) {
      ++ln_;
      col_ = 0;
      return;
    }
    const std::size_t q = skip_ws(s, col_);
    if (is_indicator(s, q, ':')) error(if_colon);
    error("unexpected text after the value");
  }

  // ---- scalars -----------------------------------------------------------------------------------------------

  static Value resolve(std::string text) {
    if (text.empty()) return Value();
    if (text == "null" || text == "Null" || text == "NULL" || text == "~") return Value();
    if (text == "true") return Value(true);
    if (text == "false") return Value(false);
    const std::size_t digits = text[0] == '-' ? 1 : 0;
    if (text.size() > digits && text.find_first_not_of("0123456789", digits) == std::string::npos &&
        (text[digits] != '0' || text.size() == digits + 1) && text != "-0") {
      std::int64_t n = 0;
      const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
      if (ec == std::errc() && end == text.data() + text.size()) return Value(n);
    }
    return Value(std::move(text));
  }

  // Plain text on one line from p, in block context: up to ": " or a final ':', a comment, or the end of the line.
  static std::pair<std::size_t, Stop> scan_plain(std::string_view s, std::size_t p) {
    for (std::size_t i = p; i < s.size(); ++i) {
      if (s[i] == ':' && (i + 1 == s.size() || is_ws(s[i + 1]))) return {i, Stop::colon};
      if (s[i] == '#' && i > p && is_ws(s[i - 1])) return {i, Stop::comment};
    }
    return {s.size(), Stop::eol};
  }

  // A plain scalar from the cursor, with its continuation lines (indented deeper than `n`), folded.
  std::string plain_text(int n) {
    const std::string_view first = line();
    const auto [end, stop] = scan_plain(first, col_);
    if (stop == Stop::colon) error("mapping values are not allowed here");
    std::string text(trim_right(first.substr(col_, end - col_)));
    std::size_t next = ln_ + 1;
    if (stop == Stop::eol) {
      std::size_t empties = 0;
      for (std::size_t l = ln_ + 1; l < lines_.size(); ++l) {
        const std::string_view s = lines_[l];
        const std::size_t sp = leading_spaces(s);
        const std::size_t q = skip_ws(s, sp);
        if (q == s.size()) {
          ++empties;
          continue;
        }
        if (is_marker(s, "---") || is_marker(s, "...") || !deeper(sp, n) || s[q] == '#') break;
        const auto [e, st] = scan_plain(s, q);
        if (st == Stop::colon)
          error_at(l, "mapping values are not allowed here (a key indented too deep, or a value that needs quotes?)");
        if (empties)
          text.append(empties, '\n');
        else
          text += ' ';
        text += trim_right(s.substr(q, e - q));
        empties = 0;
        next = l + 1;
        if (st == Stop::comment) break;
      }
    }
    ln_ = next;
    col_ = 0;
    return text;
  }

  // Decodes the escape after a backslash at s[p - 1]; returns the position after it.
  std::size_t escape(std::string_view s, std::size_t p, std::string& out, std::size_t l) const {
    const char e = s[p];
    std::size_t hex = 0;
    switch (e) {
    case '0':
      out += '\0';
      break;
    case 'a':
      out += '\a';
      break;
    case 'b':
      out += '\b';
      break;
    case 't':
    case '\t':
      out += '\t';
      break;
    case 'n':
      out += '\n';
      break;
    case 'v':
      out += '\v';
      break;
    case 'f':
      out += '\f';
      break;
    case 'r':
      out += '\r';
      break;
    case 'e':
      out += '\x1b';
      break;
    case ' ':
      out += ' ';
      break;
    case '"':
      out += '"';
      break;
    case '/':
      out += '/';
      break;
    case '\\':
      out += '\\';
      break;
    case 'N':
      append_utf8(out, 0x85);
      break;
    case '_':
      append_utf8(out, 0xA0);
      break;
    case 'L':
      append_utf8(out, 0x2028);
      break;
    case 'P':
      append_utf8(out, 0x2029);
      break;
    case 'x':
      hex = 2;
      break;
    case 'u':
      hex = 4;
      break;
    case 'U':
      hex = 8;
      break;
    default:
      if (static_cast<unsigned char>(e) >= 0x80)
        error_at(l, "unknown escape (a backslash before a non-ASCII character)");
      error_at(l, std::string("unknown escape '\\") + e + "'");
    }
    if (hex == 0) return p + 1;
    if (s.size() - (p + 1) < hex)
      error_at(l, std::string("escape '\\") + e + "' needs " + std::to_string(hex) + " hex digits");
    std::uint32_t cp = 0;
    for (std::size_t k = 0; k < hex; ++k) {
      const char h = s[p + 1 + k];
      std::uint32_t d = 0;
      if (h >= '0' && h <= '9')
        d = static_cast<std::uint32_t>(h - '0');
      else if (h >= 'a' && h <= 'f')
        d = static_cast<std::uint32_t>(h - 'a' + 10);
      else if (h >= 'A' && h <= 'F')
        d = static_cast<std::uint32_t>(h - 'A' + 10);
      else
        error_at(l, std::string("escape '\\") + e + "' needs " + std::to_string(hex) + " hex digits");
      cp = cp << 4 | d;
    }
    if (cp >= 0xD800 && cp <= 0xDFFF) error_at(l, "escape of a UTF-16 surrogate (not a character)");
    if (cp > 0x10FFFF) error_at(l, "escape of a code point above U+10FFFF");
    append_utf8(out, cp);
    return p + 1 + hex;
  }

  // A single- or double-quoted scalar whose opening quote is at lines_[l][p]. With `one_line`, a scalar that does
  // not close on its line returns closed=false; otherwise it continues on lines indented deeper than `n`, folded as
  // YAML folds them (a line break becomes a space, each empty line a '\n', an escaped line break nothing).
  Quoted scan_quoted(std::size_t l, std::size_t p, int n, bool one_line) const {
    const std::size_t start = l;
    const char q = lines_[l][p];
    std::string out, ws; // ws: unescaped blanks not yet known to be inside a line
    ++p;
    for (;;) {
      const std::string_view s = lines_[l];
      bool escaped_break = false;
      while (p < s.size()) {
        const char c = s[p];
        if (c == q) {
          if (q == '\'' && p + 1 < s.size() && s[p + 1] == '\'') {
            out += ws;
            ws.clear();
            out += '\'';
            p += 2;
            continue;
          }
          out += ws;
          return {std::move(out), l, p + 1, true};
        }
        if (is_ws(c)) {
          ws += c;
          ++p;
          continue;
        }
        out += ws;
        ws.clear();
        if (q == '"' && c == '\\') {
          if (p + 1 == s.size()) {
            escaped_break = true;
            ++p;
            break;
          }
          p = escape(s, p + 1, out, l);
          continue;
        }
        out += c;
        ++p;
      }
      if (one_line) return {std::string(), l, p, false};
      ws.clear(); // blanks before a line break are not content
      std::size_t breaks = 0;
      for (++l;; ++l) {
        if (l >= lines_.size()) error_at(start, "unterminated quoted scalar (the closing quote is missing)");
        const std::string_view t = lines_[l];
        if (is_marker(t, "---") || is_marker(t, "...")) error_at(l, "document marker inside a quoted scalar");
        const std::size_t sp = leading_spaces(t);
        const std::size_t first = skip_ws(t, sp);
        if (first == t.size()) {
          ++breaks;
          continue;
        }
        if (!deeper(sp, n)) error_at(l, "a quoted scalar's continuation line must be indented deeper than its owner");
        p = first;
        break;
      }
      if (breaks)
        out.append(breaks, '\n');
      else if (!escaped_break)
        out += ' ';
    }
  }

  std::string quoted(int n) {
    Quoted r = scan_quoted(ln_, col_, n, false);
    ln_ = r.line;
    col_ = r.col;
    return std::move(r.text);
  }

  // '|' or '>' at the cursor; `n` is the owning collection's indentation. Follows PyYAML's scanner: the content
  // indentation is the indicator's, or the largest of the leading empty lines' and the first content line's.
  Value block_scalar(int n) {
    const std::string_view header = line();
    const bool folded = header[col_] == '>';
    std::size_t p = col_ + 1;
    int chomp = 0; // -1 strip, 0 clip, +1 keep
    bool chomp_set = false;
    std::size_t increment = 0;
    for (int k = 0; k < 2 && p < header.size(); ++k) {
      const char c = header[p];
      if ((c == '-' || c == '+') && !chomp_set) {
        chomp = c == '-' ? -1 : 1;
        chomp_set = true;
        ++p;
      } else if (c >= '1' && c <= '9' && increment == 0) {
        increment = static_cast<std::size_t>(c - '0');
        ++p;
      } else {
        break;
      }
    }
    if (!rest_is_empty(header, p))
      error("bad block scalar header (expected '|' or '>', optionally '-' or '+' and a digit 1-9, then the end of "
            "the line or a comment)");
    const std::size_t min_indent = n < 0 ? 1 : static_cast<std::size_t>(n) + 1;
    std::size_t indent = 0;
    if (increment) {
      indent = min_indent + increment - 1;
    } else {
      std::size_t max_indent = 0;
      for (std::size_t l = ln_ + 1; l < lines_.size(); ++l) {
        const std::size_t sp = leading_spaces(lines_[l]);
        max_indent = std::max(max_indent, sp);
        if (sp < lines_[l].size()) break;
      }
      indent = std::max(min_indent, max_indent);
    }
    std::string out;
    std::size_t pending = 0; // empty lines (line breaks) since the last content line
    bool any = false, prev_leading_non_space = false;
    std::size_t last = 0, l = ln_ + 1;
    for (; l < lines_.size(); ++l) {
      const std::string_view s = lines_[l];
      const std::size_t sp = leading_spaces(s);
      if (sp == s.size() && sp <= indent) {
        if (has_newline(l)) ++pending;
        continue;
      }
      if (sp < indent) break;
      const std::string_view text = s.substr(indent);
      const bool leading_non_space = !is_ws(text[0]);
      if (any) {
        if (folded && prev_leading_non_space && leading_non_space) {
          if (pending == 0) out += ' ';
        } else {
          out += '\n';
        }
      }
      out.append(pending, '\n');
      pending = 0;
      out += text;
      any = true;
      prev_leading_non_space = leading_non_space;
      last = l;
    }
    if (chomp != -1 && any && has_newline(last)) out += '\n';
    if (chomp == 1) out.append(pending, '\n');
    ln_ = l;
    col_ = 0;
    return Value(std::move(out));
  }

  // ---- flow collections (one level, one line) ------------------------------------------------------------------

  // A scalar inside a flow collection at s[p]; advances p. Sets `plain` when it was not quoted.
  std::string flow_scalar(std::string_view s, std::size_t& p, bool& plain) const {
    const char c = s[p];
    if (c == '[' || c == '{') error("nested flow collections are not supported");
    if (c == '\'' || c == '"') {
      Quoted r = scan_quoted(ln_, p, -1, true);
      if (!r.closed) error("a quoted scalar in a flow collection must end on its line");
      p = r.col;
      plain = false;
      return std::move(r.text);
    }
    if (!can_start_plain(s, p, true)) {
      if (is_flow_indicator(c)) error(std::string("unexpected '") + c + "' in a flow collection");
      refuse(s, p);
    }
    std::size_t i = p;
    for (; i < s.size(); ++i) {
      const char d = s[i];
      if (is_flow_indicator(d)) break;
      if (d == ':' && (i + 1 == s.size() || is_ws(s[i + 1]) || is_flow_indicator(s[i + 1]))) break;
      if (d == '#' && is_ws(s[i - 1])) break;
    }
    std::string text(trim_right(s.substr(p, i - p)));
    p = i;
    plain = true;
    return text;
  }

  Value flow(int depth) {
    check_depth(depth);
    const std::string_view s = line();
    const char open = s[col_];
    const char close = open == '[' ? ']' : '}';
    std::size_t p = col_ + 1;
    json::Array items;
    json::Object members;
    auto unclosed = [&] {
      error("a flow collection must close on the line it opens (multi-line flow collections are not supported)");
    };
    for (;;) {
      p = skip_ws(s, p);
      if (p == s.size() || (s[p] == '#' && is_ws(s[p - 1]))) unclosed();
      if (s[p] == close) {
        ++p;
        break;
      }
      bool plain = false;
      if (open == '[') {
        std::string text = flow_scalar(s, p, plain);
        p = skip_ws(s, p);
        if (p < s.size() && s[p] == ':') error("mappings inside flow sequences are not supported");
        items.push_back(plain ? resolve(std::move(text)) : Value(std::move(text)));
      } else {
        std::string key = flow_scalar(s, p, plain);
        if (plain && key == "<<") error("merge keys (<<) are not supported");
        p = skip_ws(s, p);
        if (p == s.size() || s[p] != ':') error("expected ':' after a key in a flow mapping");
        p = skip_ws(s, p + 1);
        if (p == s.size()) unclosed();
        Value v;
        if (s[p] != ',' && s[p] != '}') {
          std::string text = flow_scalar(s, p, plain);
          v = plain ? resolve(std::move(text)) : Value(std::move(text));
        }
        if (members.count(key)) error("duplicate key " + shown(key));
        members.emplace(std::move(key), std::move(v));
      }
      p = skip_ws(s, p);
      if (p == s.size() || (s[p] == '#' && is_ws(s[p - 1]))) unclosed();
      if (s[p] == ',') {
        ++p;
        continue;
      }
      if (s[p] == close) {
        ++p;
        break;
      }
      error(std::string("expected ',' or '") + close + "' in a flow collection");
    }
    col_ = p;
    return open == '[' ? Value(std::move(items)) : Value(std::move(members));
  }

  // Whether the line at (l, p) starts an implicit key ("key: ", "'key': ", "\"key\":" at the end of the line).
  std::optional<Key> scan_key(std::size_t l, std::size_t p) const {
    const std::string_view s = lines_[l];
    const char c = s[p];
    if (c == '\'' || c == '"') {
      Quoted r = scan_quoted(l, p, -1, true);
      if (!r.closed) return std::nullopt;
      const std::size_t q = skip_ws(s, r.col);
      if (!is_indicator(s, q, ':')) return std::nullopt;
      return Key{std::move(r.text), q, false};
    }
    if (!can_start_plain(s, p, false)) return std::nullopt;
    const auto [end, stop] = scan_plain(s, p);
    if (stop != Stop::colon) return std::nullopt;
    return Key{std::string(trim_right(s.substr(p, end - p))), end, true};
  }

  const std::string& what_;
  ParseLimits limits_;
  std::vector<std::string_view> lines_;
  bool final_newline_ = false;
  std::size_t ln_ = 0;  // current line
  std::size_t col_ = 0; // current byte column in it
};

} // namespace

json::Value parse(std::string_view text, const std::string& what, ParseLimits limits) {
  if (text.size() > limits.max_bytes)
    fail(ExitCode::bad_input, what + ": " + std::to_string(text.size()) + " bytes is more than the limit of " +
                                  std::to_string(limits.max_bytes));
  check_characters(text, what);
  return Parser(text, what, limits).document();
}

std::string scalar_text(const json::Value& v) {
  switch (v.type()) {
  case json::Value::Type::null:
    return "";
  case json::Value::Type::boolean:
    return v.as_bool() ? "true" : "false";
  case json::Value::Type::integer:
    return std::to_string(v.as_int());
  case json::Value::Type::string:
    return v.as_string();
  default:
    break;
  }
  fail(ExitCode::bad_input, std::string("expected a scalar, found ") + json::type_name(v.type()));
}

} // namespace airlock::yaml
