// The weights and input batch that some devices of a Dag need, and nothing more: each Linear's
// slice and each sequence's tokens drawn alone (weights.hpp draws every number from its indices),
// so a process that runs a few devices (an MPI rank) holds its share of the model, not all of it,
// and holds the very numbers the single-process executor reads out of the full weights.
#pragma once

#include "helix/graph/dag.hpp"
#include "helix/graph/ops.hpp"
#include "helix/model/model.hpp"
#include "helix/numerics/op_kernels.hpp"
#include "helix/numerics/reference.hpp"
#include "helix/numerics/weights.hpp"

#include <algorithm>
#include <array>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace helix::numerics {

/// The weight slices and norm parameters of the compute ops a process runs: one packed slice per
/// distinct (layer, weight, slice) among its ops (microbatches and replicas of a device share
/// it), each drawn alone. A WeightSource.
template <std::floating_point Scalar>
class LocalWeights {
public:
  /// The weights of every compute vertex of `dag` whose device `is_local` says this process holds.
  template <class IsLocal>
  LocalWeights(const Dag& dag, IsLocal&& is_local, std::uint64_t seed = default_seed) {
    const Model& model = boost::get_property(dag, boost::graph_bundle).model;
    for (auto [v, end] = boost::vertices(dag); v != end; ++v) {
      const Op& op = dag[*v];
      if (is_communication(op.kind()) || !is_local(op.device))
        continue;
      if (const std::optional<WeightSlice> w = weight_slice_of(op)) {
        const std::int64_t layer = is_block_weight(w->weight) ? op.layer : -1;
        if (is_block_weight(w->weight) && (layer < 0 || layer >= model.layers))
          throw std::logic_error("helix: local weights: vertex " + std::to_string(*v) + " holds " +
                                 std::string(weight_name(w->weight)) + " of layer " +
                                 std::to_string(layer) + ", which the model lacks");
        const Key key = key_of(layer, w->weight, w->slice);
        if (!slices_.contains(key)) {
          Matrix<Scalar> slice = draw_weight_slice<Scalar>(model, layer, w->weight, w->slice, seed);
          bytes_ += static_cast<std::int64_t>(slice.size() * sizeof(Scalar));
          slices_.emplace(key, std::move(slice));
        }
      }
      if (const step::Norm* n = step_if<step::Norm>(op)) {
        const std::int64_t layer = n->slot == final_norm_slot ? -1 : op.layer;
        const std::pair<std::int64_t, std::int64_t> key{layer, n->slot};
        if (norms_.contains(key))
          continue;
        std::pair<RowVector<Scalar>, RowVector<Scalar>> parameters;
        if (model.norm != Norm::none)
          parameters.first = draw_norm_parameter<Scalar>(model, layer, n->slot, false, seed);
        if (model.norm == Norm::layernorm)
          parameters.second = draw_norm_parameter<Scalar>(model, layer, n->slot, true, seed);
        bytes_ += static_cast<std::int64_t>((parameters.first.size() + parameters.second.size()) *
                                            sizeof(Scalar));
        norms_.emplace(key, std::move(parameters));
      }
    }
  }

  /// The packed slice, read as the runs of `s` laid one after another.
  /// @throws std::logic_error when this process did not draw that slice (no local op holds it).
  SliceView<Scalar> slice(std::int64_t layer, Weight which, const LinearSlice& s) const {
    const auto it = slices_.find(key_of(is_block_weight(which) ? layer : -1, which, s));
    if (it == slices_.end())
      throw std::logic_error("helix: local weights: no local op holds this slice of " +
                             std::string(weight_name(which)) + " (layer " + std::to_string(layer) +
                             ")");
    return {&it->second, packed_runs(s)};
  }
  const RowVector<Scalar>& norm_gain(std::int64_t layer, std::int64_t slot) const {
    return norm(layer, slot).first;
  }
  const RowVector<Scalar>& norm_shift(std::int64_t layer, std::int64_t slot) const {
    return norm(layer, slot).second;
  }

  /// Bytes of every slice and norm parameter held.
  std::int64_t bytes() const { return bytes_; }
  /// Distinct slices held.
  std::size_t slices() const { return slices_.size(); }

private:
  using Key = std::array<std::int64_t, 10>;
  std::map<Key, Matrix<Scalar>> slices_;
  std::map<std::pair<std::int64_t, std::int64_t>, std::pair<RowVector<Scalar>, RowVector<Scalar>>>
      norms_;
  std::int64_t bytes_ = 0;

  static Key key_of(std::int64_t layer, Weight which, const LinearSlice& s) {
    return {layer,         static_cast<std::int64_t>(which),
            s.rows.begin,  s.rows.size,
            s.rows.stride, s.rows.count,
            s.cols.begin,  s.cols.size,
            s.cols.stride, s.cols.count};
  }
  const std::pair<RowVector<Scalar>, RowVector<Scalar>>& norm(std::int64_t layer,
                                                              std::int64_t slot) const {
    const auto it = norms_.find({slot == final_norm_slot ? -1 : layer, slot});
    if (it == norms_.end())
      throw std::logic_error("helix: local weights: no local op holds norm " +
                             std::to_string(slot) + " of layer " + std::to_string(layer));
    return it->second;
  }
};

/// The input batch of the Input ops a process runs, each op's sequences drawn when it runs, and
/// in decode the KV cache its KVCache ops read. The cache is the context run through the
/// reference (as `make_input` does, one sequence at a time, so the bits are the same): for the
/// local KVCache ops' sequences, up to the deepest layer they read, with one block's full weights
/// drawn at a time. An InputSource.
template <std::floating_point Scalar>
class LocalInput {
public:
  template <class IsLocal>
  LocalInput(const Dag& dag, IsLocal&& is_local, std::uint64_t seed = default_seed)
      : model_(boost::get_property(dag, boost::graph_bundle).model), seed_(seed),
        prefill_(boost::get_property(dag, boost::graph_bundle).workload.phase == Phase::prefill) {
    std::set<std::int64_t> sequences;
    std::int64_t layers = 0;
    for (auto [v, end] = boost::vertices(dag); v != end; ++v) {
      const Op& op = dag[*v];
      if (op.kind() != OpKind::kv_cache || !is_local(op.device))
        continue;
      for (std::int64_t s = 0; s < op.output[0]; ++s)
        sequences.insert(op.batch_begin + s);
      layers = std::max(layers, op.layer + 1);
    }
    if (sequences.empty())
      return;
    sequences_.assign(sequences.begin(), sequences.end());
    const auto embed = [&](const Matrix<Scalar>& ids) {
      Matrix<Scalar> x(ids.size(), model_.hidden);
      for (std::int64_t b = 0; b < ids.rows(); ++b)
        for (std::int64_t t = 0; t < ids.cols(); ++t) {
          const auto id = static_cast<std::int64_t>(ids(b, t));
          x.row(b * ids.cols() + t) = draw_weight_slice<Scalar>(
              model_, -1, Weight::embedding,
              LinearSlice{IndexRuns::range(id, 1), IndexRuns::range(0, model_.hidden)}, seed_);
        }
      return x;
    };
    auto [keys, values] = context_cache<Scalar>(
        model_, sequences_, std::min(layers, model_.layers), seed_,
        [&](std::int64_t l) { return make_layer_weights<Scalar>(model_, l, seed_); }, embed);
    keys_ = std::move(keys);
    values_ = std::move(values);
    for (const auto* caches : {&keys_, &values_})
      for (const Matrix<Scalar>& m : *caches)
        cache_bytes_ += static_cast<std::int64_t>(m.size() * sizeof(Scalar));
  }

  /// `[b, tokens, hidden]` (or `[b, tokens]` token ids) of sequences [batch_begin, +b).
  Matrix<Scalar> sequences(const Op& op) const {
    const std::int64_t tokens = prefill_ ? model_.seq_len : 1;
    if (model_.vocab > 0)
      return draw_token_ids<Scalar>(model_, op.batch_begin, op.output[0], tokens, !prefill_, seed_);
    return draw_tokens<Scalar>(model_, op.batch_begin, op.output[0], tokens, !prefill_, seed_);
  }

  Matrix<Scalar> cache(const Op& op, const step::KVCache& a) const {
    const std::vector<Matrix<Scalar>>& caches = a.values ? values_ : keys_;
    const auto first = std::lower_bound(sequences_.begin(), sequences_.end(), op.batch_begin);
    const auto position = first - sequences_.begin();
    if (op.layer < 0 || op.layer >= static_cast<std::int64_t>(caches.size()) ||
        position + op.output[0] > static_cast<std::int64_t>(sequences_.size()) ||
        sequences_[static_cast<std::size_t>(position + op.output[0] - 1)] !=
            op.batch_begin + op.output[0] - 1)
      throw std::logic_error("helix: local input: no KV cache was made for layer " +
                             std::to_string(op.layer) + ", sequences " +
                             std::to_string(op.batch_begin) + " + " + std::to_string(op.output[0]));
    return FullInput<Scalar>::cache_columns(caches[static_cast<std::size_t>(op.layer)], op, a,
                                            position, model_.head_dim, model_.seq_len);
  }

  /// Bytes of the KV cache held (every kv head of the local sequences and layers).
  std::int64_t cache_bytes() const { return cache_bytes_; }

private:
  Model model_;
  std::uint64_t seed_;
  bool prefill_;
  std::vector<std::int64_t> sequences_; ///< ascending: the sequences the cache holds
  std::vector<Matrix<Scalar>> keys_, values_;
  std::int64_t cache_bytes_ = 0;
};

} // namespace helix::numerics
