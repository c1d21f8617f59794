// The main job: takes a model and partition plans, builds and checks each plan's operator DAG,
// writes its views as Graphviz DOT (and SVG when Graphviz is installed), and summarizes it.
// With no options it shows the seed's optimized plan against its two-level-attention baseline.
#include <helix/helix.hpp>
#include <helix/io.hpp>

#include <CLI/CLI.hpp>

#include <cstdint>
#include <exception>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
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
};

/// Writes one view as DOT, and as SVG beside it when Graphviz is there.
void write_view(const std::filesystem::path& folder, const std::string& name,
                const helix::View& view, const std::optional<std::filesystem::path>& dot_program,
                Written& written) {
  const std::filesystem::path file = folder / name;
  helix::io::write_dot_file(file, view);
  ++written.dot;
  if (dot_program) {
    std::filesystem::path svg = file;
    svg.replace_extension(".svg");
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
            << (info.workload.phase == helix::Phase::prefill ? "prefill" : "decode") << ", "
            << info.workload.microbatches << " microbatch"
            << (info.workload.microbatches == 1 ? "" : "es") << '\n';
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
            << folder.string() << '\n';
  return problems.empty();
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
  std::int64_t microbatches = 1;
  std::string out = "helix_out";
  app.add_option("--model", model_name, "model preset: " + known_models())->capture_default_str();
  app.add_option("--plan", plans, "plan text such as pp=2,tg=4x4 (repeatable)")
      ->capture_default_str();
  app.add_option("--out", out, "folder for the DOT (and SVG) files")->capture_default_str();
  app.add_option("--workload", phase, "prefill or decode")
      ->check(CLI::IsMember({"prefill", "decode"}))
      ->capture_default_str();
  // Whether the count suits the model and plan (at least 1, divides the batch) is validate's.
  app.add_option("--microbatches", microbatches, "pipeline microbatches")->capture_default_str();
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
  const helix::Workload workload{phase == "decode" ? helix::Phase::decode : helix::Phase::prefill,
                                 microbatches};

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
  }

  const std::filesystem::path folder = out;
  std::error_code error;
  std::filesystem::create_directories(folder, error);
  if (error || !std::filesystem::is_directory(folder)) {
    std::cerr << "helix_deploy: --out '" << out << "': cannot create the folder"
              << (error ? ": " + error.message() : std::string(": it is not a folder")) << '\n';
    return 2;
  }
  const std::optional<std::filesystem::path> dot_program = helix::io::find_graphviz_dot();
  if (!dot_program)
    std::cout << "Graphviz 'dot' is not on PATH: writing DOT files only, no SVG\n";

  bool all_sound = true;
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
      write_view(folder, names.communication_view(), helix::communication_view(dag), dot_program,
                 written);
      all_sound = summarize(names.prefix, dag, model_name, written, folder) && all_sound;
    }
  } catch (const std::exception& e) {
    std::cerr << "helix_deploy: " << e.what() << '\n';
    return 1;
  }
  return all_sound ? 0 : 1;
}
