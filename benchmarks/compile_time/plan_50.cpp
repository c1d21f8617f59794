// Compile-time benchmark, not part of any build target: 50 different valid plans checked with
// check_plan, as a user's translation unit would. Measure with (target: ≤ 1.5 s)
//   /usr/bin/time -f "%e s %M KB" g++ -std=c++20 -O2 -Iinclude \
//       -c benchmarks/compile_time/plan_50.cpp -o /dev/null
#include "helix/model.hpp"
#include "helix/plan.hpp"

namespace {

using namespace helix;
using models::gpt3_175b;
using models::helix_seed;
using models::llama31_405b;
using models::llama3_70b;

[[maybe_unused]] void check_fifty_plans() {
  // GPT-3 175B: 96 layers, 96 heads, batch 1.
  check_plan<gpt3_175b, Plan<TensorParallel<8>>>();
  check_plan<gpt3_175b, Plan<PipelineStages<2>, TensorParallel<8>>>();
  check_plan<gpt3_175b, Plan<PipelineStages<4>, TensorParallel<8>>>();
  check_plan<gpt3_175b, Plan<PipelineStages<8>, TensorParallel<8>>>();
  check_plan<gpt3_175b, Plan<PipelineStages<12>, TensorParallel<8>>>();
  check_plan<gpt3_175b, Plan<PipelineStages<16>, TensorParallel<4>>>();
  check_plan<gpt3_175b, Plan<PipelineStages<2>, TensorGroups<4, 4>>>();
  check_plan<gpt3_175b, Plan<PipelineStages<4>, TensorGroups<8, 4>>>();
  check_plan<gpt3_175b, Plan<PipelineStages<8>, TensorGroups<16, 2>>>();
  check_plan<gpt3_175b, Plan<TensorGroups<2, 8>>>();
  check_plan<gpt3_175b, Plan<HeadPartitions<12, 8>>>();
  check_plan<gpt3_175b, Plan<PipelineStages<2>, HeadPartitions<4, 4>>>();
  check_plan<gpt3_175b, Plan<PipelineStages<96>>>();
  check_plan<gpt3_175b, Plan<TensorParallel<96>>>();
  check_plan<gpt3_175b, Plan<PipelineStages<3>, TensorParallel<32>>>();
  check_plan<gpt3_175b, Plan<PipelineStages<6>, TensorParallel<16>>>();
  check_plan<gpt3_175b, Plan<PipelineStages<2>, TensorParallel<8>, LayerSplit<50, 46>>>();
  check_plan<gpt3_175b, Plan<PipelineStages<4>, LayerSplit<24, 24, 24, 24>, TensorParallel<2>>>();
  // Llama 3 70B: 80 layers, 64 heads, 8 KV heads.
  check_plan<llama3_70b, Plan<TensorParallel<8>>>();
  check_plan<llama3_70b, Plan<TensorParallel<4>>>();
  check_plan<llama3_70b, Plan<TensorParallel<16>>>();
  check_plan<llama3_70b, Plan<PipelineStages<2>, TensorParallel<8>>>();
  check_plan<llama3_70b, Plan<PipelineStages<4>, TensorParallel<8>>>();
  check_plan<llama3_70b, Plan<PipelineStages<8>, TensorParallel<8>>>();
  check_plan<llama3_70b, Plan<PipelineStages<10>, TensorParallel<8>>>();
  check_plan<llama3_70b, Plan<PipelineStages<2>, TensorGroups<4, 4>>>();
  check_plan<llama3_70b, Plan<PipelineStages<4>, TensorGroups<8, 2>>>();
  check_plan<llama3_70b, Plan<HeadPartitions<8, 2>>>();
  check_plan<llama3_70b, Plan<HeadPartitions<8, 4>>, Workload::decode()>();
  check_plan<llama3_70b, Plan<PipelineStages<5>, TensorParallel<2>>>();
  check_plan<llama3_70b, Plan<PipelineStages<16>, TensorParallel<4>>>();
  check_plan<llama3_70b, Plan<PipelineStages<20>, TensorParallel<1>>>();
  check_plan<llama3_70b, Plan<PipelineStages<40>, TensorParallel<2>>, Workload::decode()>();
  // The seed model: 2 layers, 16 heads, batch 1024.
  check_plan<helix_seed, Plan<PipelineStages<2>, TensorGroups<4, 4>>>();
  check_plan<helix_seed, Plan<HeadPartitions<4, 4>>>();
  check_plan<helix_seed, Plan<TensorParallel<16>>>();
  check_plan<helix_seed, Plan<DataParallel<2>, TensorParallel<8>>>();
  check_plan<helix_seed, Plan<DataParallel<4>, TensorParallel<4>>, Workload::decode(4)>();
  check_plan<helix_seed, Plan<PipelineStages<2>, DataParallel<2>, TensorParallel<4>>>();
  check_plan<helix_seed, Plan<PipelineStages<2>, TensorGroups<4, 4>, DataParallel<2>>>();
  check_plan<helix_seed, Plan<HeadPartitions<2, 8>>>();
  check_plan<helix_seed, Plan<HeadPartitions<16, 32>>>();
  check_plan<helix_seed, Plan<DataParallel<8>>, Workload::prefill(8)>();
  check_plan<helix_seed, Plan<PipelineStages<2>, LayerSplit<1, 1>, TensorParallel<8>>>();
  check_plan<helix_seed, Plan<TensorGroups<2, 2>>>();
  // Llama 3.1 405B: 126 layers, 128 heads, 8 KV heads.
  check_plan<llama31_405b, Plan<TensorParallel<8>>>();
  check_plan<llama31_405b, Plan<PipelineStages<2>, TensorParallel<8>>>();
  check_plan<llama31_405b, Plan<PipelineStages<7>, TensorParallel<8>>>();
  check_plan<llama31_405b, Plan<PipelineStages<9>, TensorGroups<18, 8>>>();
  check_plan<llama31_405b, Plan<HeadPartitions<16, 2>>>();
}

} // namespace
