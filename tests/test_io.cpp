// io area: the views of a Dag (what they select, counted by hand), DOT text and its escaping,
// atomic file writing, Graphviz accepting every file the seed plans produce, the markdown and
// JSON of hand-made reports, hardware files, model files and measurements files (read, written,
// refused).
#include "helix/cost/calibration.hpp"
#include "helix/cost/compare.hpp"
#include "helix/cost/frontier.hpp"
#include "helix/cost/hardware.hpp"
#include "helix/cost/search.hpp"
#include "helix/cost/validation.hpp"
#include "helix/graph.hpp"
#include "helix/io.hpp"
#include "helix/io/compare_dump.hpp"
#include "helix/io/expected_dump.hpp"
#include "helix/io/frontier_json.hpp"
#include "helix/io/frontier_svg.hpp"
#include "helix/io/hardware_json.hpp"
#include "helix/io/json.hpp"
#include "helix/io/markdown.hpp"
#include "helix/io/measurements_json.hpp"
#include "helix/io/model_json.hpp"
#include "helix/model.hpp"
#include "helix/numerics/report.hpp"
#include "helix/plan.hpp"

#include "support/scratch_folder.hpp"
#include "support/search_fixtures.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <system_error>
#include <tuple>
#include <vector>

using namespace helix;

namespace {

Dag optimized(Workload workload = Workload::prefill()) {
  return build_dag(models::helix_seed, parse_plan("pp=2,tg=4x4"), workload);
}
Dag baseline(Workload workload = Workload::prefill()) {
  return build_dag(models::helix_seed, parse_plan("hp=4x4"), workload);
}

std::size_t count_nodes(const View& view, ViewNodeKind kind) {
  std::size_t n = 0;
  for (ViewVertex v : boost::make_iterator_range(boost::vertices(view.graph)))
    n += view.graph[v].kind == kind ? 1 : 0;
  return n;
}

std::size_t count_edges(const View& view, ViewEdgeKind kind) {
  std::size_t n = 0;
  for (auto e : boost::make_iterator_range(boost::edges(view.graph)))
    n += view.graph[e].kind == kind ? 1 : 0;
  return n;
}

/// The view node drawing the first Dag vertex that satisfies `wanted`.
const ViewNode& node_of(const View& view, const Dag& dag, auto&& wanted) {
  for (ViewVertex v : boost::make_iterator_range(boost::vertices(view.graph)))
    for (Vertex d : view.graph[v].vertices)
      if (wanted(dag[d]))
        return view.graph[v];
  FAIL("no node draws such a vertex");
  throw std::logic_error("unreachable");
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

/// A fresh, empty folder of this process under the system's temporary folder.
std::filesystem::path fresh_folder(const std::string& name) {
  return helix::testing::scratch_folder(name);
}

std::string read(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file_atomically_for_test(const std::filesystem::path& path, const std::string& bytes) {
  helix::io::write_file_atomically(path, bytes);
}

std::size_t files_in(const std::filesystem::path& folder) {
  return static_cast<std::size_t>(std::distance(std::filesystem::directory_iterator(folder),
                                                std::filesystem::directory_iterator()));
}

} // namespace

TEST_CASE("the MLP view of pp=2,tg=4x4 layer 0 has every op of stage 0's MLP and its borders") {
  const View view = mlp_view(optimized(), 0);
  // Layer 0 runs on stage 0 = GPUs 0–7. Per device: norm, fc1, gelu, fc2, residual add = 5.
  CHECK(count_nodes(view, ViewNodeKind::operation) == 8 * 5);
  // One hierarchical all-reduce: a reduce-scatter per group of 4 (2), an all-reduce per member
  // rank across the 2 groups (4), an all-gather per group (2).
  CHECK(count_nodes(view, ViewNodeKind::collective) == 2 + 4 + 2);
  // In: y on each device (feeds the norm and the residual add). Out: z on each device (to the
  // send/recv towards stage 1).
  CHECK(count_nodes(view, ViewNodeKind::boundary) == 8 + 8);
  CHECK(boost::num_vertices(view.graph) == 8 * 5 + 8 + 16);
  // Per device: y→norm, y→residual (skip), norm→fc1, fc1→gelu, gelu→fc2, fc2→reduce-scatter,
  // reduce-scatter→all-reduce, all-reduce→all-gather, all-gather→residual, residual→z = 10.
  CHECK(boost::num_edges(view.graph) == 8 * 10);
  CHECK(count_edges(view, ViewEdgeKind::residual) == 8);
}

TEST_CASE("the MHA view of pp=2,tg=4x4 layer 0 has every op of stage 0's attention") {
  const View view = attention_view(optimized(), 0);
  // Per device: norm, Q, K, V, scores, softmax, context, out-projection, residual add = 9.
  CHECK(count_nodes(view, ViewNodeKind::operation) == 8 * 9);
  CHECK(count_nodes(view, ViewNodeKind::collective) == 2 + 4 + 2);
  // In: x from the input vertex on each device. Out: y on each device (to the MLP).
  CHECK(count_nodes(view, ViewNodeKind::boundary) == 8 + 8);
  CHECK(boost::num_vertices(view.graph) == 8 * 9 + 8 + 16);
  // Per device: x→norm, x→residual, norm→Q/K/V (3), Q→scores, K→scores, scores→softmax,
  // softmax→context, V→context, context→out-projection, out-projection→reduce-scatter, then
  // →all-reduce, →all-gather, →residual, residual→y = 2 + 3 + 2 + 9 = 16.
  CHECK(boost::num_edges(view.graph) == 8 * 16);
  // Layer 1 is the same on stage 1 (GPUs 8–15); its x arrives in slices by send/recv from stage 0
  // and is all-gathered over stage 1 (scatter-gather sends): one boundary per device, from the
  // all-gather. With full sends each device's x comes straight from its transfer.
  const View second = attention_view(optimized(), 1);
  CHECK(boost::num_vertices(second.graph) == 8 * 9 + 8 + 16);
  const auto arriving_from = [](const View& view, const std::string& from) {
    std::size_t n = 0;
    for (ViewVertex v : boost::make_iterator_range(boost::vertices(view.graph)))
      if (view.graph[v].kind == ViewNodeKind::boundary && view.graph[v].lines[1] == from)
        ++n;
    return n;
  };
  CHECK(arriving_from(second, "from all_gather") == 8);
  const View full =
      attention_view(optimized(Workload::prefill().with_pipeline_send(PipelineSend::full)), 1);
  CHECK(arriving_from(full, "from transfer") == 8);
}

TEST_CASE("the hp=4x4 views of layer 0 show the partial-score all-reduces inside attention") {
  const Dag dag = baseline();
  const View attention = attention_view(dag, 0);
  // 16 devices × 9 ops; collectives: one partial-score all-reduce per head group (4 groups of 4
  // head_dim slices) and the flat all-reduce of the attention output over 16; x in and y out on
  // each of the 16 devices.
  CHECK(count_nodes(attention, ViewNodeKind::operation) == 16 * 9);
  CHECK(count_nodes(attention, ViewNodeKind::collective) == 4 + 1);
  CHECK(boost::num_vertices(attention.graph) == 16 * 9 + 5 + 32);
  // Per device: x→norm, x→residual, norm→Q/K/V (3), Q→scores, K→scores, scores→score
  // all-reduce, →softmax, softmax→context, V→context, context→out-projection, →all-reduce,
  // →residual, residual→y = 2 + 3 + 2 + 8 = 15.
  CHECK(boost::num_edges(attention.graph) == 16 * 15);
  const View mlp = mlp_view(dag, 0);
  // 16 × (norm, fc1, gelu, fc2, residual), one flat all-reduce, y in and z out per device.
  CHECK(boost::num_vertices(mlp.graph) == 16 * 5 + 1 + 32);
  // Per device: y→norm, y→residual, norm→fc1, fc1→gelu, gelu→fc2, fc2→all-reduce,
  // all-reduce→residual, residual→z = 8.
  CHECK(boost::num_edges(mlp.graph) == 16 * 8);
}

TEST_CASE("decode adds the KV cache and its append for keys and values to the MHA view") {
  const View view = attention_view(optimized(Workload::decode()), 0);
  // Per device 9 ops + kv_cache and kv_append for keys and for values = 13.
  CHECK(count_nodes(view, ViewNodeKind::operation) == 8 * 13);
  // Per device the 16 prefill edges, with K→scores replaced by K→append→scores and the cache
  // feeding the append, for keys and for values: 16 + 2 · 2 = 20.
  CHECK(boost::num_edges(view.graph) == 8 * 20);
}

TEST_CASE("every vertex of a layer appears in exactly one of its MHA and MLP views") {
  for (const char* text : {"pp=2,tg=4x4", "hp=4x4", "tp=2,dp=2"})
    for (const Workload workload : {Workload::prefill(), Workload::decode(2)}) {
      CAPTURE(text);
      const Dag dag = build_dag(models::helix_seed, parse_plan(text), workload);
      for (std::int64_t layer = 0; layer < models::helix_seed.layers; ++layer) {
        CAPTURE(layer);
        std::map<Vertex, int> seen;
        for (const View& view : {attention_view(dag, layer), mlp_view(dag, layer)})
          for (ViewVertex v : boost::make_iterator_range(boost::vertices(view.graph)))
            for (Vertex d : view.graph[v].vertices)
              ++seen[d];
        std::size_t expected = 0;
        for (Vertex d : boost::make_iterator_range(boost::vertices(dag))) {
          const Op& op = dag[d];
          if (op.layer != layer || op.replica != 0 || op.microbatch != 0)
            continue;
          ++expected;
          CHECK(seen[d] == 1);
        }
        CHECK(seen.size() == expected);
      }
    }
}

TEST_CASE("views say they show data-parallel replica 0 and microbatch 0") {
  const Dag dag = build_dag(models::helix_seed, parse_plan("tp=2,dp=2"), Workload::prefill(2));
  for (const View& view :
       {model_view(dag), attention_view(dag, 0), mlp_view(dag, 1), communication_view(dag)})
    CHECK(contains(view.title, "replica 0, microbatch 0"));
  // Replica 0 is GPUs 0–1 (the tensor axis is innermost); only they appear.
  CHECK(contains(model_view(dag).graph[0].lines.back(), "GPUs 0, 1"));
}

TEST_CASE("the model view of pp=2,tg=4x4 has one box per stage × layer × {MHA, MLP}") {
  const Dag dag = optimized();
  const View view = model_view(dag);
  // Per layer: MHA block, its all-reduce, residual add, MLP block, its all-reduce, residual add
  // (6); plus input, output, the send/recv between the stages and the all-gather of its slices.
  CHECK(boost::num_vertices(view.graph) == 2 * 6 + 4);
  // input→MHA 0, input→residual 0; per layer MHA→all-reduce→residual→MLP→all-reduce→residual and
  // the skip residual→residual (6); residual→send/recv, send/recv→all-gather, all-gather→MHA 1,
  // all-gather→residual 1; residual→output.
  CHECK(boost::num_edges(view.graph) == 2 + 2 * 6 + 4 + 1);
  // Every drawn vertex stands for one forward's vertices, each exactly once: here the whole DAG.
  std::size_t drawn = 0;
  for (ViewVertex v : boost::make_iterator_range(boost::vertices(view.graph)))
    drawn += view.graph[v].vertices.size();
  CHECK(drawn == boost::num_vertices(dag));
  const ViewNode& collective = node_of(
      view, dag, [](const Op& op) { return op.kind() == OpKind::reduce_scatter && op.layer == 1; });
  CHECK(collective.kind == ViewNodeKind::collective);
  CHECK(collective.vertices.size() == 2 + 4 + 2);
  CHECK(contains(collective.lines[0], "1 logical"));
  CHECK(collective.lines[1] == "reduce-scatter ×2 → all-reduce ×4 → all-gather ×2");
  CHECK(collective.lines.back() == "GPUs 8–15");
  // The send/recv box says each carries a slice; the all-gather box sits in stage 1.
  const ViewNode& send =
      node_of(view, dag, [](const Op& op) { return op.kind() == OpKind::transfer; });
  CHECK(send.lines[0] == "send/recv ×8, stage 0 → 1");
  CHECK(send.lines[1] == "each 1/8 of hidden (scatter-gather)");
  CHECK(send.lines[2] == "[1024,10000,1024]");
  CHECK(send.lines.back() == "GPUs 0–7 → GPUs 8–15");
  const ViewNode& gather = node_of(view, dag, [](const Op& op) {
    const step::Collective* c = collective_of(op);
    return c && c->purpose == CollectivePurpose::pipeline_activation;
  });
  CHECK(gather.kind == ViewNodeKind::collective);
  CHECK(gather.stage == 1);
  CHECK(gather.lines == std::vector<std::string>{"all-gather ×1 of the slices sent, stage 1",
                                                 "flat ring over 8 GPUs each", "[1024,10000,8192]",
                                                 "GPUs 8–15"});
}

TEST_CASE("the model view of hp=4x4 keeps the partial-score all-reduces inside the MHA block") {
  const Dag dag = baseline();
  const View view = model_view(dag);
  // 2 layers × 6 boxes, input, output; one stage, so no send/recv.
  CHECK(boost::num_vertices(view.graph) == 2 * 6 + 2);
  const ViewNode& block = node_of(view, dag, [](const Op& op) {
    return op.kind() == OpKind::all_reduce && op.layer == 0 &&
           collective_of(op)->purpose == CollectivePurpose::attention_scores;
  });
  CHECK(block.kind == ViewNodeKind::block);
  // 16 × 8 compute ops and the 4 partial-score all-reduces (one per head group).
  CHECK(block.vertices.size() == 16 * 8 + 4);
  CHECK(std::find(block.lines.begin(), block.lines.end(),
                  "partial-score all-reduce ×4 (4 GPUs each)") != block.lines.end());
  const ViewNode& output = node_of(view, dag, [](const Op& op) {
    return op.kind() == OpKind::all_reduce && op.layer == 1 &&
           collective_of(op)->purpose == CollectivePurpose::mlp_output;
  });
  CHECK(output.lines[1] == "all-reduce ×1 (flat ring)");
}

TEST_CASE("the communication view joins each collective to its members, in program order") {
  const View view = communication_view(optimized());
  // 16 devices; 2 layers × 2 all-reduces × (2 + 4 + 2) phases and the all-gather of the pipeline
  // slices; 8 send/recv.
  CHECK(count_nodes(view, ViewNodeKind::device) == 16);
  CHECK(count_nodes(view, ViewNodeKind::collective) == 2 * 2 * 8 + 1);
  CHECK(count_nodes(view, ViewNodeKind::transfer) == 8);
  // Per all-reduce: 2 reduce-scatters × 4 members + 4 all-reduces × 2 + 2 all-gathers × 4; the
  // pipeline all-gather's 8 members.
  CHECK(count_edges(view, ViewEdgeKind::membership) == 4 * (2 * 4 + 4 * 2 + 2 * 4) + 8);
  // Each send/recv: from its source GPU, to its destination GPU.
  CHECK(count_edges(view, ViewEdgeKind::tensor) == 8 * 2);
  // Stage 0 is GPUs 0–7, stage 1 GPUs 8–15: each device sits in its stage's cluster.
  for (ViewVertex v : boost::make_iterator_range(boost::vertices(view.graph)))
    if (view.graph[v].kind == ViewNodeKind::device)
      CHECK(view.graph[v].stage == std::stoi(view.graph[v].lines[0].substr(4)) / 8);
}

TEST_CASE("a node label holds the op, its output shape and its device or members") {
  const Dag dag = optimized();
  const View view = mlp_view(dag, 0);
  // GPU 3 holds FC1 columns 3·(32768/8) .. 4·(32768/8) and makes [batch, seq, 32768/8].
  const ViewNode& fc1 =
      node_of(view, dag, [](const Op& op) { return op.kind() == OpKind::fc1 && op.device == 3; });
  CHECK(fc1.lines ==
        std::vector<std::string>{"fc1 W1[:, 12288:16384]", "[1024,10000,4096]", "GPU 3"});
  CHECK(fc1.stage == 0);
  CHECK(fc1.device == 3);
  CHECK(
      contains(io::dot_text(view), R"(label="fc1 W1[:, 12288:16384]\n[1024,10000,4096]\nGPU 3")"));
  // The reduce-scatter of group 1 spans GPUs 4–7 and leaves each a quarter of hidden 8192.
  const ViewNode& scatter = node_of(view, dag, [&](const Op& op) {
    return op.kind() == OpKind::reduce_scatter && collective_of(op)->group.anchor == 4;
  });
  CHECK(scatter.lines[1] == "[1024,10000,2048]");
  CHECK(scatter.lines[2] == "GPUs 4–7");
  // The inter-group all-reduce of member rank 1 joins GPU 1 (group 0) and GPU 5 (group 1).
  const ViewNode& across = node_of(view, dag, [&](const Op& op) {
    return op.kind() == OpKind::all_reduce && collective_of(op)->group.anchor == 1;
  });
  CHECK(across.lines[2] == "GPUs 1, 5");
}

TEST_CASE("device lists join consecutive ranks into ranges") {
  CHECK(devices_text({3}) == "GPU 3");
  CHECK(devices_text({3, 1, 0, 2}) == "GPUs 0–3");
  CHECK(devices_text({0, 1}) == "GPUs 0, 1");
  CHECK(devices_text({4, 0}) == "GPUs 0, 4");
  CHECK(devices_text({0, 1, 2, 3, 8, 9, 10, 11}) == "GPUs 0–3, 8–11");
}

TEST_CASE("DOT output clusters per stage and per device, and colours by op kind") {
  const std::string text = io::dot_text(attention_view(optimized(), 1));
  CHECK(text.rfind("digraph helix {\n", 0) == 0);
  CHECK(contains(text, "subgraph cluster_stage_1 {"));
  CHECK(contains(text, "subgraph cluster_stage_1_gpu_8 {"));
  CHECK(contains(text, "subgraph cluster_stage_1_gpu_15 {"));
  CHECK(!contains(text, "cluster_stage_0"));
  // Softmax nodes, whatever their device, share one colour; collectives are drawn apart.
  const std::string softmax = "fillcolor=\"" + std::string(io::op_kind_color(OpKind::softmax));
  CHECK(contains(text, "shape=doubleoctagon"));
  std::size_t coloured = 0;
  for (std::size_t at = text.find(softmax); at != std::string::npos;
       at = text.find(softmax, at + 1))
    ++coloured;
  CHECK(coloured == 8);
  std::set<std::string_view> colours;
  for (std::size_t k = 0; k < op_kind_count; ++k)
    colours.insert(io::op_kind_color(static_cast<OpKind>(k)));
  CHECK(colours.size() == op_kind_count);
}

TEST_CASE("DOT output chains each stage's device clusters left to right in rank order") {
  // Stage 1 of pp=2,tg=4x4 holds GPUs 8 to 15 (the second half of the mesh's 16 ranks): one
  // invisible anchor per GPU, chained in rank order, each pointing at the top of its cluster.
  const View view = attention_view(optimized(), 1);
  const std::string text = io::dot_text(view);
  std::string chain = "stage_1_gpu_8_anchor";
  for (int device = 9; device <= 15; ++device)
    chain += " -> stage_1_gpu_" + std::to_string(device) + "_anchor";
  CHECK(contains(text, chain + " [style=invis];"));
  // Each anchor points at its device's nodes with no tensor coming in, which share its group.
  for (ViewVertex v : boost::make_iterator_range(boost::vertices(view.graph))) {
    const ViewNode& node = view.graph[v];
    if (node.device < 0 || boost::in_degree(v, view.graph) > 0)
      continue;
    const std::string group = "stage_1_gpu_" + std::to_string(node.device);
    CAPTURE(group);
    CHECK(contains(text, group + "_anchor -> n" + std::to_string(v) + " [style=invis];"));
    CHECK(contains(text, "group=\"" + group + "\"];"));
  }
  // A stage with one device has nothing to order.
  const std::string single =
      io::dot_text(attention_view(build_dag(models::helix_seed, parse_plan("pp=2")), 0));
  CHECK(!contains(single, "_anchor"));
}

TEST_CASE("DOT strings escape quotes, backslashes and line breaks") {
  CHECK(io::dot_escape(R"(say "hi")") == R"(say \"hi\")");
  CHECK(io::dot_escape(R"(a\b)") == R"(a\\b)");
  CHECK(io::dot_escape("two\nlines") == R"(two\nlines)");
  CHECK(io::dot_escape("bell\a") == "bell ");
  View view;
  view.title = R"(plan "x" \ y)";
  ViewNode node;
  node.lines = {R"(op "q")", "[1,2]"};
  boost::add_vertex(node, view.graph);
  const std::string text = io::dot_text(view);
  CHECK(contains(text, R"(label="plan \"x\" \\ y")"));
  CHECK(contains(text, R"(label="op \"q\"\n[1,2]")"));
}

TEST_CASE("write_file_atomically writes the whole file or leaves the old one") {
  const std::filesystem::path folder = fresh_folder("helix_test_io_atomic");
  const std::filesystem::path file = folder / "out.txt";
  io::write_file_atomically(file, std::string("first"));
  CHECK(read(file) == "first");
  io::write_file_atomically(file, [](std::ostream& out) { out << "second"; });
  CHECK(read(file) == "second");
  // A writer that fails half-way: the old content stays and no temporary is left.
  CHECK_THROWS_AS(io::write_file_atomically(file,
                                            [](std::ostream& out) {
                                              out << "partial";
                                              throw std::runtime_error("disk on fire");
                                            }),
                  std::runtime_error);
  CHECK(read(file) == "second");
  CHECK(files_in(folder) == 1);
  // A folder that does not exist: the error names the path.
  const std::filesystem::path nowhere = folder / "missing" / "out.txt";
  try {
    io::write_file_atomically(nowhere, std::string("x"));
    FAIL("expected an error");
  } catch (const std::runtime_error& e) {
    CHECK(contains(e.what(), nowhere.string()));
  }
  CHECK(files_in(folder) == 1);
  std::filesystem::remove_all(folder);
}

TEST_CASE("Graphviz accepts every DOT file of both seed plans") {
  const std::optional<std::filesystem::path> dot = io::find_graphviz_dot();
  if (!dot) {
    MESSAGE("skipped: Graphviz 'dot' is not on PATH");
    return;
  }
  const std::filesystem::path folder = fresh_folder("helix_test_io_dot");
  for (const Dag& dag : {optimized(), baseline()}) {
    // The six views helix_deploy writes for a seed plan.
    const std::vector<View> views{model_view(dag),        attention_view(dag, 0),
                                  attention_view(dag, 1), mlp_view(dag, 0),
                                  mlp_view(dag, 1),       communication_view(dag)};
    for (const View& view : views) {
      CAPTURE(view.title);
      const std::filesystem::path file = folder / "view.dot";
      io::write_dot_file(file, view);
      const std::string command =
          "'" + dot->string() + "' -Tsvg -o /dev/null '" + file.string() + "'";
      CHECK(std::system(command.c_str()) == 0);
    }
  }
  std::filesystem::remove_all(folder);
}

namespace {

/// The left edge (SVG x) of each device cluster Graphviz drew, by stage and device: the first x
/// of the outline that follows each `<title>cluster_stage_S_gpu_D</title>`.
std::map<std::int64_t, std::map<std::int64_t, double>> device_cluster_x(const std::string& svg) {
  std::map<std::int64_t, std::map<std::int64_t, double>> x;
  const std::string title = "<title>cluster_stage_";
  for (std::size_t at = svg.find(title); at != std::string::npos; at = svg.find(title, at + 1)) {
    const std::size_t stage_begin = at + title.size();
    const std::size_t gpu = svg.find("_gpu_", stage_begin);
    const std::size_t end = svg.find("</title>", stage_begin);
    if (gpu == std::string::npos || gpu > end)
      continue; // a stage cluster
    // A rounded cluster is a path (d="M x,y ..."), a square one a polygon (points="x,y ...").
    const std::size_t path = svg.find(" d=\"M", end);
    const std::size_t polygon = svg.find(" points=\"", end);
    const std::size_t first = std::min(path == std::string::npos ? path : path + 5,
                                       polygon == std::string::npos ? polygon : polygon + 9);
    x[std::stoll(svg.substr(stage_begin, gpu - stage_begin))][std::stoll(svg.substr(gpu + 5))] =
        std::stod(svg.substr(first));
  }
  return x;
}

} // namespace

TEST_CASE("render_svgs draws several DOT files with one dot process, each SVG to its own file") {
  const std::optional<std::filesystem::path> dot = io::find_graphviz_dot();
  if (!dot) {
    MESSAGE("skipped: Graphviz 'dot' is not on PATH");
    return;
  }
  const std::filesystem::path folder = fresh_folder("helix_test_io_render_svgs");
  const Dag dag = optimized();
  const std::vector<View> views{model_view(dag), attention_view(dag, 0), communication_view(dag)};
  std::vector<io::SvgRendering> renderings;
  for (std::size_t i = 0; i < views.size(); ++i) {
    const std::filesystem::path file = folder / ("view_" + std::to_string(i) + ".dot");
    io::write_dot_file(file, views[i]);
    renderings.push_back({file, folder / ("view_" + std::to_string(i) + ".svg")});
  }
  io::render_svgs(*dot, renderings);
  // Words of each view's title, which Graphviz writes into the SVG as the graph's label.
  const std::vector<std::string> titles{"complete model", "layer 0 MHA", "communication patterns"};
  for (std::size_t i = 0; i < views.size(); ++i) {
    CAPTURE(views[i].title);
    REQUIRE(contains(views[i].title, titles[i]));
    const std::string svg = read(renderings[i].svg_file);
    // One whole document per file, and the one of its own view.
    CHECK(svg.rfind("<?xml", 0) == 0);
    CHECK(svg.find("</svg>") == svg.size() - std::string_view("</svg>\n").size());
    CHECK(contains(svg, titles[i]));
  }
  // A file dot cannot read beside one it can: the one process fails, each file is tried alone,
  // the good one is drawn and the error names the bad one, which gets no SVG.
  std::ofstream(folder / "broken.dot") << "digraph {";
  const std::vector<io::SvgRendering> broken{{folder / "broken.dot", folder / "broken.svg"},
                                             {renderings[0].dot_file, folder / "other.svg"}};
  try {
    io::render_svgs(*dot, broken);
    FAIL("expected an error");
  } catch (const std::runtime_error& e) {
    CHECK(contains(e.what(), (folder / "broken.dot").string()));
    CHECK(!contains(e.what(), renderings[0].dot_file.string()));
  }
  CHECK(!std::filesystem::exists(folder / "broken.svg"));
  CHECK(read(folder / "other.svg") == read(renderings[0].svg_file));
  CHECK(files_in(folder) == 8); // 3 DOT, 3 SVG, broken.dot, other.svg: no temporary left
  std::filesystem::remove_all(folder);
}

TEST_CASE("Graphviz draws each stage's device clusters left to right in rank order") {
  const std::optional<std::filesystem::path> dot = io::find_graphviz_dot();
  if (!dot) {
    MESSAGE("skipped: Graphviz 'dot' is not on PATH");
    return;
  }
  const std::filesystem::path folder = fresh_folder("helix_test_io_device_order");
  // The seed's plans, flat tensor parallel, data parallel (replica 0 drawn), and a KV-parallel
  // decode whose all-to-alls pull the clusters out of order hardest (the seed's 16-GPU one, without
  // the anchors, stopped dot with "trouble in init_rank").
  const std::vector<Dag> dags{
      optimized(),
      baseline(),
      build_dag(models::helix_seed, parse_plan("tp=8")),
      build_dag(models::helix_seed, parse_plan("dp=2,tp=4")),
      build_dag(models::llama3_8b, parse_plan("kvp=4,tp=2"), Workload::decode()),
      build_dag(models::helix_seed, parse_plan("kvp=4,tp=4"), Workload::decode())};
  for (const Dag& dag : dags) {
    const std::int64_t last_layer = boost::get_property(dag, boost::graph_bundle).model.layers - 1;
    for (const View& view : {attention_view(dag, 0), mlp_view(dag, 0),
                             attention_view(dag, last_layer), mlp_view(dag, last_layer)}) {
      CAPTURE(view.title);
      const std::filesystem::path file = folder / "view.dot";
      const std::filesystem::path svg = folder / "view.svg";
      io::write_dot_file(file, view);
      io::render_svg(*dot, file, svg);
      const auto x = device_cluster_x(read(svg));
      // Every device cluster the DOT has is drawn, in ascending rank order within its stage.
      std::size_t drawn = 0;
      for (const auto& [stage, devices] : x) {
        CAPTURE(stage);
        drawn += devices.size();
        double left = -1e300;
        for (const auto& [device, device_x] : devices) {
          CAPTURE(device);
          CHECK(device_x > left);
          left = device_x;
        }
      }
      std::set<std::pair<std::int64_t, std::int64_t>> clusters;
      for (ViewVertex v : boost::make_iterator_range(boost::vertices(view.graph)))
        if (view.graph[v].device >= 0)
          clusters.insert({view.graph[v].stage, view.graph[v].device});
      CHECK(drawn == clusters.size());
      CHECK(clusters.size() >= 2);
    }
  }
  std::filesystem::remove_all(folder);
}

namespace {

/// Two plans, the second judged against the first, the first not fitting: numbers chosen by hand.
cost::Comparison hand_made_comparison() {
  cost::Comparison c;
  c.hardware = "test_hw";
  c.overlap_communication = true;
  c.baseline = 0;
  cost::PlanSummary a;
  a.name = "a (tp=2)";
  a.world_size = 2;
  a.vertices = 31;
  a.edges = 38;
  a.allreduce_logical = 4;
  a.collective_phases = 6;
  a.bytes_by_link = {1.5e9, 2.5e6};
  a.bytes_per_device = 1.5025e9;
  a.flops_total = 1'000'000'007;
  a.flops_per_device_max = 500'000'004;
  a.fits = false;
  a.bubble_fraction = 0.25;
  a.tokens_per_second = 1234.5;
  a.tokens_per_second_per_gpu = 617.25;
  a.plan = "tp=2";
  a.fullest_device = {.device = 1,
                      .weight_bytes = 3e9,
                      .kv_cache_bytes = 5e8,
                      .activation_bytes = 2.5e8,
                      .total_bytes = 3.75e9,
                      .fits = false};
  a.memory_per_device_max = 3.75e9;
  cost::PlanSummary b = a;
  b.name = "b (pp=2)";
  b.plan = "pp=2";
  b.world_size = 4;
  b.allreduce_logical = 0;
  b.fits = true;
  b.tokens_per_second_per_gpu = 308.625;
  c.plans = {a, b};
  c.ranking = {0, 1};
  c.verdicts.push_back(cost::ClaimVerdict{
      "enhanced TPS", a.name, b.name, {}, cost::Verdict::partly_holds, "the verdict text"});
  c.notes.push_back("a does not fit");
  return c;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    lines.push_back(line);
  return lines;
}

} // namespace

TEST_CASE("markdown: a comparison prints a table row per plan, then a line per verdict and note") {
  const cost::Comparison c = hand_made_comparison();
  std::ostringstream out;
  io::write_markdown(out, c);
  const std::vector<std::string> lines = lines_of(out.str());
  CHECK(lines.front() == "Cost on test_hw (communication overlapped), claims judged against " +
                             c.plans[c.baseline].name);
  // The earlier ring model is named where it was used, so no one reads its figures as NCCL's.
  cost::Comparison ring = c;
  ring.collectives = cost::CollectiveModel::ring;
  std::ostringstream ring_out;
  io::write_markdown(ring_out, ring);
  CHECK(
      lines_of(ring_out.str())
          .front()
          .starts_with(
              "Cost on test_hw (communication overlapped) (ring collectives, not NCCL's), claims"));
  std::vector<std::string> rows, items;
  for (const std::string& line : lines) {
    if (line.starts_with("| "))
      rows.push_back(line);
    if (line.starts_with("- "))
      items.push_back(line);
  }
  // The header row and the alignment row, then one per plan in order, each opening with its counts.
  REQUIRE(rows.size() == 1 + c.plans.size());
  CHECK(lines[3].starts_with("|---|"));
  for (std::size_t i = 0; i < c.plans.size(); ++i) {
    const cost::PlanSummary& p = c.plans[i];
    CHECK(rows[1 + i].starts_with("| " + p.name + " | " + std::to_string(p.world_size) + " | " +
                                  std::to_string(p.allreduce_logical) + " | " +
                                  std::to_string(p.collective_phases) + " | "));
    CHECK(contains(rows[1 + i], p.fits ? " | yes | " : " | no | "));
  }
  CHECK(contains(rows[1], " | 25.0% | "));
  // The fullest GPU's memory, then its weights, KV cache and activations; tokens/s/GPU last.
  CHECK(contains(rows[1], " | 3.75 GB | 3 GB | 500 MB | 250 MB | no | "));
  CHECK(rows[1].ends_with(" | 1.23 k | 617 |"));
  REQUIRE(items.size() == c.verdicts.size() + c.notes.size());
  CHECK(items[0] ==
        "- " + c.verdicts[0].plan + " vs " + c.verdicts[0].baseline + ": " + c.verdicts[0].text);
  CHECK(items[1] == "- note: " + c.notes[0]);

  // No verdicts, no notes: no list and no blank line before it; no overlap: no mention of it.
  cost::Comparison alone = c;
  alone.verdicts.clear();
  alone.notes.clear();
  alone.overlap_communication = false;
  alone.baseline = 7; // out of range: judged against no plan
  std::ostringstream quiet;
  io::write_markdown(quiet, alone);
  // No baseline: a plain comparison ranked by its objective.
  CHECK(lines_of(quiet.str()).front() == "Cost on test_hw, ranked by tokens/s/GPU (best first)");
  CHECK(lines_of(quiet.str()).size() == 2 + 1 + c.plans.size() + 1);
}

TEST_CASE("markdown: a numerics report has a row per layer and each precision's verdict") {
  numerics::PlanNumerics n;
  n.expected_to_pass = false;
  n.in_double.model = models::helix_seed;
  n.in_double.plan = parse_plan("hp=4x4");
  n.in_double.layers.resize(3);
  n.in_double.output_copies = 16;
  n.in_double.tolerance = 1e-12;
  n.in_double.passed = false;
  n.in_double.replicas_agree = true;
  n.in_float = n.in_double;
  n.in_float.passed = true;
  n.in_float.replicas_agree = false;
  n.in_float.layers.resize(2); // rows only for layers both runs have
  std::ostringstream out;
  io::write_markdown(out, n);
  const std::string text = out.str();
  CHECK(lines_of(text).front() == "numerics: hp=4x4, prefill, exact lowering (expected to fail)");
  CHECK(contains(text, "\n  layer 0 "));
  CHECK(contains(text, "\n  layer 1 "));
  CHECK_FALSE(contains(text, "\n  layer 2 "));
  CHECK(contains(text, "\n  output (16 copies) "));
  CHECK(contains(text, "1.0e-12"));
  CHECK(contains(text, "FAIL (expected)         PASS (expected to fail!)\n"));
  CHECK(contains(text, "replicas agree        yes                     NO\n"));
}

TEST_CASE("json: a comparison's fields hold the numbers put in, and helix_deploy's document adds "
          "model, workload, checks and numerics") {
  const cost::Comparison c = hand_made_comparison();
  const nlohmann::json j = io::to_json(c);
  CHECK(j["hardware"] == c.hardware);
  CHECK(j["simulation"]["overlap_communication"] == true);
  CHECK(j["simulation"]["collectives"] == "nccl");
  REQUIRE(j["plans"].size() == c.plans.size());
  for (std::size_t i = 0; i < c.plans.size(); ++i) {
    const cost::PlanSummary& p = c.plans[i];
    const nlohmann::json& e = j["plans"][i];
    CHECK(e["name"] == p.name);
    CHECK(e["world_size"] == p.world_size);
    CHECK(e["dag"]["vertices"] == p.vertices);
    CHECK(e["dag"]["edges"] == p.edges);
    CHECK(e["cost"]["flops_total"] == p.flops_total);
    CHECK(e["cost"]["allreduce_logical"] == p.allreduce_logical);
    CHECK(e["cost"]["bytes_by_link"]["NVLink"] == p.bytes_by_link[0]);
    CHECK(e["cost"]["bytes_by_link"]["InfiniBand"] == p.bytes_by_link[1]);
    CHECK(e["cost"]["fits"] == p.fits);
    CHECK(e["cost"]["tokens_per_s"] == p.tokens_per_second);
    CHECK(e["plan"] == p.plan);
    CHECK(e["rank"] == i + 1);
    CHECK(e["cost"]["tokens_per_s_per_gpu"] == p.tokens_per_second_per_gpu);
    // The fullest device's split: weights + KV cache + activations = total.
    const nlohmann::json& m = e["cost"]["memory_per_device"];
    CHECK(m["weights"] == 3e9);
    CHECK(m["kv_cache"] == 5e8);
    CHECK(m["activations"] == 2.5e8);
    CHECK(m["total"] == 3.75e9);
    CHECK(m["phase"] == "prefill");
    CHECK(e["cost"]["generation"].is_null()); // no generation put in
  }
  CHECK(j["objective"] == "tokens_per_s_per_gpu");
  REQUIRE(j["claims"].size() == 1);
  CHECK(j["claims"][0]["verdict"] == "partly holds");
  CHECK(j["claims"][0]["plan"] == c.verdicts[0].plan);
  CHECK(j["claims"][0]["text"] == c.verdicts[0].text);
  CHECK(j["notes"] == nlohmann::json(c.notes));
  // Numbers survive the text: dump and parse give the same document.
  CHECK(nlohmann::json::parse(j.dump(2)) == j);

  numerics::PlanNumerics n;
  n.in_double.output = {0.5, 0.25};
  n.in_double.tolerance = 1e-12;
  n.in_double.passed = true;
  n.in_float.output = {0.125, 0.0625};
  n.in_float.passed = false;
  const Model model =
      models::llama3_70b.with_batch(8).with_seq_len(2048).with_kv_dtype(DataType::fp8);
  const nlohmann::json document =
      io::to_json("some_model", model, Workload::decode(), 1, c, std::vector<bool>{true}, {n});
  CHECK(document["model"] == "some_model");
  CHECK(document["workload"] == nlohmann::json{{"phase", "decode"},
                                               {"batch", 8},
                                               {"input_tokens", 2048},
                                               {"output_tokens", 1},
                                               {"microbatches", 1},
                                               {"pipeline_send", "scatter_gather"},
                                               {"kv_placement", "contiguous"},
                                               {"dtype", "bf16"},
                                               {"kv_dtype", "fp8"},
                                               {"attention", "flash"}});
  CHECK(document["plans"][0]["checks"]["ok"] == true);
  CHECK(document["plans"][1]["checks"]["ok"] == false); // past the end of checks_ok
  CHECK(document["plans"][0]["numerics"]["max_abs_err"] == 0.5);
  CHECK(document["plans"][0]["numerics"]["float_max_rel_err"] == 0.0625);
  CHECK(document["plans"][0]["numerics"]["passed"] == false); // float failed
  CHECK(document["plans"][1]["numerics"].is_null());          // not verified
  // The rest is the comparison's JSON unchanged.
  nlohmann::json rest = document;
  rest.erase("model");
  rest.erase("workload");
  for (nlohmann::json& plan : rest["plans"]) {
    plan.erase("checks");
    plan.erase("numerics");
  }
  CHECK(rest == j);
}

TEST_CASE("json: a plan's generation holds TTFT, TPOT, e2e and output tokens per second, one "
          "output token has no TPOT") {
  // 8 sequences, TTFT 0.5 s, 100 decode steps of 20 ms: e2e 2.5 s, 808 tokens / 2.5 s = 323.2
  // tokens/s, 80.8 per GPU of 4. Decode simulated at KV lengths 2049, 2098 and 2148.
  cost::Comparison c = hand_made_comparison();
  cost::Generation g = cost::make_generation(8, 2048, 101, 4, 0.5, 0.02);
  g.decode = {2049, 2148, 0.02, {{2049, 0.019}, {2098, 0.02}, {2148, 0.021}}, 0, true};
  c.plans[1].generation = g;
  const nlohmann::json j = io::to_json(c)["plans"][1]["cost"]["generation"];
  CHECK(j["ttft_s"] == 0.5);
  CHECK(j["tpot_s"] == 0.02);
  CHECK(j["e2e_s"].get<double>() == doctest::Approx(2.5));
  CHECK(j["output_tokens_per_s"].get<double>() == doctest::Approx(323.2));
  CHECK(j["output_tokens_per_s_per_gpu"].get<double>() == doctest::Approx(80.8));
  CHECK(j["decode"]["kv_lengths"] == nlohmann::json{2049, 2148});
  CHECK(j["decode"]["points"][1] == nlohmann::json{{"kv_length", 2098}, {"step_s", 0.02}});
  CHECK(j["decode"]["tpot_error_bound_s"] == 0.0);
  // The prefill alone: TTFT is the e2e, there is no decode step and so no TPOT.
  c.plans[1].generation = cost::make_generation(8, 2048, 1, 4, 0.5, 0);
  const nlohmann::json one = io::to_json(c)["plans"][1]["cost"]["generation"];
  CHECK(one["tpot_s"].is_null());
  CHECK(one["decode"].is_null());
  CHECK(one["e2e_s"] == 0.5);
  CHECK(one["output_tokens_per_s"].get<double>() == doctest::Approx(16.0));
}

TEST_CASE("markdown: a generation prints TTFT, TPOT and e2e columns and a line per plan") {
  // The same numbers as the JSON test: TTFT 0.5 s, TPOT 20 ms, e2e 2.5 s, 323 tokens/s, 80.8 per
  // GPU.
  cost::Comparison c = hand_made_comparison();
  cost::Generation g = cost::make_generation(8, 2048, 101, 4, 0.5, 0.02);
  g.decode = {2049, 2148, 0.02, {{2049, 0.019}, {2098, 0.02}, {2148, 0.021}}, 0, true};
  for (cost::PlanSummary& p : c.plans)
    p.generation = g;
  std::ostringstream out;
  io::write_markdown(out, c);
  const std::string text = out.str();
  CHECK(contains(text, "Generation: batch 8, 2048 input and 101 output tokens per sequence."));
  CHECK(contains(text, "KV lengths 2049 … 2148"));
  CHECK(contains(text, "| fits | TTFT | TPOT | e2e | bubble | tokens/s | tokens/s/GPU |\n"));
  CHECK(contains(text, " | no | 500 ms | 20 ms | 2.5 s | 25.0% | 323 | 80.8 |\n"));
  CHECK(contains(text, "- b (pp=2): TTFT 500 ms, TPOT 20 ms, e2e 2.5 s, 323 tokens/s (80.8 "
                       "tokens/s per GPU); memory 3.75 GB on the fullest GPU (3 GB weights, 500 "
                       "MB KV cache, 250 MB activations, in the prefill)\n"));
}

TEST_CASE("plan_file_part keeps letters and digits, makes the rest '_', and tells plans apart") {
  CHECK(io::plan_file_part(parse_plan("pp=2,tg=4x4")) == "pp_2_tg_4x4");
  std::set<std::string> parts;
  const std::vector<std::string> texts{"tp=8",           "tp=16",          "pp=2,tp=4",
                                       "pp=2,tg=4x4",    "hp=4x4",         "tg=2x4,dp=2",
                                       "pp=2,split=3/1", "pp=2,split=1/3", "kvp=2,tp=4"};
  for (const std::string& text : texts) {
    const std::string part = io::plan_file_part(parse_plan(text));
    CAPTURE(part);
    CHECK(std::ranges::all_of(part, [](char c) {
      return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    }));
    // As long as the plan's text, the same characters where the text has a letter or digit.
    const std::string canonical = to_string(parse_plan(text));
    REQUIRE(part.size() == canonical.size());
    for (std::size_t i = 0; i < part.size(); ++i)
      if (part[i] != '_')
        CHECK(part[i] == canonical[i]);
    parts.insert(part);
  }
  CHECK(parts.size() == texts.size());
}

namespace {

/// The message `hardware_from_json` throws for `document`, or "" when it accepts it.
std::string hardware_error(const nlohmann::json& document) {
  try {
    io::hardware_from_json(document);
  } catch (const io::HardwareJsonError& e) {
    return e.what();
  }
  return "";
}

} // namespace

TEST_CASE("hardware JSON: every preset written to a file and read back is the same hardware") {
  // The document holds every field of Hardware (doubles written in nlohmann's shortest form that
  // reads back to the same bits), so reading returns the preset, field for field.
  const std::filesystem::path folder = fresh_folder("helix_test_io_hardware");
  for (const cost::Hardware& preset : cost::hardware::all) {
    const std::string name(preset.name);
    CAPTURE(name);
    const std::filesystem::path file = folder / (name + ".json");
    io::write_hardware_json(file, preset);
    const cost::Hardware read_back = io::read_hardware_json(file);
    CHECK(read_back == preset);
    CHECK(read_back.name.view() == name);
    CHECK(io::hardware_from_json(io::to_json(preset)) == preset);
  }
  // The document's keys are the Hardware's fields, in its words.
  const nlohmann::json h100 = io::to_json(cost::hardware::h100_sxm_nvl8);
  CHECK(h100["peak_flops_per_second"]["fp8"] == 1979e12);
  CHECK(h100["nvlink"]["bandwidth_bytes_per_second"] == 450e9);
  CHECK(h100["nics_per_node"] == 8);
  // A copy owns its name: the file's hardware outlives the document it came from.
  cost::Hardware copy;
  {
    nlohmann::json renamed = h100;
    renamed["name"] = "my_cluster";
    copy = io::hardware_from_json(renamed);
  }
  CHECK(copy.name.view() == "my_cluster");
  std::filesystem::remove_all(folder);
}

TEST_CASE("hardware JSON: unknown, missing, mistyped and out-of-range keys are errors naming the "
          "key, files that cannot be read name the path") {
  const nlohmann::json good = io::to_json(cost::hardware::h100_sxm_nvl8);
  CHECK(hardware_error(good).empty());
  nlohmann::json unknown = good;
  unknown["nvlink"]["speed"] = 1;
  CHECK(contains(hardware_error(unknown), "unknown key 'nvlink.speed'"));
  nlohmann::json unknown_top = good;
  unknown_top["tflops"] = 1;
  CHECK(contains(hardware_error(unknown_top), "unknown key 'tflops'"));
  nlohmann::json missing = good;
  missing.erase("memory_capacity_bytes");
  CHECK(contains(hardware_error(missing), "missing key 'memory_capacity_bytes'"));
  nlohmann::json missing_peak = good;
  missing_peak["peak_flops_per_second"].erase("fp4");
  CHECK(contains(hardware_error(missing_peak), "missing key 'peak_flops_per_second.fp4'"));
  nlohmann::json text_count = good;
  text_count["gpus_per_node"] = "8";
  CHECK(contains(hardware_error(text_count),
                 "key 'gpus_per_node' must be a whole number from 1, got string \"8\""));
  nlohmann::json fractional = good;
  fractional["nics_per_node"] = 7.5;
  CHECK(contains(hardware_error(fractional), "key 'nics_per_node' must be a whole number"));
  nlohmann::json text_peak = good;
  text_peak["peak_flops_per_second"]["bf16"] = "fast";
  CHECK(contains(hardware_error(text_peak),
                 "key 'peak_flops_per_second.bf16' must be a number, got string \"fast\""));
  nlohmann::json efficiency = good;
  efficiency["infiniband"]["efficiency"] = 1.5;
  CHECK(contains(hardware_error(efficiency),
                 "key 'infiniband.efficiency' must be a number in (0, 1], got number 1.5"));
  nlohmann::json negative = good;
  negative["nvlink"]["latency_seconds"] = -1;
  CHECK(contains(hardware_error(negative), "key 'nvlink.latency_seconds' must be a number from 0"));
  nlohmann::json graphs = good;
  graphs["cuda_graphs"] = 1;
  CHECK(contains(hardware_error(graphs), "key 'cuda_graphs' must be true or false, got number 1"));
  nlohmann::json sharp = good;
  sharp["nvlink_sharp_efficiency"] = 1.2;
  CHECK(contains(hardware_error(sharp),
                 "key 'nvlink_sharp_efficiency' must be a number in [0, 1], got number 1.2"));
  nlohmann::json library_latency = good;
  library_latency["collective_library"]["ring"]["nvlink_hop"]["ll"] = "fast";
  CHECK(contains(hardware_error(library_latency),
                 "key 'collective_library.ring.nvlink_hop.ll' must be a number"));
  // The collective library's constants are NCCL's unless a file says otherwise: a file without
  // them reads back with NCCL's defaults.
  nlohmann::json without_library = good;
  without_library.erase("collective_library");
  CHECK(hardware_error(without_library).empty());
  CHECK(io::hardware_from_json(without_library).collective_library == cost::nccl);
  nlohmann::json slower_library = good;
  slower_library["collective_library"]["ring"]["base"]["simple"] = 20e-6;
  CHECK(io::hardware_from_json(slower_library).collective_library.ring.base.simple == 20e-6);
  nlohmann::json not_object = good;
  not_object["nvlink"] = 450e9;
  CHECK(contains(hardware_error(not_object), "key 'nvlink' must be a JSON object"));
  nlohmann::json long_name = good;
  long_name["name"] = std::string(cost::hardware_name_capacity + 1, 'x');
  CHECK(contains(hardware_error(long_name), "key 'name' must be a string of 1 to 63 characters"));
  CHECK(contains(hardware_error(nlohmann::json::array()), "the document must be a JSON object"));
  // 8 NICs of 50 GB/s for 8 GPUs give each GPU 50 GB/s; an InfiniBand link of 25 GB/s would
  // leave one of the two numbers unused, so it is refused with both.
  nlohmann::json inconsistent = good;
  inconsistent["infiniband"]["bandwidth_bytes_per_second"] = 25e9;
  CHECK(contains(hardware_error(inconsistent),
                 "key 'infiniband.bandwidth_bytes_per_second' must be nics_per_node · "
                 "nic_bandwidth_bytes_per_second / gpus_per_node = 8 · 5e+10 / 8 = 5e+10, got "
                 "2.5e+10"));

  const std::filesystem::path folder = fresh_folder("helix_test_io_hardware_errors");
  const auto file_error = [](const std::filesystem::path& path) -> std::string {
    try {
      io::read_hardware_json(path);
    } catch (const io::HardwareJsonError& e) {
      return e.what();
    }
    return "";
  };
  const std::filesystem::path absent = folder / "absent.json";
  CHECK(file_error(absent) == "hardware file '" + absent.string() + "': cannot open it");
  const std::filesystem::path broken = folder / "broken.json";
  std::ofstream(broken) << "{\"name\": ";
  CHECK(contains(file_error(broken), "hardware file '" + broken.string() + "': not JSON"));
  const std::filesystem::path typo = folder / "typo.json";
  std::ofstream(typo) << unknown_top.dump();
  CHECK(file_error(typo) == "hardware file '" + typo.string() +
                                "': unknown key 'tflops' (known here: name, gpus_per_node, "
                                "peak_flops_per_second, compute_efficiency, "
                                "streaming_multiprocessors, gemm_tile, attention_efficiency, "
                                "attention_memory_efficiency, "
                                "kernel_launch_seconds, cuda_graphs, "
                                "graph_kernel_launch_seconds, step_overhead_seconds, "
                                "memory_bandwidth_bytes_per_second, memory_efficiency, "
                                "memory_capacity_bytes, nics_per_node, "
                                "nic_bandwidth_bytes_per_second, nvlink, infiniband, "
                                "nvlink_sharp_efficiency, ll_max_bus_bandwidth_bytes_per_second, "
                                "collective_library)");
  CHECK(contains(file_error(folder), "it is a folder, not a file"));
  std::filesystem::remove_all(folder);
}

namespace {

/// A tiny model as JSON text with every required key; `extra` is spliced in before the final '}'.
std::string tiny_model_json(const std::string& extra = "") {
  return R"({"name": "tiny", "layers": 2, "hidden": 64, "heads": 4, "kv_heads": 2,)"
         R"( "head_dim": 16, "ffn_hidden": 256, "mlp": "gelu", "norm": "layernorm")" +
         extra + "}";
}

/// The message parse_model_json throws for `text`, or "" when it throws nothing.
std::string model_json_error(const std::string& text) {
  try {
    static_cast<void>(parse_model_json(text));
  } catch (const ModelJsonError& e) {
    return e.what();
  }
  return "";
}

} // namespace

TEST_CASE("model JSON: every preset survives writing and reading, as text and as a file") {
  const std::filesystem::path folder = fresh_folder("helix_test_model_json");
  for (const models::NamedModel& entry : models::all) {
    CAPTURE(entry.name);
    const ModelDefinition expected{std::string(entry.name), entry.model};
    CHECK(model_from_json(model_to_json(entry.name, entry.model)) == expected);
    CHECK(parse_model_json(model_to_json(entry.name, entry.model).dump(2)) == expected);
    const std::filesystem::path file = folder / (std::string(entry.name) + ".json");
    write_model_json(file, entry.name, entry.model);
    CHECK(read_model_json(file) == expected);
  }
  std::filesystem::remove_all(folder);
}

TEST_CASE("model JSON: optional keys take their documented defaults") {
  // Required keys only: no vocabulary, sequential block, batch 1, seq_len 2048, bf16 everywhere.
  const ModelDefinition d = parse_model_json(tiny_model_json());
  CHECK(d.name == "tiny");
  const Model expected{.layers = 2,
                       .hidden = 64,
                       .heads = 4,
                       .kv_heads = 2,
                       .head_dim = 16,
                       .ffn_hidden = 256,
                       .batch = 1,
                       .seq_len = 2048,
                       .dtype = DataType::bf16,
                       .kv_dtype = DataType::bf16,
                       .norm = Norm::layernorm,
                       .activation = Activation::gelu,
                       .vocab = 0,
                       .parallel_block = false};
  CHECK(d.model == expected);
  // kv_dtype follows dtype unless given: a file that says fp8 means an fp8 cache too.
  CHECK(parse_model_json(tiny_model_json(R"(, "dtype": "fp8")")).model.kv_dtype == DataType::fp8);
  const Model mixed =
      parse_model_json(tiny_model_json(R"(, "dtype": "bf16", "kv_dtype": "fp8")")).model;
  CHECK(mixed.dtype == DataType::bf16);
  CHECK(mixed.kv_dtype == DataType::fp8);
  // Every key given: each lands in its field.
  const Model full = parse_model_json(tiny_model_json(R"(, "vocab": 1000, "parallel_block": true,)"
                                                      R"( "batch": 8, "seq_len": 128)"))
                         .model;
  CHECK(full.vocab == 1000);
  CHECK(full.parallel_block);
  CHECK(full.batch == 8);
  CHECK(full.seq_len == 128);
}

TEST_CASE("model JSON: the README's Mistral 7B file is Mistral's published 7,241,732,096 "
          "parameters") {
  // mistralai/Mistral-7B-v0.1 config.json: 32 layers, hidden 4096, 32 heads × 128, 8 kv heads,
  // intermediate 14336, vocab 32000, untied head: 32 · (2·4096² + 2·4096·1024 + 3·4096·14336 +
  // 2·4096) + 2·32000·4096 + 4096 = 7,241,732,096, the count HF shows as "7.24B".
  const ModelDefinition d =
      read_model_json(std::filesystem::path(HELIX_SOURCE_DIR) / "examples/models/mistral_7b.json");
  CHECK(d.name == "mistral_7b");
  CHECK(d.model.activation == Activation::swiglu);
  CHECK(d.model.norm == Norm::rmsnorm);
  CHECK(parameters(d.model) == 7'241'732'096);
}

TEST_CASE("model JSON: bad input is refused with the key and the value in the message") {
  struct Case {
    std::string text;
    std::string message; // the whole message, or its start when it ends in "..."
  };
  const Case cases[] = {
      {tiny_model_json(R"(, "rope_theta": 10000)"),
       "unknown key 'rope_theta' = 10000; known: name, layers, hidden, heads, kv_heads, "
       "head_dim, ffn_hidden, mlp, norm, vocab, parallel_block, batch, seq_len, dtype, kv_dtype"},
      {R"({"name": "x", "layers": 2})", "missing required key 'hidden'"},
      {R"({"name": "x", "layers": 2, "hidden": 64, "heads": 4, "kv_heads": 2, "head_dim": 16,)"
       R"( "ffn_hidden": 256, "mlp": "gelu"})",
       "missing required key 'norm'"},
      {tiny_model_json(R"(, "batch": 0)"), "key 'batch' = 0: expected a whole number from 1 to "
                                           "10^15"},
      {tiny_model_json(R"(, "vocab": -1)"), "key 'vocab' = -1: expected a whole number from 0 to "
                                            "10^15"},
      {tiny_model_json(R"(, "seq_len": 2.5)"), "key 'seq_len' = 2.5: expected a whole number "
                                               "from 1 to 10^15"},
      {tiny_model_json(R"(, "seq_len": "4096")"), "key 'seq_len' = \"4096\": expected a whole "
                                                  "number from 1 to 10^15"},
      // Past 10^15 (and past 2^64, which the parser keeps as a double): a typo, not a size.
      {tiny_model_json(R"(, "batch": 1000000000000001)"), "key 'batch' = 1000000000000001: ..."},
      {tiny_model_json(R"(, "batch": 18446744073709551616)"),
       "key 'batch' = 1.8446744073709552e+19: ..."},
      {tiny_model_json(R"(, "dtype": "int8")"),
       "key 'dtype' = \"int8\": expected one of \"fp32\", \"bf16\", \"fp16\", \"fp8\", \"fp4\""},
      {tiny_model_json(R"(, "parallel_block": 1)"), "key 'parallel_block' = 1: expected true or "
                                                    "false"},
      {tiny_model_json(R"(, "layers": 3)"), "key 'layers' given twice"},
      // A key or value that would break the one-line message is escaped, as JSON escapes it.
      {tiny_model_json(R"(, "a\nb": "\u00e9")"), R"(unknown key 'a\nb' = "\u00e9"; known: ...)"},
      {tiny_model_json(R"(, "dtype": "bf16\n")"), R"(key 'dtype' = "bf16\n": expected one of ...)"},
      {R"([{"name": "x"}])", R"(a model is a JSON object, not [{"name":"x"}])"},
      {R"({"name": "x",})", "not valid JSON: [json.exception.parse_error.101] parse error at "
                            "line 1, column 14: ..."},
      {"", "not valid JSON: ..."},
  };
  for (const Case& c : cases) {
    CAPTURE(c.text);
    const std::string message = model_json_error(c.text);
    if (c.message.ends_with("..."))
      CHECK(message.starts_with(c.message.substr(0, c.message.size() - 3)));
    else
      CHECK(message == c.message);
  }
  // Names, norms and MLPs outside their lists.
  std::string text = tiny_model_json();
  text.replace(text.find(R"("tiny")"), 6, R"("")");
  CHECK(model_json_error(text) == R"(key 'name' = "": expected a non-empty string)");
  text = tiny_model_json();
  text.replace(text.find(R"("gelu")"), 6, R"("relu")");
  CHECK(model_json_error(text) == R"(key 'mlp' = "relu": expected "gelu" or "swiglu")");
  text = tiny_model_json();
  text.replace(text.find(R"("layernorm")"), 11, R"("LayerNorm")");
  CHECK(model_json_error(text) ==
        R"(key 'norm' = "LayerNorm": expected "layernorm", "rmsnorm" or "none")");
  text = tiny_model_json();
  text.replace(text.find(R"("heads": 4)"), 10, R"("heads": 0)");
  CHECK(model_json_error(text) == "key 'heads' = 0: expected a whole number from 1 to 10^15");
}

TEST_CASE("model JSON: a file's errors name the file, a missing file or a folder is refused") {
  const std::filesystem::path folder = fresh_folder("helix_test_model_json_errors");
  const std::filesystem::path missing = folder / "missing.json";
  const auto error_of = [](const std::filesystem::path& path) -> std::string {
    try {
      static_cast<void>(read_model_json(path));
    } catch (const ModelJsonError& e) {
      return e.what();
    }
    return "";
  };
  CHECK(error_of(missing) == "model file '" + missing.string() + "': no such file");
  CHECK(error_of(folder) == "model file '" + folder.string() + "': it is a folder, not a file");
  const std::filesystem::path bad = folder / "bad.json";
  std::ofstream(bad) << tiny_model_json(R"(, "mlp_kind": "gelu")");
  CHECK(error_of(bad).starts_with("model file '" + bad.string() +
                                  "': unknown key 'mlp_kind' = \"gelu\"; known: "));
  // A ModelJsonError is a std::runtime_error: callers that catch those see it.
  CHECK_THROWS_AS(read_model_json(missing), std::runtime_error);
  // Writing into a missing folder fails naming the file and leaves nothing.
  CHECK_THROWS_WITH_AS(write_model_json(folder / "no" / "m.json", "x", models::helix_seed),
                       doctest::Contains("m.json"), std::runtime_error);
  std::filesystem::remove_all(folder);
}

TEST_CASE("the whole-model view folds a stage's middle layers into one box") {
  // 10 layers on one stage: layers 0, 1 and 9 drawn as MHA/MLP boxes, layers 2–8 one box; under
  // pp=2 (5 layers a stage) layers 2–3 and 7–8 are folded, 0, 1, 4 and 5, 6, 9 drawn.
  const Model model = models::gpt3_175b.with_layers(10).with_seq_len(16).with_vocab(0);
  for (const auto& [plan, folds] : std::vector<std::pair<std::string, std::vector<std::string>>>{
           {"tp=2", {"layers 2–8 ×7"}}, {"pp=2,tp=2", {"layers 2–3 ×2", "layers 7–8 ×2"}}}) {
    CAPTURE(plan);
    const View view = model_view(build_dag(model, parse_plan(plan)));
    std::vector<std::string> found;
    std::set<std::string> layers_drawn;
    for (ViewVertex v : boost::make_iterator_range(boost::vertices(view.graph))) {
      const std::string& first = view.graph[v].lines.front();
      if (first.starts_with("layers "))
        found.push_back(first);
      else if (first.starts_with("layer "))
        layers_drawn.insert(first.substr(0, first.find(' ', 6)));
    }
    std::sort(found.begin(), found.end());
    CHECK(found == folds);
    CHECK(layers_drawn.size() == (plan == "tp=2" ? 3u : 6u));
    CHECK(layers_drawn.count("layer 5") == (plan == "tp=2" ? 0u : 1u));
  }
}

namespace {

/// A dump of tp=2 on shrunk helix_seed, written once for the tests below (they only read it).
const std::filesystem::path& seed_tp2_dump() {
  // Removed when the program ends, as every fresh_folder is (testing::scratch_folder).
  static const std::filesystem::path folder = [] {
    const std::filesystem::path f = fresh_folder("helix_test_expected_dump");
    const helix::PlanSpec plan = helix::parse_plan("tp=2");
    const helix::Dag dag =
        helix::build_dag(helix::models::shrink(helix::models::helix_seed, plan), plan);
    helix::io::write_expected_dump(f, dag, "helix_seed");
    return f;
  }();
  return folder;
}

/// Copies the dump's tensors named in `names` (all of them when empty) into a fresh folder.
std::filesystem::path actual_copy(const std::string& folder_name,
                                  const std::vector<std::string>& names = {}) {
  const std::filesystem::path actual = fresh_folder(folder_name);
  for (const helix::io::IndexedOp& op : helix::io::read_dump_index(seed_tp2_dump()).ops) {
    if (!names.empty() && std::find(names.begin(), names.end(), op.name) == names.end())
      continue;
    std::filesystem::create_directories((actual / op.file).parent_path());
    std::filesystem::copy_file(seed_tp2_dump() / op.file, actual / op.file);
  }
  return actual;
}

/// Adds `delta` to element `at` of the float64 tensor `file` under `folder`.
void nudge(const std::filesystem::path& folder, const std::string& file, double delta,
           std::size_t at = 0) {
  helix::io::NpyDoubles array = helix::io::read_npy_widened(folder / file);
  array.data.at(at) += delta;
  helix::io::write_npy<double>(folder / file, std::span<const double>(array.data),
                               std::span<const std::int64_t>(array.shape));
}

std::string file_of(const std::string& name) {
  for (const helix::io::IndexedOp& op : helix::io::read_dump_index(seed_tp2_dump()).ops)
    if (op.name == name)
      return op.file;
  FAIL("no op " << name);
  return {};
}

} // namespace

TEST_CASE("read_npy_widened reads float64 and float32 files and refuses anything else by path") {
  const std::filesystem::path folder = fresh_folder("helix_test_npy_widened");
  const std::vector<double> values{1.5, -2.25, 3.0, 4.0, 5.0, 6.0};
  helix::io::write_npy<double>(folder / "d.npy", values, {2, 3});
  const std::vector<float> floats{0.5f, 0.25f};
  helix::io::write_npy<float>(folder / "f.npy", floats, {2});
  const helix::io::NpyDoubles d = helix::io::read_npy_widened(folder / "d.npy");
  CHECK(d.descr == "<f8");
  CHECK(d.shape == std::vector<std::int64_t>{2, 3});
  CHECK(d.data == values);
  const helix::io::NpyDoubles f = helix::io::read_npy_widened(folder / "f.npy");
  CHECK(f.descr == "<f4");
  CHECK(f.data == std::vector<double>{0.5, 0.25});
  // Each file is d.npy with one fault.
  const std::string good = read(folder / "d.npy");
  const auto replaced = [&](const std::string& from, const std::string& to) {
    std::string text = good;
    REQUIRE(text.find(from) != std::string::npos);
    text.replace(text.find(from), from.size(), to);
    return text;
  };
  const std::vector<std::pair<std::string, std::string>> faults{
      {"not numpy at all", "not a .npy file"},
      {replaced("'<f8'", "'<i8'"), "element type '<i8'"},
      {replaced("'<f8'", "'>f8'"), "element type '>f8'"},
      {replaced("False", "True "), "Fortran order"},
      {replaced("(2, 3)", "(2, 4)"), "holds 48 bytes of data, its shape (2, 4) needs 64"},
      {replaced("(2, 3)", "(2, x)"), "shape (2, x) is not a tuple of sizes"},
      {good.substr(0, good.size() - 8), "holds 40 bytes of data"},
      {good.substr(0, 12), "header is cut short"}};
  for (const auto& [bytes, words] : faults) {
    CAPTURE(words);
    write_file_atomically_for_test(folder / "bad.npy", bytes);
    CHECK_THROWS_WITH_AS(helix::io::read_npy_widened(folder / "bad.npy"),
                         doctest::Contains(((folder / "bad.npy").string() + "': " + words).c_str()),
                         std::runtime_error);
  }
  CHECK_THROWS_WITH_AS(helix::io::read_npy_widened(folder / "missing.npy"),
                       doctest::Contains("missing.npy': cannot open"), std::runtime_error);
  std::filesystem::remove_all(folder);
}

TEST_CASE("an expected dump has a file per op and device, the weights, the input and an index") {
  const std::filesystem::path& dump = seed_tp2_dump();
  std::ifstream in(dump / "index.json");
  const nlohmann::json index = nlohmann::json::parse(in);
  CHECK(index["format"] == "helix expected tensors");
  CHECK(index["plan"] == "tp=2");
  CHECK(index["world_size"] == 2);
  CHECK(index["tolerance"]["float64"] == 1e-12);
  const helix::PlanSpec plan = helix::parse_plan("tp=2");
  const helix::Dag dag =
      helix::build_dag(helix::models::shrink(helix::models::helix_seed, plan), plan);
  const helix::numerics::ExpectedSize size = helix::numerics::expected_size(dag);
  CHECK(static_cast<std::int64_t>(index["ops"].size()) == size.tensors);
  CHECK(static_cast<std::int64_t>(index["weights"].size()) == size.weights);
  for (const nlohmann::json& op : index["ops"]) {
    CAPTURE(op["name"].get<std::string>());
    CHECK(std::filesystem::exists(dump / op["file"].get<std::string>()));
    CHECK(!op["placement"].get<std::string>().empty());
  }
  for (const nlohmann::json& w : index["weights"])
    CHECK(std::filesystem::exists(dump / w["file"].get<std::string>()));
  CHECK(std::filesystem::exists(dump / "input" / "x.npy"));
  // One entry in full: what device 1 holds after layer 0's FC1, and where it comes from.
  const auto fc1 =
      std::find_if(index["ops"].begin(), index["ops"].end(),
                   [](const nlohmann::json& op) { return op["name"] == "layer00.fc1.dev01"; });
  REQUIRE(fc1 != index["ops"].end());
  CHECK((*fc1)["file"] == "dev01/layer00_fc1.npy");
  CHECK((*fc1)["shape"] == nlohmann::json{2, 16, 256});
  CHECK((*fc1)["placement"] == "tp:S(2)");
  CHECK((*fc1)["holds"] == "fc1 W1[:, 256:512]");
  CHECK((*fc1)["producers"] == nlohmann::json{"layer00.norm2.dev01"});
  CHECK((*fc1)["consumers"] == nlohmann::json{"layer00.gelu.dev01"});
  CHECK((*fc1)["weight"]["file"] == "dev01/weights/layer00_w1.npy");
  CHECK((*fc1)["weight"]["cols"]["begin"] == 256);
  const helix::io::NpyDoubles w1 =
      helix::io::read_npy_widened(dump / "dev01/weights/layer00_w1.npy");
  CHECK(w1.shape == std::vector<std::int64_t>{128, 256});
  // The all-reduce after FC2 on device 1 is fed by both devices' FC2, in the ring's order.
  const auto reduce = std::find_if(index["ops"].begin(), index["ops"].end(), [](const auto& op) {
    return op["name"] == "layer00.all_reduce_mlp_output.dev01";
  });
  REQUIRE(reduce != index["ops"].end());
  CHECK((*reduce)["producers"] == nlohmann::json{"layer00.fc2.dev00", "layer00.fc2.dev01"});
  CHECK((*reduce)["collective"]["group"] == nlohmann::json{0, 1});
  CHECK((*reduce)["collective"]["member"] == 1);
}

TEST_CASE("compare_dump: the dump against itself matches, and a subset lists the rest as missing") {
  const helix::io::DumpComparison all = helix::io::compare_dump(seed_tp2_dump(), seed_tp2_dump());
  CHECK(all.compared == all.index.ops.size());
  CHECK(all.differing == 0);
  CHECK_FALSE(all.first_difference);
  const std::filesystem::path some =
      actual_copy("helix_test_compare_subset", {"layer00.fc1.dev00", "output.dev01"});
  const helix::io::DumpComparison subset = helix::io::compare_dump(seed_tp2_dump(), some);
  CHECK(subset.compared == 2);
  CHECK(subset.missing == subset.index.ops.size() - 2);
  CHECK(subset.find("layer00.fc1.dev00")->verdict == helix::io::Verdict::matches);
  CHECK(subset.find("layer00.fc2.dev00")->verdict == helix::io::Verdict::missing);
  std::filesystem::remove_all(some);
}

TEST_CASE("compare_dump: a changed tensor is the first difference, the earliest in topological "
          "order when several are") {
  const std::filesystem::path actual = actual_copy("helix_test_compare_mutated");
  nudge(actual, file_of("layer01.fc2.dev01"), 1e-3, 17);
  helix::io::DumpComparison c = helix::io::compare_dump(seed_tp2_dump(), actual);
  REQUIRE(c.first_difference);
  CHECK(c.index.ops[*c.first_difference].name == "layer01.fc2.dev01");
  CHECK(c.differing == 1);
  CHECK(c.ops[*c.first_difference].error.max_abs == doctest::Approx(1e-3).epsilon(1e-9));
  // Below the tolerance it matches: 1e-15 of an O(1) tensor.
  nudge(actual, file_of("layer00.out_projection.dev00"), 1e-15);
  c = helix::io::compare_dump(seed_tp2_dump(), actual);
  CHECK(c.find("layer00.out_projection.dev00")->verdict == helix::io::Verdict::matches);
  // An earlier op (layer 0, device 0) changed too: it is now the first, whatever the device.
  nudge(actual, file_of("layer00.q_projection.dev00"), 1e-6);
  c = helix::io::compare_dump(seed_tp2_dump(), actual);
  REQUIRE(c.first_difference);
  CHECK(c.index.ops[*c.first_difference].name == "layer00.q_projection.dev00");
  CHECK(c.differing == 2);
  // A looser tolerance lets both through.
  c = helix::io::compare_dump(seed_tp2_dump(), actual, {.relative = 1.0, .absolute = 0});
  CHECK_FALSE(c.first_difference);
  std::filesystem::remove_all(actual);
}

TEST_CASE(
    "compare_dump: another shape differs, and a float32 file is judged by the float tolerance") {
  const std::filesystem::path actual =
      actual_copy("helix_test_compare_shapes", {"layer00.norm1.dev00", "layer00.fc1.dev00"});
  // The scores ([2, 8, 16, 16]) saved where norm1 ([2, 16, 128]) is expected.
  std::filesystem::copy_file(seed_tp2_dump() / file_of("layer00.attention_scores.dev00"),
                             actual / file_of("layer00.norm1.dev00"),
                             std::filesystem::copy_options::overwrite_existing);
  // FC1 rounded to float32: off by ~1e-8 relative, within verify's float bound.
  const helix::io::NpyDoubles fc1 =
      helix::io::read_npy_widened(actual / file_of("layer00.fc1.dev00"));
  const std::vector<float> rounded(fc1.data.begin(), fc1.data.end());
  helix::io::write_npy<float>(actual / file_of("layer00.fc1.dev00"), rounded,
                              std::span<const std::int64_t>(fc1.shape));
  const helix::io::DumpComparison c = helix::io::compare_dump(seed_tp2_dump(), actual);
  const helix::io::OpComparison& norm = *c.find("layer00.norm1.dev00");
  CHECK(norm.verdict == helix::io::Verdict::differs);
  CHECK(norm.shape_differs);
  CHECK(norm.actual_shape == std::vector<std::int64_t>{2, 8, 16, 16});
  const helix::io::OpComparison& f = *c.find("layer00.fc1.dev00");
  CHECK(f.verdict == helix::io::Verdict::matches);
  CHECK(f.actual_dtype == "<f4");
  CHECK(f.tolerance.relative == c.index.tolerance_float32);
  CHECK(f.error.max_relative > 1e-12);
  std::filesystem::remove_all(actual);
}

TEST_CASE("compare_dump: bad input names the path and the field") {
  const std::filesystem::path bad = fresh_folder("helix_test_compare_bad");
  using helix::io::DumpError;
  CHECK_THROWS_WITH_AS(helix::io::compare_dump(bad / "nowhere", seed_tp2_dump()),
                       doctest::Contains("nowhere': no such folder"), DumpError);
  CHECK_THROWS_WITH_AS(helix::io::compare_dump(seed_tp2_dump(), bad / "nowhere"),
                       doctest::Contains("nowhere': no such folder"), DumpError);
  CHECK_THROWS_WITH_AS(helix::io::compare_dump(bad, seed_tp2_dump()),
                       doctest::Contains("index.json': cannot open"), DumpError);
  CHECK_THROWS_WITH_AS(helix::io::compare_dump(seed_tp2_dump(), bad),
                       doctest::Contains("holds none of the"), DumpError);
  // An index with one field broken, beside the dump's files.
  std::ifstream in(seed_tp2_dump() / "index.json");
  nlohmann::json index = nlohmann::json::parse(in);
  const auto broken = [&](const std::string& words, auto&& change) {
    CAPTURE(words);
    nlohmann::json copy = index;
    change(copy);
    write_file_atomically_for_test(bad / "index.json", copy.dump());
    CHECK_THROWS_WITH_AS(helix::io::read_dump_index(bad), doctest::Contains(words.c_str()),
                         DumpError);
  };
  broken("ops[3].shape: expected an array of whole numbers",
         [](nlohmann::json& j) { j["ops"][3]["shape"] = "2x16"; });
  broken("ops[0].producers: missing", [](nlohmann::json& j) { j["ops"][0].erase("producers"); });
  broken("ops[1].file: '../x.npy' is not a relative path inside the dump",
         [](nlohmann::json& j) { j["ops"][1]["file"] = "../x.npy"; });
  broken("version: 2, this helix reads version 1", [](nlohmann::json& j) { j["version"] = 2; });
  broken("format: expected \"helix expected tensors\"",
         [](nlohmann::json& j) { j["format"] = "numpy"; });
  broken("ops[2].name: 'input.dev00' is listed twice",
         [](nlohmann::json& j) { j["ops"][2]["name"] = j["ops"][0]["name"]; });
  write_file_atomically_for_test(bad / "index.json", "{not json");
  CHECK_THROWS_WITH_AS(helix::io::read_dump_index(bad), doctest::Contains("index.json': not JSON"),
                       DumpError);
  // A malformed .npy among the actual files.
  const std::filesystem::path actual =
      actual_copy("helix_test_compare_malformed", {"layer00.fc1.dev00"});
  write_file_atomically_for_test(actual / file_of("layer00.fc1.dev00"), "garbage");
  CHECK_THROWS_WITH_AS(helix::io::compare_dump(seed_tp2_dump(), actual),
                       doctest::Contains("layer00_fc1.npy': not a .npy file"), DumpError);
  std::filesystem::remove_all(actual);
  std::filesystem::remove_all(bad);
}

TEST_CASE("measurements JSON: models and hardware are presets or files relative to the "
          "measurements file, and every key is read as written") {
  const std::filesystem::path folder = fresh_folder("helix_test_measurements_json");
  std::filesystem::create_directories(folder / "runs");
  write_model_json(folder / "tiny.json", "tiny", models::gptj_6b.with_layers(2));
  cost::Hardware mine = cost::hardware::h100_sxm_nvl8;
  mine.name = cost::HardwareName("my_h100");
  mine.compute_efficiency = 0.55;
  io::write_hardware_json(folder / "runs" / "my_h100.json", mine);
  std::ofstream(folder / "runs" / "measured.json") << R"({"description": "two runs",
    "measurements": [
      {"source": "a", "model": "../tiny.json", "hardware": "my_h100.json", "dtype": "fp8",
       "plan": "tp=2", "batch": 4, "input_tokens": 64, "output_tokens": 8, "metric": "tpot_s",
       "value": 0.002},
      {"source": "b", "model": "llama2_7b", "hardware": "a100_sxm4_80gb_nvl8", "dtype": "fp16",
       "kv_dtype": "fp8", "plan": "pp=2", "batch": 2, "input_tokens": 128, "output_tokens": 1,
       "microbatches": 2, "attention": "materialized", "metric": "ttft_s", "value": 0.02}]})";
  const std::vector<cost::Measurement> read =
      io::read_measurements_json(folder / "runs" / "measured.json");
  REQUIRE(read.size() == 2);
  const cost::Measurement& a = read[0];
  CHECK(a.source == "a");
  CHECK(a.model_name == "../tiny.json");
  CHECK(a.model == models::gptj_6b.with_layers(2));
  CHECK(a.hardware == mine);
  CHECK(a.dtype == DataType::fp8);
  CHECK(a.kv_dtype == DataType::fp8); // follows dtype, as --dtype does
  CHECK(to_string(a.plan) == "tp=2");
  CHECK(a.batch == 4);
  CHECK(a.input_tokens == 64);
  CHECK(a.output_tokens == 8);
  CHECK(a.microbatches == 1);
  CHECK(a.attention == AttentionKernel::flash);
  CHECK(a.metric == cost::Metric::tpot_s);
  CHECK(a.value == 0.002);
  const cost::Measurement& b = read[1];
  CHECK(b.model == *models::by_name("llama2_7b"));
  CHECK(b.hardware == cost::hardware::a100_sxm4_80gb_nvl8);
  CHECK(b.kv_dtype == DataType::fp8);
  CHECK(b.microbatches == 2);
  CHECK(b.attention == AttentionKernel::materialized);

  // The report as JSON: each row's measurement, prediction, measured value and error as a fraction.
  const cost::ValidationReport report = cost::validation_report(read);
  const nlohmann::json document = io::to_json(report);
  REQUIRE(document["rows"].size() == 2);
  for (std::size_t i = 0; i < 2; ++i) {
    const nlohmann::json& row = document["rows"][i];
    CHECK(row["predicted"] == report.rows[i].predicted);
    CHECK(row["measured"] == read[i].value);
    CHECK(row["error"].get<double>() ==
          doctest::Approx(report.rows[i].predicted / read[i].value - 1));
  }
  CHECK(document["rows"][0]["model"] == "../tiny.json");
  CHECK(document["rows"][0]["hardware"] == "my_h100");
  CHECK(document["rows"][1]["plan"] == "pp=2");
  CHECK(document["rows"][1]["metric"] == "ttft_s");
  CHECK(document["median_abs_error"] == report.median_abs_error);
  CHECK(document["max_abs_error"] == report.max_abs_error);
  std::filesystem::remove_all(folder);
}

TEST_CASE("measurements JSON: bad input names the file, the entry, the key and the value") {
  const nlohmann::json good = {
      {"source", "s"},       {"model", "gptj_6b"}, {"hardware", "h100_sxm_nvl8"},
      {"dtype", "fp8"},      {"plan", "tp=1"},     {"batch", 1},
      {"input_tokens", 128}, {"output_tokens", 1}, {"metric", "ttft_s"},
      {"value", 0.007}};
  const auto error_of = [&](const nlohmann::json& second) -> std::string {
    try {
      static_cast<void>(io::measurements_from_json(
          {{"measurements", nlohmann::json::array({good, second})}}, "."));
    } catch (const io::MeasurementsJsonError& e) {
      return e.what();
    }
    return "";
  };
  const auto with = [&](const char* key, const nlohmann::json& value) {
    nlohmann::json entry = good;
    entry[key] = value;
    return entry;
  };
  CHECK(error_of(good).empty());
  CHECK(error_of(with("speed", 1)).starts_with("entry 2 of 2: unknown key 'speed' = 1; known: "));
  nlohmann::json no_plan = good;
  no_plan.erase("plan");
  CHECK(error_of(no_plan) == "entry 2 of 2: missing required key 'plan'");
  CHECK(error_of(with("batch", 2.5)) ==
        "entry 2 of 2: key 'batch' = 2.5: expected a whole number from 1 to 10^15");
  CHECK(error_of(with("value", 0)) == "entry 2 of 2: key 'value' = 0: expected a number above 0");
  CHECK(error_of(with("metric", "tpot_s"))
            .starts_with("entry 2 of 2: key 'metric' = \"tpot_s\": tpot_s needs output_tokens"));
  CHECK(error_of(with("plan", "tp=3"))
            .starts_with("entry 2 of 2: key 'plan' = \"tp=3\": invalid for gptj_6b: helix: "
                         "heads vs tensor degree"));
  CHECK(
      error_of(with("hardware", "h100"))
          .starts_with(
              "entry 2 of 2: key 'hardware' = \"h100\": neither a preset (a100_sxm4_80gb_nvl8, "));
  CHECK(error_of(with("attention", "fast")) ==
        "entry 2 of 2: key 'attention' = \"fast\": expected \"flash\" or \"materialized\"");
  CHECK_THROWS_WITH_AS(io::measurements_from_json({{"measurements", nlohmann::json::array()}}, "."),
                       doctest::Contains("expected a list of at least one measurement"),
                       io::MeasurementsJsonError);
  CHECK_THROWS_WITH_AS(io::measurements_from_json({{"measured", nlohmann::json::array()}}, "."),
                       doctest::Contains("unknown key 'measured'"), io::MeasurementsJsonError);
  // A file's errors start with the file; a key given twice in an entry is refused, not resolved.
  const std::filesystem::path folder = fresh_folder("helix_test_measurements_errors");
  const std::filesystem::path twice = folder / "twice.json";
  std::ofstream(twice) << R"({"measurements": [)" << good.dump() << ", "
                       << good.dump().insert(1, R"("batch": 3, )") << "]}";
  CHECK_THROWS_WITH_AS(
      io::read_measurements_json(twice),
      ("measurements file '" + twice.string() + "': entry 2: key 'batch' given twice").c_str(),
      io::MeasurementsJsonError);
  CHECK_THROWS_WITH_AS(io::read_measurements_json(folder / "none.json"),
                       doctest::Contains("none.json': no such file"), io::MeasurementsJsonError);
  std::filesystem::remove_all(folder);
}

TEST_CASE("calibrated parameters: each one's name is the key of its field in a hardware file") {
  // Setting the field through the table changes exactly the value under that key of io::to_json,
  // so a report's names are what the fitted file holds.
  for (const cost::CalibratedParameter& p : cost::calibrated_parameters) {
    CAPTURE(p.name);
    cost::Hardware hw = cost::hardware::h100_sxm_nvl8;
    p.set(hw, 0.123);
    CHECK(p.value(hw) == 0.123);
    const nlohmann::json changed = io::to_json(hw);
    const nlohmann::json original = io::to_json(cost::hardware::h100_sxm_nvl8);
    const std::string pointer = "/" + [&] {
      std::string path(p.name);
      std::ranges::replace(path, '.', '/');
      return path;
    }();
    CHECK(changed.at(nlohmann::json::json_pointer(pointer)) == 0.123);
    nlohmann::json restored = changed;
    restored[nlohmann::json::json_pointer(pointer)] =
        original.at(nlohmann::json::json_pointer(pointer));
    CHECK(restored == original);
  }
}

namespace {

/// Six points of three families; the frontier, by hand: (1, 40), (4, 30), (16, 8), (64, 2);
/// (4, 10) and (16, 2) are beaten by (4, 30) and (16, 8).
std::vector<cost::FrontierPoint> six_points() {
  std::vector<cost::FrontierPoint> points;
  const std::vector<std::tuple<const char*, cost::PlanFamily, double, double>> rows{
      {"tp=8", cost::PlanFamily::tensor_only, 64, 2},
      {"pp=2,tp=4", cost::PlanFamily::pipeline_tensor, 16, 8},
      {"tp=4,dp=2", cost::PlanFamily::data_parallel, 4, 30},
      {"pp=2,tp=4 (4 microbatches)", cost::PlanFamily::pipeline_tensor, 4, 10},
      {"tp=8 & <friends>", cost::PlanFamily::tensor_only, 16, 2},
      {"pp=8", cost::PlanFamily::pipeline_tensor, 1, 40}};
  for (const auto& [plan, family, x, y] : rows) {
    cost::FrontierPoint p;
    p.entry = points.size();
    p.plan = plan;
    p.batch = 4;
    p.family = family;
    p.tokens_per_second_per_user = x;
    p.tokens_per_second_per_gpu = y;
    points.push_back(p);
  }
  for (std::size_t i : cost::pareto_frontier(points))
    points[i].on_frontier = true;
  return points;
}

/// Occurrences of `what` in `text`.
std::size_t count_of(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1))
    ++n;
  return n;
}

} // namespace

TEST_CASE("the frontier SVG has a circle and a hover title per point, a legend row per family, "
          "and a frontier line going down and right") {
  const std::vector<cost::FrontierPoint> points = six_points();
  const std::string svg = io::frontier_svg(points, "test & frontier");
  CHECK(count_of(svg, "<circle class=\"point\"") == points.size());
  CHECK(count_of(svg, "<title>") == points.size());
  for (const cost::PlanFamilyInfo& f : cost::plan_families)
    CHECK(svg.find(std::string(f.name) + " (") != std::string::npos);
  CHECK(svg.find("PP×TP (3)") != std::string::npos);
  CHECK(svg.find("Pareto frontier (4)") != std::string::npos);
  CHECK(svg.find("tokens/s per user") != std::string::npos);
  CHECK(svg.find("tokens/s per GPU") != std::string::npos);
  // Text is escaped: a plan name with & and < cannot break the document.
  CHECK(svg.find("tp=8 &amp; &lt;friends&gt;") != std::string::npos);
  CHECK(svg.find("test &amp; frontier") != std::string::npos);
  // The polyline's vertices: x (interactivity) increasing, y on screen increasing (throughput
  // falling), one per frontier point.
  const std::size_t at = svg.find("points=\"", svg.find("class=\"frontier\""));
  REQUIRE(at != std::string::npos);
  std::istringstream vertices(svg.substr(at + 8, svg.find('"', at + 8) - at - 8));
  std::vector<std::pair<double, double>> xy;
  double x = 0, y = 0;
  char comma = 0;
  while (vertices >> x >> comma >> y)
    xy.emplace_back(x, y);
  REQUIRE(xy.size() == 4);
  for (std::size_t i = 1; i < xy.size(); ++i) {
    CHECK(xy[i].first > xy[i - 1].first);
    CHECK(xy[i].second > xy[i - 1].second);
  }
}

TEST_CASE("an empty frontier SVG still has its axes and says why it is empty") {
  const std::string svg = io::frontier_svg({}, "nothing");
  CHECK(svg.find("no plan was costed") != std::string::npos);
  CHECK(svg.find("</svg>") != std::string::npos);
}

TEST_CASE("frontier.json lists every costed point with both rates, the frontier by index, and "
          "the rejections") {
  const Model model = testing::search_model;
  cost::SearchOptions o;
  o.batch_sizes = {1, 2};
  o.microbatches = {1, 2};
  const cost::SearchResult r =
      cost::search(model, Workload::decode(), cost::hardware::h100_sxm_nvl8, 4, o);
  const nlohmann::json j = io::frontier_json("tiny", model, Workload::decode(), 1,
                                             cost::hardware::h100_sxm_nvl8, r, o.batch_sizes);
  REQUIRE(j["points"].size() == r.entries.size());
  CHECK(j["points_enumerated"] == r.points);
  std::int64_t rejected = 0;
  for (const nlohmann::json& reason : j["rejected"])
    rejected += reason["points"].get<std::int64_t>();
  CHECK(rejected >= static_cast<std::int64_t>(r.rejected.size()));
  std::set<std::size_t> on;
  for (std::size_t i = 0; i < j["points"].size(); ++i) {
    const nlohmann::json& p = j["points"][i];
    // A decode step gives each sequence one token: per user 1 / step, per GPU batch / step / 4.
    const double step = p["step_s"].get<double>();
    CHECK(p["tokens_per_s_per_user"].get<double>() == doctest::Approx(1 / step));
    CHECK(p["tokens_per_s_per_gpu"].get<double>() ==
          doctest::Approx(p["batch"].get<double>() / step / 4));
    if (p["on_frontier"].get<bool>())
      on.insert(i);
  }
  std::set<std::size_t> listed;
  double last_user = 0;
  for (const nlohmann::json& i : j["frontier"]) {
    listed.insert(i.get<std::size_t>());
    const double user = j["points"][i.get<std::size_t>()]["tokens_per_s_per_user"];
    CHECK(user > last_user);
    last_user = user;
  }
  CHECK(on == listed);
  CHECK_FALSE(listed.empty());
}
