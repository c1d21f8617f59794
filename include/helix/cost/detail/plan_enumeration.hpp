// Every plan text whose mesh has a given number of devices: pipeline stages, data parallel, KV
// parallel (decode only) and the tensor part spelled every way the descriptors allow (flat, tensor
// groups G×S, head partitions Hg×Ds), aliases included; the search deduplicates by DAG.
#pragma once

#include "helix/plan/spec.hpp"

#include <array>
#include <cstdint>
#include <vector>

namespace helix::cost::detail {

/// The divisors of `n` (n ≥ 1), ascending.
inline std::vector<std::int64_t> divisors(std::int64_t n) {
  std::vector<std::int64_t> low, high;
  for (std::int64_t d = 1; d * d <= n; ++d)
    if (n % d == 0) {
      low.push_back(d);
      if (d != n / d)
        high.insert(high.begin(), n / d);
    }
  low.insert(low.end(), high.begin(), high.end());
  return low;
}

inline PlanSpec with_descriptor(PlanSpec spec, DescriptorKind kind,
                                std::initializer_list<std::int64_t> degrees) {
  record_descriptor(spec, kind, std::vector<std::int64_t>(degrees));
  return spec;
}

/// Every plan of exactly `world_size` devices (each descriptor of degree 1 left out, so `pp=1`
/// is never spelled), in a fixed order: stages, then data parallel, then KV parallel ascending;
/// for each, the tensor part as flat tensor parallel first (`tp=T`, or no tensor descriptor when
/// T = 1), then every tensor-group split `tg=(P·g)×S` with g·S = T (g groups per stage), then
/// every head partition `hp=Hg×Ds` with Hg·Ds = T. So the first spelling of a scheme is its
/// simplest, and an alias (`tg=P×T`, one group per stage, is `tp=T`) comes after it.
/// `kv_parallel` says whether KV-parallel plans are wanted (decode and generations only).
/// @pre world_size ≥ 1.
inline std::vector<PlanSpec> enumerate_plans(std::int64_t world_size, bool kv_parallel) {
  std::vector<PlanSpec> plans;
  for (std::int64_t stages : divisors(world_size))
    for (std::int64_t data : divisors(world_size / stages))
      for (std::int64_t kv : divisors(world_size / stages / data)) {
        if (kv > 1 && !kv_parallel)
          continue;
        const std::int64_t tensor = world_size / stages / data / kv;
        PlanSpec base;
        if (stages > 1)
          base = with_descriptor(base, DescriptorKind::pipeline_stages, {stages});
        if (data > 1)
          base = with_descriptor(base, DescriptorKind::data_parallel, {data});
        if (kv > 1)
          base = with_descriptor(base, DescriptorKind::kv_parallel, {kv});
        plans.push_back(
            tensor > 1 ? with_descriptor(base, DescriptorKind::tensor_parallel, {tensor}) : base);
        for (std::int64_t groups : divisors(tensor))
          plans.push_back(with_descriptor(base, DescriptorKind::tensor_groups,
                                          {stages * groups, tensor / groups}));
        for (std::int64_t slices : divisors(tensor))
          plans.push_back(
              with_descriptor(base, DescriptorKind::head_partitions, {tensor / slices, slices}));
      }
  return plans;
}

} // namespace helix::cost::detail
