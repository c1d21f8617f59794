// Which plan for this model on these GPUs: every partition of a number of devices enumerated,
// those the rules reject or the GPUs' memory cannot hold counted by reason, plans that lower to
// the same DAG costed once, the rest costed (a prefill, a decode step or a generation, as
// helix_deploy costs them) and ranked by an objective. Over several batch sizes the same search
// gives every (plan, batch) point of the throughput–interactivity frontier (cost/frontier.hpp).
#pragma once

#include "helix/cost/compare.hpp"
#include "helix/cost/detail/dag_fingerprint.hpp"
#include "helix/cost/detail/plan_enumeration.hpp"
#include "helix/cost/generation.hpp"
#include "helix/cost/hardware.hpp"
#include "helix/cost/memory.hpp"
#include "helix/cost/simulate.hpp"
#include "helix/graph/dag.hpp"
#include "helix/model/model.hpp"
#include "helix/plan/parse.hpp"
#include "helix/plan/rules.hpp"
#include "helix/plan/spec.hpp"
#include "helix/plan/validate.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <future>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace helix::cost {

/// The kinds of plan the frontier tells apart by colour.
enum class PlanFamily : std::uint8_t {
  tensor_only,        ///< flat tensor parallel over every GPU (or one GPU)
  pipeline_tensor,    ///< pipeline stages, flat tensor parallel inside each
  tensor_groups,      ///< hierarchical tensor groups (several groups per stage)
  head_partitions,    ///< head_dim split across GPUs (two-level attention)
  kv_parallel_tensor, ///< KV cache split along the sequence, tensor parallel beside it
  data_parallel,      ///< replicas of any of the above
};

struct PlanFamilyInfo {
  PlanFamily family;
  /// As the legend says it.
  std::string_view name;
  /// As JSON writes it.
  std::string_view key;
};

inline constexpr std::array<PlanFamilyInfo, 6> plan_families{
    {{PlanFamily::tensor_only, "TP only", "tp"},
     {PlanFamily::pipeline_tensor, "PP×TP", "pp_tp"},
     {PlanFamily::tensor_groups, "TG", "tg"},
     {PlanFamily::head_partitions, "HP", "hp"},
     {PlanFamily::kv_parallel_tensor, "KVP×TP", "kvp_tp"},
     {PlanFamily::data_parallel, "DP×…", "dp"}}};

constexpr const PlanFamilyInfo& plan_family_info(PlanFamily family) {
  return plan_families[static_cast<std::size_t>(family)];
}

/// The family of `p`: its most distinctive descriptor, in the order data parallel, KV parallel,
/// head_dim split, hierarchical tensor groups, pipeline stages. A spelling that lowers to flat
/// tensor parallel (`hp=8x1`, `tg=8x1`, one group per stage) is flat tensor parallel.
constexpr PlanFamily plan_family(const PlanSpec& p) {
  if (p.data_parallel > 1)
    return PlanFamily::data_parallel;
  if (p.kv_parallel > 1)
    return PlanFamily::kv_parallel_tensor;
  if (head_dim_split(p) > 1)
    return PlanFamily::head_partitions;
  if (groups_per_stage(p) > 1 && tensor_group_size(p) > 1)
    return PlanFamily::tensor_groups;
  if (p.pipeline_stages > 1)
    return PlanFamily::pipeline_tensor;
  return PlanFamily::tensor_only;
}

/// A plan as the search costs it: the partition and its pipeline microbatches.
struct Candidate {
  PlanSpec plan{};
  std::int64_t microbatches = 1;
  friend bool operator==(const Candidate&, const Candidate&) = default;
};

/// "pp=2,tp=8", or with microbatches "pp=2,tp=8 (4 microbatches)".
inline std::string candidate_text(const Candidate& c) {
  std::string text = helix::to_string(c.plan);
  if (c.microbatches > 1)
    text += " (" + std::to_string(c.microbatches) + " microbatches)";
  return text;
}

/// Microbatch counts tried by default for plans with pipeline stages: enough to see a pipeline's
/// bubble shrink ((p − 1) / (m + p − 1)) without multiplying the search by more than four.
inline const std::vector<std::int64_t> default_search_microbatches{1, 2, 4, 8};

struct SearchOptions {
  /// Tokens generated per sequence with a prefill workload: 1 costs the prefill alone, more a
  /// generation (TTFT, TPOT, e2e), as `generation` does.
  std::int64_t output_tokens = 1;
  /// Pipeline microbatches tried for plans with two stages or more. A plan of one stage runs one
  /// microbatch: more would run the same work on the same GPUs in smaller pieces, one after
  /// another, each reading every weight again; it only lowers peak activation memory.
  std::vector<std::int64_t> microbatches = default_search_microbatches;
  /// Batch sizes (sequences) each plan is costed at; empty: the model's batch alone.
  std::vector<std::int64_t> batch_sizes;
  Objective objective = Objective::tokens_per_s_per_gpu;
  SimulationOptions simulation{};
  /// Whether a plan that needs more memory than a GPU has is dropped (and counted under
  /// `does_not_fit`) or costed and ranked like the others, its summary saying it does not fit.
  bool require_fit = true;
  /// Plans to cost besides those enumerated (a layer split, a microbatch count not in
  /// `microbatches`); each must have the search's world size.
  std::vector<Candidate> include;
  /// Threads that cost plans; 0: one per core.
  unsigned threads = 0;
  /// Called on the calling thread about every quarter second while the search runs, and once at
  /// the end, with the points done, the points in all and the seconds since the search began.
  std::function<void(std::size_t done, std::size_t total, double seconds)> progress;
};

/// The reason counted for plans that need more memory than a GPU has.
inline constexpr std::string_view does_not_fit = "does not fit in memory";

/// One costed (plan, batch) point.
struct SearchEntry {
  Candidate candidate;
  std::int64_t batch = 0;
  PlanFamily family = PlanFamily::tensor_only;
  PlanSummary summary;
  /// Other spellings enumerated at this batch that lower to this very DAG, not costed again.
  std::vector<std::string> aliases;
};

/// One (plan, batch) point that was not costed, with each reason: the names of the rules it
/// breaks, `does_not_fit`, or "could not be costed: ..." with the error.
struct RejectedPoint {
  Candidate candidate;
  std::int64_t batch = 0;
  std::vector<std::string> reasons;
};

/// How many points one reason rejected (a point may break several rules).
struct ReasonCount {
  std::string reason;
  std::int64_t points = 0;
};

/// A spelling that lowers to the same DAG as an earlier one, at one batch.
struct AliasPoint {
  Candidate candidate;
  std::int64_t batch = 0;
  Candidate same_as;
};

struct SearchResult {
  std::int64_t world_size = 0;
  /// (plan, batch) points enumerated: entries + rejected + aliases.
  std::size_t points = 0;
  /// Costed points in enumeration order (by plan, then batch).
  std::vector<SearchEntry> entries;
  /// Indices of `entries`, best first under the objective; ties keep enumeration order.
  std::vector<std::size_t> ranking;
  Objective objective = Objective::tokens_per_s_per_gpu;
  std::vector<RejectedPoint> rejected;
  /// Points rejected per reason, most first.
  std::vector<ReasonCount> reasons;
  std::vector<AliasPoint> aliases;
  /// DAGs built: one per costed or deduplicated point (a confirmation may rebuild one), plus a
  /// generation's decode steps.
  std::size_t dags_built = 0;
  /// Points that were rejected for memory without a DAG: a smaller batch of the same plan did not
  /// fit (see `search`).
  std::size_t skipped_by_monotone_memory = 0;
};

namespace detail {

/// What became of one (plan, batch) point.
struct SearchOutcome {
  enum class Kind : std::uint8_t { pending, costed, rejected, alias };
  Kind kind = Kind::pending;
  PlanSummary summary;
  std::vector<std::string> reasons;
  std::size_t alias_of = 0;
};

/// Plans whose DAGs are equal at one batch: the first in enumeration order is costed.
struct DagClass {
  std::size_t representative = 0;
  std::vector<std::size_t> members;
};

inline void check_search_inputs(std::int64_t devices, const Workload& workload,
                                const SearchOptions& o) {
  const auto fail = [](const std::string& what) {
    throw std::invalid_argument("helix::cost::search: " + what);
  };
  if (devices < 1)
    fail("world_size = " + std::to_string(devices) + ": needs at least 1 GPU");
  if (o.output_tokens < 1)
    fail("output_tokens = " + std::to_string(o.output_tokens) + ": at least 1");
  if (workload.phase == Phase::decode && o.output_tokens > 1)
    fail("output_tokens = " + std::to_string(o.output_tokens) +
         " with a decode workload: a generation starts with its prefill");
  if (o.microbatches.empty())
    fail("microbatches is empty: give at least 1");
  for (std::int64_t m : o.microbatches)
    if (m < 1)
      fail("microbatches holds " + std::to_string(m) + ": each at least 1");
  for (std::int64_t b : o.batch_sizes)
    if (b < 1)
      fail("batch_sizes holds " + std::to_string(b) + ": each at least 1");
  for (const Candidate& c : o.include)
    if (helix::world_size(c.plan) != devices)
      fail("include holds '" + candidate_text(c) + "' of " +
           std::to_string(helix::world_size(c.plan)) + " GPUs, the search " +
           std::to_string(devices));
}

} // namespace detail

/// Every plan of `world_size` GPUs for `model` running `workload` (its microbatch count is
/// replaced by each of `options.microbatches`) on `hw`, costed and ranked.
///
/// What is enumerated: pipeline stages P (layers dealt evenly), data parallel D and, for a decode
/// step or a generation, KV parallel K, each dividing the GPUs, and the remaining T GPUs of a
/// stage spelled every way (`tp=T`, every `tg=G×S` and `hp=Hg×Ds` with product T; see
/// detail::enumerate_plans); microbatches for P ≥ 2; each batch of `options.batch_sizes`.
/// Per point, in order: `validate` (a generation also validates its longest decode step); the DAG
/// built; a DAG equal to one of an earlier spelling at the same batch (`same_dag`, found by
/// fingerprint) is that spelling's alias and is not costed; memory (when `require_fit`, a point
/// that does not fit is dropped); simulation, and for a generation its decode steps.
///
/// Reuse across batch sizes, only where exact: a plan's memory on the fullest GPU is its weights
/// (the same at every batch) plus KV cache and the peak of live activations, each tensor of which
/// is proportional to the sequences a microbatch holds, under a schedule whose order does not
/// depend on sizes; so it grows with the batch, and a plan that does not fit at batch b does not
/// fit at any larger one: those points are rejected without a DAG. Times are not reused: a
/// matmul's tiles and waves, the collectives' protocol choice and the roofline's side all change
/// with the batch.
///
/// Points are costed on `options.threads` threads; each builds its own DAGs, the hardware and
/// model are shared read-only.
/// @throws std::invalid_argument for a world size below 1, output tokens below 1 (or above 1 with
/// a decode workload), an empty or non-positive microbatch list, a batch size below 1, or an
/// included plan of another world size.
[[nodiscard]] inline SearchResult search(const Model& model, const Workload& workload,
                                         const Hardware& hw, std::int64_t world_size,
                                         const SearchOptions& options = {}) {
  using Kind = detail::SearchOutcome::Kind;
  detail::check_search_inputs(world_size, workload, options);
  const auto started = std::chrono::steady_clock::now();
  const bool generation_run = workload.phase == Phase::prefill && options.output_tokens > 1;
  const bool decodes = workload.phase == Phase::decode || generation_run;

  std::vector<Candidate> candidates;
  for (const PlanSpec& plan : detail::enumerate_plans(world_size, decodes)) {
    if (plan.pipeline_stages == 1) {
      candidates.push_back({plan, 1});
      continue;
    }
    std::set<std::int64_t> counts(options.microbatches.begin(), options.microbatches.end());
    for (std::int64_t m : counts)
      candidates.push_back({plan, m});
  }
  for (const Candidate& c : options.include)
    if (std::ranges::find(candidates, c) == candidates.end())
      candidates.push_back(c);
  const std::vector<std::int64_t> batches =
      options.batch_sizes.empty() ? std::vector<std::int64_t>{model.batch} : options.batch_sizes;
  // Points batch by batch (point = batch index · candidates + candidate index): a batch is costed
  // whole before the next, so what did not fit at an earlier batch is known, whatever the threads'
  // timing.
  const std::size_t candidate_count = candidates.size();
  const std::size_t point_count = candidate_count * batches.size();

  std::vector<detail::SearchOutcome> outcomes(point_count);
  std::mutex mutex; // guards classes, proven, unfit_from and the counters below
  std::map<std::pair<std::int64_t, std::size_t>, std::vector<detail::DagClass>> classes;
  std::set<std::pair<std::size_t, std::size_t>> proven; // candidate pairs that lowered alike
  std::vector<std::int64_t> unfit_from(candidates.size(), std::numeric_limits<std::int64_t>::max());
  std::size_t built = 0, skipped = 0;

  const auto point_model = [&](std::size_t point) {
    return model.with_batch(batches[point / candidate_count]);
  };
  const auto point_workload = [&](std::size_t point) {
    Workload w = workload;
    w.microbatches = candidates[point % candidate_count].microbatches;
    return w;
  };
  const auto reject = [&](std::size_t point, std::vector<std::string> reasons) {
    outcomes[point].kind = Kind::rejected;
    outcomes[point].reasons = std::move(reasons);
  };

  // Joins `point` (whose DAG is `dag`) to the class of an equal DAG at its batch, or opens one.
  // Returns whether the point is an alias of an earlier spelling (and so is not costed).
  const auto deduplicate = [&](std::size_t point, const Dag& dag) {
    const std::int64_t batch = batches[point / candidate_count];
    const std::pair key{batch, detail::dag_fingerprint(dag)};
    std::vector<std::size_t> representatives;
    {
      const std::lock_guard lock(mutex);
      std::vector<detail::DagClass>& list = classes[key];
      if (list.empty()) {
        list.push_back({point, {point}});
        return false;
      }
      for (const detail::DagClass& c : list)
        representatives.push_back(c.representative);
    }
    // A fingerprint is evidence, not proof: each pair of spellings is compared op by op once.
    std::optional<std::size_t> equal;
    for (std::size_t other : representatives) {
      const std::pair pair{std::min(point % candidate_count, other % candidate_count),
                           std::max(point % candidate_count, other % candidate_count)};
      bool same = false;
      {
        const std::lock_guard lock(mutex);
        same = proven.contains(pair);
      }
      if (!same) {
        const Dag theirs = build_dag(point_model(other), candidates[other % candidate_count].plan,
                                     point_workload(other));
        same = detail::same_dag(dag, theirs);
        const std::lock_guard lock(mutex);
        ++built;
        if (same)
          proven.insert(pair);
      }
      if (same) {
        equal = other;
        break;
      }
    }
    const std::lock_guard lock(mutex);
    std::vector<detail::DagClass>& list = classes[key];
    if (!equal) {
      list.push_back({point, {point}});
      return false;
    }
    for (detail::DagClass& c : list)
      if (std::ranges::find(c.members, *equal) != c.members.end()) {
        c.members.push_back(point);
        if (point > c.representative) {
          outcomes[point].kind = Kind::alias;
          outcomes[point].alias_of = c.representative;
          return true;
        }
        c.representative = point; // an earlier spelling: it is costed, the other becomes alias
        return false;
      }
    return false;
  };

  const auto cost_point = [&](std::size_t point) {
    const Candidate& candidate = candidates[point % candidate_count];
    const Model m = point_model(point);
    const Workload w = point_workload(point);
    std::vector<std::string> reasons;
    std::vector<Finding> broken = broken_rules(m, candidate.plan, w);
    if (generation_run) {
      const std::int64_t last = m.seq_len + options.output_tokens - 1;
      for (const Finding& f :
           broken_rules(decode_model(m, last), candidate.plan, decode_workload(w)))
        broken.push_back(f);
    }
    for (const Finding& f : broken) {
      const std::string name(text_of(f.rule).name);
      if (std::ranges::find(reasons, name) == reasons.end())
        reasons.push_back(name);
    }
    if (!reasons.empty())
      return reject(point, std::move(reasons));
    if (options.require_fit) {
      const std::lock_guard lock(mutex);
      if (m.batch >= unfit_from[point % candidate_count]) {
        ++skipped;
        outcomes[point].kind = Kind::rejected;
        outcomes[point].reasons = {std::string(does_not_fit)};
        return;
      }
    }
    const Dag dag = build_dag(m, candidate.plan, w);
    {
      const std::lock_guard lock(mutex);
      ++built;
    }
    if (deduplicate(point, dag))
      return;
    const MemoryReport memory_report = memory(dag, hw);
    if (options.require_fit && !memory_report.fits)
      return reject(point, {std::string(does_not_fit)});
    const Timeline timeline = simulate(dag, hw, options.simulation);
    PlanSummary summary = summarize(candidate_text(candidate), dag, timeline, memory_report);
    if (workload.phase == Phase::prefill) {
      Generation g = generation(m, candidate.plan, w, options.output_tokens,
                                timeline.makespan_seconds, hw, options.simulation);
      {
        const std::lock_guard lock(mutex);
        built += g.decode.points.size();
      }
      summary = with_generation(std::move(summary), std::move(g));
    }
    if (options.require_fit && !summary.fits) // the last decode step's KV cache
      return reject(point, {std::string(does_not_fit)});
    outcomes[point].summary = std::move(summary);
    outcomes[point].kind = Kind::costed;
  };

  std::atomic<std::size_t> next{0}, end{0}, done{0};
  std::condition_variable changed;
  std::mutex progress_mutex;
  unsigned finished_workers = 0;
  const unsigned threads =
      options.threads > 0 ? options.threads : std::max(1u, std::thread::hardware_concurrency());
  const auto work = [&] {
    struct Finished { // tells the waiting thread even when a point throws past the catch below
      std::mutex& mutex;
      std::condition_variable& changed;
      unsigned& finished;
      ~Finished() {
        {
          const std::lock_guard lock(mutex);
          ++finished;
        }
        changed.notify_all();
      }
    } finished{progress_mutex, changed, finished_workers};
    for (std::size_t point = next++; point < end; point = next++) {
      try {
        cost_point(point);
      } catch (const std::exception& e) {
        reject(point, {"could not be costed: " + std::string(e.what())});
      }
      ++done;
      changed.notify_all();
    }
  };
  const auto seconds = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  };
  constexpr std::chrono::milliseconds progress_interval{250};
  auto next_report = std::chrono::steady_clock::now() + progress_interval;
  for (std::size_t b = 0; b < batches.size(); ++b) {
    next = b * candidate_count;
    end = (b + 1) * candidate_count;
    finished_workers = 0;
    std::vector<std::future<void>> workers;
    for (unsigned t = 0; t < threads; ++t)
      workers.push_back(std::async(std::launch::async, work));
    {
      std::unique_lock lock(progress_mutex);
      while (finished_workers < threads) {
        changed.wait_until(lock, next_report);
        if (std::chrono::steady_clock::now() >= next_report) {
          next_report += progress_interval;
          if (options.progress && finished_workers < threads) {
            lock.unlock();
            options.progress(done.load(), point_count, seconds());
            lock.lock();
          }
        }
      }
    }
    for (std::future<void>& w : workers)
      w.get(); // rethrows what escaped a worker (out of memory)
    // A class whose representative changed after a later spelling was costed: that one is an
    // alias. Then what did not fit at this batch is known for the batches after it.
    for (const auto& [key, list] : classes)
      if (key.first == batches[b])
        for (const detail::DagClass& c : list)
          for (std::size_t member : c.members)
            if (member != c.representative) {
              outcomes[member].kind = Kind::alias;
              outcomes[member].alias_of = c.representative;
            }
    // An alias has its representative's DAG, so its memory too.
    const auto unfit = [&](std::size_t point) {
      return outcomes[point].kind == Kind::rejected &&
             outcomes[point].reasons == std::vector<std::string>{std::string(does_not_fit)};
    };
    for (std::size_t point = b * candidate_count; point < end; ++point)
      if (unfit(point) ||
          (outcomes[point].kind == Kind::alias && unfit(outcomes[point].alias_of))) {
        std::int64_t& from = unfit_from[point % candidate_count];
        from = std::min(from, batches[b]);
      }
  }
  if (options.progress)
    options.progress(point_count, point_count, seconds());

  SearchResult result;
  result.world_size = world_size;
  result.points = point_count;
  result.objective = options.objective;
  result.dags_built = built;
  result.skipped_by_monotone_memory = skipped;
  std::map<std::size_t, std::size_t> entry_of_point;
  std::vector<std::size_t> plan_order; // by plan, then batch
  for (std::size_t c = 0; c < candidate_count; ++c)
    for (std::size_t b = 0; b < batches.size(); ++b)
      plan_order.push_back(b * candidate_count + c);
  for (std::size_t point : plan_order) {
    detail::SearchOutcome& o = outcomes[point];
    const Candidate& candidate = candidates[point % candidate_count];
    const std::int64_t batch = batches[point / candidate_count];
    if (o.kind == Kind::costed) {
      entry_of_point[point] = result.entries.size();
      result.entries.push_back(
          {candidate, batch, plan_family(candidate.plan), std::move(o.summary), {}});
    } else if (o.kind == Kind::rejected) {
      for (const std::string& reason : o.reasons) {
        auto at = std::ranges::find(result.reasons, reason, &ReasonCount::reason);
        if (at == result.reasons.end())
          result.reasons.push_back({reason, 1});
        else
          ++at->points;
      }
      result.rejected.push_back({candidate, batch, std::move(o.reasons)});
    }
  }
  for (std::size_t point : plan_order)
    if (outcomes[point].kind == Kind::alias) {
      const std::size_t of = outcomes[point].alias_of;
      result.aliases.push_back({candidates[point % candidate_count],
                                batches[point / candidate_count],
                                candidates[of % candidate_count]});
      if (const auto at = entry_of_point.find(of); at != entry_of_point.end())
        result.entries[at->second].aliases.push_back(
            candidate_text(candidates[point % candidate_count]));
    }
  std::ranges::stable_sort(result.reasons, std::ranges::greater{}, &ReasonCount::points);
  std::vector<PlanSummary> summaries;
  for (const SearchEntry& e : result.entries)
    summaries.push_back(e.summary);
  result.ranking = rank(summaries, options.objective);
  return result;
}

/// Where `candidate` at `batch` ended: the index in `result.entries` of its entry, or of the entry
/// it is an alias of; nothing when it was rejected or not enumerated.
inline std::optional<std::size_t> find_entry(const SearchResult& result, const Candidate& candidate,
                                             std::int64_t batch) {
  Candidate wanted = candidate;
  for (const AliasPoint& a : result.aliases)
    if (a.candidate == candidate && a.batch == batch)
      wanted = a.same_as;
  for (std::size_t i = 0; i < result.entries.size(); ++i)
    if (result.entries[i].candidate == wanted && result.entries[i].batch == batch)
      return i;
  return std::nullopt;
}

/// The place (1 = best) of entry `entry` in the ranking.
inline std::size_t rank_of(const SearchResult& result, std::size_t entry) {
  return static_cast<std::size_t>(std::ranges::find(result.ranking, entry) -
                                  result.ranking.begin()) +
         1;
}

} // namespace helix::cost
