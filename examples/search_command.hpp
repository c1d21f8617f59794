// helix_deploy --search N: every plan of N GPUs costed (cost::search) and the best ten printed
// with the comparison's columns, the rejections per reason, where each --plan ranks and the top
// three verified numerically; --frontier N --batch-sizes LIST: every (plan, batch) point of a
// decode or generation as frontier.svg and frontier.json. Included by helix_deploy.cpp, kept
// apart so that file stays the plan run.
#pragma once

#include <helix/cost/compare.hpp>
#include <helix/cost/frontier.hpp>
#include <helix/cost/hardware.hpp>
#include <helix/cost/search.hpp>
#include <helix/cost/units.hpp>
#include <helix/io/frontier_json.hpp>
#include <helix/io/frontier_svg.hpp>
#include <helix/io/json.hpp>
#include <helix/io/markdown.hpp>
#include <helix/model/model.hpp>
#include <helix/numerics/report.hpp>
#include <helix/plan/parse.hpp>

#include "command_line.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace helix::examples {

/// The options of helix_deploy that --search and --frontier add.
struct SearchCommand {
  std::string search_text;              ///< --search N: empty unless given
  std::string frontier_text;            ///< --frontier N: empty unless given
  std::vector<std::string> batch_sizes; ///< --batch-sizes: the frontier's batches
  std::string memory_text;              ///< --search-memory require|ignore; empty: the default

  bool requested() const { return !search_text.empty() || !frontier_text.empty(); }
  bool frontier() const { return !frontier_text.empty(); }
};

/// What helix_deploy read before the search: the model and how it runs.
struct SearchInputs {
  std::string model_name;
  Model model;
  Workload workload;
  cost::Hardware hardware;
  std::int64_t output_tokens = 1;
  cost::Objective objective = cost::Objective::tokens_per_s_per_gpu;
  /// The --plan given (the seed's two when none is given on the seed), marked in the ranking.
  std::vector<PlanSpec> plans;
  cost::SimulationOptions simulation;
  std::string out; ///< --out: the frontier's files go there
  bool verify = true;
  bool views = true; ///< whether --views is other than none
};

/// Draws, verifies and costs one plan as a default helix_deploy run does; its exit code.
using RunOnePlan = std::function<int(const PlanSpec& plan, std::int64_t microbatches)>;

namespace search_command {

struct BadInput : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// The most rows the ranking prints besides the --plan marked below it.
constexpr std::size_t rows_printed = 10;
/// The best plans whose numerics are verified on their shrunk models.
constexpr std::size_t plans_verified = 3;

inline std::int64_t world_size_of(const std::string& text, const char* option) {
  const std::optional<std::int64_t> n = parse_count(text);
  if (!n || *n < 1 || *n > 1'000'000)
    throw BadInput(std::string(option) + " '" + text +
                   "' is not a whole number of GPUs from 1 to 1000000");
  return *n;
}

/// Whether a run on `model` keeps plans that do not fit: asked with --search-memory, else only on
/// helix_seed, whose batch of 1,024 sequences of 10,000 tokens no plan holds in 80 GB (its
/// comparison is of time, as the seed document's is).
inline bool require_fit(const SearchCommand& s, const SearchInputs& in) {
  if (!s.memory_text.empty())
    return s.memory_text == "require";
  return in.model_name != "helix_seed";
}

/// The numerics of one plan, as the column says it.
inline std::string verified_cell(const SearchInputs& in, const cost::Candidate& c) {
  Workload w = in.workload;
  w.microbatches = c.microbatches;
  try {
    const numerics::PlanNumerics n = numerics::verify_plan(in.model, c.plan, w);
    char error[32];
    std::snprintf(error, sizeof error, "%.1e", n.in_double.output.max_relative);
    return n.as_expected ? std::string("yes (") + error + ")"
                         : std::string("FAILED (") + error + ")";
  } catch (const std::exception& e) {
    return std::string("not verified: ") + e.what();
  }
}

/// "pp=2,tg=4x4, rank 17 of 73" and how it compares with the best, or why it has no rank.
inline std::string place_of(const cost::SearchResult& r, const cost::Candidate& c,
                            std::int64_t batch) {
  const std::string text = cost::candidate_text(c);
  if (const std::optional<std::size_t> entry = cost::find_entry(r, c, batch)) {
    const cost::PlanSummary& mine = r.entries[*entry].summary;
    const cost::PlanSummary& best = r.entries[r.ranking.front()].summary;
    const double m = cost::objective_score(mine, r.objective);
    const double b = cost::objective_score(best, r.objective);
    char ratio[32];
    std::snprintf(ratio, sizeof ratio, "×%.3g", m != 0 ? b / m : 0.0);
    const bool rate = r.objective == cost::Objective::tokens_per_s_per_gpu;
    const auto value = [&](double score) {
      return rate ? cost::format_si(score, "tokens/s/GPU") : cost::format_si(-score, "s");
    };
    return text + " ranks " + std::to_string(cost::rank_of(r, *entry)) + " of " +
           std::to_string(r.entries.size()) + ": " + value(m) + " against the best's " + value(b) +
           " (" + cost::format_si(best.makespan_seconds, "s") + " makespan against " +
           cost::format_si(mine.makespan_seconds, "s") + "; the best is " +
           (rate ? std::string(ratio) : std::string(ratio) + " faster") + ")";
  }
  for (const cost::RejectedPoint& p : r.rejected)
    if (p.candidate == c && p.batch == batch) {
      std::string why;
      for (const std::string& reason : p.reasons)
        why += (why.empty() ? "" : ", ") + reason;
      return text + " was rejected: " + why;
    }
  return text + " was not enumerated";
}

inline void print_rejections(const cost::SearchResult& r) {
  if (r.reasons.empty())
    return;
  std::cout << "\nRejected (points per reason; a point may break several rules):\n";
  for (const cost::ReasonCount& reason : r.reasons) {
    std::string example;
    for (const cost::RejectedPoint& p : r.rejected)
      if (std::ranges::find(p.reasons, reason.reason) != p.reasons.end()) {
        example = cost::candidate_text(p.candidate) + ", batch " + std::to_string(p.batch);
        break;
      }
    std::cout << "- " << reason.reason << ": " << reason.points << " (e.g. " << example << ")\n";
  }
  if (r.skipped_by_monotone_memory > 0)
    std::cout << "  (" << r.skipped_by_monotone_memory
              << " of those that do not fit were not built: a smaller batch of the same plan "
                 "did not fit, and memory grows with the batch)\n";
}

inline void print_aliases(const cost::SearchResult& r) {
  if (r.aliases.empty())
    return;
  std::map<std::string, std::vector<std::string>> by_plan; // costed spelling → its aliases
  for (const cost::AliasPoint& a : r.aliases) {
    std::vector<std::string>& list = by_plan[cost::candidate_text(a.same_as)];
    const std::string alias = cost::candidate_text(a.candidate);
    if (std::ranges::find(list, alias) == list.end())
      list.push_back(alias);
  }
  std::cout << "\nSame DAG, costed once (" << r.aliases.size()
            << " points): each spelling lowers to the very DAG of the one it names, op by op "
               "(placements along the mesh axes by position):\n";
  std::size_t shown = 0;
  constexpr std::size_t lines_shown = 8;
  for (const auto& [plan, aliases] : by_plan) {
    if (shown++ == lines_shown) {
      std::cout << "- and " << by_plan.size() - lines_shown << " more plans\n";
      break;
    }
    std::string list;
    for (const std::string& a : aliases)
      list += (list.empty() ? "" : ", ") + a;
    std::cout << "- " << list << " = " << plan << '\n';
  }
}

/// The headline: what was enumerated and what became of it.
inline void print_counts(const cost::SearchResult& r, double seconds, unsigned threads) {
  std::cout << r.points << " (plan, batch) points enumerated: " << r.entries.size() << " costed, "
            << r.rejected.size() << " rejected, " << r.aliases.size()
            << " lower to the DAG of an earlier spelling; " << r.dags_built << " DAGs built in "
            << cost::format_si(seconds, "s") << " on " << threads << " threads\n";
}

/// --search: the ranking, the rejections, the aliases, the --plan places and the best plan drawn.
inline int run_search(const SearchCommand& s, const SearchInputs& in, const cost::SearchResult& r,
                      double seconds, unsigned threads, const RunOnePlan& run_one) {
  const bool generation = in.workload.phase == Phase::prefill && in.output_tokens > 1;
  std::cout << "\n## Plan search: " << in.model_name << " on " << r.world_size << " GPUs ("
            << std::string(in.hardware.name) << "), " << phase_name(in.workload.phase)
            << (generation ? " + " + std::to_string(in.output_tokens - 1) + " decode steps" : "")
            << ", batch " << in.model.batch << ", ranked by "
            << cost::objective_info(r.objective).column << " (best first)\n";
  print_counts(r, seconds, threads);
  if (!require_fit(s, in))
    std::cout << "memory: plans that do not fit are ranked too (" +
                     std::string(s.memory_text.empty() ? "the default for helix_seed, whose "
                                                         "batch no plan holds"
                                                       : "--search-memory ignore") +
                     "; the column 'fits' says which)\n";
  std::set<std::size_t> marked;
  std::map<std::size_t, std::string> mark_text;
  for (const PlanSpec& plan : in.plans) {
    const cost::Candidate c{plan, in.workload.microbatches};
    if (const std::optional<std::size_t> entry = cost::find_entry(r, c, in.model.batch)) {
      marked.insert(*entry);
      mark_text[*entry] += " ◀ --plan " + helix::to_string(plan);
    }
  }
  std::vector<std::string> verified(r.entries.size(), "—");
  for (std::size_t place = 0; place < std::min(plans_verified, r.ranking.size()); ++place)
    verified[r.ranking[place]] = verified_cell(in, r.entries[r.ranking[place]].candidate);
  std::cout << "\n| rank | " << io::comparison_header(generation) << " | family | verified |\n"
            << "|--:|" << io::comparison_alignment(generation) << "|---|---|\n";
  std::size_t shown_rows = 0;
  for (std::size_t place = 0; place < r.ranking.size(); ++place) {
    const std::size_t entry = r.ranking[place];
    if (place >= rows_printed && !marked.contains(entry))
      continue;
    ++shown_rows;
    if (place >= rows_printed && place > 0 && !marked.contains(r.ranking[place - 1]))
      std::cout << "| … |\n";
    cost::PlanSummary shown = r.entries[entry].summary;
    shown.name += mark_text[entry];
    std::cout << "| " << place + 1 << " | " << io::comparison_cells(shown, generation) << " | "
              << cost::plan_family_info(r.entries[entry].family).name << " | " << verified[entry]
              << " |\n";
  }
  if (r.ranking.size() > shown_rows)
    std::cout << "\n(" << r.ranking.size() - shown_rows << " more costed plans not shown)\n";
  print_rejections(r);
  print_aliases(r);
  if (r.ranking.empty()) {
    std::cout << "\nno plan of " << r.world_size << " GPUs could be costed for " << in.model_name
              << ": see the rejections above\n";
    return 1;
  }
  const cost::SearchEntry& best = r.entries[r.ranking.front()];
  std::cout << "\n- best: " << cost::candidate_text(best.candidate) << " ("
            << cost::plan_family_info(best.family).name << "), "
            << (r.objective == cost::Objective::tokens_per_s_per_gpu
                    ? cost::format_si(cost::objective_score(best.summary, r.objective),
                                      "tokens/s/GPU")
                    : cost::format_si(-cost::objective_score(best.summary, r.objective), "s"))
            << ", numerics " << verified[r.ranking.front()] << '\n';
  for (const PlanSpec& plan : in.plans)
    std::cout << "- " << place_of(r, {plan, in.workload.microbatches}, in.model.batch) << '\n';
  const bool all_verified = std::ranges::all_of(
      verified, [](const std::string& v) { return v == "—" || v.starts_with("yes"); });
  std::cout << "\n## The best plan, as a run with --plan " << helix::to_string(best.candidate.plan)
            << " --microbatches " << best.candidate.microbatches << " draws and costs it\n";
  const int code = run_one(best.candidate.plan, best.candidate.microbatches);
  return all_verified ? code : 1;
}

/// One sentence on the frontier: its two ends, and which families make it up.
inline std::string describe_frontier(const std::vector<cost::FrontierPoint>& points) {
  const std::vector<std::size_t> frontier = cost::pareto_frontier(points);
  if (frontier.empty())
    return "no point was costed, so there is no frontier";
  const cost::FrontierPoint& throughput_end = points[frontier.front()];
  const cost::FrontierPoint& interactive_end = points[frontier.back()];
  const auto where = [](const cost::FrontierPoint& p) {
    return io::detail::rate(p.tokens_per_second_per_gpu, "tokens/s/GPU") + " at " +
           io::detail::rate(p.tokens_per_second_per_user, "tokens/s") + " per user (" + p.plan +
           ", batch " + std::to_string(p.batch) + ")";
  };
  std::map<std::string, std::size_t> families;
  for (std::size_t i : frontier)
    ++families[std::string(cost::plan_family_info(points[i].family).name)];
  std::string mix;
  for (const auto& [family, n] : families)
    mix += (mix.empty() ? "" : ", ") + family + " " + std::to_string(n);
  std::string absent;
  for (const cost::PlanFamilyInfo& f : cost::plan_families)
    if (std::ranges::none_of(points,
                             [&](const cost::FrontierPoint& p) { return p.family == f.family; }))
      absent += (absent.empty() ? "" : ", ") + std::string(f.name);
  return "the frontier runs from " + where(throughput_end) + " to " + where(interactive_end) +
         " through " + std::to_string(frontier.size()) + " points (" + mix + ")" +
         (absent.empty() ? "" : "; no " + absent + " point was costed");
}

/// --frontier: every point, the frontier's points printed, frontier.svg and frontier.json written.
inline int run_frontier(const SearchInputs& in, const cost::SearchResult& r,
                        const std::vector<std::int64_t>& batches, double seconds,
                        unsigned threads) {
  const bool generation = in.workload.phase == Phase::prefill && in.output_tokens > 1;
  std::cout << "\n## Throughput–interactivity frontier: " << in.model_name << " on " << r.world_size
            << " GPUs (" << std::string(in.hardware.name) << "), "
            << (generation
                    ? "generation of " + std::to_string(in.output_tokens) +
                          " output tokens after " + std::to_string(in.model.seq_len) +
                          " input tokens"
                    : "decode step against " + std::to_string(in.model.seq_len) + " cached tokens")
            << "\n";
  print_counts(r, seconds, threads);
  const std::vector<cost::FrontierPoint> points = cost::frontier_points(r);
  std::cout << "\n| plan | batch | family | tokens/s per user | tokens/s per GPU | memory/GPU |\n"
            << "|---|--:|---|--:|--:|--:|\n";
  for (std::size_t i : cost::pareto_frontier(points)) {
    const cost::FrontierPoint& p = points[i];
    std::cout << "| " << p.plan << " | " << p.batch << " | "
              << cost::plan_family_info(p.family).name << " | "
              << io::detail::rate(p.tokens_per_second_per_user) << " | "
              << io::detail::rate(p.tokens_per_second_per_gpu) << " | "
              << cost::format_si(r.entries[p.entry].summary.memory_per_device_max, "B") << " |\n";
  }
  print_rejections(r);
  print_aliases(r);
  const std::filesystem::path folder = in.out;
  std::filesystem::create_directories(folder); // --views none does not make it
  const std::string title = in.model_name + " on " + std::to_string(r.world_size) + " × " +
                            std::string(in.hardware.name) + ", " +
                            (generation ? "generation" : "decode") + ", context " +
                            std::to_string(in.model.seq_len);
  io::write_frontier_svg(folder / "frontier.svg", points, title);
  io::write_json_file(folder / "frontier.json",
                      io::frontier_json(in.model_name, in.model, in.workload, in.output_tokens,
                                        in.hardware, r, batches));
  std::cout << "\nnote: " << describe_frontier(points) << '\n';
  std::cout << "wrote " << (folder / "frontier.svg").string() << " and "
            << (folder / "frontier.json").string() << " (" << points.size() << " points)\n";
  return points.empty() ? 1 : 0;
}

} // namespace search_command

/// Checks what --search and --frontier were given with, before anything is read or written: the
/// reason for exit 2 on one line, or nothing.
inline std::optional<std::string> search_input_problem(const SearchCommand& s,
                                                       const std::vector<std::string>& plans,
                                                       const std::string& phase,
                                                       const std::string& output_tokens) {
  using search_command::BadInput;
  try {
    const bool frontier = s.frontier();
    const std::int64_t devices = search_command::world_size_of(
        frontier ? s.frontier_text : s.search_text, frontier ? "--frontier" : "--search");
    for (const std::string& text : plans) {
      PlanSpec plan;
      try {
        plan = parse_plan(text);
      } catch (const PlanTextError& e) {
        throw BadInput(std::string("--plan: ") + e.what());
      }
      if (world_size(plan) != devices)
        throw BadInput("--plan '" + helix::to_string(plan) + "' has " +
                       std::to_string(world_size(plan)) + " GPUs and " +
                       (frontier ? "--frontier " : "--search ") + std::to_string(devices) +
                       " searches plans of " + std::to_string(devices));
    }
    if (frontier && phase != "decode" && output_tokens == "1")
      throw BadInput("--frontier needs a decode step (--workload decode) or a generation "
                     "(--output-tokens above 1): a prefill alone gives each user one token");
    if (frontier && s.batch_sizes.empty())
      throw BadInput("--frontier needs --batch-sizes, e.g. --batch-sizes 1,2,4,8,16");
    for (const std::string& b : s.batch_sizes)
      if (const std::optional<std::int64_t> n = parse_count(b); !n || *n < 1)
        throw BadInput("--batch-sizes: '" + b + "' is not a whole number from 1 to 10^15");
    if (!s.memory_text.empty() && s.memory_text != "require" && s.memory_text != "ignore")
      throw BadInput("unknown --search-memory '" + s.memory_text + "'; known: require, ignore");
  } catch (const BadInput& e) {
    return e.what();
  }
  return std::nullopt;
}

/// --search or --frontier after helix_deploy read its inputs; the exit code. `run_one` draws and
/// costs the best plan of a search as a default run does.
inline int run_search_command(const SearchCommand& s, const SearchInputs& in,
                              const RunOnePlan& run_one) {
  using search_command::BadInput;
  try {
    const bool frontier = s.frontier();
    const std::int64_t devices = search_command::world_size_of(
        frontier ? s.frontier_text : s.search_text, frontier ? "--frontier" : "--search");
    cost::SearchOptions options;
    options.output_tokens = in.output_tokens;
    options.objective = in.objective;
    options.simulation = in.simulation;
    options.require_fit = search_command::require_fit(s, in);
    for (const std::string& b : s.batch_sizes)
      options.batch_sizes.push_back(*parse_count(b)); // checked by search_input_problem
    for (const PlanSpec& plan : in.plans) // of `devices` GPUs: search_input_problem said so
      options.include.push_back({plan, in.workload.microbatches});
    // A line on stderr that rewrites itself, for searches over a second.
    bool progressed = false;
    options.progress = [&](std::size_t done, std::size_t total, double seconds) {
      if (seconds < 1)
        return;
      std::fprintf(stderr, "\rsearch: %zu of %zu (plan, batch) points, %.1f s", done, total,
                   seconds);
      std::fflush(stderr);
      progressed = true;
    };
    const unsigned threads = std::max(1u, std::thread::hardware_concurrency());
    options.threads = threads;
    const auto started = std::chrono::steady_clock::now();
    const cost::SearchResult result =
        cost::search(in.model, in.workload, in.hardware, devices, options);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    if (progressed)
      std::fputc('\n', stderr);
    if (frontier)
      return search_command::run_frontier(in, result, options.batch_sizes, seconds, threads);
    return search_command::run_search(s, in, result, seconds, threads, run_one);
  } catch (const BadInput& e) {
    std::cerr << "helix_deploy: " << e.what() << '\n';
    return 2;
  }
}

} // namespace helix::examples
