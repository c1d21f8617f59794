// Numbers for people: values with decimal SI prefixes ("1.23 GB", "45.6 ms") and relative changes
// ("−33%"), shared by the comparison table and the timeline picture.
#pragma once

#include <array>
#include <cmath>
#include <cstdio>
#include <string>
#include <string_view>

namespace helix::cost {

/// `value` with 3 significant digits and the decimal SI prefix that keeps it in [1, 1000).
inline std::string format_si(double value, std::string_view unit) {
  struct Prefix {
    double scale;
    std::string_view symbol;
  };
  constexpr std::array<Prefix, 9> prefixes{{{1e18, "E"},
                                            {1e15, "P"},
                                            {1e12, "T"},
                                            {1e9, "G"},
                                            {1e6, "M"},
                                            {1e3, "k"},
                                            {1, ""},
                                            {1e-3, "m"},
                                            {1e-6, "µ"}}};
  Prefix chosen = prefixes.back();
  for (const Prefix& p : prefixes)
    if (std::abs(value) >= p.scale) {
      chosen = p;
      break;
    }
  if (value == 0 || !std::isfinite(value))
    chosen = {1, ""};
  char number[32];
  std::snprintf(number, sizeof number, "%.3g", value / chosen.scale);
  const std::string suffix = std::string(chosen.symbol) + std::string(unit);
  return suffix.empty() ? std::string(number) : std::string(number) + " " + suffix;
}

/// The change from `before` to `after` in percent: "−33%", "+100%", "±0%", with a true minus sign
/// as in the seed's own wording.
inline std::string format_change(double before, double after) {
  if (before == 0)
    return after == 0 ? "±0%" : "new";
  const double percent = (after - before) / before * 100.0;
  char number[32];
  std::snprintf(number, sizeof number, "%.0f%%", std::abs(percent));
  const std::string text = number;
  return (text == "0%" ? "±" : percent < 0 ? "−" : "+") + text;
}

} // namespace helix::cost
