// A frontier search as JSON, for tools that redraw or filter the picture: every costed (plan,
// batch) point with both rates and whether it is on the Pareto frontier, and what was rejected,
// by reason. Needs nlohmann_json (target helix::json), like helix/io/json.hpp.
#pragma once

#include "helix/cost/frontier.hpp"
#include "helix/cost/hardware.hpp"
#include "helix/cost/search.hpp"
#include "helix/io/atomic_file.hpp"
#include "helix/io/json.hpp"
#include "helix/model/model.hpp"
#include "helix/plan/parse.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace helix::io {

/// {"model", "hardware", "world_size", "workload" (batch: the first batch size), "batch_sizes",
/// "points_enumerated", "points": [{"plan", "microbatches", "family", "batch",
/// "tokens_per_s_per_user", "tokens_per_s_per_gpu", "fits", "on_frontier", "memory_per_device_max",
/// "step_s" (a decode step's makespan; null for a generation), "ttft_s", "tpot_s", "e2e_s" (a
/// generation's; null for a decode step)}...], "frontier": [indices of points, by tokens/s per
/// user ascending], "rejected": [{"reason", "points"}...], "aliases": [{"plan", "batch",
/// "same_dag_as"}...]}
inline nlohmann::json frontier_json(std::string_view model_name, const Model& model,
                                    const Workload& workload, std::int64_t output_tokens,
                                    const cost::Hardware& hw, const cost::SearchResult& result,
                                    const std::vector<std::int64_t>& batch_sizes) {
  const std::vector<cost::FrontierPoint> points = cost::frontier_points(result);
  nlohmann::json list = nlohmann::json::array();
  for (const cost::FrontierPoint& p : points) {
    const cost::SearchEntry& e = result.entries[p.entry];
    const cost::PlanSummary& s = e.summary;
    const bool generation = cost::generates(s);
    const auto or_null = [](bool has, double value) {
      return has ? nlohmann::json(value) : nlohmann::json(nullptr);
    };
    list.push_back({{"plan", helix::to_string(e.candidate.plan)},
                    {"microbatches", e.candidate.microbatches},
                    {"family", std::string(cost::plan_family_info(p.family).key)},
                    {"batch", p.batch},
                    {"tokens_per_s_per_user", p.tokens_per_second_per_user},
                    {"tokens_per_s_per_gpu", p.tokens_per_second_per_gpu},
                    {"fits", p.fits},
                    {"on_frontier", p.on_frontier},
                    {"memory_per_device_max", s.memory_per_device_max},
                    {"step_s", or_null(!generation, s.makespan_seconds)},
                    {"ttft_s", or_null(generation, generation ? s.generation->ttft_seconds : 0)},
                    {"tpot_s", or_null(generation, generation ? s.generation->tpot_seconds : 0)},
                    {"e2e_s", or_null(generation, generation ? s.generation->e2e_seconds : 0)}});
  }
  nlohmann::json frontier = nlohmann::json::array();
  for (std::size_t i : cost::pareto_frontier(points))
    frontier.push_back(i);
  nlohmann::json rejected = nlohmann::json::array();
  for (const cost::ReasonCount& r : result.reasons)
    rejected.push_back({{"reason", r.reason}, {"points", r.points}});
  nlohmann::json aliases = nlohmann::json::array();
  for (const cost::AliasPoint& a : result.aliases)
    aliases.push_back({{"plan", cost::candidate_text(a.candidate)},
                       {"batch", a.batch},
                       {"same_dag_as", cost::candidate_text(a.same_as)}});
  return {{"model", std::string(model_name)},
          {"hardware", std::string(hw.name)},
          {"world_size", result.world_size},
          {"workload", to_json(model, workload, output_tokens)},
          {"batch_sizes", batch_sizes},
          {"points_enumerated", result.points},
          {"points", list},
          {"frontier", frontier},
          {"rejected", rejected},
          {"aliases", aliases}};
}

} // namespace helix::io
