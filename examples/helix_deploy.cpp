// The main job: takes a model and partition plans, builds and checks each plan's operator DAG,
// writes its views as Graphviz DOT (and SVG when Graphviz is installed), and summarizes it.
// With no options it shows the seed's optimized plan against its two-level-attention baseline.
// main runs named steps: parse options → read the inputs and plans → prove the paths writable →
// build and draw the plans → verify numerics → cost (each plan simulated once, plus a few decode
// steps for a generation) → write. --validate and --calibrate run instead (validate_command.hpp):
// predictions against measured runs, and efficiencies fitted to them.
#include <helix/helix.hpp>
#include <helix/io.hpp>
#include <helix/io/expected_dump.hpp>
#include <helix/io/hardware_json.hpp>
#include <helix/io/json.hpp>
#include <helix/io/model_json.hpp>

#include <CLI/CLI.hpp>

#include "command_line.hpp"
#include "search_command.hpp"
#include "validate_command.hpp"
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <iostream>
#include <iterator>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

namespace {

/// How one plan's files are called: `<prefix>_<view><suffix>.dot`. The seed's two plans keep the
/// names of the seed document; any other plan is named after its text.
struct FileNames {
  std::string prefix;
  std::string complete;
  std::string attention_suffix;
  std::string mlp_suffix;

  std::string model_view() const { return prefix + "_" + complete + ".dot"; }
  std::string attention_view(std::int64_t layer) const {
    return prefix + "_mha_layer_" + std::to_string(layer) + attention_suffix + ".dot";
  }
  std::string mlp_view(std::int64_t layer) const {
    return prefix + "_mlp_layer_" + std::to_string(layer) + mlp_suffix + ".dot";
  }
  std::string communication_view() const { return prefix + "_communication_patterns.dot"; }
};

/// Whether `plan` on `model` is one of the seed document's two deployments: its optimized plan
/// or its two-level-attention baseline, on the seed's model as the document sizes it.
bool is_seed_plan(const helix::Model& model, const helix::PlanSpec& plan) {
  const std::string text = helix::to_string(plan);
  // The number formats change no view and no claim's subject: the seed in fp8 is the seed.
  const helix::Model seed = helix::models::helix_seed;
  const bool is_seed = model.with_dtype(seed.dtype).with_kv_dtype(seed.kv_dtype) == seed;
  return is_seed && (text == "pp=2,tg=4x4" || text == "hp=4x4");
}

FileNames file_names(const helix::Model& model, const helix::PlanSpec& plan) {
  const std::string text = helix::to_string(plan);
  if (is_seed_plan(model, plan) && text == "pp=2,tg=4x4")
    return {"optimized", "complete_helix_model", "_pipeline_parallel", "_grouped_tensor_parallel"};
  if (is_seed_plan(model, plan) && text == "hp=4x4")
    return {"baseline", "complete_helix_model", "_two_level_partition", "_tensor_parallel"};
  return {helix::io::plan_file_part(plan), "complete_model", "", ""};
}

/// Which pictures are drawn: none; the whole-model and communication views (`summary`); those and
/// the MHA and MLP views of the detailed layers (`all`). The timeline SVG is drawn unless `none`.
enum class Views : std::uint8_t { none, summary, all };

/// Up to this many layers the views default to `all` (the seed's 2 layers: its twelve files);
/// above it to `summary`, so a deep model does not spend its run in dot (the per-layer views of
/// an 80-layer model are 160 files of one repeated layer).
constexpr std::int64_t max_layers_drawn_by_default = 4;

/// The layers drawn in detail: all of them for small models, else the first and the last.
std::vector<std::int64_t> detailed_layers(const helix::Model& model) {
  if (model.layers <= 8) {
    std::vector<std::int64_t> all;
    for (std::int64_t l = 0; l < model.layers; ++l)
      all.push_back(l);
    return all;
  }
  return {0, model.layers - 1};
}

struct Written {
  std::size_t dot = 0;
  std::size_t svg = 0;
  std::size_t replaced = 0; ///< files that were already there (an earlier run's), now replaced
  /// Views whose DOT text equals the file already there, whose SVG is there too: left as they are.
  std::size_t unchanged = 0;
  /// DOT files written whose SVG is still to render (start_rendering draws them, in parallel).
  std::vector<helix::io::SvgRendering> pending;
};

/// The contents of `file`, or nothing when it cannot be read.
std::optional<std::string> file_text(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in)
    return std::nullopt;
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

/// SVGs being drawn by `dot` processes while the run goes on (numerics, cost): the layouts are
/// most of a run's time with views, and the rest of the run does not need them.
struct Rendering {
  std::vector<std::future<void>> batches;
  /// Waits for every batch to finish; rethrows the first failure.
  void wait() {
    for (std::future<void>& batch : batches)
      batch.get();
    batches.clear();
  }
};

/// Starts drawing `pending` with one `dot` process per core (each is single-threaded), each
/// rendering a batch of files (io::render_svgs: a process start costs as much as a small layout).
/// The files go largest first to the batch with the fewest bytes of DOT so far: a layout's time
/// grows with its file.
Rendering start_rendering(const std::filesystem::path& dot_program,
                          std::vector<helix::io::SvgRendering> pending) {
  const auto bytes = [](const helix::io::SvgRendering& r) {
    std::error_code error;
    const std::uintmax_t size = std::filesystem::file_size(r.dot_file, error);
    return error ? std::uintmax_t{0} : size;
  };
  std::ranges::sort(pending, std::greater<>{}, bytes);
  const std::size_t workers =
      std::min<std::size_t>(std::max(1u, std::thread::hardware_concurrency()), pending.size());
  std::vector<std::vector<helix::io::SvgRendering>> batches(workers);
  std::vector<std::uintmax_t> load(workers, 0);
  for (helix::io::SvgRendering& r : pending) {
    const std::size_t lightest =
        static_cast<std::size_t>(std::ranges::min_element(load) - load.begin());
    load[lightest] += bytes(r);
    batches[lightest].push_back(std::move(r));
  }
  Rendering rendering;
  for (std::vector<helix::io::SvgRendering>& batch : batches)
    rendering.batches.push_back(
        std::async(std::launch::async, [dot_program, batch = std::move(batch)] {
          helix::io::render_svgs(dot_program, batch);
        }));
  return rendering;
}

/// Past this many nodes plus edges, dot's layout takes minutes (measured: a 96-layer
/// communication view of 3,500 nodes and edges ran over two minutes; 2,700 took 0.9 s).
constexpr std::size_t max_rendered_elements = 3000;

/// Writes one view as DOT, and as SVG beside it when Graphviz is there and the view is small
/// enough for dot to lay out.
void write_view(const std::filesystem::path& folder, const std::string& name,
                const helix::View& view, const std::optional<std::filesystem::path>& dot_program,
                Written& written) {
  const std::filesystem::path file = folder / name;
  std::filesystem::path svg = file;
  svg.replace_extension(".svg");
  std::error_code error;
  const std::size_t elements = boost::num_vertices(view.graph) + boost::num_edges(view.graph);
  const bool rendered = dot_program && elements <= max_rendered_elements;
  const std::string text = helix::io::dot_text(view);
  // A rerun into the same folder redraws only what changed: dot is most of a run's time.
  if (file_text(file) == text && (!rendered || std::filesystem::exists(svg, error))) {
    ++written.unchanged;
    ++written.dot;
    written.svg += rendered ? 1 : 0;
    return;
  }
  written.replaced += std::filesystem::exists(file, error) ? 1 : 0;
  helix::io::write_file_atomically(file, text);
  ++written.dot;
  if (dot_program && elements > max_rendered_elements) {
    std::filesystem::path stale = file;
    stale.replace_extension(".svg");
    std::error_code ignored;
    if (std::filesystem::remove(stale, ignored)) // an earlier run's picture of another graph
      ++written.replaced;
    std::cout << "  no SVG for " << name << ": " << elements
              << " nodes and edges is more than dot lays out quickly (" << max_rendered_elements
              << "); run dot -Tsvg on it if you need one\n";
  } else if (rendered) {
    written.replaced += std::filesystem::exists(svg, error) ? 1 : 0;
    written.pending.push_back({file, svg});
    ++written.svg;
  }
}

/// Communication vertices of a Dag by kind, the phases of the collectives that sum, and the
/// logical all-reduces (replica, microbatch, logical id) they carry out.
struct CommunicationCounts {
  std::map<helix::OpKind, std::size_t> kinds;
  std::map<helix::CollectivePhase, std::size_t> phases;
  std::set<std::tuple<std::int64_t, std::int64_t, std::int64_t>> logical;
  /// Those inside the layers (the rest sum the embedding's lookups).
  std::set<std::tuple<std::int64_t, std::int64_t, std::int64_t>> logical_in_layers;
  /// Transfers that carry a slice of hidden, and the all-gathers that rebuild it (scatter-gather).
  std::size_t sliced_transfers = 0, pipeline_gathers = 0;
};

CommunicationCounts count_communication(const helix::Dag& dag) {
  CommunicationCounts counts;
  for (helix::Vertex v : boost::make_iterator_range(boost::vertices(dag))) {
    const helix::Op& op = dag[v];
    if (!helix::is_communication(op.kind()))
      continue;
    ++counts.kinds[op.kind()];
    if (const helix::step::Transfer* t = helix::transfer_of(op))
      counts.sliced_transfers +=
          t->columns.total() < boost::get_property(dag, boost::graph_bundle).model.hidden ? 1 : 0;
    if (const helix::step::Collective* c = helix::collective_of(op)) {
      if (c->purpose == helix::CollectivePurpose::pipeline_activation)
        ++counts.pipeline_gathers;
      if (helix::sums_partial_results(c->purpose))
        ++counts.phases[c->phase];
      // The all-gathers of the logits and of a pipeline send's slices sum nothing: not logical
      // all-reduces.
      if (helix::sums_partial_results(c->purpose))
        counts.logical.insert({op.replica, op.microbatch, c->logical});
      if (helix::sums_partial_results(c->purpose) && op.layer >= 0)
        counts.logical_in_layers.insert({op.replica, op.microbatch, c->logical});
    }
  }
  return counts;
}

/// The collectives by kind, the transfers, and the logical all-reduces with their phases.
void print_communication(const helix::Dag& dag) {
  const helix::DagInfo& info = boost::get_property(dag, boost::graph_bundle);
  CommunicationCounts counts = count_communication(dag);
  std::size_t collectives = 0;
  std::cout << "  collectives:";
  for (const auto& [kind, n] : counts.kinds)
    if (helix::is_collective(kind)) {
      std::cout << (collectives ? ", " : " ") << helix::op_kind_name(kind) << ' ' << n;
      collectives += n;
    }
  std::cout << (collectives ? "" : " none") << " (" << collectives << " vertices); transfers "
            << counts.kinds[helix::OpKind::transfer];
  if (counts.sliced_transfers > 0)
    std::cout << " (scatter-gather: each 1/" << helix::tensor_degree(info.plan)
              << " of hidden, gathered by " << counts.pipeline_gathers << " all-gather"
              << (counts.pipeline_gathers == 1 ? "" : "s") << ")";
  std::cout << '\n';
  if (counts.phases.empty())
    return;
  const std::int64_t forwards =
      info.plan.data_parallel * info.workload.microbatches * info.model.layers;
  const std::int64_t logical = static_cast<std::int64_t>(counts.logical.size());
  const std::int64_t in_layers = static_cast<std::int64_t>(counts.logical_in_layers.size());
  std::cout << "  logical all-reduces: " << logical;
  if (in_layers % forwards == 0) {
    std::cout << " (" << in_layers / forwards << " per layer, per replica and microbatch";
    if (logical > in_layers)
      std::cout << ", and " << (logical - in_layers) / (forwards / info.model.layers)
                << " of the embedding per replica and microbatch";
    std::cout << ")";
  }
  std::cout << ", as phases:";
  const char* separator = " ";
  for (const auto& [phase, n] : counts.phases) {
    std::cout << separator << helix::collective_phase_name(phase) << ' ' << n;
    separator = ", ";
  }
  std::cout << '\n';
}

/// What check() says: a line on stdout, and each problem on stderr. Whether it found none.
bool print_checks(const helix::Dag& dag) {
  const std::vector<helix::Diagnostic> problems = helix::check(dag);
  if (problems.empty()) {
    std::cout << "  checks passed: all\n";
  } else {
    std::cout << "  checks FAILED: " << problems.size() << " problem(s), listed on stderr\n";
    for (const helix::Diagnostic& d : problems)
      std::cerr << d.message << '\n';
  }
  return problems.empty();
}

/// World size, graph size, communication, what check() says and the files written. Whether
/// the checks passed.
bool print_summary(const std::string& name, const helix::Dag& dag, std::string_view model_name,
                   const Written& written, const std::filesystem::path& folder, Views views) {
  const helix::DagInfo& info = boost::get_property(dag, boost::graph_bundle);
  std::cout << name << ": " << model_name << ", plan " << helix::to_string(info.plan) << ", "
            << helix::phase_name(info.workload.phase) << ", " << info.workload.microbatches
            << " microbatch" << (info.workload.microbatches == 1 ? "" : "es") << '\n';
  std::cout << "  world size " << info.mesh.size() << " GPUs; DAG " << boost::num_vertices(dag)
            << " vertices, " << boost::num_edges(dag) << " edges\n";
  print_communication(dag);
  const bool sound = print_checks(dag);
  if (views == Views::none) {
    std::cout << "  no views written (--views none)\n";
    return sound;
  }
  std::cout << "  wrote " << written.dot << " DOT and " << written.svg << " SVG files to "
            << folder.string();
  if (written.replaced > 0)
    std::cout << ", replacing " << written.replaced << " file" << (written.replaced == 1 ? "" : "s")
              << " of the same name";
  if (written.unchanged > 0)
    std::cout << "; " << written.unchanged << " view"
              << (written.unchanged == 1 ? " was" : "s were")
              << " already there, unchanged, and not drawn again";
  std::cout << '\n';
  return sound;
}

/// Removes `folders` (made by this run, deepest last) while they are empty: nothing of anyone
/// else's goes.
void remove_folders(const std::vector<std::filesystem::path>& folders) {
  std::error_code ignored;
  for (auto it = folders.rbegin(); it != folders.rend(); ++it)
    std::filesystem::remove(*it, ignored);
}

using helix::examples::unwritable_file;
using helix::examples::unwritable_folder;

/// Whether two plans partition `model` the same way, whatever their spelling (`tp=4`, `tg=1x4`,
/// `hp=4x1` and `pp=1,tp=4` are one scheme): the same mesh and the same layers on every stage.
bool same_partition(const helix::Model& model, const helix::PlanSpec& a, const helix::PlanSpec& b) {
  if (!(helix::make_mesh(a) == helix::make_mesh(b)) || a.pipeline_stages != b.pipeline_stages)
    return false;
  for (std::int64_t stage = 0; stage < a.pipeline_stages; ++stage)
    if (helix::layers_in_stage(model, a, stage) != helix::layers_in_stage(model, b, stage))
      return false;
  return true;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string text;
  for (const std::string& line : lines)
    text += (text.empty() ? "" : "; ") + line;
  return text;
}

// The steps, and what they share.

/// The command line as given.
struct Options {
  std::string model_name = "helix_seed";
  std::string model_file; ///< empty: the preset --model names
  std::vector<std::string> plans{"pp=2,tg=4x4", "hp=4x4"};
  std::string phase = "prefill";
  std::string microbatches_text = "1";
  std::string batch_text;        ///< empty: the model's
  std::string input_tokens_text; ///< empty: the model's seq_len
  std::string out = "helix_out";
  std::string hardware_name = "h100_sxm_nvl8";
  std::string hardware_file;  ///< empty: the --hardware preset
  std::string dtype_text;     ///< empty: the model's
  std::string kv_dtype_text;  ///< empty: --dtype when given, else the model's
  std::string attention_text; ///< empty: flash, or materialized for helix_seed
  std::string pipeline_send_text = "scatter_gather";
  std::string kv_placement_text = "contiguous";
  std::string baseline_text;
  bool verify = true;
  std::string npy_folder;
  std::string expected_folder; ///< --dump-expected: empty for none
  std::string dump_model_text = "shrunk";
  std::string dump_limit_text = "1000"; ///< MB
  std::string json_file;
  bool overlap = false;
  std::string collectives_text = "nccl";
  std::string output_tokens_text = "1";
  std::string views_text; ///< empty: all up to max_layers_drawn_by_default layers, else summary
  std::string objective_text = "tokens_per_s_per_gpu";
  /// --validate, --calibrate and --hardware-out: the measurement commands (validate_command.hpp)
  /// instead of a plan run.
  std::string validate_file;
  std::string calibrate_file;
  std::string hardware_out;
  std::vector<std::string> fit; ///< --fit: empty for every calibrated parameter
  /// --search, --frontier, --batch-sizes and --search-memory (search_command.hpp).
  helix::examples::SearchCommand search;
};

/// Bad input: helix_deploy says what on one line of stderr and exits 2.
struct BadInput : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// What the steps after the command line share: the options, and what was read from them.
struct Context {
  Options options;
  /// The preset's name, or the model file's `name`: the run's title.
  std::string model_name;
  helix::Model model;
  helix::Workload workload;
  /// A preset or what --hardware-file describes (a value: it owns its name).
  helix::cost::Hardware hardware;
  std::vector<helix::PlanSpec> plans;
  /// Index in `plans` of the plan the claims are judged against; past the end when no claim is
  /// judged (no seed plan among them and no --baseline): a plain comparison.
  std::size_t baseline = 0;
  std::optional<std::filesystem::path> dot_program;
  /// Tokens generated per sequence: 1 costs the prefill alone, more adds the decode steps.
  std::int64_t output_tokens = 1;
  Views views = Views::all;
  /// The model --dump-expected runs: the shrunk verification model, or the model as given.
  helix::Model dump_model;
  helix::cost::Objective objective = helix::cost::Objective::tokens_per_s_per_gpu;
};

/// Step 1: the command line. Returns the exit code when the run ends here (--help, bad syntax).
std::optional<int> parse_options(int argc, char** argv, Options& o) {
  CLI::App app{"helix_deploy: build, check and draw transformer partition schemes"};
  // Defaults are said in words: CLI11 would print the plan list as one bracketed value.
  CLI::Option* preset =
      app.add_option("--model", o.model_name,
                     "model preset, one of " + helix::models::names() + " (default: helix_seed)")
          ->option_text("NAME");
  app.add_option("--model-file", o.model_file,
                 "read the model from this JSON file instead of a preset (keys in the README, "
                 "\"Model files\"); not with --model (default: none)")
      ->option_text("PATH")
      ->excludes(preset);
  app.add_option("--plan", o.plans,
                 "a partition plan as text, e.g. pp=2,tg=4x4; give it once per plan to compare "
                 "(default: the seed's two plans, pp=2,tg=4x4 and hp=4x4)")
      ->option_text("PLAN ...");
  app.add_option("--out", o.out, "folder for the DOT (and SVG) files (default: helix_out)")
      ->option_text("DIR");
  app.add_option("--workload", o.phase,
                 "prefill (every token of the sequence) or decode (one new token against the "
                 "KV cache) (default: prefill)")
      ->check(CLI::IsMember({"prefill", "decode"}))
      ->option_text("PHASE");
  // Whether the count suits the model and plan (at least 1, divides the batch) is validate's.
  app.add_option("--microbatches", o.microbatches_text,
                 "pipeline microbatches per data-parallel replica: a whole number from 1 that "
                 "divides the model's batch / data parallel (default: 1)")
      ->option_text("N");
  app.add_option("--batch", o.batch_text,
                 "sequences in the batch (default: the model's; 1 for every preset but "
                 "helix_seed's 1024)")
      ->option_text("N");
  app.add_option("--input-tokens,--seq", o.input_tokens_text,
                 "prompt length in tokens: prefill runs them all, decode attends to them as its "
                 "KV cache (default: the model's seq_len)")
      ->option_text("N");
  CLI::Option* hardware =
      app.add_option("--hardware", o.hardware_name,
                     "hardware preset, one of " + helix::cost::hardware::names() +
                         "; not with --hardware-file (default: h100_sxm_nvl8)")
          ->option_text("NAME");
  app.add_option("--hardware-file", o.hardware_file,
                 "a JSON file describing the hardware with every field a preset has (README, "
                 "\"Hardware files\"); not with --hardware (default: none, the --hardware preset)")
      ->option_text("PATH")
      ->excludes(hardware);
  app.add_option("--dtype", o.dtype_text,
                 "number format of weights, activations and KV cache: fp32, bf16, fp16, fp8 or "
                 "fp4; it changes cost and memory only, numerics run in double and float "
                 "(default: the model's own, fp16 for helix_seed)")
      ->option_text("FORMAT");
  app.add_option("--kv-dtype", o.kv_dtype_text,
                 "number format of the KV cache alone, the same choices (default: --dtype when "
                 "given, else the model's)")
      ->option_text("FORMAT");
  app.add_option("--attention", o.attention_text,
                 "attention kernel for cost and memory: flash (FlashAttention: no score matrix in "
                 "memory, a causal prefill computes the lower triangle only) or materialized "
                 "(scores and probabilities written as the DAG draws them) (default: flash, but "
                 "materialized for helix_seed, whose material describes explicit score tensors)")
      ->option_text("KERNEL");
  app.add_option("--kv-placement", o.kv_placement_text,
                 "how KV-parallel decode (kvp=) deals the KV cache to its shards: contiguous "
                 "(blocks; new tokens on the last shard) or interleaved:N (N-token chunks round "
                 "robin, NVIDIA Helix's 16) (default: contiguous)")
      ->option_text("HOW");
  app.add_option("--pipeline-send", o.pipeline_send_text,
                 "how activations cross pipeline stages: scatter_gather (Megatron-LM: each tensor "
                 "device sends 1/t of hidden to its peer, the next stage all-gathers the slices) "
                 "or full (each device sends the whole activation, t copies across the "
                 "boundary) (default: scatter_gather)")
      ->option_text("HOW");
  app.add_option("--baseline", o.baseline_text,
                 "the plan the seed's claims are judged against, one of the --plan (default: "
                 "when a seed plan is compared, hp=4x4 if given, else the first; otherwise no "
                 "claim is judged and the table is ranked by --objective)")
      ->option_text("PLAN");
  app.add_flag("--verify,!--no-verify", o.verify,
               "verify numerics on a shrunk model (default: on; --no-verify skips it)");
  app.add_option("--dump-npy", o.npy_folder,
                 "write x, the weights and every plan's output as .npy to this folder, made if "
                 "missing (default: none)")
      ->option_text("DIR");
  app.add_option("--dump-expected", o.expected_folder,
                 "helix as an oracle: write every op's expected tensor on every device, the "
                 "weight slices each device holds, the input and index.json to this folder, made "
                 "if missing, for one --plan (README, \"helix as an oracle\"; compare with "
                 "helix_compare) (default: none)")
      ->option_text("DIR");
  app.add_option("--dump-model", o.dump_model_text,
                 "the model --dump-expected runs: shrunk (the verification model: small sizes "
                 "with the plan's divisibilities; --batch and --input-tokens do not apply) or full "
                 "(the model as --model or --model-file, "
                 "--batch and --input-tokens give it, within --dump-limit) (default: shrunk)")
      ->check(CLI::IsMember({"shrunk", "full"}))
      ->option_text("WHICH");
  app.add_option("--dump-limit", o.dump_limit_text,
                 "the most megabytes (10^6 bytes) --dump-expected may write; a larger dump is "
                 "refused before anything runs (default: 1000)")
      ->option_text("MB");
  app.add_option("--json", o.json_file,
                 "write the comparison (with --validate the report, with --calibrate the fit) "
                 "as JSON to this file; its folder must exist (default: none)")
      ->option_text("FILE");
  app.add_flag("--overlap", o.overlap,
               "let communication run beside compute in the timeline, on streams of its own "
               "with no contention (an upper bound on overlap); off, each device does one thing "
               "at a time, as TensorRT-LLM and Megatron-LM inference do (default: off)");
  app.add_option("--collectives", o.collectives_text,
                 "how collectives are costed: nccl (NCCL's ring, tree and NVLS algorithms and "
                 "LL, LL128 and Simple protocols, the cheapest per call; across nodes every NIC "
                 "of the node) or ring (one flat ring on the slowest link, helix's earlier "
                 "model, for comparison) (default: nccl)")
      ->check(CLI::IsMember({"nccl", "ring"}))
      ->option_text("MODEL");
  app.add_option(
         "--output-tokens", o.output_tokens_text,
         "tokens generated per sequence: the prefill of the prompt yields the first, one "
         "decode step each further one; above 1 the cost reports TTFT, TPOT, e2e and output "
         "tokens/s (and per GPU); with --workload decode every token is a decode step from a "
         "KV cache already in place (a disaggregated decode server, NVIDIA Helix): TPOT, e2e "
         "and tokens/s, no TTFT (default: 1, the prefill or decode step alone)")
      ->option_text("N");
  app.add_option("--views", o.views_text,
                 "pictures to write to --out: none (nothing, not even the timeline; --out is not "
                 "made), summary (whole model, communication, timeline) or all (also each detailed "
                 "layer's MHA and MLP) (default: all up to " +
                     std::to_string(max_layers_drawn_by_default) + " layers, summary above)")
      ->check(CLI::IsMember({"none", "summary", "all"}))
      ->option_text("WHICH");
  app.add_option("--objective", o.objective_text,
                 "what a comparison without the seed's claims is ranked by: tokens_per_s_per_gpu "
                 "(output tokens for a generation), or ttft, tpot or e2e (lowest first; tpot needs "
                 "--output-tokens above 1) (default: tokens_per_s_per_gpu)")
      ->check(CLI::IsMember({"tokens_per_s_per_gpu", "ttft", "tpot", "e2e"}))
      ->option_text("WHAT");
  CLI::Option* validate =
      app.add_option("--validate", o.validate_file,
                     "instead of a plan run: predict every measurement in this JSON file "
                     "(README, \"Validation against measurements\") as this program costs a "
                     "generation, and print each error and their median and worst; --json writes "
                     "the report; --hardware-file puts a hardware file in place of the preset of "
                     "its name (default: none)")
          ->option_text("FILE");
  CLI::Option* calibrate =
      app.add_option("--calibrate", o.calibrate_file,
                     "instead of a plan run: fit the efficiencies of --hardware (or "
                     "--hardware-file) to the measurements in this JSON file taken on hardware of "
                     "its name, print the errors before and after, and write the fitted hardware "
                     "to --hardware-out (default: none)")
          ->option_text("FILE")
          ->excludes(validate);
  app.add_option("--fit", o.fit,
                 "with --calibrate: the parameters to fit, comma separated (names as in the "
                 "hardware file: compute_efficiency, memory_efficiency, ...; see README) "
                 "(default: all)")
      ->option_text("NAMES")
      ->delimiter(',')
      ->needs(calibrate);
  app.add_option("--hardware-out", o.hardware_out,
                 "with --calibrate: write the fitted hardware to this file (its folder must "
                 "exist), which --hardware-file reads; it keeps the hardware's name (default: "
                 "none, nothing written)")
      ->option_text("FILE")
      ->needs(calibrate);
  // The measurements file names its models, plans, sizes and formats: a plan run's options have
  // nothing to say there.
  for (const char* name :
       {"--model",        "--model-file",   "--plan",          "--out",      "--workload",
        "--microbatches", "--batch",        "--input-tokens",  "--dtype",    "--kv-dtype",
        "--attention",    "--kv-placement", "--baseline",      "--dump-npy", "--dump-expected",
        "--dump-model",   "--dump-limit",   "--output-tokens", "--views",    "--objective"}) {
    validate->excludes(app.get_option(name));
    calibrate->excludes(app.get_option(name));
  }
  validate->excludes(hardware);
  CLI::Option* search =
      app.add_option("--search", o.search.search_text,
                     "instead of the given plans: every plan of N GPUs (pipeline stages, data "
                     "parallel, KV parallel for decode, flat tensor parallel, tensor groups, head "
                     "partitions; microbatches 1, 2, 4, 8 for pipelines) validated, costed and "
                     "ranked by --objective; prints the best ten, the rejections per reason and "
                     "where each --plan ranks, verifies the best three and draws the best as a "
                     "run with --plan does (README, \"Plan search\") (default: none)")
          ->option_text("N");
  CLI::Option* frontier =
      app.add_option("--frontier", o.search.frontier_text,
                     "for a decode step or a generation: every (plan, batch) point of N GPUs over "
                     "--batch-sizes, written to --out as frontier.svg (tokens/s per GPU against "
                     "tokens/s per user, the Pareto frontier drawn) and frontier.json "
                     "(default: none)")
          ->option_text("N")
          ->excludes(search);
  app.add_option("--batch-sizes", o.search.batch_sizes,
                 "with --frontier: the batch sizes each plan is costed at, comma separated "
                 "(default: none; required by --frontier)")
      ->option_text("LIST")
      ->delimiter(',')
      ->needs(frontier);
  app.add_option("--search-memory", o.search.memory_text,
                 "with --search or --frontier: require (drop plans that do not fit in a GPU's "
                 "memory, counted as a rejection) or ignore (rank them too) (default: require, "
                 "but ignore for helix_seed, whose batch no plan holds)")
      ->option_text("HOW");
  for (CLI::Option* command : {search, frontier})
    for (const char* name :
         {"--dump-npy", "--dump-expected", "--json", "--baseline", "--validate", "--calibrate"})
      command->excludes(app.get_option(name));
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "helix_deploy: " << e.what() << " (see --help)\n";
    return 2;
  }
  if (!o.search.memory_text.empty() && !o.search.requested()) {
    std::cerr << "helix_deploy: --search-memory needs --search or --frontier (see --help)\n";
    return 2;
  }
  // A search marks the --plan given; on the seed, with none given, the seed's own two (of 16 GPUs).
  const std::string& searched = o.search.frontier() ? o.search.frontier_text : o.search.search_text;
  if (o.search.requested() && app.count("--plan") == 0 &&
      (!o.model_file.empty() || o.model_name != "helix_seed" || searched != "16"))
    o.plans.clear();
  return std::nullopt;
}

/// Step 2: model, workload and hardware by name. @throws BadInput
Context read_inputs(const Options& o) {
  std::optional<helix::Model> model;
  std::string model_name = o.model_name;
  if (!o.model_file.empty()) {
    try {
      helix::ModelDefinition definition = helix::read_model_json(o.model_file);
      model = definition.model;
      model_name = std::move(definition.name);
    } catch (const helix::ModelJsonError& e) {
      // "model file 'PATH': why" said as the other options say theirs: "--model-file 'PATH': why".
      const std::string what = e.what();
      const std::string_view file_prefix = "model file ";
      throw BadInput("--model-file " + (what.starts_with(file_prefix)
                                            ? what.substr(file_prefix.size())
                                            : "'" + o.model_file + "': " + what));
    }
  } else {
    model = helix::models::by_name(o.model_name);
    if (!model)
      throw BadInput("unknown --model '" + o.model_name + "'; known: " + helix::models::names());
  }
  // Read as text: CLI11 would clamp 99999999999999999999 to 2^63 - 1 and show that instead.
  const std::optional<std::int64_t> microbatches =
      helix::examples::parse_count(o.microbatches_text);
  if (!microbatches)
    throw BadInput("--microbatches '" + o.microbatches_text +
                   "' is not a whole number from 0 to 10^15");
  helix::cost::Hardware hardware;
  if (!o.hardware_file.empty()) {
    try {
      hardware = helix::io::read_hardware_json(o.hardware_file);
    } catch (const helix::io::HardwareJsonError& e) {
      throw BadInput(std::string("--hardware-file: ") + e.what());
    }
  } else if (const helix::cost::Hardware* preset =
                 helix::cost::hardware::by_name(o.hardware_name)) {
    hardware = *preset;
  } else {
    throw BadInput("unknown --hardware '" + o.hardware_name +
                   "'; known: " + helix::cost::hardware::names());
  }
  const auto data_type = [](const std::string& text, std::string_view option,
                            helix::DataType otherwise) {
    if (text.empty())
      return otherwise;
    if (const std::optional<helix::DataType> type = helix::data_type_by_name(text))
      return *type;
    throw BadInput("unknown " + std::string(option) + " '" + text +
                   "'; known: fp32, bf16, fp16, fp8, fp4");
  };
  const helix::DataType dtype = data_type(o.dtype_text, "--dtype", model->dtype);
  const helix::DataType kv_dtype =
      data_type(o.kv_dtype_text, "--kv-dtype", o.dtype_text.empty() ? model->kv_dtype : dtype);
  // The seed's material draws explicit score tensors: its comparison keeps them unless asked.
  helix::AttentionKernel attention = o.model_file.empty() && o.model_name == "helix_seed"
                                         ? helix::AttentionKernel::materialized
                                         : helix::AttentionKernel::flash;
  if (o.attention_text == "flash" || o.attention_text == "materialized")
    attention = o.attention_text == "flash" ? helix::AttentionKernel::flash
                                            : helix::AttentionKernel::materialized;
  else if (!o.attention_text.empty())
    throw BadInput("unknown --attention '" + o.attention_text + "'; known: flash, materialized");
  helix::PipelineSend pipeline_send = helix::PipelineSend::scatter_gather;
  if (o.pipeline_send_text == "full")
    pipeline_send = helix::PipelineSend::full;
  else if (o.pipeline_send_text != "scatter_gather")
    throw BadInput("unknown --pipeline-send '" + o.pipeline_send_text +
                   "'; known: scatter_gather, full");
  const auto parse_kv_placement = [](const std::string& text) {
    if (const std::optional<helix::KVPlacement> placement = helix::kv_placement_named(text))
      return *placement;
    throw BadInput("unknown --kv-placement '" + text +
                   "'; known: contiguous, interleaved:N (N tokens per chunk, 1 to 10^9)");
  };
  // Sizes are read as text like --microbatches; whether they suit the plan is validate's.
  const auto size = [](const std::string& text, std::string_view option,
                       std::int64_t otherwise) -> std::int64_t {
    if (text.empty())
      return otherwise;
    const std::optional<std::int64_t> value = helix::examples::parse_count(text);
    if (!value)
      throw BadInput(std::string(option) + " '" + text + "' is not a whole number from 0 to 10^15");
    return *value;
  };
  Context c;
  c.options = o;
  c.model_name = std::move(model_name);
  c.model = model->with_batch(size(o.batch_text, "--batch", model->batch))
                .with_seq_len(size(o.input_tokens_text, "--input-tokens", model->seq_len))
                .with_dtype(dtype)
                .with_kv_dtype(kv_dtype);
  c.workload = {o.phase == "decode" ? helix::Phase::decode : helix::Phase::prefill, *microbatches,
                attention, pipeline_send, parse_kv_placement(o.kv_placement_text)};
  c.hardware = hardware;
  const std::optional<std::int64_t> output_tokens =
      helix::examples::parse_count(o.output_tokens_text);
  if (!output_tokens || *output_tokens < 1)
    throw BadInput("--output-tokens '" + o.output_tokens_text +
                   "' is not a whole number from 1 to 10^15 (the prefill yields the first token)");
  c.output_tokens = *output_tokens;
  c.objective = *helix::cost::objective_by_name(o.objective_text);
  if (c.objective == helix::cost::Objective::ttft && c.workload.phase == helix::Phase::decode)
    throw BadInput("--objective ttft needs --workload prefill: decode starts from a KV cache in "
                   "place and has no time to first token");
  if (c.objective == helix::cost::Objective::e2e && c.output_tokens == 1 &&
      c.workload.phase == helix::Phase::decode)
    throw BadInput("--objective e2e needs --output-tokens above 1 with --workload decode: a "
                   "decode step alone is no generation");
  if (c.objective == helix::cost::Objective::tpot && c.output_tokens == 1)
    throw BadInput("--objective tpot needs --output-tokens above 1: with one output token there "
                   "is no decode step");
  c.views = o.views_text == "none"                          ? Views::none
            : o.views_text == "summary"                     ? Views::summary
            : o.views_text == "all"                         ? Views::all
            : c.model.layers <= max_layers_drawn_by_default ? Views::all
                                                            : Views::summary;
  return c;
}

/// Part of step 3 for --dump-expected: one plan, the model it runs, and a dump within
/// --dump-limit, all known before anything is built or written. @throws BadInput
void prepare_expected_dump(Context& c) {
  const Options& o = c.options;
  if (c.plans.size() != 1)
    throw BadInput("--dump-expected writes one plan's tensors, and " +
                   std::to_string(c.plans.size()) + " plans are given" +
                   (o.plans.size() == 2 && o.plans[0] == "pp=2,tg=4x4" && o.plans[1] == "hp=4x4"
                        ? std::string(" (the seed's two, by default)")
                        : std::string()) +
                   ": give one --plan, and dump each plan to its own folder");
  const std::optional<std::int64_t> megabytes = helix::examples::parse_count(o.dump_limit_text);
  if (!megabytes || *megabytes < 1 || *megabytes > 1'000'000'000)
    throw BadInput("--dump-limit '" + o.dump_limit_text +
                   "' is not a whole number of megabytes from 1 to 10^9");
  const bool shrunk = o.dump_model_text != "full";
  c.dump_model = shrunk ? helix::models::shrink(c.model, c.plans.front(), c.workload) : c.model;
  try {
    helix::io::check_dump_size(helix::build_dag(c.dump_model, c.plans.front(), c.workload),
                               *megabytes * 1'000'000);
  } catch (const std::invalid_argument& e) {
    throw BadInput("--dump-expected: " + std::string(e.what()) + " (--dump-limit " +
                   o.dump_limit_text + "); raise --dump-limit" +
                   (shrunk ? std::string() : ", or lower --batch and --input-tokens"));
  }
}

/// Step 3: every plan read and validated before anything is built or written, and the baseline
/// found among them. @throws BadInput
void read_plans(Context& c) {
  const Options& o = c.options;
  for (const std::string& text : o.plans) {
    try {
      c.plans.push_back(helix::parse_plan(text));
    } catch (const helix::PlanTextError& e) {
      throw BadInput(std::string("--plan: ") + e.what());
    }
    const std::vector<std::string> problems = helix::validate(c.model, c.plans.back(), c.workload);
    if (!problems.empty())
      throw BadInput("--plan '" + helix::to_string(c.plans.back()) + "' is invalid for " +
                     c.model_name + ": " + joined(problems));
    // The decode step with the longest cache is the largest the generation builds: a prefill
    // yields the first token, a decode-only generation makes all of them in decode steps.
    const std::int64_t last_kv =
        c.model.seq_len + c.output_tokens - (c.workload.phase == helix::Phase::prefill ? 1 : 0);
    if (const std::vector<std::string> decode_problems =
            c.output_tokens > 1
                ? helix::validate(helix::cost::decode_model(c.model, last_kv), c.plans.back(),
                                  helix::cost::decode_workload(c.workload))
                : std::vector<std::string>{};
        !decode_problems.empty())
      throw BadInput("--output-tokens " + o.output_tokens_text + ": the last decode step (KV " +
                     "length " + std::to_string(last_kv) + ") of --plan '" +
                     helix::to_string(c.plans.back()) + "' is invalid for " + c.model_name + ": " +
                     joined(decode_problems));
    for (std::size_t i = 0; i + 1 < c.plans.size(); ++i)
      if (same_partition(c.model, c.plans[i], c.plans.back()))
        throw BadInput("--plan '" + text + "' partitions " + c.model_name + " exactly as --plan '" +
                       o.plans[i] + "' does: give it once");
  }
  if (!o.expected_folder.empty())
    prepare_expected_dump(c);
  // The seed's claims are about the seed's deployments: judged when one of them is compared or
  // when --baseline asks for it; otherwise the comparison is a plain ranking.
  const bool claims =
      !o.baseline_text.empty() || std::ranges::any_of(c.plans, [&](const helix::PlanSpec& plan) {
        return is_seed_plan(c.model, plan);
      });
  if (!claims) {
    c.baseline = c.plans.size();
    return;
  }
  const std::string wanted = o.baseline_text.empty() ? "hp=4x4" : o.baseline_text;
  bool found = false;
  for (std::size_t i = 0; i < c.plans.size(); ++i) {
    try {
      if (c.plans[i] == helix::parse_plan(wanted)) {
        c.baseline = i;
        found = true;
      }
    } catch (const helix::PlanTextError& e) {
      throw BadInput(std::string("--baseline: ") + e.what());
    }
  }
  if (!found && !o.baseline_text.empty())
    throw BadInput("--baseline '" + o.baseline_text + "' is not one of the --plan");
}

/// The first place to write that cannot be written, said as helix_deploy says it; every folder
/// made on the way is appended to `created`.
std::optional<std::string> first_unwritable(const Options& o, bool draws,
                                            std::vector<std::filesystem::path>& created) {
  if (!o.npy_folder.empty())
    if (const auto why = unwritable_folder(o.npy_folder, created))
      return "--dump-npy '" + o.npy_folder + "': " + *why;
  if (!o.expected_folder.empty())
    if (const auto why = unwritable_folder(o.expected_folder, created))
      return "--dump-expected '" + o.expected_folder + "': " + *why;
  if (!o.json_file.empty())
    if (const auto why = unwritable_file(o.json_file))
      return "--json '" + o.json_file + "': " + *why;
  if (!draws)
    return std::nullopt;
  if (const auto why = unwritable_folder(o.out, created))
    return "--out '" + o.out + "': " + *why;
  return std::nullopt;
}

/// Step 4: every place written to is proven writable before the first file, so a bad path costs
/// nothing and leaves nothing behind (the folders made for it are taken back). @throws BadInput
void prove_writable(const Options& o, Views views) {
  std::vector<std::filesystem::path> created;
  if (const std::optional<std::string> problem =
          first_unwritable(o, views != Views::none, created)) {
    remove_folders(created);
    throw BadInput(*problem);
  }
}

/// Which attention kernel is costed and why, on one line.
std::string attention_note(const Context& c) {
  const bool flash = c.workload.attention == helix::AttentionKernel::flash;
  std::string note =
      "attention kernel: " + std::string(helix::attention_kernel_name(c.workload.attention)) + " (";
  if (!c.options.attention_text.empty())
    note += "--attention";
  else if (flash)
    note += "the default: FlashAttention, what servers run; --attention materialized to change";
  else
    note += "the default for helix_seed, whose material describes explicit score tensors; "
            "--attention flash to change";
  note += ")";
  if (flash && std::ranges::any_of(c.plans, [](const helix::PlanSpec& plan) {
        return helix::head_dim_split(plan) > 1;
      }))
    note += "; plans that split head_dim all-reduce partial scores, which no fused kernel can, "
            "so their attention is costed materialized";
  return note;
}

/// How activations cross pipeline stages, on one line; empty when no plan has two stages.
std::string pipeline_send_note(const Context& c) {
  if (std::ranges::none_of(c.plans,
                           [](const helix::PlanSpec& plan) { return plan.pipeline_stages > 1; }))
    return "";
  return c.workload.pipeline_send == helix::PipelineSend::scatter_gather
             ? "pipeline sends: scatter_gather (each tensor device sends 1/t of hidden to its "
               "peer in the next stage, which all-gathers the slices; --pipeline-send full to "
               "compare)"
             : "pipeline sends: full (each tensor device sends the whole activation to its peer "
               "in the next stage; --pipeline-send)";
}

/// Steps 2 to 4, then where Graphviz is. On bad input: one line on stderr and no context.
std::optional<Context> prepare(const Options& options) {
  std::optional<Context> context;
  try {
    context = read_inputs(options);
    read_plans(*context);
    prove_writable(options, context->views);
  } catch (const BadInput& e) {
    std::cerr << "helix_deploy: " << e.what() << '\n';
    return std::nullopt;
  }
  std::cout << attention_note(*context) << '\n';
  if (const std::string note = pipeline_send_note(*context); !note.empty())
    std::cout << note << '\n';
  if (context->views == Views::none)
    return context;
  context->dot_program = helix::io::find_graphviz_dot();
  if (!context->dot_program)
    std::cout << "Graphviz 'dot' is not on PATH: writing DOT files only, no SVG\n";
  return context;
}

/// One plan built, drawn and checked.
struct BuiltPlan {
  /// Its files' prefix (see FileNames).
  std::string prefix;
  /// "<prefix> (<plan text>)": its name in the cost table, the JSON and the timeline.
  std::string label;
  helix::Dag dag;
  bool checks_ok = false;
};

/// The plans built and the SVGs of their views being drawn.
struct BuiltPlans {
  std::vector<BuiltPlan> plans;
  Rendering rendering;
};

/// Step 5: per plan, the DAG built, its views written, its summary and checks printed; the SVGs
/// of every plan's views then drawn in the background (wait on `rendering` before exiting).
BuiltPlans build_and_draw(const Context& c) {
  const std::filesystem::path folder = c.options.out;
  std::vector<BuiltPlan> built;
  std::vector<helix::io::SvgRendering> pending;
  for (const helix::PlanSpec& plan : c.plans) {
    helix::Dag dag = helix::build_dag(c.model, plan, c.workload);
    const FileNames names = file_names(c.model, plan);
    Written written;
    if (c.views != Views::none)
      write_view(folder, names.model_view(), helix::model_view(dag), c.dot_program, written);
    if (c.views == Views::all)
      for (std::int64_t layer : detailed_layers(c.model)) {
        write_view(folder, names.attention_view(layer), helix::attention_view(dag, layer),
                   c.dot_program, written);
        write_view(folder, names.mlp_view(layer), helix::mlp_view(dag, layer), c.dot_program,
                   written);
      }
    // Past 8 layers the communication view keeps the layers drawn in detail: the others repeat.
    if (c.views != Views::none)
      write_view(folder, names.communication_view(),
                 helix::communication_view(dag, c.model.layers > 8 ? detailed_layers(c.model)
                                                                   : std::vector<std::int64_t>{}),
                 c.dot_program, written);
    std::ranges::move(written.pending, std::back_inserter(pending));
    const bool sound = print_summary(names.prefix, dag, c.model_name, written, folder, c.views);
    built.push_back(
        {names.prefix, names.prefix + " (" + helix::to_string(plan) + ")", std::move(dag), sound});
  }
  if (!c.dot_program || pending.empty())
    return {std::move(built), {}};
  return {std::move(built), start_rendering(*c.dot_program, std::move(pending))};
}

/// What verification found: per plan its exact lowering; whether every verdict, with the
/// broken variant of each head_dim-splitting plan, came out as expected.
struct Verified {
  std::vector<helix::numerics::PlanNumerics> exact;
  bool as_expected = true;
};

/// Step 6: each plan's DAG executed on a shrunk model against the reference, reports printed.
Verified verify_numerics(const Context& c) {
  std::cout << "\n## Numerics: the DAG executed on the CPU against the unsharded reference\n";
  Verified verified;
  for (const helix::PlanSpec& plan : c.plans) {
    verified.exact.push_back(helix::numerics::verify_plan(c.model, plan, c.workload));
    helix::io::write_markdown(std::cout, verified.exact.back());
    verified.as_expected = verified.exact.back().as_expected && verified.as_expected;
    if (helix::head_dim_split(plan) > 1) { // the seed material's scheme, shown failing
      const helix::numerics::PlanNumerics broken = helix::numerics::verify_plan(
          c.model, plan, c.workload, helix::SchemeVariant::broken_slice_local_softmax);
      helix::io::write_markdown(std::cout, broken);
      verified.as_expected = broken.as_expected && verified.as_expected;
    }
  }
  return verified;
}

/// Step 7 (--dump-npy): input, weights and outputs of a shrunk model as .npy, and model.json.
void dump_npy(const Context& c) {
  const std::string& folder = c.options.npy_folder;
  const helix::Model shrunk = helix::models::shrink(c.model, c.plans, c.workload);
  const auto files = helix::io::write_numerics_npy(folder, shrunk, c.plans, c.workload);
  // The sizes the arrays alone do not tell (heads, kv heads), for whoever reproduces them.
  // The KV placement too: a KV-parallel plan's shards are recomputed from it.
  nlohmann::json sizes = helix::io::npy_sizes_json(shrunk, c.workload);
  sizes["kv_placement"] = helix::to_string(c.workload.kv_placement);
  helix::io::write_json_file(std::filesystem::path(folder) / "model.json", sizes);
  std::cout << "wrote " << files.size() << " .npy files and model.json to " << folder << '\n';
}

/// Step 7b (--dump-expected): every op's expected tensor on every device, the weight slices, the
/// input and index.json, for the one plan.
void dump_expected(const Context& c) {
  const helix::Model& m = c.dump_model;
  const helix::Dag dag = helix::build_dag(m, c.plans.front(), c.workload);
  const helix::io::DumpSummary written =
      helix::io::write_expected_dump(c.options.expected_folder, dag, c.model_name);
  std::cout << "wrote the expected tensors of " << c.model_name
            << (c.options.dump_model_text == "full" ? "" : " (shrunk)") << " under plan "
            << helix::to_string(c.plans.front()) << " to " << c.options.expected_folder << ": "
            << written.tensors << " tensors and " << written.weights << " weight slices on "
            << written.devices << " devices, "
            << helix::cost::format_si(static_cast<double>(written.bytes), "B") << " (layers "
            << m.layers << ", hidden " << m.hidden << ", heads " << m.heads << " (kv " << m.kv_heads
            << ") × " << m.head_dim << ", ffn " << m.ffn_hidden << ", vocab " << m.vocab
            << ", batch " << m.batch << ", seq_len " << m.seq_len
            << "); compare an implementation's with helix_compare " << c.options.expected_folder
            << " ACTUAL_DIR\n";
}

/// The cost of every plan: the comparison and, per plan, the timeline it was made from.
struct Costed {
  helix::cost::Comparison comparison;
  std::vector<helix::cost::Timeline> timelines;
};

/// Step 8: each plan simulated once (a generation adds a few decode steps, see
/// cost/generation.hpp); the comparison printed.
Costed cost_plans(const Context& c, const std::vector<BuiltPlan>& built) {
  std::cout << "\n## Cost\n";
  const helix::cost::SimulationOptions options{
      .overlap_communication = c.options.overlap,
      // --collectives is checked against the models' names when parsed.
      .collectives = *helix::cost::collective_model_named(c.options.collectives_text)};
  Costed costed;
  std::vector<helix::cost::PlanSummary> summaries;
  for (std::size_t i = 0; i < built.size(); ++i) {
    const BuiltPlan& plan = built[i];
    costed.timelines.push_back(helix::cost::simulate(plan.dag, c.hardware, options));
    summaries.push_back(helix::cost::summarize(plan.label, plan.dag, costed.timelines.back(),
                                               helix::cost::memory(plan.dag, c.hardware)));
    if (c.workload.phase == helix::Phase::prefill)
      summaries.back() = helix::cost::with_generation(
          std::move(summaries.back()),
          helix::cost::generation(c.model, c.plans[i], c.workload, c.output_tokens,
                                  costed.timelines.back().makespan_seconds, c.hardware, options));
    else if (c.output_tokens > 1)
      summaries.back() = helix::cost::with_generation(
          std::move(summaries.back()),
          helix::cost::decode_generation(c.model, c.plans[i], c.workload, c.output_tokens,
                                         costed.timelines.back().makespan_seconds, c.hardware,
                                         options));
  }
  costed.comparison =
      helix::cost::compare(std::move(summaries), c.hardware, c.baseline, options, c.objective);
  helix::io::write_markdown(std::cout, costed.comparison);
  return costed;
}

/// Step 9: each plan's simulated timeline as `<prefix>_timeline.svg`.
void write_timelines(const Context& c, const std::vector<BuiltPlan>& built,
                     const std::vector<helix::cost::Timeline>& timelines) {
  for (std::size_t i = 0; i < built.size(); ++i) {
    const std::filesystem::path svg =
        std::filesystem::path(c.options.out) / (built[i].prefix + "_timeline.svg");
    std::error_code error;
    const bool existed = std::filesystem::exists(svg, error);
    helix::io::write_timeline_svg(svg, built[i].dag, timelines[i], built[i].label);
    std::cout << "wrote " << svg.string() << (existed ? " (replacing the file there)" : "") << '\n';
  }
}

/// Step 10 (--json FILE): the comparison, checks and numerics as JSON (schema in the README).
void write_json_report(const Context& c, const helix::cost::Comparison& comparison,
                       const std::vector<BuiltPlan>& built,
                       const std::vector<helix::numerics::PlanNumerics>& numerics) {
  const std::string& file = c.options.json_file;
  std::vector<bool> checks_ok;
  for (const BuiltPlan& plan : built)
    checks_ok.push_back(plan.checks_ok);
  std::error_code error;
  const bool existed = std::filesystem::exists(file, error);
  helix::io::write_json_file(file,
                             helix::io::to_json(c.model_name, c.model, c.workload, c.output_tokens,
                                                comparison, checks_ok, numerics));
  std::cout << "wrote " << file << (existed ? " (replacing the file there)" : "") << '\n';
}

/// Steps 5 to 10. Whether every check passed and every numerics verdict was the expected one.
bool run(const Context& c) {
  BuiltPlans drawn = build_and_draw(c);
  const std::vector<BuiltPlan>& built = drawn.plans;
  bool all_sound = std::ranges::all_of(built, &BuiltPlan::checks_ok);
  std::vector<helix::numerics::PlanNumerics> numerics;
  if (c.options.verify) {
    Verified verified = verify_numerics(c);
    numerics = std::move(verified.exact);
    all_sound = verified.as_expected && all_sound;
  }
  if (!c.options.npy_folder.empty())
    dump_npy(c);
  if (!c.options.expected_folder.empty())
    dump_expected(c);
  const Costed costed = cost_plans(c, built);
  if (c.views != Views::none)
    write_timelines(c, built, costed.timelines);
  if (!c.options.json_file.empty())
    write_json_report(c, costed.comparison, built, numerics);
  drawn.rendering.wait();
  return all_sound;
}

} // namespace

int main(int argc, char** argv) {
  Options options;
  if (const std::optional<int> exit_code = parse_options(argc, argv, options))
    return *exit_code;
  if (!options.validate_file.empty() || !options.calibrate_file.empty())
    return helix::examples::run_measurement_command(
        {.validate_file = options.validate_file,
         .calibrate_file = options.calibrate_file,
         .hardware_name = options.hardware_name,
         .hardware_file = options.hardware_file,
         .hardware_out = options.hardware_out,
         .json_file = options.json_file,
         .overlap = options.overlap,
         .collectives = *helix::cost::collective_model_named(options.collectives_text),
         .fit = options.fit});
  if (options.search.requested())
    if (const std::optional<std::string> problem = helix::examples::search_input_problem(
            options.search, options.plans, options.phase, options.output_tokens_text)) {
      std::cerr << "helix_deploy: " << *problem << '\n';
      return 2;
    }
  const std::optional<Context> context = prepare(options);
  if (!context)
    return 2;
  if (options.search.requested())
    return helix::examples::run_search_command(
        options.search,
        {context->model_name, context->model, context->workload, context->hardware,
         context->output_tokens, context->objective, context->plans,
         helix::cost::SimulationOptions{
             options.overlap, *helix::cost::collective_model_named(options.collectives_text)},
         options.out, options.verify, context->views != Views::none},
        [&](const helix::PlanSpec& plan, std::int64_t microbatches) {
          Context best = *context; // the best plan alone, as a run with --plan draws it
          best.plans = {plan};
          best.workload.microbatches = microbatches;
          best.baseline = 1;           // a plain cost table: no claims
          best.options.verify = false; // the search's table verified it
          try {
            return run(best) ? 0 : 1;
          } catch (const std::exception& e) {
            std::cerr << "helix_deploy: " << e.what() << '\n';
            return 1;
          }
        });
  try {
    return run(*context) ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "helix_deploy: " << e.what() << '\n';
    return 1;
  }
}
