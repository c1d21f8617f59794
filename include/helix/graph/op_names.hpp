// Stable names for the tensors a device holds after each op, "layer03.out_projection.dev05", and
// the file a dump keeps each in, "dev05/layer03_out_projection.npy": what an implementation names
// its own tensors by to be compared with helix's (the oracle: numerics/expected.hpp).
#pragma once

#include "helix/graph/dag.hpp"
#include "helix/graph/detail/overloaded.hpp"
#include "helix/graph/ops.hpp"
#include "helix/graph/steps.hpp"

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace helix {

/// The devices that hold `v`'s output after it runs: a compute op's device, every member of a
/// collective (in ring order), a transfer's destination (the sender keeps only its input).
template <class Graph = Dag>
std::vector<std::int64_t> holders_of(const Graph& dag, Vertex v) {
  if (const step::Transfer* t = transfer_of(dag[v]))
    return {t->destination};
  return devices_of(dag, v);
}

/// What a collective is for, as names spell it: "attention_scores", "mlp_output", ...
constexpr std::string_view collective_purpose_key(CollectivePurpose purpose) {
  switch (purpose) {
  case CollectivePurpose::attention_scores:
    return "attention_scores";
  case CollectivePurpose::attention_output:
    return "attention_output";
  case CollectivePurpose::mlp_output:
    return "mlp_output";
  case CollectivePurpose::block_output:
    return "block_output";
  case CollectivePurpose::embedding:
    return "embedding";
  case CollectivePurpose::logits:
    return "logits";
  case CollectivePurpose::pipeline_activation:
    return "pipeline_activation";
  case CollectivePurpose::attention_partials:
    return "attention_partials";
  }
  return "?";
}

/// Names every (op, device holding its output) of one Dag. A name is
/// `[layerLL.][mbM.]<what>.devDD`: the layer for ops inside one (zero-padded to the widest layer
/// number, at least 2 digits), the microbatch only when the workload has several, what the op
/// does, and the device (padded to the widest rank, at least 2 digits). The data-parallel
/// replica is not spelled: a device belongs to one replica. `<what>` is the step's kind name plus
/// what tells ops of one kind apart on a device: keys or values (`kv_cache_keys`), the norm's
/// place (`norm1` before attention, `norm2` before the MLP, `final_norm`), the residual's branch
/// (`residual_add_attention`, `residual_add_mlp`), a collective's purpose
/// (`all_reduce_attention_output`; the three hierarchical phases are three kinds:
/// `reduce_scatter_mlp_output`, `all_reduce_mlp_output`, `all_gather_mlp_output`), a transfer's
/// sender (`transfer_from_dev03`). Names depend only on the graph, so the same plan, model and
/// workload name the same ops the same way in every run.
///
/// Example: `pp=2,tg=4x4` on helix_seed: "layer01.all_gather_mlp_output.dev09", in the file
/// "dev09/layer01_all_gather_mlp_output.npy".
class OpNames {
public:
  template <class Graph = Dag>
  explicit OpNames(const Graph& dag) {
    const DagInfo& info = boost::get_property(dag, boost::graph_bundle);
    layer_digits_ = digits(info.model.layers - 1, 2);
    device_digits_ = digits(info.mesh.size() - 1, 2);
    microbatch_digits_ =
        info.workload.microbatches > 1 ? digits(info.workload.microbatches - 1, 1) : 0;
  }

  /// "dev05".
  std::string device(std::int64_t device) const { return "dev" + padded(device, device_digits_); }
  /// "layer03".
  std::string layer(std::int64_t layer) const { return "layer" + padded(layer, layer_digits_); }

  /// The name parts before the device: {"layer03", "mb1", "out_projection"} (layer and
  /// microbatch only where the name has them).
  std::vector<std::string> parts(const Op& op) const {
    std::vector<std::string> out;
    if (op.layer >= 0)
      out.push_back(layer(op.layer));
    if (microbatch_digits_ > 0)
      out.push_back("mb" + padded(op.microbatch, microbatch_digits_));
    out.push_back(what(op));
    return out;
  }

  /// "layer03.out_projection.dev05".
  std::string name(const Op& op, std::int64_t device) const {
    std::string text;
    for (const std::string& part : parts(op))
      text += part + ".";
    return text + this->device(device);
  }

  /// "dev05/layer03_out_projection.npy", relative to the dump's folder.
  std::string file(const Op& op, std::int64_t device) const {
    std::string stem;
    for (const std::string& part : parts(op))
      stem += (stem.empty() ? "" : "_") + part;
    return this->device(device) + "/" + stem + ".npy";
  }

  /// What the op does, told apart from the other ops of its kind on a device.
  std::string what(const Op& op) const {
    const std::string kind(op_kind_name(op.kind()));
    const auto collective = [&](const step::Collective& c) {
      return kind + "_" + std::string(collective_purpose_key(c.purpose));
    };
    return visit_step(
        op, helix::detail::overloaded{
                [&](const step::Input&) { return kind; },
                [&](const step::Embedding&) { return kind; },
                [&](const step::KVCache& c) { return kind + (c.values ? "_values" : "_keys"); },
                [&](const step::Norm& n) {
                  return n.slot == final_norm_slot ? std::string("final_norm")
                                                   : kind + std::to_string(n.slot + 1);
                },
                [&](const step::QProjection&) { return kind; },
                [&](const step::KProjection&) { return kind; },
                [&](const step::VProjection&) { return kind; },
                [&](const step::KVAppend& a) { return kind + (a.values ? "_values" : "_keys"); },
                [&](const step::AttentionScores&) { return kind; },
                [&](const step::Softmax&) { return kind; },
                [&](const step::AttentionContext&) { return kind; },
                [&](const step::PartialAttention&) { return kind; },
                [&](const step::LogSumExpMerge&) { return kind; },
                [&](const step::OutProjection&) { return kind; },
                [&](const step::ResidualAdd& r) {
                  return kind + (r.branch == Sublayer::mlp ? "_mlp" : "_attention");
                },
                [&](const step::Fc1&) { return kind; },
                [&](const step::GateProjection&) { return kind; },
                [&](const step::Gelu&) { return kind; },
                [&](const step::SwiGlu&) { return kind; },
                [&](const step::Fc2&) { return kind; },
                [&](const step::ParallelSum&) { return kind; },
                [&](const step::LastToken&) { return kind; },
                [&](const step::LmHead&) { return kind; },
                [&](const step::AllReduce& c) { return collective(c); },
                [&](const step::ReduceScatter& c) { return collective(c); },
                [&](const step::AllGather& c) { return collective(c); },
                [&](const step::AllToAll& c) { return collective(c); },
                [&](const step::Transfer& t) { return kind + "_from_" + device(t.source); },
                [&](const step::Output&) { return kind; },
            });
  }

private:
  int layer_digits_ = 2, device_digits_ = 2, microbatch_digits_ = 0;

  static int digits(std::int64_t largest, int at_least) {
    int n = 1;
    for (std::int64_t rest = largest; rest >= 10; rest /= 10)
      ++n;
    return std::max(n, at_least);
  }
  static std::string padded(std::int64_t value, int width) {
    std::string text = std::to_string(value);
    if (static_cast<int>(text.size()) < width)
      text.insert(0, static_cast<std::size_t>(width) - text.size(), '0');
    return text;
  }
};

/// Names given to more than one (op, device) of `dag`, each with how often: empty for every
/// graph helix builds (tested over the plan kinds); a hand-made graph could collide.
template <class Graph = Dag>
std::vector<std::pair<std::string, std::size_t>> duplicate_op_names(const Graph& dag) {
  const OpNames names(dag);
  std::map<std::string, std::size_t> seen;
  for (Vertex v = 0; v < boost::num_vertices(dag); ++v)
    for (std::int64_t device : holders_of(dag, v))
      ++seen[names.name(dag[v], device)];
  std::vector<std::pair<std::string, std::size_t>> duplicates;
  for (const auto& [name, count] : seen)
    if (count > 1)
      duplicates.emplace_back(name, count);
  return duplicates;
}

} // namespace helix
