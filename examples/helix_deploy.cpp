// The main job: takes a model and partition plans, builds and checks each plan's operator DAG,
// writes its views as Graphviz DOT (and SVG when Graphviz is installed), and summarizes it.
// With no options it shows the seed's optimized plan against its two-level-attention baseline.
#include <helix/helix.hpp>
#include <helix/io.hpp>
#include <helix/io/json.hpp>

#include <CLI/CLI.hpp>

#include <charconv>
#include <chrono>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <system_error>
#include <tuple>
#include <variant>
#include <vector>

namespace {

std::string known_models() {
  std::string names;
  for (const helix::models::NamedModel& entry : helix::models::all)
    names += (names.empty() ? "" : ", ") + std::string(entry.name);
  return names;
}

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

FileNames file_names(const helix::Model& model, const helix::PlanSpec& plan) {
  const std::string text = helix::to_string(plan);
  if (model == helix::models::helix_seed && text == "pp=2,tg=4x4")
    return {"optimized", "complete_helix_model", "_pipeline_parallel", "_grouped_tensor_parallel"};
  if (model == helix::models::helix_seed && text == "hp=4x4")
    return {"baseline", "complete_helix_model", "_two_level_partition", "_tensor_parallel"};
  // Only characters that are safe in a file name on every system: "split=3/1" must not make a
  // folder.
  std::string prefix = text;
  for (char& c : prefix)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
      c = '_';
  return {prefix, "complete_model", "", ""};
}

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
};

/// Past this many nodes plus edges, dot's layout takes minutes (measured: a 96-layer
/// communication view of 3,500 nodes and edges ran over two minutes; 2,700 took 0.9 s).
constexpr std::size_t max_rendered_elements = 3000;

/// Writes one view as DOT, and as SVG beside it when Graphviz is there and the view is small
/// enough for dot to lay out.
void write_view(const std::filesystem::path& folder, const std::string& name,
                const helix::View& view, const std::optional<std::filesystem::path>& dot_program,
                Written& written) {
  const std::filesystem::path file = folder / name;
  std::error_code error;
  written.replaced += std::filesystem::exists(file, error) ? 1 : 0;
  helix::io::write_dot_file(file, view);
  ++written.dot;
  const std::size_t elements = boost::num_vertices(view.graph) + boost::num_edges(view.graph);
  if (dot_program && elements > max_rendered_elements) {
    std::filesystem::path stale = file;
    stale.replace_extension(".svg");
    std::error_code ignored;
    if (std::filesystem::remove(stale, ignored)) // an earlier run's picture of another graph
      ++written.replaced;
    std::cout << "  no SVG for " << name << ": " << elements
              << " nodes and edges is more than dot lays out quickly (" << max_rendered_elements
              << "); run dot -Tsvg on it if you need one\n";
  } else if (dot_program) {
    std::filesystem::path svg = file;
    svg.replace_extension(".svg");
    written.replaced += std::filesystem::exists(svg, error) ? 1 : 0;
    helix::io::render_svg(*dot_program, file, svg);
    ++written.svg;
  }
}

/// World size, graph size, collectives by kind and phase, and what check() says.
bool summarize(const std::string& name, const helix::Dag& dag, std::string_view model_name,
               const Written& written, const std::filesystem::path& folder) {
  const helix::DagInfo& info = dag[boost::graph_bundle];
  std::map<helix::OpKind, std::size_t> kinds;
  std::map<helix::CollectivePhase, std::size_t> phases;
  std::set<std::tuple<std::int64_t, std::int64_t, std::int64_t>> logical;
  for (helix::Vertex v : boost::make_iterator_range(boost::vertices(dag))) {
    const helix::Op& op = dag[v];
    if (!helix::is_communication(op.kind))
      continue;
    ++kinds[op.kind];
    if (const auto* c = std::get_if<helix::CollectiveOp>(&op.payload)) {
      ++phases[c->phase];
      logical.insert({op.replica, op.microbatch, c->logical});
    }
  }
  std::cout << name << ": " << model_name << ", plan " << helix::to_string(info.plan) << ", "
            << helix::phase_name(info.workload.phase) << ", " << info.workload.microbatches
            << " microbatch" << (info.workload.microbatches == 1 ? "" : "es") << '\n';
  std::cout << "  world size " << info.mesh.size() << " GPUs; DAG " << boost::num_vertices(dag)
            << " vertices, " << boost::num_edges(dag) << " edges\n";
  std::size_t collectives = 0;
  std::cout << "  collectives:";
  for (const auto& [kind, n] : kinds)
    if (helix::is_collective(kind)) {
      std::cout << (collectives ? ", " : " ") << helix::op_kind_name(kind) << ' ' << n;
      collectives += n;
    }
  std::cout << (collectives ? "" : " none") << " (" << collectives << " vertices); transfers "
            << kinds[helix::OpKind::transfer] << '\n';
  if (!phases.empty()) {
    const std::int64_t forwards =
        info.plan.data_parallel * info.workload.microbatches * info.model.layers;
    std::cout << "  logical all-reduces: " << logical.size();
    if (static_cast<std::int64_t>(logical.size()) % forwards == 0)
      std::cout << " (" << static_cast<std::int64_t>(logical.size()) / forwards
                << " per layer, per replica and microbatch)";
    std::cout << ", as phases:";
    const char* separator = " ";
    for (const auto& [phase, n] : phases) {
      std::cout << separator << helix::collective_phase_name(phase) << ' ' << n;
      separator = ", ";
    }
    std::cout << '\n';
  }
  const std::vector<helix::Diagnostic> problems = helix::check(dag);
  if (problems.empty()) {
    std::cout << "  checks passed: all\n";
  } else {
    std::cout << "  checks FAILED: " << problems.size() << " problem(s), listed on stderr\n";
    for (const helix::Diagnostic& d : problems)
      std::cerr << d.message << '\n';
  }
  std::cout << "  wrote " << written.dot << " DOT and " << written.svg << " SVG files to "
            << folder.string();
  if (written.replaced > 0)
    std::cout << ", replacing " << written.replaced << " file" << (written.replaced == 1 ? "" : "s")
              << " of the same name";
  std::cout << '\n';
  return problems.empty();
}

/// Creates `folder` if needed and proves a file can be made in it; the reason when not.
/// Folders this run created, deepest last, so a later bad path can take them back.
std::vector<std::filesystem::path> created_folders;

/// Removes the folders this run created (only while empty: nothing of anyone else's goes).
void remove_created_folders() {
  std::error_code ignored;
  for (auto it = created_folders.rbegin(); it != created_folders.rend(); ++it)
    std::filesystem::remove(*it, ignored);
  created_folders.clear();
}

std::optional<std::string> unwritable_folder(const std::filesystem::path& folder) {
  std::error_code error;
  std::vector<std::filesystem::path> missing;
  for (std::filesystem::path p = std::filesystem::absolute(folder, error).lexically_normal();
       !error && !p.empty() && !std::filesystem::exists(p, error) && p != p.parent_path();
       p = p.parent_path())
    missing.insert(missing.begin(), p);
  std::filesystem::create_directories(folder, error);
  for (const std::filesystem::path& p : missing)
    if (std::error_code ignored; std::filesystem::is_directory(p, ignored))
      created_folders.push_back(p);
  if (error)
    return "cannot create the folder: " + error.message();
  if (!std::filesystem::is_directory(folder))
    return "it is not a folder";
  // A name no one else uses, so the probe never replaces or removes somebody's file.
  const std::filesystem::path probe =
      folder / (".helix_write_probe_" + std::to_string(std::random_device{}()) + "_" +
                std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
  {
    std::ofstream file(probe);
    if (!file)
      return "cannot write in it";
  }
  std::filesystem::remove(probe, error);
  return std::nullopt;
}

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

/// A whole number from 0 to 10^15 (validate says why 0 is not a microbatch count).
std::optional<std::int64_t> parse_count(const std::string& text) {
  std::int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc{} || end != text.data() + text.size() || value < 0 ||
      value > 1'000'000'000'000'000)
    return std::nullopt;
  return value;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string text;
  for (const std::string& line : lines)
    text += (text.empty() ? "" : "; ") + line;
  return text;
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"helix_deploy: build, check and draw transformer partition schemes"};
  std::string model_name = "helix_seed";
  std::vector<std::string> plans{"pp=2,tg=4x4", "hp=4x4"};
  std::string phase = "prefill";
  std::string microbatches_text = "1";
  std::string out = "helix_out";
  app.add_option("--model", model_name, "model preset: " + known_models())->capture_default_str();
  app.add_option("--plan", plans, "plan text such as pp=2,tg=4x4 (repeatable)")
      ->capture_default_str();
  app.add_option("--out", out, "folder for the DOT (and SVG) files")->capture_default_str();
  app.add_option("--workload", phase, "prefill or decode")
      ->check(CLI::IsMember({"prefill", "decode"}))
      ->capture_default_str();
  // Whether the count suits the model and plan (at least 1, divides the batch) is validate's.
  app.add_option("--microbatches", microbatches_text, "pipeline microbatches")
      ->capture_default_str();
  std::string hardware_name = "h100_sxm_nvl8";
  app.add_option("--hardware", hardware_name, "hardware preset: h100_sxm_nvl8, gb200_nvl72")
      ->capture_default_str();
  std::string baseline_text;
  app.add_option("--baseline", baseline_text,
                 "plan the claims are judged against (default: hp=4x4 when given, else the first)");
  bool verify = true;
  app.add_flag("--verify,!--no-verify", verify,
               "verify numerics on a shrunk model (on by default)");
  std::string npy_folder;
  app.add_option("--dump-npy", npy_folder, "folder for x, weights and outputs as .npy");
  std::string json_file;
  app.add_option("--json", json_file, "write the comparison as JSON to this file");
  bool overlap = false;
  app.add_flag("--overlap", overlap, "let communication overlap compute in the timeline");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "helix_deploy: " << e.what() << " (see --help)\n";
    return 2;
  }

  const std::optional<helix::Model> model = helix::models::by_name(model_name);
  if (!model) {
    std::cerr << "helix_deploy: unknown --model '" << model_name << "'; known: " << known_models()
              << '\n';
    return 2;
  }
  // Read as text: CLI11 would clamp 99999999999999999999 to 2^63 - 1 and show that instead.
  const std::optional<std::int64_t> microbatches = parse_count(microbatches_text);
  if (!microbatches) {
    std::cerr << "helix_deploy: --microbatches '" << microbatches_text
              << "' is not a whole number from 0 to 10^15\n";
    return 2;
  }
  const helix::Workload workload{phase == "decode" ? helix::Phase::decode : helix::Phase::prefill,
                                 *microbatches};
  const helix::cost::Hardware* hardware = helix::cost::hardware::by_name(hardware_name);
  if (!hardware) {
    std::cerr << "helix_deploy: unknown --hardware '" << hardware_name
              << "'; known: h100_sxm_nvl8, gb200_nvl72\n";
    return 2;
  }

  // Every plan is read and validated before anything is built or written.
  std::vector<helix::PlanSpec> specs;
  for (const std::string& text : plans) {
    try {
      specs.push_back(helix::parse_plan(text));
    } catch (const helix::PlanTextError& e) {
      std::cerr << "helix_deploy: --plan: " << e.what() << '\n';
      return 2;
    }
    const std::vector<std::string> problems = helix::validate(*model, specs.back(), workload);
    if (!problems.empty()) {
      std::cerr << "helix_deploy: --plan '" << helix::to_string(specs.back()) << "' is invalid for "
                << model_name << ": " << joined(problems) << '\n';
      return 2;
    }
    for (std::size_t i = 0; i + 1 < specs.size(); ++i)
      if (same_partition(*model, specs[i], specs.back())) {
        std::cerr << "helix_deploy: --plan '" << text << "' partitions " << model_name
                  << " exactly as --plan '" << plans[i] << "' does: give it once\n";
        return 2;
      }
  }

  std::size_t baseline = 0;
  {
    const std::string wanted = baseline_text.empty() ? "hp=4x4" : baseline_text;
    bool found = false;
    for (std::size_t i = 0; i < specs.size(); ++i) {
      try {
        if (specs[i] == helix::parse_plan(wanted)) {
          baseline = i;
          found = true;
        }
      } catch (const helix::PlanTextError& e) {
        std::cerr << "helix_deploy: --baseline: " << e.what() << '\n';
        return 2;
      }
    }
    if (!found && !baseline_text.empty()) {
      std::cerr << "helix_deploy: --baseline '" << baseline_text << "' is not one of the --plan\n";
      return 2;
    }
  }

  // Every place written to is proven writable before the first file, so a bad path costs
  // nothing and leaves nothing behind.
  if (!npy_folder.empty())
    if (const auto why = unwritable_folder(npy_folder)) {
      std::cerr << "helix_deploy: --dump-npy '" << npy_folder << "': " << *why << '\n';
      remove_created_folders();
      return 2;
    }
  if (!json_file.empty()) {
    const std::filesystem::path json_path = json_file;
    std::error_code error;
    if (std::filesystem::is_directory(json_path, error)) {
      std::cerr << "helix_deploy: --json '" << json_file << "': it is a folder, not a file\n";
      remove_created_folders();
      return 2;
    }
    const std::filesystem::path parent =
        json_path.has_parent_path() ? json_path.parent_path() : std::filesystem::path(".");
    if (const auto why = unwritable_folder(parent)) {
      std::cerr << "helix_deploy: --json '" << json_file << "': its folder '" << parent.string()
                << "': " << *why << '\n';
      remove_created_folders();
      return 2;
    }
  }

  const std::filesystem::path folder = out;
  if (const auto why = unwritable_folder(folder)) {
    std::cerr << "helix_deploy: --out '" << out << "': " << *why << '\n';
    remove_created_folders();
    return 2;
  }
  const std::optional<std::filesystem::path> dot_program = helix::io::find_graphviz_dot();
  if (!dot_program)
    std::cout << "Graphviz 'dot' is not on PATH: writing DOT files only, no SVG\n";

  bool all_sound = true;
  std::vector<std::pair<std::string, helix::Dag>> built;
  std::vector<helix::numerics::PlanNumerics> numerics;
  std::vector<bool> checks_ok;
  try {
    for (const helix::PlanSpec& plan : specs) {
      const helix::Dag dag = helix::build_dag(*model, plan, workload);
      const FileNames names = file_names(*model, plan);
      Written written;
      write_view(folder, names.model_view(), helix::model_view(dag), dot_program, written);
      for (std::int64_t layer : detailed_layers(*model)) {
        write_view(folder, names.attention_view(layer), helix::attention_view(dag, layer),
                   dot_program, written);
        write_view(folder, names.mlp_view(layer), helix::mlp_view(dag, layer), dot_program,
                   written);
      }
      // Past 8 layers the communication view keeps the layers drawn in detail: the others repeat.
      write_view(folder, names.communication_view(),
                 helix::communication_view(dag, model->layers > 8 ? detailed_layers(*model)
                                                                  : std::vector<std::int64_t>{}),
                 dot_program, written);
      const bool sound = summarize(names.prefix, dag, model_name, written, folder);
      checks_ok.push_back(sound);
      all_sound = sound && all_sound;
      built.emplace_back(names.prefix + " (" + helix::to_string(plan) + ")", dag);
    }

    if (verify) {
      std::cout << "\n## Numerics: the DAG executed on the CPU against the unsharded reference\n";
      for (const helix::PlanSpec& plan : specs) {
        numerics.push_back(helix::numerics::verify_plan(*model, plan, workload));
        helix::io::write_markdown(std::cout, numerics.back());
        all_sound = numerics.back().as_expected && all_sound;
        if (helix::head_dim_split(plan) > 1) { // the seed material's scheme, shown failing
          const helix::numerics::PlanNumerics broken = helix::numerics::verify_plan(
              *model, plan, workload, helix::SchemeVariant::broken_slice_local_softmax);
          helix::io::write_markdown(std::cout, broken);
          all_sound = broken.as_expected && all_sound;
        }
      }
    }
    if (!npy_folder.empty()) {
      const helix::Model shrunk = helix::models::shrink(*model, specs, workload);
      const auto files = helix::io::write_numerics_npy(npy_folder, shrunk, specs, workload);
      // The sizes the arrays alone do not tell (heads, kv heads), for whoever reproduces them.
      helix::io::write_json_file(std::filesystem::path(npy_folder) / "model.json",
                                 helix::io::npy_sizes_json(shrunk, workload));
      std::cout << "wrote " << files.size() << " .npy files and model.json to " << npy_folder
                << '\n';
    }

    std::cout << "\n## Cost\n";
    const helix::cost::SimulationOptions options{.overlap_communication = overlap};
    const helix::cost::Comparison comparison =
        helix::cost::compare(built, *hardware, baseline, options);
    helix::io::write_markdown(std::cout, comparison);
    for (std::size_t i = 0; i < built.size(); ++i) {
      const std::filesystem::path svg =
          folder / (file_names(*model, specs[i]).prefix + "_timeline.svg");
      std::error_code error;
      const bool existed = std::filesystem::exists(svg, error);
      helix::io::write_timeline_svg(svg, built[i].second,
                                    helix::cost::simulate(built[i].second, *hardware, options),
                                    built[i].first);
      std::cout << "wrote " << svg.string() << (existed ? " (replacing the file there)" : "")
                << '\n';
    }
    if (!json_file.empty()) {
      std::error_code error;
      const bool existed = std::filesystem::exists(json_file, error);
      helix::io::write_json_file(
          json_file, helix::io::to_json(model_name, workload, comparison, checks_ok, numerics));
      std::cout << "wrote " << json_file << (existed ? " (replacing the file there)" : "") << '\n';
    }
  } catch (const std::exception& e) {
    std::cerr << "helix_deploy: " << e.what() << '\n';
    return 1;
  }
  return all_sound ? 0 : 1;
}
