// A simulated timeline as a Gantt chart in SVG: one row per device, one colour per op kind,
// collectives and transfers drawn on every member's row and joined by a line across them, with a
// legend and a time axis. Written atomically so a reader never sees half a picture.
#pragma once

#include "helix/cost/collective_library.hpp"
#include "helix/cost/collectives.hpp"
#include "helix/cost/simulate.hpp"
#include "helix/cost/units.hpp"
#include "helix/graph/dag.hpp"
#include "helix/graph/ops.hpp"
#include "helix/io/atomic_file.hpp"
#include "helix/io/palette.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace helix::io {

namespace detail {

inline std::string escape_xml(std::string_view text) {
  std::string out;
  for (char c : text)
    switch (c) {
    case '&':
      out += "&amp;";
      break;
    case '<':
      out += "&lt;";
      break;
    case '>':
      out += "&gt;";
      break;
    case '"':
      out += "&quot;";
      break;
    default:
      out += c;
    }
  return out;
}

inline std::string number(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f", value);
  return text;
}

/// A tick spacing of 1, 2 or 5 × 10^k that gives about `ticks` ticks over `span`.
inline double tick_step(double span, int ticks) {
  if (span <= 0)
    return 1;
  const double raw = span / ticks;
  const double decade = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0})
    if (m * decade >= raw)
      return m * decade;
  return 10 * decade;
}

} // namespace detail

/// The Gantt chart of `timeline` (a simulation of `dag`) as SVG text, headed by `title`.
template <class Graph = Dag>
inline std::string timeline_svg(const Graph& dag, const cost::Timeline& timeline,
                                std::string_view title = "") {
  const DagInfo& info = boost::get_property(dag, boost::graph_bundle);
  const std::int64_t devices = info.mesh.size();
  constexpr double left = 70, right = 20, top = 40, row = 18, gap = 4, plot_width = 1200;
  const double rows_height = static_cast<double>(devices) * (row + gap);
  const double axis_y = top + rows_height + 4;
  const double makespan = timeline.makespan_seconds > 0 ? timeline.makespan_seconds : 1;
  const double scale = plot_width / makespan;
  auto x_of = [&](double t) { return left + t * scale; };
  auto row_top = [&](std::int64_t d) { return top + static_cast<double>(d) * (row + gap); };

  std::array<bool, op_kind_count> used{};
  std::ostringstream body;
  for (Vertex v : boost::make_iterator_range(boost::vertices(dag))) {
    const Op& op = dag[v];
    const cost::VertexTiming& t = timeline.vertices[v];
    if (t.end_seconds <= t.start_seconds)
      continue; // sources, sinks and free messages take no time
    used[static_cast<std::size_t>(op.kind())] = true;
    const std::string colour(op_kind_color(op.kind()));
    const double x = x_of(t.start_seconds);
    // Thin ops stay visible as hairlines rather than vanishing.
    const double width = std::max(0.3, (t.end_seconds - t.start_seconds) * scale);
    std::string tip = std::string(op_kind_name(op.kind()));
    if (op.layer >= 0)
      tip += " layer " + std::to_string(op.layer);
    tip += " microbatch " + std::to_string(op.microbatch);
    if (const step::Collective* c = collective_of(op)) {
      tip += " (" + std::string(collective_phase_name(c->phase)) + ")";
      // Which of NCCL's algorithms and protocols the cost model picked for it.
      if (timeline.options.collectives == cost::CollectiveModel::nccl && v < timeline.costs.size())
        tip += " NCCL " +
               std::string(cost::collective_algorithm_name(timeline.costs[v].algorithm)) + " " +
               std::string(cost::protocol_name(timeline.costs[v].protocol));
    }
    tip +=
        ": " + cost::format_si(t.start_seconds, "s") + " – " + cost::format_si(t.end_seconds, "s");
    const std::vector<std::int64_t> members = devices_of(dag, v);
    body << "<g><title>" << detail::escape_xml(tip) << "</title>";
    for (std::int64_t d : members)
      body << "<rect x=\"" << detail::number(x) << "\" y=\"" << detail::number(row_top(d))
           << "\" width=\"" << detail::number(width) << "\" height=\"" << row << "\" fill=\""
           << colour << "\"/>";
    if (members.size() > 1) {
      // One line through every member row says "these bars are one operation".
      const auto [low, high] = std::minmax_element(members.begin(), members.end());
      body << "<line x1=\"" << detail::number(x + width / 2) << "\" y1=\""
           << detail::number(row_top(*low) + row / 2) << "\" x2=\"" << detail::number(x + width / 2)
           << "\" y2=\"" << detail::number(row_top(*high) + row / 2) << "\" stroke=\"" << colour
           << "\" stroke-width=\"1.5\" stroke-opacity=\"0.8\"/>";
    }
    body << "</g>\n";
  }

  std::ostringstream svg;
  std::size_t legend_items = 0;
  for (bool u : used)
    legend_items += u ? 1 : 0;
  constexpr double legend_columns = 5, legend_row = 18;
  const double legend_y = axis_y + 40;
  const double legend_height =
      std::ceil(static_cast<double>(legend_items) / legend_columns) * legend_row;
  const double width = left + plot_width + right;
  const double height = legend_y + legend_height + 10;
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << detail::number(width)
      << "\" height=\"" << detail::number(height) << "\" font-family=\"sans-serif\" "
      << "font-size=\"11\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  svg << "<text x=\"" << left << "\" y=\"20\" font-size=\"14\">" << detail::escape_xml(title)
      << (title.empty() ? "" : " — ") << "makespan "
      << detail::escape_xml(cost::format_si(timeline.makespan_seconds, "s")) << ", "
      << detail::escape_xml(cost::format_si(timeline.tokens_per_second, "tokens/s")) << "</text>\n";
  for (std::int64_t d = 0; d < devices; ++d) {
    svg << "<rect x=\"" << left << "\" y=\"" << detail::number(row_top(d)) << "\" width=\""
        << plot_width << "\" height=\"" << row << "\" fill=\"#f4f4f4\"/>";
    svg << "<text x=\"" << left - 6 << "\" y=\"" << detail::number(row_top(d) + row - 5)
        << "\" text-anchor=\"end\">GPU " << d << "</text>\n";
  }
  // Time axis.
  svg << "<line x1=\"" << left << "\" y1=\"" << detail::number(axis_y) << "\" x2=\""
      << left + plot_width << "\" y2=\"" << detail::number(axis_y) << "\" stroke=\"black\"/>\n";
  const double step = detail::tick_step(makespan, 10);
  for (double t = 0; t <= makespan * (1 + 1e-9); t += step) {
    const double x = x_of(t);
    svg << "<line x1=\"" << detail::number(x) << "\" y1=\"" << detail::number(axis_y) << "\" x2=\""
        << detail::number(x) << "\" y2=\"" << detail::number(axis_y + 5)
        << "\" stroke=\"black\"/><text x=\"" << detail::number(x) << "\" y=\""
        << detail::number(axis_y + 18) << "\" text-anchor=\"middle\">"
        << detail::escape_xml(cost::format_si(t, "s")) << "</text>\n";
  }
  svg << body.str();
  std::size_t item = 0;
  for (std::size_t k = 0; k < op_kind_count; ++k) {
    if (!used[k])
      continue;
    const double x = left + static_cast<double>(item % 5) * (plot_width / legend_columns);
    const double y = legend_y + static_cast<double>(item / 5) * legend_row;
    const OpKind kind = static_cast<OpKind>(k);
    svg << "<rect x=\"" << detail::number(x) << "\" y=\"" << detail::number(y)
        << "\" width=\"12\" height=\"12\" fill=\"" << op_kind_color(kind) << "\"/><text x=\""
        << detail::number(x + 16) << "\" y=\"" << detail::number(y + 10) << "\">"
        << op_kind_name(kind) << "</text>\n";
    ++item;
  }
  svg << "</svg>\n";
  return svg.str();
}

/// Writes the Gantt chart of `timeline` to `path` (see timeline_svg), atomically.
template <class Graph = Dag>
inline void write_timeline_svg(const std::filesystem::path& path, const Graph& dag,
                               const cost::Timeline& timeline, std::string_view title = "") {
  write_file_atomically(path, timeline_svg(dag, timeline, title));
}

} // namespace helix::io
