// helix_mpi: a partition plan's DAG run as a real distributed program. `mpiexec -n W helix_mpi
// --plan P` starts W ranks (W = the plan's world size); each builds the same DAG, draws only its
// own weight slices and runs the vertices it takes part in, collectives over MPI communicators.
// Rank 0 gathers the outputs and checks them against the unsharded reference on a sample of the
// batch and, bit for bit with `--collectives ring`, against the single-process executor.
#include <helix/distributed/run.hpp>
#include <helix/graph.hpp>
#include <helix/io/atomic_file.hpp>
#include <helix/io/model_json.hpp>
#include <helix/model.hpp>
#include <helix/numerics/execute.hpp>
#include <helix/numerics/reference.hpp>
#include <helix/numerics/shrink.hpp>
#include <helix/numerics/verify.hpp>
#include <helix/plan.hpp>

#include <CLI/CLI.hpp>

#include "command_line.hpp"
#include <mpi.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <numeric>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace {

using Scalar = double;

/// Input every rank rejects alike: rank 0 says why, every rank exits 2.
struct BadInput : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Options {
  std::string model_name = "helix_seed";
  std::string model_file;
  std::vector<std::string> plans;
  std::string phase = "prefill";
  std::string microbatches_text = "1";
  std::string pipeline_send = "scatter_gather";
  std::string kv_placement = "contiguous";
  std::string size = "shrunk";
  std::string batch_text, input_tokens_text;
  std::string collectives = "ring";
  std::string reference_sequences_text;
  bool single_process = true;
  double timeout_seconds = 60;
  bool check_collectives = true;
  std::string seed_text;
  std::string json_file;
  std::string fault;
};

std::string bytes_text(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int unit = 0;
  while (bytes >= 1024 && unit < 4) {
    bytes /= 1024;
    ++unit;
  }
  std::ostringstream out;
  out << std::setprecision(bytes < 10 ? 2 : 3) << bytes << ' ' << units[unit];
  return out.str();
}

std::string seconds_text(double seconds) {
  std::ostringstream out;
  out << std::setprecision(3) << (seconds < 1 ? seconds * 1000 : seconds)
      << (seconds < 1 ? " ms" : " s");
  return out.str();
}

std::string number(double value) {
  std::ostringstream out;
  out << std::setprecision(2) << std::scientific << value;
  return out.str();
}

/// The command line; the exit code when the run ends here (--help, bad syntax). Only rank 0
/// prints.
std::optional<int> parse_options(int argc, char** argv, Options& o, bool root) {
  CLI::App app{"helix_mpi: run a partition plan's DAG on MPI ranks (mpiexec -n <world size>) and "
               "verify it"};
  CLI::Option* preset =
      app.add_option("--model", o.model_name,
                     "model preset, one of " + helix::models::names() + " (default: helix_seed)")
          ->option_text("NAME");
  app.add_option("--model-file", o.model_file,
                 "read the model from this JSON file instead (README, \"Model files\"); not with "
                 "--model (default: none)")
      ->option_text("PATH")
      ->excludes(preset);
  app.add_option("--plan", o.plans,
                 "a partition plan as text, e.g. pp=2,tg=4x4; repeat to run several, each on all "
                 "the ranks, so every plan's world size must be the number of ranks (default: "
                 "the seed's two plans, pp=2,tg=4x4 and hp=4x4)")
      ->option_text("PLAN ...");
  app.add_option("--workload", o.phase,
                 "prefill or decode (one new token against a KV cache of the context) (default: "
                 "prefill)")
      ->check(CLI::IsMember({"prefill", "decode"}))
      ->option_text("PHASE");
  app.add_option("--microbatches", o.microbatches_text,
                 "pipeline microbatches per data-parallel replica (default: 1)")
      ->option_text("N");
  app.add_option("--pipeline-send", o.pipeline_send,
                 "how activations cross pipeline stages: scatter_gather (each tensor rank sends "
                 "1/t of hidden, the next stage all-gathers) or full (each sends the whole "
                 "activation) (default: scatter_gather)")
      ->option_text("HOW");
  app.add_option("--kv-placement", o.kv_placement,
                 "how KV-parallel decode (kvp=) deals the KV cache to its shards: contiguous "
                 "(blocks; new tokens on the last shard) or interleaved:N (N-token chunks round "
                 "robin, NVIDIA Helix's 16) (default: contiguous)")
      ->option_text("PLACEMENT");
  app.add_option("--size", o.size,
                 "shrunk (models::shrink: the plans' divisibilities at verification size) or "
                 "full (the model as given, with --batch and --input-tokens) (default: shrunk)")
      ->check(CLI::IsMember({"shrunk", "full"}))
      ->option_text("SIZE");
  app.add_option("--batch", o.batch_text,
                 "sequences in the batch, after shrinking (default: the (shrunk) model's)")
      ->option_text("N");
  app.add_option("--input-tokens,--seq", o.input_tokens_text,
                 "tokens per sequence (decode: the KV cache's), after shrinking (default: the "
                 "(shrunk) model's)")
      ->option_text("N");
  app.add_option("--collectives", o.collectives,
                 "ring: each collective as the DAG's ring of MPI_Sendrecv steps, bit-identical to "
                 "the single-process executor; mpi: MPI_Allreduce, MPI_Reduce_scatter(_block), "
                 "MPI_Allgather (another summation order) (default: ring)")
      ->check(CLI::IsMember({"ring", "mpi"}))
      ->option_text("HOW");
  app.add_option("--reference-sequences", o.reference_sequences_text,
                 "sequences rank 0 checks against the unsharded reference, computed block by "
                 "block with one block's weights in memory, spread over the batch; 0 = all "
                 "(default: all when their activations fit in 2^27 elements, else as many as do)")
      ->option_text("N");
  app.add_flag("--single-process,!--no-single-process", o.single_process,
               "also run the single-process executor on rank 0 and compare: bit for bit with "
               "--collectives ring, within 1e-12 with mpi (default: on when the model fits "
               "verify's size limit)");
  app.add_option("--timeout", o.timeout_seconds,
                 "seconds a rank waits for a transfer or for a collective's members before it "
                 "fails naming the vertex (default: 60)")
      ->check(CLI::PositiveNumber)
      ->option_text("SECONDS");
  app.add_flag("--check-collectives,!--no-check-collectives", o.check_collectives,
               "before each collective its members confirm they are at the same vertex (default: "
               "on)");
  app.add_option("--seed", o.seed_text, "seed of weights and inputs (default: 20240601)")
      ->option_text("N");
  app.add_option("--json", o.json_file,
                 "write the results as JSON to this file; its folder must exist (default: none)")
      ->option_text("FILE");
  app.add_option("--fault-skip-collective", o.fault,
                 "testing: rank R passes its K-th collective through without communicating "
                 "(K from 0; negative counts from the end), as a rank whose DAG lacked it; the run "
                 "must fail with a clear error (default: none)")
      ->option_text("R:K")
      ->group("Testing");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    if (root)
      return app.exit(e);
    return 0;
  } catch (const CLI::ParseError& e) {
    if (root)
      std::cerr << "helix_mpi: " << e.what() << " (see --help)\n";
    return 2;
  }
  return std::nullopt;
}

struct Setup {
  std::string model_name;
  helix::Model model;
  helix::Workload workload;
  std::vector<helix::PlanSpec> plans;
  std::vector<std::string> plan_texts;
  helix::distributed::MpiOptions mpi;
  std::uint64_t seed = helix::numerics::default_seed;
  std::int64_t reference_sequences = 0;
  std::int64_t fault_rank = -1, fault_index = 0;
};

/// Model, plans and options checked, the same on every rank. @throws BadInput
Setup read_setup(const Options& o, int world) {
  Setup s;
  std::optional<helix::Model> model;
  s.model_name = o.model_name;
  if (!o.model_file.empty()) {
    try {
      helix::ModelDefinition definition = helix::read_model_json(o.model_file);
      model = definition.model;
      s.model_name = definition.name;
    } catch (const helix::ModelJsonError& e) {
      throw BadInput(std::string("--model-file: ") + e.what());
    }
  } else if (!(model = helix::models::by_name(o.model_name))) {
    throw BadInput("unknown --model '" + o.model_name + "'; known: " + helix::models::names());
  }
  const std::optional<std::int64_t> microbatches =
      helix::examples::parse_count(o.microbatches_text);
  if (!microbatches || *microbatches < 1)
    throw BadInput("--microbatches '" + o.microbatches_text +
                   "' is not a whole number from 1 to 10^15");
  if (o.pipeline_send != "scatter_gather" && o.pipeline_send != "full")
    throw BadInput("unknown --pipeline-send '" + o.pipeline_send +
                   "'; known: scatter_gather, full");
  const std::optional<helix::KVPlacement> kv_placement = helix::kv_placement_named(o.kv_placement);
  if (!kv_placement)
    throw BadInput("unknown --kv-placement '" + o.kv_placement +
                   "'; known: contiguous, interleaved:N (N tokens per chunk, 1 to 10^9)");
  s.workload = {o.phase == "decode" ? helix::Phase::decode : helix::Phase::prefill, *microbatches,
                helix::AttentionKernel::flash,
                o.pipeline_send == "full" ? helix::PipelineSend::full
                                          : helix::PipelineSend::scatter_gather,
                *kv_placement};
  s.plan_texts = o.plans.empty() ? std::vector<std::string>{"pp=2,tg=4x4", "hp=4x4"} : o.plans;
  for (const std::string& text : s.plan_texts) {
    try {
      s.plans.push_back(helix::parse_plan(text));
    } catch (const std::exception& e) {
      throw BadInput("--plan '" + text + "': " + e.what());
    }
    const std::int64_t devices = helix::make_mesh(s.plans.back()).size();
    if (devices != world)
      throw BadInput("--plan '" + text + "' has a world size of " + std::to_string(devices) +
                     " devices, but mpiexec started " + std::to_string(world) +
                     " ranks: run it with mpiexec -n " + std::to_string(devices) +
                     " (MPI rank r is device r)");
  }
  // Shrunk sizes keep every plan's divisibilities; validate judges the plans on the full model
  // first, as helix_deploy does, so a plan that does not suit the model is not shrunk into one.
  // The batch is judged on the shrunk model (shrink makes it 2 · data parallel · microbatches).
  std::int64_t replicas = 1;
  for (const helix::PlanSpec& p : s.plans)
    replicas = std::lcm(replicas, std::max<std::int64_t>(p.data_parallel, 1));
  const helix::Model judged = model->with_batch(2 * replicas * s.workload.microbatches);
  for (std::size_t i = 0; i < s.plans.size(); ++i)
    if (const std::vector<std::string> problems = helix::validate(judged, s.plans[i], s.workload);
        !problems.empty() && o.size == "shrunk")
      throw BadInput("--plan '" + s.plan_texts[i] + "': " + problems.front());
  s.model = o.size == "shrunk" ? helix::models::shrink(*model, s.plans, s.workload) : *model;
  const auto size = [](const std::string& text, const char* option, std::int64_t otherwise) {
    if (text.empty())
      return otherwise;
    const std::optional<std::int64_t> value = helix::examples::parse_count(text);
    if (!value || *value < 1)
      throw BadInput(std::string(option) + " '" + text + "' is not a whole number from 1 to 10^15");
    return *value;
  };
  s.model = s.model.with_batch(size(o.batch_text, "--batch", s.model.batch))
                .with_seq_len(size(o.input_tokens_text, "--input-tokens", s.model.seq_len));
  for (std::size_t i = 0; i < s.plans.size(); ++i)
    if (const std::vector<std::string> problems = helix::validate(s.model, s.plans[i], s.workload);
        !problems.empty())
      throw BadInput("--plan '" + s.plan_texts[i] + "': " + problems.front());
  s.mpi.collectives = o.collectives == "mpi" ? helix::distributed::Collectives::mpi
                                             : helix::distributed::Collectives::ring;
  s.mpi.timeout_seconds = o.timeout_seconds;
  s.mpi.check_collectives = o.check_collectives;
  if (!o.seed_text.empty()) {
    const std::optional<std::int64_t> seed = helix::examples::parse_count(o.seed_text);
    if (!seed)
      throw BadInput("--seed '" + o.seed_text + "' is not a whole number from 0 to 10^15");
    s.seed = static_cast<std::uint64_t>(*seed);
  }
  if (!o.reference_sequences_text.empty()) {
    const std::optional<std::int64_t> n = helix::examples::parse_count(o.reference_sequences_text);
    if (!n)
      throw BadInput("--reference-sequences '" + o.reference_sequences_text +
                     "' is not a whole number from 0 to 10^15");
    s.reference_sequences = *n;
  } else {
    // The sample's activations (each sequence's hidden states, decode's context too) within
    // verify's tensor limit; the reference holds one block's weights beside them.
    const std::int64_t per_sequence =
        (s.model.seq_len + (s.workload.phase == helix::Phase::decode ? 1 : 0)) * s.model.hidden;
    s.reference_sequences = std::clamp<std::int64_t>(helix::numerics::max_verify_tensor_elements /
                                                         std::max<std::int64_t>(per_sequence, 1),
                                                     1, s.model.batch);
  }
  if (!o.json_file.empty()) {
    const std::filesystem::path folder = std::filesystem::path(o.json_file).parent_path();
    if (!folder.empty() && !std::filesystem::is_directory(folder))
      throw BadInput("--json '" + o.json_file + "': folder '" + folder.string() +
                     "' does not exist");
  }
  if (!o.fault.empty()) {
    const std::size_t colon = o.fault.find(':');
    const std::optional<std::int64_t> rank = helix::examples::parse_count(o.fault.substr(0, colon));
    std::int64_t index = 0;
    bool ok = rank && *rank < world;
    if (ok && colon != std::string::npos) {
      const std::string k = o.fault.substr(colon + 1);
      const bool negative = !k.empty() && k[0] == '-';
      const std::optional<std::int64_t> magnitude =
          helix::examples::parse_count(negative ? k.substr(1) : k);
      ok = magnitude.has_value();
      index = ok ? (negative ? -*magnitude : *magnitude) : 0;
    }
    if (!ok)
      throw BadInput("--fault-skip-collective '" + o.fault + "' is not R:K with R a rank below " +
                     std::to_string(world));
    s.fault_rank = *rank;
    s.fault_index = index;
  }
  return s;
}

/// The vertex of the fault's collective: rank R's K-th collective in the execution order.
std::int64_t fault_vertex(const Setup& s, const helix::Dag& dag,
                          const std::vector<helix::Vertex>& order) {
  std::vector<helix::Vertex> mine;
  for (const helix::Vertex v : order)
    if (helix::collective_of(dag[v])) {
      const std::vector<std::int64_t> members = helix::devices_of(dag, v);
      if (std::ranges::find(members, s.fault_rank) != members.end())
        mine.push_back(v);
    }
  const std::int64_t n = std::ssize(mine);
  const std::int64_t k = s.fault_index < 0 ? n + s.fault_index : s.fault_index;
  if (k < 0 || k >= n)
    throw BadInput("--fault-skip-collective: rank " + std::to_string(s.fault_rank) +
                   " takes part in " + std::to_string(n) + " collectives, it has no collective " +
                   std::to_string(s.fault_index));
  return static_cast<std::int64_t>(mine[static_cast<std::size_t>(k)]);
}

struct PlanResult {
  std::string plan;
  std::size_t vertices = 0;
  std::vector<helix::distributed::RankReport> ranks;
  helix::numerics::SampleReport reference;
  std::optional<helix::numerics::OutputComparison> single_process;
  double single_process_seconds = 0;
  std::string single_process_note;
  bool passed = false;
};

/// Runs one plan on every rank; on rank 0 verifies and prints. Returns rank 0's verdict.
PlanResult run_plan(const Setup& s, std::size_t index, MPI_Comm world, int rank, bool single) {
  const helix::Dag dag = helix::build_dag(s.model, s.plans[index], s.workload);
  const std::vector<helix::Vertex> order = helix::numerics::execution_order(dag);
  helix::distributed::MpiOptions mpi = s.mpi;
  if (s.fault_rank == rank)
    mpi.skip_vertex = fault_vertex(s, dag, order);
  const helix::distributed::RankRun<Scalar> run =
      helix::distributed::run_rank<Scalar>(dag, world, mpi, s.seed);
  PlanResult result;
  result.plan = s.plan_texts[index];
  result.vertices = boost::num_vertices(dag);
  result.ranks = helix::distributed::gather_reports(run.report, world);
  const std::vector<helix::numerics::SequenceTensor<Scalar>> outputs =
      helix::distributed::gather_outputs(run.execution.outputs, world);
  if (rank != 0)
    return result;

  result.reference = helix::numerics::verify_sample<Scalar>(
      s.model, s.workload, outputs,
      helix::numerics::sample_sequences(s.model.batch, s.reference_sequences), s.seed);
  bool passed = result.reference.passed;
  if (single) {
    if (const auto [elements, name] = helix::numerics::detail::largest_tensor(s.model);
        elements > helix::numerics::max_verify_tensor_elements) {
      result.single_process_note = "skipped: its " + std::string(name) + " tensor has " +
                                   std::to_string(elements) +
                                   " elements, more than one process "
                                   "verifies";
    } else {
      const helix::numerics::Weights<Scalar> weights =
          helix::numerics::make_weights<Scalar>(s.model, s.seed);
      const helix::numerics::Input<Scalar> input =
          helix::numerics::make_input<Scalar>(s.model, s.workload, weights, s.seed);
      const auto start = std::chrono::steady_clock::now();
      const helix::numerics::Execution<Scalar> alone =
          helix::numerics::execute(dag, weights, input);
      result.single_process_seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      result.single_process = helix::numerics::compare_outputs(outputs, alone.outputs);
      const bool agrees =
          s.mpi.collectives == helix::distributed::Collectives::ring
              ? result.single_process->bit_identical
              : result.single_process->matched && result.single_process->max_relative <= 1e-12;
      passed = passed && agrees;
    }
  }
  result.passed = passed;
  return result;
}

void print(std::ostream& out, const Setup& s, const PlanResult& r) {
  using helix::distributed::RankReport;
  out << "\n## " << r.plan << " on " << r.ranks.size() << " ranks (" << r.vertices
      << " vertices), collectives " << helix::distributed::collectives_name(s.mpi.collectives)
      << "\n\n| rank | vertices | weights | KV cache | peak tensors | peak RSS | draw | run | "
         "communicating | collectives | transfers | sent |\n"
         "|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n";
  std::int64_t weights_max = 0, weights_sum = 0;
  double slowest = 0;
  for (const RankReport& k : r.ranks) {
    out << "| " << k.rank << " | " << k.vertices << " | " << bytes_text(k.weight_bytes) << " | "
        << bytes_text(k.cache_bytes) << " | " << bytes_text(k.peak_tensor_bytes) << " | "
        << bytes_text(k.peak_rss_bytes) << " | " << seconds_text(k.setup_seconds) << " | "
        << seconds_text(k.run_seconds) << " | " << seconds_text(k.communication_seconds) << " | "
        << k.collectives << " | " << k.transfers << " | " << bytes_text(k.bytes_sent) << " |\n";
    weights_max = std::max(weights_max, k.weight_bytes);
    weights_sum += k.weight_bytes;
    slowest = std::max(slowest, k.run_seconds);
  }
  const double full = static_cast<double>(helix::parameters(s.model)) * sizeof(Scalar);
  out << "\nweights: at most " << bytes_text(weights_max) << " on a rank (" << std::setprecision(3)
      << weights_max / full << " of the model's " << bytes_text(full) << "; 1/" << r.ranks.size()
      << " = " << 1.0 / static_cast<double>(r.ranks.size()) << "), " << bytes_text(weights_sum)
      << " over all ranks\n";
  const helix::numerics::SampleReport& ref = r.reference;
  out << "reference (" << ref.sequences.size() << " of " << s.model.batch
      << " sequences, block by block): max abs err " << number(ref.error.max_abs)
      << ", max rel err " << number(ref.error.max_relative) << " (tolerance "
      << number(ref.tolerance)
      << "), every sampled sequence present: " << (ref.complete ? "yes" : "NO")
      << ", every copy of the output identical: " << (ref.replicas_agree ? "yes" : "NO") << "\n";
  if (r.single_process) {
    const helix::numerics::OutputComparison& c = *r.single_process;
    out << "single-process executor (" << seconds_text(r.single_process_seconds) << "): ";
    if (!c.matched)
      out << "its output tensors do NOT match the ranks' one for one";
    else if (c.bit_identical)
      out << "bit-identical (" << c.tensors << " output tensors)";
    else
      out << "max rel difference " << number(c.max_relative) << " (" << c.tensors
          << " output tensors)"
          << (s.mpi.collectives == helix::distributed::Collectives::ring ? ", NOT bit-identical"
                                                                         : "");
    out << "\n";
  } else if (!r.single_process_note.empty()) {
    out << "single-process executor: " << r.single_process_note << "\n";
  }
  out << "time: slowest rank " << seconds_text(slowest);
  if (r.single_process)
    out << ", single process " << seconds_text(r.single_process_seconds);
  out << "\n" << (r.passed ? "PASS" : "FAIL") << " " << r.plan << "\n";
}

nlohmann::json to_json(const Setup& s, const std::vector<PlanResult>& results) {
  nlohmann::json plans = nlohmann::json::array();
  for (const PlanResult& r : results) {
    nlohmann::json ranks = nlohmann::json::array();
    for (const helix::distributed::RankReport& k : r.ranks)
      ranks.push_back({{"rank", k.rank},
                       {"vertices", k.vertices},
                       {"weight_bytes", k.weight_bytes},
                       {"kv_cache_bytes", k.cache_bytes},
                       {"peak_tensor_bytes", k.peak_tensor_bytes},
                       {"peak_rss_bytes", k.peak_rss_bytes},
                       {"draw_s", k.setup_seconds},
                       {"run_s", k.run_seconds},
                       {"communication_s", k.communication_seconds},
                       {"collectives", k.collectives},
                       {"transfers", k.transfers},
                       {"bytes_sent", k.bytes_sent}});
    nlohmann::json single = nullptr;
    if (r.single_process)
      single = {{"seconds", r.single_process_seconds},
                {"matched", r.single_process->matched},
                {"bit_identical", r.single_process->bit_identical},
                {"max_rel_diff", r.single_process->max_relative},
                {"output_tensors", r.single_process->tensors}};
    plans.push_back({{"plan", r.plan},
                     {"world_size", r.ranks.size()},
                     {"vertices", r.vertices},
                     {"passed", r.passed},
                     {"reference",
                      {{"sequences", r.reference.sequences},
                       {"max_abs_err", r.reference.error.max_abs},
                       {"max_rel_err", r.reference.error.max_relative},
                       {"tolerance", r.reference.tolerance},
                       {"complete", r.reference.complete},
                       {"replicas_agree", r.reference.replicas_agree},
                       {"seconds", r.reference.reference_seconds}}},
                     {"single_process", single},
                     {"ranks", ranks}});
  }
  const helix::Model& m = s.model;
  return {{"model",
           {{"name", s.model_name},
            {"layers", m.layers},
            {"hidden", m.hidden},
            {"heads", m.heads},
            {"kv_heads", m.kv_heads},
            {"head_dim", m.head_dim},
            {"ffn_hidden", m.ffn_hidden},
            {"vocab", m.vocab},
            {"batch", m.batch},
            {"seq_len", m.seq_len}}},
          {"workload",
           {{"phase", s.workload.phase == helix::Phase::decode ? "decode" : "prefill"},
            {"microbatches", s.workload.microbatches},
            {"pipeline_send", std::string(helix::pipeline_send_name(s.workload.pipeline_send))},
            {"kv_placement", helix::to_string(s.workload.kv_placement)}}},
          {"collectives", std::string(helix::distributed::collectives_name(s.mpi.collectives))},
          {"scalar", "double"},
          {"plans", plans}};
}

int run(int argc, char** argv, MPI_Comm world, int rank, int size) {
  Options o;
  if (const std::optional<int> code = parse_options(argc, argv, o, rank == 0))
    return *code;
  Setup s;
  try {
    s = read_setup(o, size);
  } catch (const BadInput& e) {
    if (rank == 0)
      std::cerr << "helix_mpi: " << e.what() << "\n";
    return 2;
  }
  if (rank == 0) {
    const helix::Model& m = s.model;
    std::cout << "# helix_mpi: " << s.model_name << (o.size == "shrunk" ? " (shrunk)" : "") << ": "
              << m.layers << " layers, hidden " << m.hidden << ", " << m.heads << " heads ("
              << m.kv_heads << " kv) x " << m.head_dim << ", ffn " << m.ffn_hidden
              << (m.activation == helix::Activation::swiglu ? " (SwiGLU)" : "") << ", vocab "
              << m.vocab << ", batch " << m.batch << ", seq " << m.seq_len << "; " << o.phase
              << ", " << s.workload.microbatches << " microbatch(es); pipeline sends "
              << helix::pipeline_send_name(s.workload.pipeline_send) << "; KV placement "
              << helix::to_string(s.workload.kv_placement) << "; " << size << " ranks; double\n";
  }
  std::vector<PlanResult> results;
  bool passed = true;
  for (std::size_t i = 0; i < s.plans.size(); ++i) {
    PlanResult r = run_plan(s, i, world, rank, o.single_process);
    if (rank == 0) {
      print(std::cout, s, r);
      std::cout.flush();
    }
    passed = passed && (rank != 0 || r.passed);
    results.push_back(std::move(r));
  }
  if (rank == 0 && !o.json_file.empty())
    helix::io::write_file_atomically(o.json_file, to_json(s, results).dump(2) + "\n");
  return passed ? 0 : 1;
}

} // namespace

int main(int argc, char** argv) {
  if (MPI_Init(&argc, &argv) != MPI_SUCCESS) {
    std::cerr << "helix_mpi: MPI_Init failed\n";
    return 3;
  }
  // Errors come back as codes, which the backend turns into exceptions naming the call.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  int rank = 0, size = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  int code = 0;
  try {
    code = run(argc, argv, MPI_COMM_WORLD, rank, size);
  } catch (const std::exception& e) {
    // One rank's failure (a timeout, members that disagree, an MPI error) is not every rank's:
    // abort the whole job so no rank waits for it forever.
    std::cerr << "helix_mpi: rank " << rank << ": " << e.what() << std::endl;
    MPI_Abort(MPI_COMM_WORLD, 3);
    return 3;
  }
  MPI_Finalize();
  return code;
}
