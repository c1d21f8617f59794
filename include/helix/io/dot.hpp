// Graphviz DOT for the views of view/: clusters per stage and per device inside it,
// one fixed colour per op kind, collectives and transfers in shapes of their own. Also finds
// Graphviz `dot` on PATH and renders DOT files to SVG (several in one process), written atomically.
#pragma once

#include "helix/graph/steps.hpp"
#include "helix/io/atomic_file.hpp"
#include "helix/io/palette.hpp"
#include "helix/view/view.hpp"

#include <boost/graph/adjacency_list.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <optional>
#include <ostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace helix::io {

/// `text` as the inside of a DOT double-quoted string: quotes and backslashes escaped, a line
/// break as DOT's `\n` (a centred line in labels), other control characters as spaces (DOT has no
/// escape for them and they would corrupt the file).
inline std::string dot_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
    case '"':
      out += "\\\"";
      break;
    case '\\':
      out += "\\\\";
      break;
    case '\n':
      out += "\\n";
      break;
    case '\r':
      break;
    default:
      out += static_cast<unsigned char>(c) < 0x20 || c == 0x7f ? ' ' : c;
    }
  }
  return out;
}

/// A node label from its lines, empty lines left out, already escaped for a quoted string.
inline std::string dot_label(const std::vector<std::string>& lines) {
  std::string label;
  for (const std::string& line : lines)
    if (!line.empty())
      label += (label.empty() ? "" : "\\n") + dot_escape(line);
  return label;
}

namespace detail {

inline std::string node_attributes(const ViewNode& node) {
  std::string color(op_kind_color(node.op));
  std::string shape;
  switch (node.kind) {
  case ViewNodeKind::operation:
    shape = "shape=box, style=\"rounded,filled\", fillcolor=\"" + color + "\"";
    break;
  case ViewNodeKind::collective:
    shape = "shape=doubleoctagon, style=\"filled,bold\", fillcolor=\"" + color + "\"";
    break;
  case ViewNodeKind::transfer:
    shape = "shape=cds, style=\"filled,bold\", fillcolor=\"" + color + "\"";
    break;
  case ViewNodeKind::block:
    shape = "shape=box3d, style=filled, fillcolor=\"" + color + "\"";
    break;
  case ViewNodeKind::device:
    shape = "shape=box, style=\"filled,bold\", fillcolor=\"#f0f0f0\", fontsize=12";
    break;
  case ViewNodeKind::boundary:
    shape = "shape=note, style=dashed, color=\"#777777\", fontcolor=\"#444444\"";
    break;
  }
  return "label=\"" + dot_label(node.lines) + "\", " + shape;
}

inline std::string edge_attributes(const ViewEdge& edge) {
  std::string attributes;
  switch (edge.kind) {
  case ViewEdgeKind::tensor:
    break;
  case ViewEdgeKind::residual:
    attributes = "style=dashed, color=\"#999999\"";
    break;
  case ViewEdgeKind::membership:
    // Members hang off their collective; letting them rank it would put every collective on
    // one row below the devices.
    attributes = "dir=none, constraint=false, color=\"#b2182b\"";
    break;
  case ViewEdgeKind::sequence:
    attributes = "style=dotted, color=\"#888888\"";
    break;
  }
  if (!edge.label.empty())
    attributes += (attributes.empty() ? "" : ", ") + ("label=\"" + dot_escape(edge.label) + "\"");
  return attributes;
}

template <class Graph = ViewGraph>
inline void write_node(std::ostream& out, const Graph& graph, ViewVertex v, std::string_view indent,
                       std::string_view extra_attributes = {}) {
  out << indent << 'n' << v << " [" << node_attributes(graph[v]) << extra_attributes << "];\n";
}

/// The name shared by a device cluster's row anchor and the nodes it points at (DOT `group`).
inline std::string device_group(std::int64_t stage, std::int64_t device) {
  return "stage_" + std::to_string(stage) + "_gpu_" + std::to_string(device);
}

/// The nodes of one device cluster its row anchor points at: those with no tensor coming in (the
/// top of the device's drawing), or the first node when every one has a producer.
template <class Graph = ViewGraph>
inline std::vector<ViewVertex> anchored_nodes(const Graph& graph,
                                              const std::vector<ViewVertex>& nodes) {
  std::vector<ViewVertex> sources;
  for (ViewVertex v : nodes)
    if (boost::in_degree(v, graph) == 0)
      sources.push_back(v);
  if (sources.empty() && !nodes.empty())
    sources.push_back(nodes.front());
  return sources;
}

/// Keeps a stage's device clusters left to right in rank order. Graphviz orders clusters by
/// crossing minimization alone: it drops same-rank edges between two clusters and `ordering=out`
/// edges into one, so neither can order them. What it keeps is an order among plain nodes of the
/// stage cluster: a row of invisible anchors chained left to right by same-rank edges, one per
/// device, each with an invisible edge down to the top of its device's cluster. Those edges join
/// nodes of one `group`, which dot counts as 1,000 ordinary edges when they cross (Graphviz
/// dotinit.c: an edge within a group gets crossing penalty CL_CROSS = 1000 and 100 times its
/// weight), so every other order of the clusters costs more crossings than any it could save.
template <class Graph = ViewGraph>
inline void write_device_order(std::ostream& out, const Graph& graph, std::int64_t stage,
                               const std::map<std::int64_t, std::vector<ViewVertex>>& devices) {
  std::vector<std::int64_t> placed;
  for (const auto& [device, nodes] : devices)
    if (device >= 0)
      placed.push_back(device);
  if (placed.size() < 2)
    return;
  out << "    // Invisible anchors keep the GPU clusters left to right in rank order.\n"
      << "    {rank=same;";
  for (std::int64_t device : placed)
    out << ' ' << device_group(stage, device)
        << "_anchor [shape=point, style=invis, width=0, height=0, label=\"\", group=\""
        << device_group(stage, device) << "\"];";
  out << " }\n    ";
  for (std::size_t i = 0; i < placed.size(); ++i)
    out << (i == 0 ? "" : " -> ") << device_group(stage, placed[i]) << "_anchor";
  out << " [style=invis];\n";
  for (std::int64_t device : placed)
    for (ViewVertex v : anchored_nodes(graph, devices.at(device)))
      out << "    " << device_group(stage, device) << "_anchor -> n" << v << " [style=invis];\n";
}

} // namespace detail

/// Writes `view` as a DOT digraph: nodes without a stage first, then one cluster per stage with
/// one cluster per device inside it (nodes spanning devices, such as collectives, sit in the stage
/// cluster), then the edges.
template <class ViewType = View>
inline void write_dot(std::ostream& out, const ViewType& view) {
  const auto& graph = view.graph;
  std::vector<ViewVertex> unplaced;
  std::map<std::int64_t, std::map<std::int64_t, std::vector<ViewVertex>>> stages;
  for (ViewVertex v : boost::make_iterator_range(boost::vertices(graph))) {
    if (graph[v].stage < 0)
      unplaced.push_back(v);
    else
      stages[graph[v].stage][graph[v].device].push_back(v);
  }
  out << "digraph helix {\n"
      << "  graph [label=\"" << dot_escape(view.title)
      << "\", labelloc=t, fontname=\"Helvetica\", fontsize=16, rankdir=TB, nodesep=0.25, "
         "ranksep=0.45];\n"
      << "  node [fontname=\"Helvetica\", fontsize=10];\n"
      << "  edge [fontname=\"Helvetica\", fontsize=9, color=\"#555555\"];\n";
  for (ViewVertex v : unplaced)
    detail::write_node(out, graph, v, "  ");
  for (const auto& [stage, devices] : stages) {
    out << "  subgraph cluster_stage_" << stage << " {\n"
        << "    label=\"stage " << stage
        << "\"; style=\"rounded\"; color=\"#7f7f7f\"; fontsize=14;\n";
    // Anchors order the device clusters when there are two or more (write_device_order).
    const bool anchored_devices =
        std::ranges::count_if(devices, [](const auto& entry) { return entry.first >= 0; }) > 1;
    for (const auto& [device, nodes] : devices) {
      if (device < 0) {
        for (ViewVertex v : nodes)
          detail::write_node(out, graph, v, "    ");
        continue;
      }
      out << "    subgraph cluster_stage_" << stage << "_gpu_" << device << " {\n"
          << "      label=\"GPU " << device
          << "\"; style=\"rounded,filled\"; fillcolor=\"#f7f7f7\"; color=\"#bbbbbb\";\n";
      const std::vector<ViewVertex> anchored = detail::anchored_nodes(graph, nodes);
      const std::string group = ", group=\"" + detail::device_group(stage, device) + "\"";
      for (ViewVertex v : nodes)
        detail::write_node(out, graph, v, "      ",
                           anchored_devices && std::ranges::find(anchored, v) != anchored.end()
                               ? std::string_view(group)
                               : std::string_view());
      out << "    }\n";
    }
    detail::write_device_order(out, graph, stage, devices);
    out << "  }\n";
  }
  for (auto e : boost::make_iterator_range(boost::edges(graph))) {
    out << "  n" << boost::source(e, graph) << " -> n" << boost::target(e, graph);
    const std::string attributes = detail::edge_attributes(graph[e]);
    if (!attributes.empty())
      out << " [" << attributes << ']';
    out << ";\n";
  }
  out << "}\n";
}

template <class ViewType = View>
inline std::string dot_text(const ViewType& view) {
  std::ostringstream out;
  write_dot(out, view);
  return out.str();
}

/// Writes `view` as DOT to `path`, atomically.
/// @throws std::runtime_error naming `path` when it cannot be written.
template <class ViewType = View>
inline void write_dot_file(const std::filesystem::path& path, const ViewType& view) {
  write_file_atomically(path, [&](std::ostream& out) { write_dot(out, view); });
}

/// The Graphviz `dot` program on PATH, or nothing when there is none.
inline std::optional<std::filesystem::path> find_graphviz_dot() {
  const char* search = std::getenv("PATH");
  if (search == nullptr)
    return std::nullopt;
  std::string_view rest = search;
  while (true) {
    const std::size_t colon = rest.find(':');
    const std::string_view folder = rest.substr(0, colon);
    std::filesystem::path candidate = std::filesystem::path(folder.empty() ? "." : folder) / "dot";
    std::error_code error;
    const auto status = std::filesystem::status(candidate, error);
    if (!error && std::filesystem::is_regular_file(status) &&
        (status.permissions() &
         (std::filesystem::perms::owner_exec | std::filesystem::perms::group_exec |
          std::filesystem::perms::others_exec)) != std::filesystem::perms::none)
      return candidate;
    if (colon == std::string_view::npos)
      return std::nullopt;
    rest.remove_prefix(colon + 1);
  }
}

namespace detail {

/// `text` as one word for the POSIX shell: single-quoted, with each ' written as '\''.
inline std::string shell_word(const std::string& text) {
  std::string word = "'";
  for (char c : text)
    word += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return word + "'";
}

} // namespace detail

/// A DOT file and the SVG it is drawn to.
struct SvgRendering {
  std::filesystem::path dot_file;
  std::filesystem::path svg_file;
};

namespace detail {

/// The contents of `file` (empty when it cannot be read), the file then removed.
inline std::string take_file(const std::filesystem::path& file) {
  std::string text;
  {
    std::ifstream in(file, std::ios::binary);
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  std::error_code ignored;
  std::filesystem::remove(file, ignored);
  return text;
}

/// Runs one `dot -Tsvg a.dot b.dot …` and writes each SVG document it prints, in order, to its
/// file atomically; dot's messages go to `messages` when given, else to standard error. What went
/// wrong, or nothing when every SVG was written.
inline std::optional<std::string>
render_in_one_process(const std::filesystem::path& dot_program,
                      const std::vector<SvgRendering>& renderings,
                      const std::optional<std::filesystem::path>& messages) {
  std::string files;
  for (const SvgRendering& r : renderings)
    files += " " + shell_word(r.dot_file.string());
  const std::filesystem::path output = io::detail::temporary_beside(renderings.front().svg_file);
  // To standard output: with `-o`, dot 2.43 writes the first graph there and the rest to stdout.
  const std::string command = shell_word(dot_program.string()) + " -Tsvg" + files + " > " +
                              shell_word(output.string()) +
                              (messages ? " 2> " + shell_word(messages->string()) : "");
  const int status = std::system(command.c_str());
  const std::string documents = take_file(output);
  if (status != 0)
    return "status " + std::to_string(status);
  // Each document ends with this tag, which text inside a document cannot hold (it is escaped).
  constexpr std::string_view end_of_document = "</svg>\n";
  std::vector<std::string_view> svgs;
  for (std::size_t begin = 0; begin < documents.size();) {
    const std::size_t end = documents.find(end_of_document, begin);
    if (end == std::string::npos)
      break;
    svgs.push_back(std::string_view(documents).substr(begin, end + end_of_document.size() - begin));
    begin = end + end_of_document.size();
  }
  if (svgs.size() != renderings.size())
    return std::to_string(svgs.size()) + " SVG documents for " + std::to_string(renderings.size()) +
           " files";
  for (std::size_t i = 0; i < renderings.size(); ++i)
    write_file_atomically(renderings[i].svg_file, svgs[i]);
  return std::nullopt;
}

} // namespace detail

/// Renders each DOT file of `renderings` to its SVG, atomically (whole or not at all), with one
/// Graphviz process for them all: `dot -Tsvg a.dot b.dot …` lays the files out one after another
/// and prints their SVG documents in order. A process start costs 11 ms of CPU, as much as laying
/// out a small view. Graphviz 2.43 can crash on the next graph of a process after one whose spline
/// routing failed, so when the one process fails, each file is rendered again in a process of its
/// own (the one process's messages are then dropped; on success they go to standard error).
/// @throws std::runtime_error naming each DOT file `dot` cannot render alone, once every other
/// file is drawn.
inline void render_svgs(const std::filesystem::path& dot_program,
                        const std::vector<SvgRendering>& renderings) {
  if (renderings.size() > 1) {
    const std::filesystem::path messages =
        io::detail::temporary_beside(renderings.front().svg_file);
    const bool rendered = !detail::render_in_one_process(dot_program, renderings, messages);
    const std::string text = detail::take_file(messages);
    if (rendered) {
      std::cerr << text;
      return;
    }
  }
  std::string failures;
  for (const SvgRendering& r : renderings)
    if (const std::optional<std::string> problem =
            detail::render_in_one_process(dot_program, {r}, std::nullopt))
      failures += (failures.empty() ? "'" : ", '") + r.dot_file.string() + "' (" + *problem + ")";
  if (!failures.empty())
    throw std::runtime_error("helix: Graphviz dot could not render " + failures);
}

/// Renders the DOT file `dot_file` to `svg_file` with Graphviz (`dot -Tsvg`), atomically: the
/// SVG appears whole or not at all.
/// @throws std::runtime_error naming the file when `dot` fails (exit status not 0).
inline void render_svg(const std::filesystem::path& dot_program,
                       const std::filesystem::path& dot_file,
                       const std::filesystem::path& svg_file) {
  render_svgs(dot_program, {{dot_file, svg_file}});
}

} // namespace helix::io
