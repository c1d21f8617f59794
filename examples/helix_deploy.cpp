// The main job: takes a model and partition plans, validates them and reports what they are.
// With no options it shows the seed's optimized plan against its two-level-attention baseline.
#include <helix/helix.hpp>

#include <CLI/CLI.hpp>

#include <iostream>
#include <string>
#include <vector>

namespace {

std::string known_models() {
  std::string names;
  for (const helix::models::NamedModel& entry : helix::models::all)
    names += (names.empty() ? "" : ", ") + std::string(entry.name);
  return names;
}

/// Prints one plan's mesh and what it asks of each device; false when the plan is invalid.
bool describe_plan(const helix::Model& model, const std::string& text,
                   const helix::Workload& workload) {
  const helix::PlanSpec plan = helix::parse_plan(text);
  const std::vector<std::string> problems = helix::validate(model, plan, workload);
  std::cout << "plan " << helix::to_string(plan) << ": ";
  if (!problems.empty()) {
    std::cout << "invalid\n";
    for (const std::string& p : problems)
      std::cerr << p << '\n';
    return false;
  }
  const helix::Mesh mesh = helix::make_mesh(plan);
  std::cout << helix::world_size(plan) << " devices, mesh [";
  for (std::size_t i = 0; i < mesh.axis_count; ++i)
    std::cout << (i ? ", " : "") << helix::role_name(mesh.axes[i].role) << ' ' << mesh.axes[i].size;
  std::cout << "]\n";
  std::cout << "  attention heads per device " << model.heads / helix::head_split(plan)
            << ", head_dim slice " << model.head_dim / helix::head_dim_split(plan)
            << ", MLP columns per device " << model.ffn_hidden / helix::tensor_degree(plan) << '\n';
  for (std::int64_t s = 0; s < plan.pipeline_stages; ++s)
    std::cout << "  stage " << s << ": layers " << helix::first_layer_of_stage(model, plan, s)
              << ".."
              << helix::first_layer_of_stage(model, plan, s) +
                     helix::layers_in_stage(model, plan, s) - 1
              << '\n';
  return true;
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"helix_deploy: validate and lay out transformer partition schemes"};
  std::string model_name = "helix_seed";
  std::vector<std::string> plans{"pp=2,tg=4x4", "hp=4x4"};
  std::string phase = "prefill";
  std::int64_t microbatches = 1;
  app.add_option("--model", model_name, "model preset: " + known_models())->capture_default_str();
  app.add_option("--plan", plans, "plan text such as pp=2,tg=4x4 (repeatable)")
      ->capture_default_str();
  app.add_option("--workload", phase, "prefill or decode")
      ->check(CLI::IsMember({"prefill", "decode"}))
      ->capture_default_str();
  app.add_option("--microbatches", microbatches, "pipeline microbatches")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  const std::optional<helix::Model> model = helix::models::by_name(model_name);
  if (!model) {
    std::cerr << "helix_deploy: unknown --model '" << model_name << "'; known: " << known_models()
              << '\n';
    return 2;
  }
  const helix::Workload workload{phase == "decode" ? helix::Phase::decode : helix::Phase::prefill,
                                 microbatches};
  bool ok = true;
  try {
    for (const std::string& text : plans)
      ok = describe_plan(*model, text, workload) && ok;
  } catch (const helix::PlanTextError& e) {
    std::cerr << "helix_deploy: --plan: " << e.what() << '\n';
    return 2;
  }
  return ok ? 0 : 1;
}
