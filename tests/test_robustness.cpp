// Robustness across the front door: a table of bad inputs, each answered by an error whose words
// name the field and value, and property tests over random small models and plans (never both
// accepted and failing).
#include "helix/graph.hpp"
#include "helix/model.hpp"
#include "helix/numerics.hpp"
#include "helix/plan.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

using namespace helix;

namespace {

/// The text of the error `plan_text` gets for `model` and `workload`: parse error, or every
/// validation message joined; empty when accepted.
std::string error_for(const Model& model, const std::string& plan_text, const Workload& workload) {
  try {
    std::string joined;
    for (const std::string& message : validate(model, parse_plan(plan_text), workload))
      joined += message + "\n";
    return joined;
  } catch (const PlanTextError& e) {
    return e.what();
  }
}

} // namespace

TEST_CASE("each bad input gets an error naming its field and value, never a crash") {
  const Model seed = models::helix_seed;
  const Model small = seed.with_batch(4).with_seq_len(8);
  struct Bad {
    Model model;
    std::string plan;
    Workload workload;
    std::vector<std::string> words; // every one must appear in the error
  };
  const Bad table[] = {
      // plan text
      {seed, "", {}, {"plan text", "empty plan"}},
      {seed, ",", {}, {"empty descriptor"}},
      {seed, "pp=0", {}, {"'pp=0'", "degree at least one"}},
      {seed, "pp=", {}, {"'pp='", "number is missing"}},
      {seed, "=2", {}, {"'=2'", "unknown key ''"}},
      {seed, "tg=4x", {}, {"'tg=4x'", "number is missing"}},
      {seed, "tg=x4", {}, {"'tg=x4'", "number is missing"}},
      {seed, "hp=4", {}, {"'hp=4'", "expected 2 numbers"}},
      {seed, "pp=2,pp=3", {}, {"'pp=3'", "descriptor given once"}},
      {seed, "xx=1", {}, {"'xx=1'", "unknown key 'xx'"}},
      {seed, "PP=2", {}, {"'PP=2'", "unknown key 'PP'"}},
      {seed, "pp=99999999999999999999", {}, {"'99999999999999999999'", "too large"}},
      {seed, "pp=1e3", {}, {"'1e3'", "not a whole number"}},
      {seed, "tp=+4", {}, {"'+4'", "not a whole number"}},
      {seed, "tp=4;pp=2", {}, {"'4;pp=2'", "not a whole number"}},
      {seed, "split=2/", {}, {"'split=2/'", "number is missing"}},
      {seed, std::string("tp=4\0", 5), {}, {"'4\\x00' is not a whole number"}},
      // plan against model
      {seed, "tp=3", {}, {"heads vs tensor degree", "heads = 16", "tensor degree = 3"}},
      {seed, "tp=32", {}, {"heads vs tensor degree", "tensor degree = 32"}},
      {seed, "hp=4x5", {}, {"head_dim vs dimension slices", "dimension slices = 5"}},
      {seed, "pp=3", {}, {"layers vs pipeline stages", "layers = 2", "stages = 3"}},
      {seed, "pp=2,tg=3x2", {}, {"groups vs stages", "groups = 3"}},
      {seed, "tp=4,tg=2x2", {}, {"one tensor scheme"}},
      {seed, "pp=2,split=3/0", {}, {"layers vs pipeline stages", "layers = 0"}},
      {seed, "kvp=4", {}, {"kv parallel decode only", "kv parallel degree = 4"}},
      // model fields
      {seed.with_layers(0), "tp=1", {}, {"model size positive", "layers: value = 0"}},
      {seed.with_hidden(-8), "tp=1", {}, {"model size positive", "hidden: value = -8"}},
      {seed.with_heads(0), "tp=1", {}, {"heads: value = 0"}},
      {seed.with_kv_heads(3), "tp=1", {}, {"heads vs kv heads", "kv heads = 3"}},
      {seed.with_ffn_hidden(0), "tp=1", {}, {"ffn_hidden: value = 0"}},
      {seed.with_batch(1'000'000'000'000), "tp=1", {}, {"sizes fit 64-bit"}},
      {seed.with_hidden(4'000'000'000'000'000'000), "tp=1", {}, {"sizes fit 64-bit"}},
      {seed.with_layers(9'000'000'000'000'000'000).with_seq_len(4),
       "tp=1",
       {},
       {"sizes fit 64-bit", "KV cache bits"}},
      // workloads
      {small.with_seq_len(0), "tp=1", Workload::decode(), {"seq_len: value = 0"}},
      {small,
       "tp=1",
       Workload::prefill(3),
       {"batch vs data parallel and microbatches", "batch = 4", "= 3"}},
      {small, "dp=2", Workload::prefill(4), {"data parallel x microbatches = 8"}},
      {small, "tp=1", Workload::decode(-1), {"microbatches: degree = -1"}},
  };
  static_assert(sizeof(table) / sizeof(table[0]) >= 30);
  for (const Bad& bad : table) {
    CAPTURE(bad.plan);
    const std::string error = error_for(bad.model, bad.plan, bad.workload);
    CAPTURE(error);
    REQUIRE_FALSE(error.empty());
    for (const std::string& word : bad.words)
      CHECK(error.find(word) != std::string::npos);
    // The same input never crashes the builder either: it throws the same rules.
    try {
      static_cast<void>(build_dag(bad.model, parse_plan(bad.plan), bad.workload));
      FAIL("build_dag accepted a bad input");
    } catch (const PlanTextError&) {
    } catch (const PlanError& e) {
      CHECK(std::string(e.what()).find(bad.words.front()) != std::string::npos);
    }
  }
}

TEST_CASE("random small models and plans are rejected with a message, or build a sound DAG "
          "that computes the reference in double") {
  // Fixed seed; on failure the seed and case index are printed so the case can be replayed.
  constexpr std::uint64_t seed = 20261125;
  std::mt19937_64 random(seed);
  const auto pick = [&](std::int64_t low, std::int64_t high) {
    return std::uniform_int_distribution<std::int64_t>(low, high)(random);
  };
  int accepted = 0, rejected = 0;
  for (int index = 0; index < 200; ++index) {
    const std::int64_t heads = pick(1, 8);
    Model model{.layers = pick(1, 4),
                .hidden = 8 * pick(1, 6),
                .heads = heads,
                .kv_heads = pick(0, 1) ? heads : pick(1, heads),
                .head_dim = pick(1, 8),
                .ffn_hidden = 8 * pick(1, 8),
                .batch = pick(1, 8),
                .seq_len = pick(1, 6),
                .norm = static_cast<Norm>(pick(0, 2))};
    std::string plan;
    const auto add = [&](const std::string& descriptor) {
      plan += (plan.empty() ? "" : ",") + descriptor;
    };
    if (pick(0, 1))
      add("pp=" + std::to_string(pick(1, 3)));
    switch (pick(0, 3)) {
    case 0:
      add("tp=" + std::to_string(pick(1, 8)));
      break;
    case 1:
      add("tg=" + std::to_string(pick(1, 4)) + "x" + std::to_string(pick(1, 4)));
      break;
    case 2:
      add("hp=" + std::to_string(pick(1, 4)) + "x" + std::to_string(pick(1, 4)));
      break;
    default:
      break;
    }
    if (pick(0, 1))
      add("dp=" + std::to_string(pick(1, 2)));
    if (plan.empty())
      plan = "tp=1";
    const Workload workload{pick(0, 1) ? Phase::decode : Phase::prefill, pick(1, 2)};
    CAPTURE(seed);
    CAPTURE(index);
    CAPTURE(plan);
    const std::vector<std::string> problems = validate(model, parse_plan(plan), workload);
    if (!problems.empty()) {
      ++rejected;
      for (const std::string& p : problems)
        CHECK(p.starts_with("helix: "));
      continue;
    }
    ++accepted;
    const Dag dag = build_dag(model, parse_plan(plan), workload);
    const std::vector<Diagnostic> diagnostics = check(dag);
    CHECK_MESSAGE(diagnostics.empty(), (diagnostics.empty() ? "" : diagnostics.front().message));
    // The models are already tiny, so they are verified as they are, in double.
    const numerics::NumericsReport report =
        numerics::verify<double>(model, parse_plan(plan), workload);
    CHECK_MESSAGE(report.passed, "relative error " << report.output.max_relative);
  }
  // The generator must exercise both sides, or the property says nothing.
  CHECK(accepted >= 20);
  CHECK(rejected >= 20);
  MESSAGE("accepted " << accepted << ", rejected " << rejected);
}
