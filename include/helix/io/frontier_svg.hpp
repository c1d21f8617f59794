// The throughput–interactivity frontier as an SVG scatter plot: tokens per second per GPU against
// tokens per second per user on log axes, a point per (plan, batch) coloured by plan family with
// its numbers in a hover title, the Pareto frontier drawn as a line, and a legend. Written
// atomically so a reader never sees half a picture.
#pragma once

#include "helix/cost/frontier.hpp"
#include "helix/cost/search.hpp"
#include "helix/cost/units.hpp"
#include "helix/io/atomic_file.hpp"
#include "helix/io/timeline_svg.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <filesystem>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace helix::io {

/// A colour per plan family, in PlanFamily order: the Okabe–Ito palette (Okabe and Ito, "Color
/// Universal Design", 2008), told apart by people with any common colour-vision deficiency.
inline constexpr std::array<std::string_view, cost::plan_families.size()> plan_family_colours{
    "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9"};

constexpr std::string_view plan_family_colour(cost::PlanFamily family) {
  return plan_family_colours[static_cast<std::size_t>(family)];
}

namespace detail {

/// The decades [10^low, 10^high] that hold every value of `values` above 0 (at least one decade).
inline std::pair<double, double> log_range(const std::vector<double>& values) {
  double low = HUGE_VAL, high = -HUGE_VAL;
  for (double v : values)
    if (v > 0) {
      low = std::min(low, std::floor(std::log10(v)));
      high = std::max(high, std::ceil(std::log10(v)));
    }
  if (low > high) // nothing to show: one decade around 1
    return {0, 1};
  if (low == high)
    high = low + 1;
  return {low, high};
}

/// Ticks at 1, 2 and 5 × 10^k from 10^low to 10^high.
inline std::vector<double> log_ticks(double low, double high) {
  std::vector<double> ticks;
  for (double decade = low; decade <= high; ++decade)
    for (double m : {1.0, 2.0, 5.0}) {
      const double value = m * std::pow(10.0, decade);
      if (std::log10(value) <= high + 1e-9)
        ticks.push_back(value);
    }
  return ticks;
}

/// A tick's value: "500", "2 k"; below 1 without a milli prefix ("0.5"), which on a rate reads as
/// a typo.
inline std::string tick_label(double value) {
  if (value >= 1)
    return cost::format_si(value, "");
  std::ostringstream text;
  text << value;
  return text.str();
}

} // namespace detail

/// The frontier picture of `points` (see cost::frontier_points), headed by `title`.
/// Points that do not fit in memory (a search that did not require it) are drawn hollow.
inline std::string frontier_svg(const std::vector<cost::FrontierPoint>& points,
                                std::string_view title) {
  constexpr double left = 90, top = 50, plot_width = 720, plot_height = 480, legend_width = 230;
  constexpr double width = left + plot_width + legend_width, height = top + plot_height + 70;
  std::vector<double> xs, ys;
  for (const cost::FrontierPoint& p : points) {
    xs.push_back(p.tokens_per_second_per_user);
    ys.push_back(p.tokens_per_second_per_gpu);
  }
  const auto [x_low, x_high] = detail::log_range(xs);
  const auto [y_low, y_high] = detail::log_range(ys);
  const auto x_of = [&](double v) {
    return left + (std::log10(v) - x_low) / (x_high - x_low) * plot_width;
  };
  const auto y_of = [&](double v) {
    return top + plot_height - (std::log10(v) - y_low) / (y_high - y_low) * plot_height;
  };
  using detail::escape_xml;
  using detail::number;
  std::ostringstream svg;
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << number(width) << "\" height=\""
      << number(height) << "\" viewBox=\"0 0 " << number(width) << ' ' << number(height)
      << "\" font-family=\"sans-serif\" font-size=\"12\">\n"
      << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      << "<text x=\"" << number(left) << "\" y=\"28\" font-size=\"15\">" << escape_xml(title)
      << "</text>\n";
  // Grid and ticks.
  for (double t : detail::log_ticks(x_low, x_high)) {
    const double x = x_of(t);
    svg << "<line x1=\"" << number(x) << "\" y1=\"" << number(top) << "\" x2=\"" << number(x)
        << "\" y2=\"" << number(top + plot_height) << "\" stroke=\"#e4e4e4\"/><text x=\""
        << number(x) << "\" y=\"" << number(top + plot_height + 18) << "\" text-anchor=\"middle\">"
        << escape_xml(detail::tick_label(t)) << "</text>\n";
  }
  for (double t : detail::log_ticks(y_low, y_high)) {
    const double y = y_of(t);
    svg << "<line x1=\"" << number(left) << "\" y1=\"" << number(y) << "\" x2=\""
        << number(left + plot_width) << "\" y2=\"" << number(y)
        << "\" stroke=\"#e4e4e4\"/><text x=\"" << number(left - 6) << "\" y=\"" << number(y + 4)
        << "\" text-anchor=\"end\">" << escape_xml(detail::tick_label(t)) << "</text>\n";
  }
  svg << "<rect x=\"" << number(left) << "\" y=\"" << number(top) << "\" width=\""
      << number(plot_width) << "\" height=\"" << number(plot_height)
      << "\" fill=\"none\" stroke=\"black\"/>\n";
  svg << "<text x=\"" << number(left + plot_width / 2) << "\" y=\""
      << number(top + plot_height + 45)
      << "\" text-anchor=\"middle\">interactivity: tokens/s per user (output tokens each "
         "sequence receives per second; log scale)</text>\n";
  svg << "<text transform=\"translate(22 " << number(top + plot_height / 2)
      << ") rotate(-90)\" text-anchor=\"middle\">throughput: tokens/s per GPU (log "
         "scale)</text>\n";
  if (points.empty())
    svg << "<text x=\"" << number(left + plot_width / 2) << "\" y=\""
        << number(top + plot_height / 2)
        << "\" text-anchor=\"middle\">no plan was costed (see the rejections)</text>\n";

  // The frontier under the points, so every point stays visible and hoverable.
  std::vector<std::size_t> frontier;
  for (std::size_t i = 0; i < points.size(); ++i)
    if (points[i].on_frontier)
      frontier.push_back(i);
  std::ranges::sort(frontier, {},
                    [&](std::size_t i) { return points[i].tokens_per_second_per_user; });
  if (!frontier.empty()) {
    svg << "<polyline class=\"frontier\" fill=\"none\" stroke=\"black\" stroke-width=\"1.5\" "
           "points=\"";
    for (std::size_t i : frontier)
      svg << number(x_of(points[i].tokens_per_second_per_user)) << ','
          << number(y_of(points[i].tokens_per_second_per_gpu)) << ' ';
    svg << "\"/>\n";
  }
  std::array<std::size_t, cost::plan_families.size()> counts{};
  for (const cost::FrontierPoint& p : points) {
    ++counts[static_cast<std::size_t>(p.family)];
    const std::string colour(plan_family_colour(p.family));
    const std::string tip =
        p.plan + ", batch " + std::to_string(p.batch) + " (" +
        std::string(cost::plan_family_info(p.family).name) +
        "): " + cost::format_si(p.tokens_per_second_per_user, "tokens/s") + " per user, " +
        cost::format_si(p.tokens_per_second_per_gpu, "tokens/s") + " per GPU" +
        (p.on_frontier ? "; on the frontier" : "") + (p.fits ? "" : "; does not fit in memory");
    svg << "<circle class=\"point\" cx=\"" << number(x_of(p.tokens_per_second_per_user))
        << "\" cy=\"" << number(y_of(p.tokens_per_second_per_gpu)) << "\" r=\""
        << (p.on_frontier ? "5" : "4") << "\" fill=\"" << (p.fits ? colour : "white")
        << "\" fill-opacity=\"0.85\" stroke=\"" << (p.on_frontier ? "black" : colour)
        << "\" stroke-width=\"" << (p.on_frontier ? "1.5" : "1") << "\"><title>" << escape_xml(tip)
        << "</title></circle>\n";
  }
  // Legend: every family, with how many points it has here (0: none costed).
  const double legend_x = left + plot_width + 20;
  double y = top + 10;
  svg << "<text x=\"" << number(legend_x) << "\" y=\"" << number(y) << "\" font-weight=\"bold\">"
      << "plan family (points)</text>\n";
  for (const cost::PlanFamilyInfo& f : cost::plan_families) {
    y += 20;
    svg << "<circle cx=\"" << number(legend_x + 6) << "\" cy=\"" << number(y - 4)
        << "\" r=\"5\" fill=\"" << plan_family_colour(f.family) << "\"/><text x=\""
        << number(legend_x + 18) << "\" y=\"" << number(y) << "\">" << escape_xml(f.name) << " ("
        << counts[static_cast<std::size_t>(f.family)] << ")</text>\n";
  }
  y += 24;
  svg << "<line x1=\"" << number(legend_x) << "\" y1=\"" << number(y - 4) << "\" x2=\""
      << number(legend_x + 12) << "\" y2=\"" << number(y - 4)
      << "\" stroke=\"black\" stroke-width=\"1.5\"/><text x=\"" << number(legend_x + 18)
      << "\" y=\"" << number(y) << "\">Pareto frontier (" << frontier.size() << ")</text>\n";
  if (std::ranges::any_of(points, [](const cost::FrontierPoint& p) { return !p.fits; })) {
    y += 20;
    svg << "<circle cx=\"" << number(legend_x + 6) << "\" cy=\"" << number(y - 4)
        << "\" r=\"5\" fill=\"white\" stroke=\"gray\"/><text x=\"" << number(legend_x + 18)
        << "\" y=\"" << number(y) << "\">hollow: does not fit</text>\n";
  }
  svg << "</svg>\n";
  return svg.str();
}

/// Writes frontier_svg(points, title) to `path`, atomically.
inline void write_frontier_svg(const std::filesystem::path& path,
                               const std::vector<cost::FrontierPoint>& points,
                               std::string_view title) {
  write_file_atomically(path, frontier_svg(points, title));
}

} // namespace helix::io
