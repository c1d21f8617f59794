// The throughput–interactivity picture NVIDIA's Helix paper argues with: every costed (plan,
// batch) point of a decode or generation search as tokens per second per user (x) against tokens
// per second per GPU (y), and the Pareto frontier of those no other point beats on both.
#pragma once

#include "helix/cost/compare.hpp"
#include "helix/cost/search.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <string>
#include <vector>

namespace helix::cost {

/// Tokens each sequence (a user) receives per second: one per decode step, 1 / makespan; for a
/// generation, its output tokens over its e2e latency. 0 for a prefill alone, which gives each
/// user only the first token.
inline double tokens_per_second_per_user(const PlanSummary& s) {
  if (generates(s))
    return s.generation->e2e_seconds > 0
               ? static_cast<double>(s.generation->output_tokens) / s.generation->e2e_seconds
               : 0.0;
  if (s.memory_phase == Phase::decode && !s.generation)
    return s.makespan_seconds > 0 ? 1.0 / s.makespan_seconds : 0.0;
  return 0.0;
}

/// One point of the picture.
struct FrontierPoint {
  /// Index in SearchResult::entries.
  std::size_t entry = 0;
  std::string plan;
  std::int64_t batch = 0;
  PlanFamily family = PlanFamily::tensor_only;
  double tokens_per_second_per_user = 0;
  double tokens_per_second_per_gpu = 0;
  bool fits = true;
  bool on_frontier = false;
};

/// The indices of `points` on the Pareto frontier (no other point has as much of both rates and
/// more of one), by tokens per second per user ascending, so by tokens per second per GPU
/// descending. Of points with equal rates the first is kept.
inline std::vector<std::size_t> pareto_frontier(const std::vector<FrontierPoint>& points) {
  std::vector<std::size_t> order(points.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  // Most interactive first; at equal interactivity the higher throughput first, then the earlier.
  std::ranges::stable_sort(order, [&](std::size_t a, std::size_t b) {
    if (points[a].tokens_per_second_per_user != points[b].tokens_per_second_per_user)
      return points[a].tokens_per_second_per_user > points[b].tokens_per_second_per_user;
    return points[a].tokens_per_second_per_gpu > points[b].tokens_per_second_per_gpu;
  });
  std::vector<std::size_t> frontier;
  double best_throughput = -1;
  for (std::size_t i : order)
    if (points[i].tokens_per_second_per_gpu > best_throughput) {
      frontier.push_back(i);
      best_throughput = points[i].tokens_per_second_per_gpu;
    }
  std::ranges::reverse(frontier);
  return frontier;
}

/// Every entry of `result` as a point, those on the Pareto frontier marked.
inline std::vector<FrontierPoint> frontier_points(const SearchResult& result) {
  std::vector<FrontierPoint> points;
  for (std::size_t i = 0; i < result.entries.size(); ++i) {
    const SearchEntry& e = result.entries[i];
    points.push_back(
        {i, candidate_text(e.candidate), e.batch, e.family, tokens_per_second_per_user(e.summary),
         objective_score(e.summary, Objective::tokens_per_s_per_gpu), e.summary.fits, false});
  }
  for (std::size_t i : pareto_frontier(points))
    points[i].on_frontier = true;
  return points;
}

} // namespace helix::cost
