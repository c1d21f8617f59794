// Plans written as text ("pp=2,tg=4x4", "hp=4x4", "tp=8,dp=2,split=3/1") for command lines and
// config files, and the canonical text of a plan. Malformed text throws PlanTextError naming
// the token; whether the plan suits a model is `validate`'s job.
#pragma once

#include "helix/plan/rules.hpp"
#include "helix/plan/spec.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace helix {

struct PlanTextError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

namespace detail {

inline std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

/// `text` with every byte outside printable ASCII written as \xNN, so an error message shows
/// exactly what was typed and never carries a NUL or a terminal control code.
inline std::string printable(std::string_view text) {
  constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x20 && byte < 0x7f) {
      out += c;
    } else {
      out += "\\x";
      out += hex[byte >> 4];
      out += hex[byte & 0xf];
    }
  }
  return out;
}

[[noreturn]] inline void plan_text_error(std::string_view token, std::string_view why) {
  std::string message = "helix: plan text: '";
  message.append(printable(token)).append("': ").append(printable(why));
  throw PlanTextError(message);
}

/// Splits `s` at every `separator`, keeping empty pieces so "4x" is seen as malformed.
inline std::vector<std::string_view> split(std::string_view s, char separator) {
  std::vector<std::string_view> pieces;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= s.size(); ++i)
    if (i == s.size() || s[i] == separator) {
      pieces.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  return pieces;
}

/// A degree: decimal digits only, at least `minimum`, at most 10^15 (far past any device count, and
/// small enough that products of a few stay representable until the size rule sees them).
inline std::int64_t parse_degree(std::string_view token, std::string_view digits,
                                 std::int64_t minimum = 1) {
  if (digits.empty())
    plan_text_error(token, "a number is missing");
  std::int64_t value = 0;
  for (char c : digits) {
    if (c < '0' || c > '9')
      plan_text_error(token, "'" + std::string(digits) + "' is not a whole number");
    if (value > 100'000'000'000'000)
      plan_text_error(token, "'" + std::string(digits) + "' is too large (at most 10^15)");
    value = value * 10 + (c - '0');
  }
  if (value > 1'000'000'000'000'000)
    plan_text_error(token, "'" + std::string(digits) + "' is too large (at most 10^15)");
  if (value < minimum) {
    const RuleText& rule = text_of(Rule::degree_at_least_one);
    plan_text_error(token, std::string(rule.name) + ": " + std::string(rule.requirement));
  }
  return value;
}

/// Exactly `count` (0: any number of) degrees separated by `separator` ("4x4", "3/1").
inline std::vector<std::int64_t> parse_degrees(std::string_view token, std::string_view value,
                                               char separator, std::size_t count,
                                               std::int64_t minimum = 1) {
  std::vector<std::int64_t> degrees;
  const std::vector<std::string_view> pieces = split(value, separator);
  if (count != 0 && pieces.size() != count)
    plan_text_error(token, "expected " + std::to_string(count) + " numbers separated by '" +
                               std::string(1, separator) + "'");
  if (pieces.size() > max_pipeline_stages)
    plan_text_error(token, "at most " + std::to_string(max_pipeline_stages) + " layer counts");
  for (std::string_view piece : pieces)
    degrees.push_back(parse_degree(token, piece, minimum));
  return degrees;
}

} // namespace detail

/// Parses a plan. Keys (from HELIX_DESCRIPTORS): pp=P, tg=GxS, tp=T, hp=HgxDs, dp=D, kv=K,
/// split=L0/L1/...
/// @post the result names each descriptor at most once.
/// @throws PlanTextError naming the token for empty text, unknown keys, malformed or zero
/// numbers, numbers above 10^15 and repeated keys.
///
/// Example: `parse_plan("pp=2,tg=4x4")` equals `Plan<PipelineStages<2>, TensorGroups<4,4>>::spec`.
[[nodiscard]] inline PlanSpec parse_plan(std::string_view text) {
  if (detail::trim(text).empty())
    detail::plan_text_error(text,
                            "empty plan; write descriptors such as \"pp=2,tg=4x4\" or \"tp=8\"");
  PlanSpec spec;
  for (std::string_view raw : detail::split(text, ',')) {
    const std::string_view token = detail::trim(raw);
    const std::size_t equals = token.find('=');
    if (token.empty())
      detail::plan_text_error(text, "empty descriptor between commas");
    if (equals == std::string_view::npos)
      detail::plan_text_error(token, "expected key=value, e.g. pp=2");
    const std::string_view key = detail::trim(token.substr(0, equals));
    const std::string_view value = detail::trim(token.substr(equals + 1));
    std::size_t kind = 0;
    while (kind < descriptor_kind_count && descriptor_rows[kind].key != key)
      ++kind;
    if (kind == descriptor_kind_count) {
      std::string known;
      for (const DescriptorRow& row : descriptor_rows)
        known.append(known.empty() ? "" : ", ").append(row.key);
      detail::plan_text_error(token,
                              "unknown key '" + std::string(key) + "'; known keys: " + known);
    }
    if (spec.given[kind] > 0) {
      const RuleText& rule = text_of(Rule::descriptor_given_once);
      detail::plan_text_error(token, std::string(rule.name) + ": '" + std::string(key) +
                                         "' is given more than once");
    }
    const DescriptorRow& row = descriptor_rows[kind];
    if (row.degrees == 1) {
      record_descriptor(spec, row.kind, std::array{detail::parse_degree(token, value)});
    } else {
      // A list's zero (a stage with no layer) is the layer rule's to report, with the model's
      // numbers.
      const std::int64_t minimum = row.degrees == 0 ? 0 : 1;
      record_descriptor(spec, row.kind,
                        detail::parse_degrees(token, value, row.separator, row.degrees, minimum));
    }
  }
  return spec;
}

/// Canonical text of a plan, in descriptor order ("pp=2,tg=4x4"); "tp=1" for a single device.
/// @post `parse_plan(to_string(p)) == p` for every plan that names at least one descriptor, each
/// once, with degrees of at least 1.
inline std::string to_string(const PlanSpec& p) {
  std::string s;
  auto add = [&](std::string_view key, const std::string& value) {
    if (!s.empty())
      s += ',';
    s.append(key).append("=").append(value);
  };
  for (const DescriptorRow& row : descriptor_rows) {
    if (!p.has(row.kind))
      continue;
    std::string degrees;
    const auto append = [&](std::int64_t degree) {
      if (!degrees.empty())
        degrees += row.separator;
      degrees += std::to_string(degree);
    };
    if (row.degrees == 0)
      for (std::int64_t i = 0; i < p.layer_split_count; ++i)
        append(p.layer_split[static_cast<std::size_t>(i)]);
    else
      for (std::size_t i = 0; i < row.degrees; ++i)
        append(p.*row.fields[i]);
    add(row.key, degrees);
  }
  return s.empty() ? "tp=1" : s;
}

} // namespace helix
