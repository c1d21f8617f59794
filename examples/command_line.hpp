// What the example programs' command lines share: whole numbers read as text, so that a value
// past the range is named as typed instead of clamped by the option parser.
#pragma once

#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <system_error>

namespace helix::examples {

/// `text` as a whole number from 0 to 10^15, or nothing (not a number, trailing characters,
/// negative, too large).
inline std::optional<std::int64_t> parse_count(const std::string& text) {
  std::int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc{} || end != text.data() + text.size() || value < 0 ||
      value > 1'000'000'000'000'000)
    return std::nullopt;
  return value;
}

} // namespace helix::examples
