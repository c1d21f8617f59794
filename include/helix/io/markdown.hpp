// What people read on a terminal or paste into a page: the comparison of plans as a markdown
// table with one line per claim verdict and note, and a plan's numerics report (double and
// float side by side). Printing only: the numbers come from cost/compare.hpp and
// numerics/report.hpp.
#pragma once

#include "helix/cost/collectives.hpp"
#include "helix/cost/compare.hpp"
#include "helix/cost/hardware.hpp"
#include "helix/cost/units.hpp"
#include "helix/model/model.hpp"
#include "helix/numerics/report.hpp"
#include "helix/numerics/verify.hpp"
#include "helix/plan/parse.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <iomanip>
#include <numeric>
#include <ostream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace helix::io {

namespace detail {

/// "92.3 ms" or, when the plan has no such time, "—".
inline std::string seconds_or_dash(bool has, double seconds) {
  return has ? cost::format_si(seconds, "s") : "—";
}

/// A rate with 3 significant digits: "626 k" above 1, "0.819" below (a milli prefix on tokens per
/// second reads as a typo).
inline std::string rate(double per_second, std::string_view unit = "") {
  if (per_second >= 1 || per_second == 0)
    return cost::format_si(per_second, unit);
  char number[32];
  std::snprintf(number, sizeof number, "%.3g", per_second);
  return unit.empty() ? std::string(number) : std::string(number) + " " + std::string(unit);
}

} // namespace detail

/// The comparison table's column names, "plan | GPUs | ... | tokens/s/GPU", without the outer
/// bars: the step's columns, or with `generation` a generation's (TTFT, TPOT, e2e). Shared by
/// every table of plans (the comparison, the search's ranking).
inline std::string comparison_header(bool generation) {
  return std::string("plan | GPUs | all-reduces (logical) | collective phases | sent/GPU NVLink "
                     "| sent/GPU InfiniBand | comm time/GPU | FLOPs/GPU (max) | FLOPs total "
                     "| memory/GPU (max) | weights | KV cache | activations | fits | ") +
         (generation ? "TTFT | TPOT | e2e | bubble | tokens/s | tokens/s/GPU"
                     : "makespan | bubble | tokens/s | tokens/s/GPU");
}

/// The markdown alignment row of comparison_header's columns, without the outer bars.
inline std::string comparison_alignment(bool generation) {
  return std::string("---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|:-:|") +
         (generation ? "--:|--:|--:|--:|--:|--:" : "--:|--:|--:|--:");
}

/// One plan's cells under comparison_header, without the outer bars.
inline std::string comparison_cells(const cost::PlanSummary& s, bool generation) {
  using cost::format_si;
  using cost::LinkClass;
  char bubble[16];
  std::snprintf(bubble, sizeof bubble, "%.1f%%", s.bubble_fraction * 100.0);
  std::ostringstream out;
  out << s.name << " | " << s.world_size << " | " << s.allreduce_logical << " | "
      << s.collective_phases << " | "
      << format_si(s.bytes_by_link[static_cast<std::size_t>(LinkClass::nvlink)], "B") << " | "
      << format_si(s.bytes_by_link[static_cast<std::size_t>(LinkClass::infiniband)], "B") << " | "
      << format_si(s.communication_seconds_per_device, "s") << " | "
      << format_si(static_cast<double>(s.flops_per_device_max), "FLOP") << " | "
      << format_si(static_cast<double>(s.flops_total), "FLOP") << " | "
      << format_si(s.memory_per_device_max, "B") << " | "
      << format_si(s.fullest_device.weight_bytes, "B") << " | "
      << format_si(s.fullest_device.kv_cache_bytes, "B") << " | "
      << format_si(s.fullest_device.activation_bytes, "B") << " | " << (s.fits ? "yes" : "no")
      << " | ";
  if (generation) {
    const bool decodes = cost::generates(s);
    const cost::Generation* g = decodes ? &*s.generation : nullptr;
    out << detail::seconds_or_dash(decodes && g->prefill, decodes ? g->ttft_seconds : 0) << " | "
        << detail::seconds_or_dash(decodes, decodes ? g->tpot_seconds : 0) << " | "
        << detail::seconds_or_dash(decodes, decodes ? g->e2e_seconds : 0) << " | " << bubble
        << " | " << (decodes ? detail::rate(g->output_tokens_per_second) : "—") << " | "
        << (decodes ? detail::rate(g->output_tokens_per_second_per_gpu) : "—");
  } else {
    out << format_si(s.makespan_seconds, "s") << " | " << bubble << " | "
        << detail::rate(s.tokens_per_second) << " | " << detail::rate(s.tokens_per_second_per_gpu);
  }
  return out.str();
}

/// The comparison: a heading (hardware, overlap, and the baseline of the claims or, with no
/// claims, the objective the rows are ranked by; for a generation its sizes), a markdown table
/// with a row per plan (in the given order when claims are judged, else best first), then one line
/// per claim verdict and per note.
///
/// Columns: counts, bytes and FLOPs of the step the DAG is (a generation's prefill), the fullest
/// GPU's memory with its weights, KV cache and activations, then either the step's makespan,
/// bubble and tokens per second (and per GPU), or for a generation with decode steps TTFT, TPOT,
/// e2e, the prefill's bubble and output tokens per second (and per GPU).
inline void write_markdown(std::ostream& out, const cost::Comparison& c) {
  using cost::format_si;
  const bool claims = c.baseline < c.plans.size();
  const bool generation = std::ranges::any_of(c.plans, cost::generates);
  out << "Cost on " << c.hardware << (c.overlap_communication ? " (communication overlapped)" : "")
      << (c.collectives == cost::CollectiveModel::ring ? " (ring collectives, not NCCL's)" : "");
  if (claims)
    out << ", claims judged against " << c.plans[c.baseline].name << "\n\n";
  else
    out << ", ranked by " << cost::objective_info(c.objective).column << " (best first)\n\n";
  if (generation) {
    const cost::Generation& g = *std::ranges::find_if(c.plans, cost::generates)->generation;
    if (g.prefill)
      out << "Generation: batch " << g.batch << ", " << g.input_tokens << " input and "
          << g.output_tokens << " output tokens per sequence. TTFT is the prefill's makespan, TPOT "
          << "the mean decode step over KV lengths " << g.decode.first_kv_length << " … "
          << g.decode.last_kv_length << ", e2e = TTFT + " << g.output_tokens - 1
          << " · TPOT, tokens/s = batch · output tokens / e2e. Counts, bytes, FLOPs and bubble "
             "are the prefill's; memory is the fuller of the prefill and the last decode step.\n\n";
    else
      out << "Decode-only generation: batch " << g.batch << ", a KV cache of " << g.input_tokens
          << " prompt tokens in place, " << g.output_tokens
          << " output tokens per sequence, each a decode step (no prefill, no TTFT). TPOT is the "
             "mean decode step over KV lengths "
          << g.decode.first_kv_length << " … " << g.decode.last_kv_length
          << ", e2e = " << g.output_tokens
          << " · TPOT, tokens/s = batch / TPOT (per user: 1 / TPOT). Counts, bytes, FLOPs and "
             "bubble are the first decode step's; memory is the fuller of the first and the last "
             "decode step.\n\n";
  }
  out << "| " << comparison_header(generation) << " |\n|" << comparison_alignment(generation)
      << "|\n";
  std::vector<std::size_t> rows(c.plans.size());
  std::iota(rows.begin(), rows.end(), std::size_t{0});
  if (!claims && c.ranking.size() == c.plans.size())
    rows = c.ranking;
  for (std::size_t row : rows)
    out << "| " << comparison_cells(c.plans[row], generation) << " |\n";
  if (generation) { // the same numbers, one readable line per plan
    out << '\n';
    for (std::size_t row : rows) {
      const cost::PlanSummary& s = c.plans[row];
      if (!cost::generates(s))
        continue;
      const cost::Generation& g = *s.generation;
      out << "- " << s.name << ": TTFT "
          << (g.prefill ? format_si(g.ttft_seconds, "s")
                        : std::string("— (decode only: the prompt's KV cache is in place)"))
          << ", TPOT " << format_si(g.tpot_seconds, "s") << ", e2e "
          << format_si(g.e2e_seconds, "s") << ", "
          << detail::rate(g.output_tokens_per_second, "tokens/s") << " ("
          << detail::rate(g.output_tokens_per_second_per_gpu, "tokens/s") << " per GPU); memory "
          << format_si(s.memory_per_device_max, "B") << " on the fullest GPU ("
          << format_si(s.fullest_device.weight_bytes, "B") << " weights, "
          << format_si(s.fullest_device.kv_cache_bytes, "B") << " KV cache, "
          << format_si(s.fullest_device.activation_bytes, "B") << " activations, "
          << (s.memory_phase == Phase::decode ? "at the last decode step" : "in the prefill")
          << ")\n";
    }
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
