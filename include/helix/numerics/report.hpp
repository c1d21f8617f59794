// The numerics report as people read it: one plan verified on its verification-size model in
// double and in float, error per layer and at the output, tolerance, replica agreement, verdict
// and timings. helix_deploy --verify prints this.
#pragma once

#include "helix/graph/dag.hpp"
#include "helix/graph/lowering.hpp"
#include "helix/model/model.hpp"
#include "helix/numerics/shrink.hpp"
#include "helix/numerics/verify.hpp"
#include "helix/numerics/weights.hpp"
#include "helix/plan/parse.hpp"
#include "helix/plan/spec.hpp"
#include "helix/plan/validate.hpp"

#include <concepts>
#include <cstdint>
#include <iomanip>
#include <ostream>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace helix::numerics {

constexpr std::string_view scheme_variant_name(SchemeVariant variant) {
  return variant == SchemeVariant::exact ? "exact" : "broken_slice_local_softmax";
}

/// What one plan's verification found. For a broken variant the expected verdict is failure.
struct PlanNumerics {
  NumericsReport in_double, in_float;
  bool expected_to_pass = true;
  /// Both verdicts are what was expected (exact passes, broken fails).
  bool as_expected = false;
};

namespace detail {

inline std::string scientific(double value) {
  std::ostringstream text;
  text << std::scientific << std::setprecision(1) << value;
  return text.str();
}

inline std::string milliseconds(double seconds) {
  std::ostringstream text;
  text << std::fixed << std::setprecision(2) << seconds * 1e3 << " ms";
  return text.str();
}

inline void error_row(std::ostream& out, const std::string& label, const ErrorMeasure& d,
                      const ErrorMeasure& f) {
  out << "  " << std::left << std::setw(22) << label << std::setw(10) << scientific(d.max_abs)
      << std::setw(14) << scientific(d.max_relative) << std::setw(10) << scientific(f.max_abs)
      << scientific(f.max_relative) << '\n';
}

inline std::string verdict(const NumericsReport& r, bool expected_to_pass) {
  if (r.passed)
    return expected_to_pass ? "PASS" : "PASS (expected to fail!)";
  return expected_to_pass ? "FAIL" : "FAIL (expected)";
}

} // namespace detail

/// Prints a double and a float report of the same plan side by side.
inline void print_reports(std::ostream& out, const NumericsReport& in_double,
                          const NumericsReport& in_float, bool expected_to_pass = true) {
  using detail::scientific;
  const Model& m = in_double.model;
  out << "numerics: " << to_string(in_double.plan) << ", " << phase_name(in_double.workload.phase);
  if (in_double.workload.microbatches > 1)
    out << " in " << in_double.workload.microbatches << " microbatches";
  out << ", " << scheme_variant_name(in_double.variant) << " lowering"
      << (expected_to_pass ? "" : " (expected to fail)") << '\n';
  out << "  verification model: " << m.layers << " layers, hidden " << m.hidden << ", " << m.heads
      << " heads (" << m.kv_heads << " kv) x head_dim " << m.head_dim << ", ffn " << m.ffn_hidden
      << ", batch " << m.batch << ", seq_len " << m.seq_len << "; DAG of " << in_double.vertices
      << " vertices on " << in_double.devices << " devices\n";
  out << "  " << std::left << std::setw(22) << "" << std::setw(24) << "double"
      << "float\n";
  out << "  " << std::left << std::setw(22) << "" << std::setw(10) << "max abs" << std::setw(14)
      << "max relative" << std::setw(10) << "max abs"
      << "max relative\n";
  for (std::size_t l = 0; l < in_double.layers.size() && l < in_float.layers.size(); ++l)
    detail::error_row(out, "layer " + std::to_string(l), in_double.layers[l].error,
                      in_float.layers[l].error);
  detail::error_row(out, "output (" + std::to_string(in_double.output_copies) + " copies)",
                    in_double.output, in_float.output);
  out << "  " << std::left << std::setw(22) << "tolerance (relative)" << std::setw(24)
      << scientific(in_double.tolerance) << scientific(in_float.tolerance) << '\n';
  out << "  " << std::left << std::setw(22) << "replicas agree" << std::setw(24)
      << (in_double.replicas_agree ? "yes" : "NO") << (in_float.replicas_agree ? "yes" : "NO")
      << '\n';
  if (!in_double.complete || !in_float.complete)
    out << "  some sequences have no output on any device\n";
  out << "  " << std::left << std::setw(22) << "verdict" << std::setw(24)
      << detail::verdict(in_double, expected_to_pass) << detail::verdict(in_float, expected_to_pass)
      << '\n';
  out << "  " << std::left << std::setw(22) << "time (double)"
      << "reference " << detail::milliseconds(in_double.reference_seconds) << ", DAG "
      << detail::milliseconds(in_double.execute_seconds) << '\n';
}

/// Verifies `plan` on `models::shrink(model, plan, workload)` in double and in float, prints the
/// report to `out`, and returns both reports. The broken variant is marked as expected to fail.
/// @throws PlanError when the plan does not suit the (full) model.
///
/// Example: `print_numerics_report(std::cout, models::helix_seed, parse_plan("hp=4x4"))`.
///
/// A template (over the stream) only for compile time: a non-template inline function that calls
/// `verify<double>` and `verify<float>` makes every TU including this header instantiate the
/// whole verification path (reference, executor, Eigen products) in both scalars, some 7 s of
/// g++ -O2 whether or not it is called. As a template it is instantiated only where it is used.
template <std::derived_from<std::ostream> Stream>
PlanNumerics print_numerics_report(Stream& out, const Model& model, const PlanSpec& plan,
                                   const Workload& workload = {},
                                   SchemeVariant variant = SchemeVariant::exact,
                                   std::uint64_t seed = default_seed) {
  // Judged on the full model: the shrunk batch could divide where the full one does not.
  if (std::vector<std::string> problems = validate(model, plan, workload); !problems.empty())
    throw PlanError(std::move(problems));
  const Model small = models::shrink(model, plan, workload);
  PlanNumerics result;
  result.in_double = verify<double>(small, plan, workload, variant, seed);
  result.in_float = verify<float>(small, plan, workload, variant, seed);
  result.expected_to_pass = variant == SchemeVariant::exact;
  result.as_expected = result.in_double.passed == result.expected_to_pass &&
                       result.in_float.passed == result.expected_to_pass;
  print_reports(out, result.in_double, result.in_float, result.expected_to_pass);
  return result;
}

} // namespace helix::numerics
