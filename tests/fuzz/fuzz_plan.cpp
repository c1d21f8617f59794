// Fuzzes the front door: arbitrary bytes → a small model and plan text → parse_plan → validate →
// build_dag → check. A valid plan must build a DAG that passes check; anything else must be a
// clean error. A crash, sanitizer report or trap is a finding.
#include <helix/graph.hpp>
#include <helix/model.hpp>
#include <helix/plan.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // The first 8 bytes shape a small model (sizes 0..N so invalid ones occur too); the rest is the
  // plan text.
  if (size < 8)
    return 0;
  const auto pick = [&](std::size_t i, int range) {
    return static_cast<std::int64_t>(data[i] % range);
  };
  helix::Model model{.layers = pick(0, 5),
                     .hidden = 8 * pick(1, 9),
                     .heads = pick(2, 17),
                     .kv_heads = pick(3, 17),
                     .head_dim = pick(4, 9),
                     .ffn_hidden = 8 * pick(5, 9),
                     .batch = pick(6, 9),
                     .seq_len = pick(7, 5),
                     .norm = static_cast<helix::Norm>(data[0] / 128 + data[1] / 128)};
  const std::string_view text(reinterpret_cast<const char*>(data + 8), size - 8);
  helix::PlanSpec plan;
  try {
    plan = helix::parse_plan(text);
  } catch (const helix::PlanTextError&) {
    return 0;
  }
  const helix::Workload workload{data[2] % 2 ? helix::Phase::decode : helix::Phase::prefill,
                                 1 + data[3] % 3};
  if (!helix::validate(model, plan, workload).empty())
    return 0;
  if (helix::world_size(plan) * model.layers * workload.microbatches > 4096)
    return 0; // keep each run fast; size limits are the rules' business, not the fuzzer's
  const helix::Dag dag = helix::build_dag(model, plan, workload);
  if (!helix::check(dag).empty())
    std::abort(); // accepted by validate, yet the DAG is unsound
  return 0;
}
