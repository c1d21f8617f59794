// How people read a Dag's vertices: the name line of an op ("fc1 W1[:, 4096:8192]", "softmax
// heads 0–1"), its devices ("GPUs 0–3, 8–11"), a tensor's shape and placement, and the title
// of a view. Every view and the timeline's tooltips take their words from here.
#pragma once

#include "helix/graph/dag.hpp"
#include "helix/graph/detail/overloaded.hpp"
#include "helix/graph/ops.hpp"
#include "helix/graph/placement.hpp"
#include "helix/graph/shape.hpp"
#include "helix/model/model.hpp"
#include "helix/model/presets.hpp"
#include "helix/plan/parse.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace helix {

namespace detail {

/// Views show one forward: replicas and microbatches repeat it on other devices or later.
inline bool in_view_scope(const Op& op) {
  return op.replica == 0 && op.microbatch == 0;
}

/// A preset's name ("llama3_70b"), or the model's size in words.
inline std::string model_name(const Model& model) {
  for (const models::NamedModel& entry : models::all)
    if (entry.model == model)
      return std::string(entry.name);
  return "model (" + std::to_string(model.layers) + " layers, hidden " +
         std::to_string(model.hidden) + ")";
}

template <class Graph = Dag>
inline std::string view_title(const Graph& dag, std::string_view what) {
  const DagInfo& info = boost::get_property(dag, boost::graph_bundle);
  return model_name(info.model) + ", plan " + to_string(info.plan) + ", " +
         std::string(phase_name(info.workload.phase)) + ": " + std::string(what) +
         " (data-parallel replica 0, microbatch 0)";
}

inline std::string sublayer_name(Sublayer part) {
  return part == Sublayer::mlp ? "MLP" : "MHA";
}

inline std::string purpose_name(CollectivePurpose purpose) {
  switch (purpose) {
  case CollectivePurpose::attention_scores:
    return "partial attention scores";
  case CollectivePurpose::attention_output:
    return "attention output";
  case CollectivePurpose::mlp_output:
    return "MLP output";
  case CollectivePurpose::block_output:
    return "attention + MLP output";
  case CollectivePurpose::embedding:
    return "embedding lookups";
  case CollectivePurpose::logits:
    return "logits";
  case CollectivePurpose::pipeline_activation:
    return "the activation sent from the previous stage";
  case CollectivePurpose::attention_partials:
    return "partial attention (KV shards)";
  }
  return "";
}

/// "a:b" of a contiguous run, ":" for the whole extent, "a:b step s ×n" for strided runs.
inline std::string runs_text(const IndexRuns& runs, std::int64_t extent) {
  if (runs.count == 1 && runs.begin == 0 && runs.size == extent)
    return ":";
  std::string text = std::to_string(runs.begin) + ":" + std::to_string(runs.begin + runs.size);
  if (runs.count > 1)
    text += " step " + std::to_string(runs.stride) + " ×" + std::to_string(runs.count);
  return text;
}

inline std::string range_text(std::int64_t begin, std::int64_t count) {
  return count == 1 ? std::to_string(begin)
                    : std::to_string(begin) + "–" + std::to_string(begin + count - 1);
}

} // namespace detail

/// "GPU 3", "GPUs 0–3", "GPUs 0, 4", "GPUs 0–3, 8–11": sorted, runs of consecutive ranks joined.
inline std::string devices_text(std::vector<std::int64_t> devices) {
  std::sort(devices.begin(), devices.end());
  devices.erase(std::unique(devices.begin(), devices.end()), devices.end());
  if (devices.size() == 1)
    return "GPU " + std::to_string(devices.front());
  std::string text = "GPUs ";
  for (std::size_t i = 0; i < devices.size();) {
    std::size_t j = i;
    while (j + 1 < devices.size() && devices[j + 1] == devices[j] + 1)
      ++j;
    text += (i ? ", " : "") + std::to_string(devices[i]);
    if (j > i)
      text += (j == i + 1 ? ", " : "–") + std::to_string(devices[j]);
    i = j + 1;
  }
  return text;
}

/// The name line of one Dag vertex: its op kind and what part of the model it holds, e.g.
/// "fc1 W1[:, 4096:8192]", "softmax heads 0–1", "reduce_scatter of attention output".
template <class Graph = Dag>
inline std::string vertex_name(const Graph& dag, Vertex v) {
  const Op& op = dag[v];
  const Model& model = boost::get_property(dag, boost::graph_bundle).model;
  const std::string kind(op_kind_name(op.kind()));
  const auto heads = [&](const AttentionHeads& a) {
    std::string text =
        (a.heads == 1 ? " head " : " heads ") + detail::range_text(a.head_begin, a.heads);
    if (a.dims != model.head_dim)
      text += ", dims " + std::to_string(a.dim_begin) + ":" + std::to_string(a.dim_begin + a.dims);
    return text;
  };
  const auto linear = [&]<LinearStep S>(const S& l) {
    const auto [rows, cols] = full_weight_shape(model, S::weight);
    // "Wq", "W_gate"; model-level weights keep their name after "W_": "W_lm_head".
    std::string weight(weight_name(S::weight));
    if (is_block_weight(S::weight))
      weight[0] = 'W';
    else
      weight = "W_" + weight;
    return kind + " " + weight + "[" + detail::runs_text(l.rows, rows) + ", " +
           detail::runs_text(l.cols, cols) + "]";
  };
  // ", KV shard 1/4 (interleaved:16)" under KV-parallel decode, nothing otherwise.
  const auto shard = [](const KVShard& s) {
    return s.count > 1 ? ", KV shard " + std::to_string(s.index) + "/" + std::to_string(s.count) +
                             " (" + to_string(s.placement) + ")"
                       : std::string();
  };
  const auto collective = [&](const step::Collective& c) {
    std::string text = kind + " of " + detail::purpose_name(c.purpose);
    if (c.phase != CollectivePhase::flat)
      text += " (" + std::string(collective_phase_name(c.phase)) + ")";
    return text;
  };
  return visit_step(
      op, helix::detail::overloaded{
              [&](const step::Input&) { return kind; },
              [&](const step::Output&) { return kind; },
              [&](const step::Gelu&) { return kind; },
              [&](const step::SwiGlu&) { return kind; },
              [&](const step::QProjection& l) { return linear(l); },
              [&](const step::KProjection& l) { return linear(l); },
              [&](const step::VProjection& l) { return linear(l); },
              [&](const step::OutProjection& l) { return linear(l); },
              [&](const step::Fc1& l) { return linear(l); },
              [&](const step::GateProjection& l) { return linear(l); },
              [&](const step::Fc2& l) { return linear(l); },
              [&](const step::LmHead& l) { return linear(l); },
              [&](const step::Embedding& l) {
                return kind + " rows " + detail::runs_text(l.rows, padded_vocab(model));
              },
              [&](const step::LastToken&) { return kind; },
              [&](const step::ParallelSum&) { return kind + " attention + MLP"; },
              [&](const step::KVCache& c) {
                return kind + (c.values ? " values" : " keys") + heads(c) + shard(c.shard);
              },
              [&](const step::KVAppend& c) {
                return kind + (c.values ? " values" : " keys") + heads(c) + shard(c.shard);
              },
              [&](const step::PartialAttention& a) { return kind + heads(a) + shard(a.shard); },
              [&](const step::LogSumExpMerge& m) {
                return kind + heads(m) + " of " + std::to_string(m.shards) + " shards";
              },
              [&](const step::AttentionScores& a) { return kind + heads(a); },
              [&](const step::Softmax& a) { return kind + heads(a); },
              [&](const step::AttentionContext& a) { return kind + heads(a); },
              [&](const step::ResidualAdd& r) {
                if (model.parallel_block)
                  return kind + " x + attention + MLP";
                return kind + (r.branch == Sublayer::mlp ? " y + MLP" : " x + attention");
              },
              [&](const step::Norm& n) {
                if (n.slot == final_norm_slot)
                  return kind + " after the last block";
                if (model.parallel_block)
                  return kind + " before attention and MLP";
                return kind + (n.slot == 0 ? " before attention" : " before MLP");
              },
              [&](const step::AllReduce& c) { return collective(c); },
              [&](const step::ReduceScatter& c) { return collective(c); },
              [&](const step::AllGather& c) { return collective(c); },
              [&](const step::AllToAll& c) { return collective(c); },
              [&](const step::Transfer& t) {
                // "transfer stage 0 → 1 hidden[1024:2048]" for a scatter-gather slice.
                std::string text = kind + " stage " + std::to_string(op.stage - 1) + " → " +
                                   std::to_string(op.stage);
                if (t.columns != IndexRuns::range(0, model.hidden))
                  text += " hidden[" + detail::runs_text(t.columns, model.hidden) + "]";
                return text;
              },
          });
}

/// The devices line of one Dag vertex: "GPU 3", a collective's "GPUs 0–3", a transfer's
/// "GPU 0 → GPU 8".
template <class Graph = Dag>
inline std::string vertex_devices(const Graph& dag, Vertex v) {
  if (const step::Transfer* t = transfer_of(dag[v]))
    return "GPU " + std::to_string(t->source) + " → GPU " + std::to_string(t->destination);
  return devices_text(devices_of(dag, v));
}

/// A tensor as an edge label: its shape and, unless replicated everywhere, its placement:
/// "[2,16,1024] tg:P·tp:P".
template <class Graph = Dag>
inline std::string tensor_text(const Graph& dag, Edge e) {
  const Tensor& t = dag[e];
  const std::string placement =
      placement_text(t.placement, boost::get_property(dag, boost::graph_bundle).mesh);
  return to_string(t.shape) + (placement == "R" ? "" : " " + placement);
}

} // namespace helix
