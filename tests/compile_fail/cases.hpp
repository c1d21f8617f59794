// Broken plans that must not compile. Each line is one case: its number, the rule whose words the
// compiler must print, the model, the workload and the plan. CMake reads these lines to register
// one compile-fail test per case; test_plan.cpp checks `validate` reports the same rule for each.
#pragma once

#include "helix/model.hpp"
#include "helix/plan.hpp"

namespace helix::compile_fail {

template <int Index>
struct Case;

#define HELIX_COMPILE_FAIL_CASE(index, rule_name, model_value, workload_value, ...)                \
  template <>                                                                                      \
  struct Case<index> {                                                                             \
    static constexpr const char* rule = rule_name;                                                 \
    static constexpr Model model = model_value;                                                    \
    static constexpr Workload workload = workload_value;                                           \
    using plan = __VA_ARGS__;                                                                      \
  };

// clang-format off
HELIX_COMPILE_FAIL_CASE(1, "heads vs tensor degree", models::helix_seed, Workload{}, Plan<TensorParallel<3>>)
HELIX_COMPILE_FAIL_CASE(2, "kv heads vs tensor degree", models::llama3_70b, Workload{}, Plan<TensorParallel<12>>)
HELIX_COMPILE_FAIL_CASE(3, "head_dim vs dimension slices", models::helix_seed, Workload{}, Plan<HeadPartitions<4, 3>>)
HELIX_COMPILE_FAIL_CASE(4, "ffn vs tensor degree", models::helix_seed.with_ffn_hidden(32769), Workload{}, Plan<TensorParallel<2>>)
HELIX_COMPILE_FAIL_CASE(5, "layers vs pipeline stages", models::helix_seed, Workload{}, Plan<PipelineStages<4>, TensorGroups<4, 4>>)
HELIX_COMPILE_FAIL_CASE(6, "groups vs stages", models::helix_seed, Workload{}, Plan<PipelineStages<2>, TensorGroups<3, 4>>)
HELIX_COMPILE_FAIL_CASE(7, "batch vs data parallel and microbatches", models::helix_seed.with_batch(6), Workload::prefill(4), Plan<DataParallel<2>>)
HELIX_COMPILE_FAIL_CASE(8, "sizes fit 64-bit", models::helix_seed.with_seq_len(4'000'000'000), Workload{}, Plan<TensorParallel<16>>)
HELIX_COMPILE_FAIL_CASE(9, "descriptor given once", models::helix_seed, Workload{}, Plan<PipelineStages<2>, PipelineStages<2>>)
HELIX_COMPILE_FAIL_CASE(10, "layer split vs layers", models::helix_seed, Workload{}, Plan<PipelineStages<2>, LayerSplit<2, 1>>)
HELIX_COMPILE_FAIL_CASE(11, "degree at least one", models::helix_seed, Workload{}, Plan<PipelineStages<0>>)
HELIX_COMPILE_FAIL_CASE(12, "one tensor scheme", models::helix_seed, Workload{}, Plan<TensorParallel<4>, HeadPartitions<2, 2>>)
HELIX_COMPILE_FAIL_CASE(13, "hidden vs pipeline slices", models::helix_seed.with_hidden(8190), Workload{}, Plan<PipelineStages<2>, TensorParallel<4>>)
// clang-format on

inline constexpr int case_count = 13;

} // namespace helix::compile_fail
