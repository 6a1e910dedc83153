// The text forms of enums: one constexpr table per enum of {value, text} pairs, looked up both ways, so that
// strings exist only where text crosses a boundary (SQLite, JSON, the journal, the terminal).
// Thread-safety: constant data and pure functions.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string_view>

namespace airlock::util {

template <class E> struct Named {
  E value;
  std::string_view name;
};

template <class E, std::size_t N> using NameTable = std::array<Named<E>, N>;

// The text of `e`, or `fallback` when the table lacks it.
template <class E, std::size_t N>
constexpr std::string_view name_of(const NameTable<E, N>& table, E e, std::string_view fallback = "?") {
  for (const auto& n : table)
    if (n.value == e) return n.name;
  return fallback;
}

// The value whose text is `text`; nullopt when none has it.
template <class E, std::size_t N>
constexpr std::optional<E> value_of(const NameTable<E, N>& table, std::string_view text) {
  for (const auto& n : table)
    if (n.name == text) return n.value;
  return std::nullopt;
}

} // namespace airlock::util
