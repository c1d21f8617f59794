// The oracle's dump (`helix_deploy --dump-expected DIR`): every op's expected tensor per device,
// each device's weight slices, the input and an index.json saying what each tensor is, so another
// implementation can load its own inputs and be compared op by op. Needs helix::json.
#pragma once

#include "helix/cost/units.hpp"
#include "helix/graph/dag.hpp"
#include "helix/graph/detail/overloaded.hpp"
#include "helix/graph/op_names.hpp"
#include "helix/graph/placement_rules.hpp"
#include "helix/io/atomic_file.hpp"
#include "helix/io/json.hpp"
#include "helix/io/npy.hpp"
#include "helix/model/model.hpp"
#include "helix/numerics/expected.hpp"
#include "helix/numerics/reference.hpp"
#include "helix/numerics/verify.hpp"
#include "helix/numerics/weights.hpp"
#include "helix/plan/parse.hpp"
#include "helix/view/labels.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <concepts>
#include <cstdint>
#include <filesystem>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace helix::io {

/// The dump's format, in index.json's "format" and "version": a reader checks both.
inline constexpr std::string_view expected_dump_format = "helix expected tensors";
inline constexpr int expected_dump_version = 1;

/// What an op computes, in the README's equations, for an implementer reading the index: how
/// helix lays the tensor out where a layout is a choice (scores per head, heads outermost in the
/// context's columns, softmax scaling).
inline std::string computes_text(const Op& op, const Model& model) {
  const std::string norm = model.norm == Norm::rmsnorm
                               ? "rmsnorm: x / sqrt(mean(x²) + 1e-5) · gain, over hidden"
                               : "layernorm: (x − mean) / sqrt(var + 1e-5) · gain + shift, over "
                                 "hidden";
  const std::string linear = " (the weight file is this slice, [in, out]: y = x @ it)";
  const auto kv = [](bool values) { return std::string(values ? "values" : "keys"); };
  const auto collective = [](const step::Collective& c, const std::string& what) {
    return what + " (" + std::string(collective_phase_name(c.phase)) + ", " +
           std::string(collective_algorithm_name(c.algorithm)) +
           " in the group's order, which sets the order of the sums)";
  };
  return visit_step(
      op,
      helix::detail::overloaded{
          [&](const step::Input&) {
            return std::string(model.vocab > 0
                                   ? "the device's sequences of the token ids [b, tokens] (whole "
                                     "numbers held as floats)"
                                   : "the device's sequences of the hidden states [b, tokens, "
                                     "hidden]");
          },
          [&](const step::Embedding&) {
            return std::string("rows of the device's vocabulary slice of the embedding for the "
                               "token ids inside it, zeros for the others: a partial sum over "
                               "the tensor devices");
          },
          [&](const step::KVCache& c) {
            return "the cached " + kv(c.values) + " of the device's kv heads and head_dim slice" +
                   (c.shard.count > 1 ? ", at the positions of its KV shard (" +
                                            to_string(c.shard.placement) + ")"
                                      : std::string());
          },
          [&](const step::Norm&) { return norm; },
          [&](const step::QProjection&) { return "x @ Wq[rows, cols]" + linear; },
          [&](const step::KProjection&) { return "x @ Wk[rows, cols]" + linear; },
          [&](const step::VProjection&) { return "x @ Wv[rows, cols]" + linear; },
          [&](const step::KVAppend& a) {
            return "the cached " + kv(a.values) + " followed by the new token's, per sequence";
          },
          [&](const step::AttentionScores&) {
            return std::string("q kᵀ per sequence and local head, not scaled: [b, heads, tokens, "
                               "keys]; over a head_dim slice a partial sum");
          },
          [&](const step::Softmax& s) {
            return std::string("softmax(scores / sqrt(head_dim)") +
                   (s.causal ? " + causal mask" : "") + ") over keys";
          },
          [&](const step::AttentionContext&) {
            return std::string("p v per local head: [b, tokens, heads · dims], heads outermost "
                               "in the columns");
          },
          [&](const step::PartialAttention&) {
            return std::string("attention of each local head over the device's KV shard: per "
                               "(sequence, head) a row [O, L] of head_dim + 1, O = softmax(q kᵀ / "
                               "sqrt(head_dim)) v over the shard's keys, L = log Σ exp(q kᵀ / "
                               "sqrt(head_dim)): [b, heads, head_dim + 1]");
          },
          [&](const step::LogSumExpMerge&) {
            return std::string("per (sequence, head) over the shards k: L = log Σ exp(L_k), "
                               "O = Σ exp(L_k − L) O_k: the context [b, 1, heads · head_dim], "
                               "heads outermost in the columns");
          },
          [&](const step::OutProjection&) {
            return "context @ Wo[rows, cols]: a partial sum of the attention output" + linear;
          },
          [&](const step::ResidualAdd& r) {
            return std::string(r.branch == Sublayer::mlp ? "y + MLP (ends the layer)"
                                                         : "x + attention");
          },
          [&](const step::Fc1&) { return "x @ W1[rows, cols]" + linear; },
          [&](const step::GateProjection&) { return "x @ W_gate[rows, cols]" + linear; },
          [&](const step::Gelu&) {
            return std::string("GELU, tanh approximation: 0.5 u (1 + tanh(sqrt(2/π) (u + 0.044715 "
                               "u³)))");
          },
          [&](const step::SwiGlu&) { return std::string("SiLU(gate) ⊙ up (inputs: gate, up)"); },
          [&](const step::Fc2&) {
            return "h @ W2[rows, cols]: a partial sum of the MLP output" + linear;
          },
          [&](const step::ParallelSum&) {
            return std::string("attention + MLP partial outputs, before their one sum");
          },
          [&](const step::LastToken&) {
            return std::string("the last position of each sequence: [b, 1, hidden]");
          },
          [&](const step::LmHead&) { return "x @ W_lm_head[rows, cols]: logits" + linear; },
          [&](const step::AllReduce& c) {
            return collective(c, "every member ends with the sum of the members' inputs");
          },
          [&](const step::ReduceScatter& c) {
            return collective(c, "member j ends with slice j of the last dimension of the sum");
          },
          [&](const step::AllGather& c) {
            return collective(c, "every member ends with the members' slices concatenated along "
                                 "the last dimension");
          },
          [&](const step::AllToAll& c) {
            return collective(c, "member j ends with block j (its 1/n of the heads) of every "
                                 "member's partials, in member order: [b, n, heads / n, head_dim "
                                 "+ 1]");
          },
          [&](const step::Transfer& t) {
            if (t.columns == IndexRuns::range(0, model.hidden))
              return std::string("the sender's tensor, received (pipeline send/recv)");
            return std::string("columns [") + std::to_string(t.columns.begin) + ", " +
                   std::to_string(t.columns.begin + t.columns.size) +
                   ") of hidden of the sender's tensor, received (scatter-gather pipeline "
                   "send/recv; the stage's all-gather rebuilds the whole)";
          },
          [&](const step::Output&) {
            return std::string("the stack's output on this device (what feeds it, unchanged)");
          },
      });
}

/// {"begin", "size", "stride", "count"}: `count` runs of `size` indices, run i from
/// `begin + i·stride`.
inline nlohmann::json to_json(const IndexRuns& runs) {
  return {
      {"begin", runs.begin}, {"size", runs.size}, {"stride", runs.stride}, {"count", runs.count}};
}

namespace detail {

inline nlohmann::json shape_json(const Shape& shape) {
  nlohmann::json dims = nlohmann::json::array();
  for (std::size_t i = 0; i < shape.rank; ++i)
    dims.push_back(shape[i]);
  return dims;
}

/// The name of what `e`'s tensor is at its producer: the producer on the device the tensor lives
/// on (a collective's output on that member, a transfer's on its destination).
template <class Graph>
std::string producer_name(const Graph& dag, const OpNames& names, Edge e) {
  return names.name(dag[boost::source(e, dag)], dag[e].device);
}

/// The name under which `e`'s consumer holds what it makes of the tensor: on the tensor's device,
/// or a transfer's destination.
template <class Graph>
std::string consumer_name(const Graph& dag, const OpNames& names, Edge e) {
  const Op& consumer = dag[boost::target(e, dag)];
  if (const step::Transfer* t = transfer_of(consumer))
    return names.name(consumer, t->destination);
  return names.name(consumer, dag[e].device);
}

} // namespace detail

/// One tensor's entry in index.json: its name and file, where it runs (device, layer, stage,
/// replica, microbatch, its sequences [begin, count] of the batch), shape, element type,
/// placement over the mesh ("tp:S(2)"), what the op holds ("fc1 W1[:, 128:256]") and computes,
/// the names of the tensors it is computed from ("producers": a collective's are every member's
/// input, in the group's order) and of those computed from it on this device ("consumers"), and
/// by kind: "weight" (a Linear's full weight, rows and columns as runs, and the device's file),
/// "norm" (its parameter files), "heads" (an attention op's query heads, kv heads and head_dim
/// slice), "kv_shard" (KV-parallel decode: the shard's index and count, the placement as
/// `--kv-placement` spells it, how many cached positions it holds and whether the new token
/// joins it), "collective" (operation, purpose, phase, algorithm, the group in its order and this
/// device's place in it), "transfer" (source, destination and the hidden columns it carries).
template <class Graph = Dag>
nlohmann::json op_entry(const Graph& dag, const OpNames& names, const TensorPlacement& placement,
                        Vertex v, std::int64_t device) {
  const DagInfo& info = boost::get_property(dag, boost::graph_bundle);
  const Op& op = dag[v];
  nlohmann::json producers = nlohmann::json::array(), consumers = nlohmann::json::array();
  // A collective's inputs arrive by member; list them in the group's order.
  std::vector<std::pair<std::size_t, std::string>> inputs;
  for (auto [e, end] = boost::in_edges(v, dag); e != end; ++e)
    inputs.emplace_back(dag[*e].port, detail::producer_name(dag, names, *e));
  std::sort(inputs.begin(), inputs.end());
  for (const auto& [port, name] : inputs)
    producers.push_back(name);
  for (auto [e, end] = boost::out_edges(v, dag); e != end; ++e)
    if (dag[*e].device == device)
      consumers.push_back(detail::consumer_name(dag, names, *e));
  nlohmann::json entry = {
      {"name", names.name(op, device)},
      {"file", names.file(op, device)},
      {"device", device},
      {"kind", std::string(op_kind_name(op.kind()))},
      {"layer", op.layer >= 0 ? nlohmann::json(op.layer) : nlohmann::json(nullptr)},
      {"stage", op.stage},
      {"replica", op.replica},
      {"microbatch", op.microbatch},
      {"sequences", {op.batch_begin, op.output[0]}},
      {"shape", detail::shape_json(op.output)},
      {"dtype", "float64"},
      {"placement", placement_text(placement, info.mesh)},
      {"holds", vertex_name(dag, v)},
      {"computes", computes_text(op, info.model)},
      {"producers", producers},
      {"consumers", consumers},
  };
  if (const std::optional<WeightSlice> w = weight_slice_of(op)) {
    const std::string prefix = op.layer >= 0 ? names.layer(op.layer) + "_" : std::string();
    entry["weight"] = {{"name", std::string(weight_name(w->weight))},
                       {"full_shape", full_weight_shape(info.model, w->weight)},
                       {"rows", to_json(w->slice.rows)},
                       {"cols", to_json(w->slice.cols)},
                       {"file", names.device(device) + "/weights/" + prefix +
                                    std::string(weight_name(w->weight)) + ".npy"}};
  }
  if (const step::Norm* n = step_if<step::Norm>(op); n && info.model.norm != Norm::none) {
    const std::string base = names.device(device) + "/weights/" +
                             (op.layer >= 0 ? names.layer(op.layer) + "_" : std::string()) +
                             (n->slot == final_norm_slot ? std::string("final_norm")
                                                         : "norm" + std::to_string(n->slot + 1));
    entry["norm"] = {{"kind", std::string(norm_name(info.model.norm))},
                     {"gain", base + "_gain.npy"},
                     {"shift", info.model.norm == Norm::layernorm
                                   ? nlohmann::json(base + "_shift.npy")
                                   : nlohmann::json(nullptr)}};
  }
  if (const AttentionHeads* a = attention_heads_of(op))
    entry["heads"] = {{"head_begin", a->head_begin},       {"heads", a->heads},
                      {"kv_head_begin", a->kv_head_begin}, {"kv_heads", a->kv_heads},
                      {"dim_begin", a->dim_begin},         {"dims", a->dims}};
  if (const KVShard* s = kv_shard_of(op); s && s->count > 1)
    entry["kv_shard"] = {{"index", s->index},
                         {"count", s->count},
                         {"placement", to_string(s->placement)},
                         {"cached_positions", s->cached(info.model.seq_len)},
                         {"holds_new_token", s->owns_new(info.model.seq_len)}};
  if (const step::Collective* c = collective_of(op)) {
    const std::vector<std::int64_t> group = devices_of(dag, v);
    entry["collective"] = {
        {"operation", std::string(op_kind_name(op.kind()))},
        {"purpose", std::string(collective_purpose_key(c->purpose))},
        {"phase", std::string(collective_phase_name(c->phase))},
        {"algorithm", std::string(collective_algorithm_name(c->algorithm))},
        {"group", group},
        {"member", std::find(group.begin(), group.end(), device) - group.begin()}};
  }
  if (const step::Transfer* t = transfer_of(op))
    entry["transfer"] = {
        {"source", t->source}, {"destination", t->destination}, {"columns", to_json(t->columns)}};
  return entry;
}

/// The limit `helix_deploy --dump-expected` keeps a dump under unless told otherwise (its
/// `--dump-limit`, in MB): 1 GB.
inline constexpr std::int64_t default_dump_limit_bytes = 1'000'000'000;

/// @throws std::invalid_argument, saying what the dump would hold and the limit, when writing
/// `dag`'s expected tensors in double would take more than `max_bytes`. The executor holds at most
/// the dump's tensors and the full weights (which the slices tile), so this bounds the run's
/// memory too.
template <class Graph = Dag>
void check_dump_size(const Graph& dag, std::int64_t max_bytes) {
  const numerics::ExpectedSize size = numerics::expected_size(dag);
  const std::int64_t bytes = size.bytes(8);
  if (bytes <= max_bytes)
    return;
  const DagInfo& info = boost::get_property(dag, boost::graph_bundle);
  throw std::invalid_argument(
      "the expected tensors of plan " + to_string(info.plan) + " would take " +
      cost::format_si(static_cast<double>(bytes), "B") + " (" + std::to_string(size.tensors) +
      " tensors on " + std::to_string(info.mesh.size()) + " devices, " +
      std::to_string(size.weights) + " weight slices and the input, in float64), more than the " +
      "limit of " + cost::format_si(static_cast<double>(max_bytes), "B"));
}

/// What a dump wrote.
struct DumpSummary {
  std::int64_t tensors = 0;
  std::int64_t weights = 0;
  std::int64_t bytes = 0; ///< data and headers of every .npy file
  std::int64_t devices = 0;
};

/// Writes the dump of `dag` into `folder` (made if missing), each file atomically: the input
/// (`input/x.npy` [batch, tokens, hidden] or `input/token_ids.npy` [batch, tokens]; in decode
/// also `input/layerLL_{keys,values}_cache.npy` [batch, seq_len, kv_heads·head_dim]), every
/// device's weights (`devDD/weights/<name>.npy`, see numerics::weight_holdings), every expected
/// tensor as it is computed (`devDD/<op>.npy`, in the op's output shape, streamed: only the
/// executor's live tensors are in memory) and last `index.json` (format in the README, "helix as
/// an oracle"). An earlier index.json is removed first, so a folder with an index holds a whole
/// dump. Weights and input are drawn from `seed` as `verify` draws them; `model_name` is for
/// people.
/// @throws std::runtime_error naming the path when a file cannot be written; what `execute`
/// throws.
template <std::floating_point Scalar = double>
DumpSummary write_expected_dump(const std::filesystem::path& folder, const Dag& dag,
                                std::string_view model_name,
                                std::uint64_t seed = numerics::default_seed) {
  static_assert(std::same_as<Scalar, double>, "helix: expected dump: written in float64");
  const DagInfo& info = boost::get_property(dag, boost::graph_bundle);
  const Model& model = info.model;
  const OpNames names(dag);
  std::error_code error;
  std::filesystem::create_directories(folder, error);
  if (error || !std::filesystem::is_directory(folder))
    throw std::runtime_error("helix: cannot write '" + folder.string() +
                             "': " + (error ? error.message() : std::string("not a folder")));
  std::filesystem::remove(folder / "index.json", error);
  const auto make_folder = [&](const std::filesystem::path& path) {
    std::filesystem::create_directories(path, error);
    if (error)
      throw std::runtime_error("helix: cannot write '" + path.string() + "': " + error.message());
  };
  DumpSummary summary;
  summary.devices = info.mesh.size();
  const auto put = [&](const std::string& relative, const Scalar* data, std::int64_t size,
                       std::span<const std::int64_t> shape) {
    write_npy<Scalar>(folder / relative,
                      std::span<const Scalar>(data, static_cast<std::size_t>(size)), shape);
    summary.bytes += size * static_cast<std::int64_t>(sizeof(Scalar)) + 128;
  };

  const numerics::Weights<Scalar> weights = numerics::make_weights<Scalar>(model, seed);
  const numerics::Input<Scalar> input =
      numerics::make_input<Scalar>(model, info.workload, weights, seed);
  make_folder(folder / "input");
  nlohmann::json inputs = nlohmann::json::array();
  const auto put_input = [&](const std::string& name, const numerics::Matrix<Scalar>& m,
                             std::vector<std::int64_t> shape, const std::string& what) {
    put("input/" + name, m.data(), m.size(), shape);
    inputs.push_back({{"file", "input/" + name}, {"shape", shape}, {"holds", what}});
  };
  if (model.vocab > 0)
    put_input("token_ids.npy", input.token_ids, {model.batch, input.tokens},
              "token ids [batch, tokens], whole numbers held as floats");
  else
    put_input("x.npy", input.x, {model.batch, input.tokens, model.hidden},
              "hidden states [batch, tokens, hidden]");
  for (std::size_t l = 0; l < input.cached_keys.size(); ++l) {
    const std::string layer = names.layer(static_cast<std::int64_t>(l));
    const std::vector<std::int64_t> shape{model.batch, model.seq_len, kv_width(model)};
    put_input(layer + "_keys_cache.npy", input.cached_keys[l], shape,
              "cached keys [batch, seq_len, kv_heads · head_dim], heads outermost");
    put_input(layer + "_values_cache.npy", input.cached_values[l], shape,
              "cached values [batch, seq_len, kv_heads · head_dim], heads outermost");
  }

  for (std::int64_t d = 0; d < info.mesh.size(); ++d)
    make_folder(folder / names.device(d) / "weights");
  nlohmann::json held = nlohmann::json::array();
  for (const numerics::WeightHolding& h : numerics::weight_holdings(dag)) {
    const numerics::Matrix<Scalar> value = numerics::weight_value(h, weights);
    const std::vector<std::int64_t> shape = h.file_shape();
    put(h.file, value.data(), value.size(), shape);
    ++summary.weights;
    nlohmann::json entry = {
        {"device", h.device},
        {"file", h.file},
        {"layer", h.layer >= 0 ? nlohmann::json(h.layer) : nlohmann::json(nullptr)},
        {"shape", shape}};
    switch (h.parameter) {
    case numerics::HeldParameter::slice:
      entry["weight"] = std::string(weight_name(h.weight));
      entry["rows"] = to_json(h.slice.rows);
      entry["cols"] = to_json(h.slice.cols);
      break;
    case numerics::HeldParameter::norm_gain:
    case numerics::HeldParameter::norm_shift:
      entry["weight"] = h.name.substr(h.layer >= 0 ? names.layer(h.layer).size() + 1 : 0);
      break;
    }
    held.push_back(std::move(entry));
  }

  const std::vector<TensorPlacement> placements = derive_placements(dag, info.mesh).first;
  std::vector<std::pair<Vertex, nlohmann::json>> entries;
  numerics::stream_expected<Scalar>(dag, weights, input, [&](numerics::ExpectedTensor<Scalar>&& t) {
    std::array<std::int64_t, 4> extents{};
    for (std::size_t i = 0; i < t.shape.rank; ++i)
      extents[i] = t.shape[i];
    put(t.file, t.value.data(), t.value.size(),
        std::span<const std::int64_t>(extents.data(), t.shape.rank));
    ++summary.tensors;
    entries.emplace_back(t.vertex, op_entry(dag, names, placements[t.vertex], t.vertex, t.device));
  });
  // Listed in dump_order; a collective's members stay in the group's order, as computed.
  std::vector<std::size_t> position(boost::num_vertices(dag));
  const std::vector<Vertex> order = numerics::dump_order(dag);
  for (std::size_t i = 0; i < order.size(); ++i)
    position[order[i]] = i;
  std::stable_sort(entries.begin(), entries.end(), [&](const auto& a, const auto& b) {
    return position[a.first] < position[b.first];
  });
  nlohmann::json ops = nlohmann::json::array();
  for (auto& [vertex, entry] : entries)
    ops.push_back(std::move(entry));

  nlohmann::json mesh = nlohmann::json::array();
  for (std::size_t i = 0; i < info.mesh.axis_count; ++i)
    mesh.push_back({{"role", std::string(role_name(info.mesh.axes[i].role))},
                    {"key", std::string(role_key(info.mesh.axes[i].role))},
                    {"size", info.mesh.axes[i].size}});
  nlohmann::json devices = nlohmann::json::array();
  for (std::int64_t d = 0; d < info.mesh.size(); ++d) {
    nlohmann::json coordinates = nlohmann::json::object();
    for (std::size_t i = 0; i < info.mesh.axis_count; ++i)
      coordinates[std::string(role_key(info.mesh.axes[i].role))] =
          info.mesh.coordinate(d, info.mesh.axes[i].role);
    devices.push_back({{"device", d}, {"folder", names.device(d)}, {"coordinates", coordinates}});
  }
  const nlohmann::json index = {
      {"format", std::string(expected_dump_format)},
      {"version", expected_dump_version},
      {"model", std::string(model_name)},
      {"sizes", npy_sizes_json(model, info.workload)},
      {"plan", to_string(info.plan)},
      {"workload", to_json(info.workload)},
      {"world_size", info.mesh.size()},
      {"mesh", mesh},
      {"seed", seed},
      {"dtype", "float64"},
      {"tolerance",
       {{"float64", numerics::tolerance<double>(model, info.workload)},
        {"float32", numerics::tolerance<float>(model, info.workload)}}},
      {"devices", devices},
      {"input", inputs},
      {"weights", held},
      {"ops", ops},
  };
  write_json_file(folder / "index.json", index);
  return summary;
}

} // namespace helix::io
