// What people read on a terminal or paste into a page: the comparison of plans as a markdown
// table with one line per claim verdict and note, and a plan's numerics report (double and
// float side by side). Printing only: the numbers come from cost/compare.hpp and
// numerics/report.hpp.
#pragma once

#include "helix/cost/compare.hpp"
#include "helix/cost/hardware.hpp"
#include "helix/cost/units.hpp"
#include "helix/model/model.hpp"
#include "helix/numerics/report.hpp"
#include "helix/numerics/verify.hpp"
#include "helix/plan/parse.hpp"

#include <cstddef>
#include <cstdio>
#include <iomanip>
#include <ostream>
#include <sstream>
#include <string>

namespace helix::io {

/// The comparison: a heading (hardware, overlap, baseline), a markdown table with a row per plan,
/// then one line per claim verdict and per note.
inline void write_markdown(std::ostream& out, const cost::Comparison& c) {
  using cost::format_si;
  using cost::LinkClass;
  out << "Cost on " << c.hardware << (c.overlap_communication ? " (communication overlapped)" : "")
      << ", claims judged against "
      << (c.baseline < c.plans.size() ? c.plans[c.baseline].name : "no plan") << "\n\n";
  out << "| plan | GPUs | all-reduces (logical) | collective phases | sent/GPU NVLink "
         "| sent/GPU InfiniBand | comm time/GPU | FLOPs/GPU (max) | FLOPs total "
         "| memory/GPU (max) | fits | makespan | bubble | tokens/s |\n"
      << "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|:-:|--:|--:|--:|\n";
  for (const cost::PlanSummary& s : c.plans) {
    char bubble[16];
    std::snprintf(bubble, sizeof bubble, "%.1f%%", s.bubble_fraction * 100.0);
    out << "| " << s.name << " | " << s.world_size << " | " << s.allreduce_logical << " | "
        << s.collective_phases << " | "
        << format_si(s.bytes_by_link[static_cast<std::size_t>(LinkClass::nvlink)], "B") << " | "
        << format_si(s.bytes_by_link[static_cast<std::size_t>(LinkClass::infiniband)], "B") << " | "
        << format_si(s.communication_seconds_per_device, "s") << " | "
        << format_si(static_cast<double>(s.flops_per_device_max), "FLOP") << " | "
        << format_si(static_cast<double>(s.flops_total), "FLOP") << " | "
        << format_si(s.memory_per_device_max, "B") << " | " << (s.fits ? "yes" : "no") << " | "
        << format_si(s.makespan_seconds, "s") << " | " << bubble << " | "
        << format_si(s.tokens_per_second, "") << " |\n";
  }
  if (!c.verdicts.empty() || !c.notes.empty())
    out << '\n';
  for (const cost::ClaimVerdict& v : c.verdicts)
    out << "- " << v.plan << " vs " << v.baseline << ": " << v.text << '\n';
  for (const std::string& note : c.notes)
    out << "- note: " << note << '\n';
}

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

inline void error_row(std::ostream& out, const std::string& label, const numerics::ErrorMeasure& d,
                      const numerics::ErrorMeasure& f) {
  out << "  " << std::left << std::setw(22) << label << std::setw(10) << scientific(d.max_abs)
      << std::setw(14) << scientific(d.max_relative) << std::setw(10) << scientific(f.max_abs)
      << scientific(f.max_relative) << '\n';
}

inline std::string verdict(const numerics::NumericsReport& r, bool expected_to_pass) {
  if (r.passed)
    return expected_to_pass ? "PASS" : "PASS (expected to fail!)";
  return expected_to_pass ? "FAIL" : "FAIL (expected)";
}

} // namespace detail

/// A double and a float report of the same plan side by side: error per layer and at the
/// output, tolerance, replica agreement, verdict and timings.
inline void write_markdown(std::ostream& out, const numerics::NumericsReport& in_double,
                           const numerics::NumericsReport& in_float, bool expected_to_pass = true) {
  using detail::scientific;
  const Model& m = in_double.model;
  out << "numerics: " << to_string(in_double.plan) << ", " << phase_name(in_double.workload.phase);
  if (in_double.workload.microbatches > 1)
    out << " in " << in_double.workload.microbatches << " microbatches";
  out << ", " << numerics::scheme_variant_name(in_double.variant) << " lowering"
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

/// One plan's verification (see numerics::verify_plan), as above.
inline void write_markdown(std::ostream& out, const numerics::PlanNumerics& numerics) {
  write_markdown(out, numerics.in_double, numerics.in_float, numerics.expected_to_pass);
}

} // namespace helix::io
