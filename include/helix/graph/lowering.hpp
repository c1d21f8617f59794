// The one place where sharding happens: (model, plan, workload) → operators with shapes, devices
// and weight slices, and the tensors between them. constexpr from end to end, so the shape
// propagation and edge checks below run at compile time as well as when a Dag is built.
#pragma once

#include "helix/graph/op_signature.hpp"
#include "helix/graph/ops.hpp"
#include "helix/graph/placement.hpp"
#include "helix/graph/shape.hpp"
#include "helix/model/model.hpp"
#include "helix/plan/device_group.hpp"
#include "helix/plan/mesh.hpp"
#include "helix/plan/rules.hpp"
#include "helix/plan/spec.hpp"
#include "helix/plan/stages.hpp"

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string_view>
#include <vector>

namespace helix {

/// An edge of the lowering: a tensor from op `source` to op `target` (indices into `ops`).
struct LoweredEdge {
  std::size_t source = 0;
  std::size_t target = 0;
  Tensor tensor{};
  friend constexpr bool operator==(const LoweredEdge&, const LoweredEdge&) = default;
};

/// How faithfully a scheme is lowered. `exact` is the only correct choice; the other variants
/// reproduce known mistakes so tests and reports can show them failing.
enum class SchemeVariant : std::uint8_t {
  exact,
  /// The material behind the seed: each head_dim slice takes softmax of its own partial scores
  /// (no all-reduce of partial scores before softmax). Numerically wrong for HeadPartitions.
  broken_slice_local_softmax,
};

struct Lowering {
  Model model{};
  PlanSpec plan{};
  Workload workload{};
  Mesh mesh{};
  SchemeVariant variant = SchemeVariant::exact;
  std::vector<Op> ops;
  std::vector<LoweredEdge> edges;
  /// Per op, the placement the lowering intends for its output; every tensor it feeds carries it.
  /// check() derives placements from the steps again and names any op where the two differ.
  std::vector<TensorPlacement> placements;
};

namespace detail {

/// Builds one block stack for one replica and microbatch; every helper appends to `out`.
class Lowerer {
public:
  constexpr Lowerer(Lowering& out) : out_(out), m_(out.model), p_(out.plan) {}

  constexpr void run() {
    const Workload& w = out_.workload;
    const std::int64_t per_replica = m_.batch / p_.data_parallel;
    b_ = per_replica / w.microbatches;
    tokens_ = new_tokens(m_, w);
    keys_ = attended_tokens(m_, w);
    t_ = tensor_degree(p_);
    intend_placements();
    for (replica_ = 0; replica_ < p_.data_parallel; ++replica_)
      for (microbatch_ = 0; microbatch_ < w.microbatches; ++microbatch_) {
        batch_begin_ = replica_ * per_replica + microbatch_ * b_;
        logical_ = 0;
        lower_pipeline();
        if (replica_ == 0 && microbatch_ == 0)
          reserve_for_blocks(p_.data_parallel * w.microbatches);
      }
  }

private:
  /// Every (replica, microbatch) block lowers to as many ops and edges as the first: room for all
  /// of them at once spares the copies (and the doubled peak) of growing vectors of 216-byte Ops.
  constexpr void reserve_for_blocks(std::int64_t blocks) {
    const auto count = static_cast<std::size_t>(blocks);
    out_.ops.reserve(out_.ops.size() * count);
    out_.edges.reserve(out_.edges.size() * count);
    out_.placements.reserve(out_.placements.size() * count);
  }

  Lowering& out_;
  const Model& m_;
  const PlanSpec& p_;
  std::int64_t b_ = 0, tokens_ = 0, keys_ = 0, t_ = 1;
  std::int64_t replica_ = 0, microbatch_ = 0, batch_begin_ = 0, stage_ = 0, layer_ = -1;
  std::int64_t logical_ = 0;
  // The placements the scheme intends (Megatron's recipe over the stage's tensor axes): what is
  // whole; sharded along hidden-like columns on every tensor axis (Q, the context, FC1's columns);
  // sharded by kv heads; scores; partial sums; and the two hierarchical steps between.
  // Under KVParallel also: Q sharded by heads but whole along the KV shards, the cache sharded
  // along the sequence, and the partial attention outputs owing their log-sum-exp merge.
  TensorPlacement whole_{}, sharded_{}, heads_sharded_{}, kv_sharded_{}, kv_cache_{},
      scores_partial_{}, scores_whole_{}, partial_{}, scattered_{}, across_groups_{},
      attention_partials_{};

  /// `base` with `p` on each axis of `axes` that the mesh has.
  constexpr TensorPlacement with(TensorPlacement base, AxisMask axes, Placement p) const {
    for (std::size_t i = 0; i < out_.mesh.axis_count; ++i)
      if (axes & axis_bit(out_.mesh.axes[i].role))
        base[out_.mesh.axes[i].role] = p;
    return base;
  }

  /// The tensor axes along which the kv heads a device reads change (not every head axis does:
  /// with kv heads replicated, neighbours share one).
  constexpr AxisMask kv_head_axes() const {
    AxisMask axes = 0;
    const DeviceGroup stage{rank(0, 0), tensor_axes};
    for (std::int64_t i = 0; i < t_; ++i) {
      const std::int64_t device = group_member(out_.mesh, stage, i);
      for (Role role : {Role::tensor_group, Role::tensor}) {
        const std::int64_t first =
            group_index(out_.mesh, stage, out_.mesh.with_coordinate(device, role, 0));
        if (attention_slice(first).kv_head_begin != attention_slice(i).kv_head_begin)
          axes = static_cast<AxisMask>(axes | axis_bit(role));
      }
    }
    return axes;
  }

  constexpr void intend_placements() {
    const Placement S1 = Placement::shard(1), S2 = Placement::shard(2), P = Placement::partial();
    const auto heads = static_cast<AxisMask>(axis_bit(Role::tensor_group) | axis_bit(Role::tensor));
    const AxisMask dims = axis_bit(Role::head_dim), kv = axis_bit(Role::kv_seq);
    whole_ = with(TensorPlacement{}, axis_bit(Role::data), Placement::shard(0));
    sharded_ = with(whole_, tensor_axes, S2);
    heads_sharded_ = with(whole_, static_cast<AxisMask>(tensor_axes & ~kv), S2);
    kv_sharded_ = with(with(whole_, kv_head_axes(), S2), dims, S2);
    kv_cache_ = with(kv_sharded_, kv, S1);
    scores_whole_ = with(whole_, heads, S1);
    scores_partial_ = with(scores_whole_, dims, P);
    attention_partials_ = with(scores_whole_, kv, Placement::log_sum_exp_partial());
    partial_ = with(whole_, tensor_axes, P);
    scattered_ = with(with(whole_, axis_bit(Role::tensor), S2), outer_group_axes, P);
    across_groups_ = with(whole_, axis_bit(Role::tensor), S2);
  }

  /// The rank of member `local` (in ring order over the tensor axes) of `stage`'s tensor group in
  /// the current replica, from the mesh's coordinates.
  constexpr std::int64_t rank(std::int64_t stage, std::int64_t local) const {
    const Mesh& mesh = out_.mesh;
    Coordinates at;
    at.pipeline = stage;
    at.data = replica_;
    return group_member(mesh, DeviceGroup{mesh.rank(at), tensor_axes}, local);
  }
  constexpr Shape hidden_shape() const { return Shape{b_, tokens_, m_.hidden}; }

  /// An op running `step` carrying where in the forward the lowerer is now.
  constexpr Op stamped(const Step& step, std::int64_t device) const {
    Op op;
    op.step = step;
    op.device = device;
    op.layer = layer_;
    op.stage = stage_;
    op.replica = replica_;
    op.microbatch = microbatch_;
    op.batch_begin = batch_begin_;
    return op;
  }

  /// Appends `op` (its expected inputs from its step: what arrives is what its producers make,
  /// and the shape rules compare the two, so a wrong slice or wiring cannot pass as consistent)
  /// with the placement it makes; returns its id.
  constexpr std::size_t append(Op op, const TensorPlacement& placement) {
    const OpSignature expected = signature(op, m_, out_.workload, out_.mesh);
    op.inputs = expected.inputs;
    op.input_count = expected.input_count;
    out_.ops.push_back(op);
    out_.placements.push_back(placement);
    return out_.ops.size() - 1;
  }

  /// The tensor `producer` makes, into `consumer`'s `port`, living on `device`.
  constexpr void connect(std::size_t producer, std::size_t consumer, std::int64_t device,
                         std::size_t port) {
    const OpKind kind = out_.ops[producer].kind();
    const DataType dtype =
        kind == OpKind::kv_cache || kind == OpKind::kv_append ? m_.kv_dtype : m_.dtype;
    out_.edges.push_back(LoweredEdge{
        producer, consumer,
        Tensor{out_.ops[producer].output, dtype, device, port, out_.placements[producer]}});
  }

  constexpr std::size_t add(const Step& step, std::int64_t device,
                            std::initializer_list<std::size_t> args, Shape output,
                            const TensorPlacement& placement) {
    Op op = stamped(step, device);
    op.output = output;
    const std::size_t id = append(op, placement);
    std::size_t port = 0;
    for (std::size_t arg : args)
      connect(arg, id, device, port++);
    return id;
  }

  template <LinearStep S>
  constexpr std::size_t linear(std::int64_t device, std::size_t arg, IndexRuns rows, IndexRuns cols,
                               const TensorPlacement& placement) {
    S step;
    step.rows = rows;
    step.cols = cols;
    return add(step, device, {arg}, out_.ops[arg].output.with_last(cols.total()), placement);
  }

  /// One collective vertex over `group`, fed by `inputs[i]` (the producer on member i) and with
  /// output `output` on every member; returns its id.
  template <CollectiveStep S>
  constexpr std::size_t collective(CollectivePurpose purpose, CollectivePhase phase,
                                   DeviceGroup group, const std::vector<std::size_t>& inputs,
                                   Shape output, const TensorPlacement& placement) {
    S step;
    step.purpose = purpose;
    step.phase = phase;
    step.algorithm = CollectiveAlgorithm::ring;
    step.logical = logical_;
    step.group = group;
    Op op = stamped(step, -1);
    op.output = output;
    const std::size_t id = append(op, placement);
    for (std::size_t member = 0; member < inputs.size(); ++member)
      connect(inputs[member], id, group_member(out_.mesh, group, static_cast<std::int64_t>(member)),
              member);
    return id;
  }

  // Out-edges of a collective are made when its consumers are added: the consumer names the
  // collective as an argument, and the tensor lives on the consumer's device.
  constexpr void lower_pipeline() {
    std::vector<std::size_t> x(static_cast<std::size_t>(t_));
    for (stage_ = 0; stage_ < p_.pipeline_stages; ++stage_) {
      layer_ = -1;
      for (std::int64_t i = 0; i < t_; ++i) {
        const std::size_t ii = static_cast<std::size_t>(i);
        if (stage_ == 0 && m_.vocab > 0) {
          const std::size_t ids = add(step::Input{}, rank(0, i), {}, Shape{b_, tokens_}, whole_);
          step::Embedding lookup;
          lookup.rows = vocabulary_slice(i);
          lookup.cols = IndexRuns::range(0, m_.hidden);
          x[ii] = add(lookup, rank(0, i), {ids}, hidden_shape(), partial_);
        } else if (stage_ == 0) {
          x[ii] = add(step::Input{}, rank(0, i), {}, hidden_shape(), whole_);
        } else {
          x[ii] = send(x[ii], i);
        }
      }
      if (stage_ == 0 && m_.vocab > 0) // Megatron's vocab-parallel embedding sums the lookups
        x = all_reduce(x, CollectivePurpose::embedding);
      if (stage_ > 0 && scatters()) { // the slices sent, gathered whole on every device again
        const std::size_t gathered = collective<step::AllGather>(
            CollectivePurpose::pipeline_activation, CollectivePhase::flat,
            DeviceGroup{rank(stage_, 0), tensor_axes}, x, hidden_shape(), whole_);
        ++logical_;
        x.assign(x.size(), gathered);
      }
      const std::int64_t first = first_layer_of_stage(m_, p_, stage_);
      for (layer_ = first; layer_ < first + layers_in_stage(m_, p_, stage_); ++layer_)
        lower_block(x);
    }
    layer_ = -1;
    stage_ = p_.pipeline_stages - 1;
    if (m_.vocab > 0)
      x = lower_head(x);
    for (std::int64_t i = 0; i < t_; ++i) {
      const std::size_t ii = static_cast<std::size_t>(i);
      add(step::Output{}, rank(stage_, i), {x[ii]}, out_.ops[x[ii]].output, whole_);
    }
  }

  /// Whether activations cross stage boundaries in slices (Megatron's scatter-gather): asked for
  /// by the workload, and a stage has several tensor devices to gather them.
  constexpr bool scatters() const {
    return out_.workload.pipeline_send == PipelineSend::scatter_gather && t_ > 1;
  }

  /// Sends tensor-local device `i`'s activation `from` (on the previous stage) to device `i` of
  /// the current stage; returns the transfer. A scatter-gather send carries only the 1/t slice
  /// device `i` owns in the all-gather that follows (Megatron-LM, Narayanan et al. 2021, §4.1).
  ///
  /// Megatron cuts the flattened tensor into t chunks; the typed equivalent here cuts the hidden
  /// (last) dimension into t equal column ranges, slice i to the i-th member of the receiving
  /// stage's tensor group in ring order. Not the tokens or the batch: decode has one token per
  /// sequence and a microbatch may hold one sequence, so neither splits t ways in every workload,
  /// while hidden does in every plan Megatron runs (and rule hidden_vs_pipeline_slices says so
  /// where it does not). And the last dimension is the one an all-gather concatenates, so the
  /// slices are Shard(2) over the stage's tensor axes and the gather makes them Replicate: shape
  /// and placement rules describe each slice exactly, and check() names a wrong one.
  constexpr std::size_t send(std::size_t from, std::int64_t i) {
    const std::int64_t source = rank(stage_ - 1, i);
    const std::int64_t share = scatters() ? m_.hidden / t_ : m_.hidden;
    step::Transfer transfer{source, rank(stage_, i),
                            IndexRuns::range(scatters() ? i * share : 0, share)};
    Op op = stamped(transfer, -1);
    op.output = hidden_shape().with_last(share);
    const std::size_t id = append(op, scatters() ? sharded_ : whole_);
    // A transfer's input lives on the sender; its output on the receiver.
    connect(from, id, source, 0);
    return id;
  }

  /// The rows of the (padded) vocabulary tensor-local device `i` holds of the embedding, and the
  /// columns of the LM head: one equal slice per tensor device, in ring order.
  constexpr IndexRuns vocabulary_slice(std::int64_t i) const {
    const std::int64_t share = padded_vocab(m_) / t_;
    return IndexRuns::range(i * share, share);
  }

  /// After the last block: each sequence's last position (prefill; decode has only that one),
  /// the final norm, the column-parallel LM head over the vocabulary, and one all-gather of the
  /// logits over the stage's tensor devices. Returns, per device, the op holding all logits.
  constexpr std::vector<std::size_t> lower_head(std::vector<std::size_t> x) {
    for (std::int64_t i = 0; i < t_; ++i) {
      const std::size_t ii = static_cast<std::size_t>(i);
      const std::int64_t dev = rank(stage_, i);
      std::size_t last = x[ii];
      if (tokens_ > 1)
        last = add(step::LastToken{}, dev, {last}, Shape{b_, 1, m_.hidden}, whole_);
      x[ii] = linear<step::LmHead>(dev, norm(dev, last, final_norm_slot),
                                   IndexRuns::range(0, m_.hidden), vocabulary_slice(i), sharded_);
    }
    if (t_ == 1)
      return x;
    const std::size_t gathered = collective<step::AllGather>(
        CollectivePurpose::logits, CollectivePhase::flat, DeviceGroup{rank(stage_, 0), tensor_axes},
        x, Shape{b_, 1, padded_vocab(m_)}, whole_);
    ++logical_;
    return std::vector<std::size_t>(x.size(), gathered);
  }

  constexpr std::size_t norm(std::int64_t device, std::size_t arg, std::int64_t index) {
    if (m_.norm == Norm::none)
      return arg;
    return add(step::Norm{index}, device, {arg}, out_.ops[arg].output, whole_);
  }

  /// Heads, kv heads and head_dim slice of tensor-local device `i` (under KVParallel, the
  /// attention group's member i mod the attention degree: every KV shard runs the same heads).
  constexpr AttentionHeads attention_slice(std::int64_t i) const {
    const std::int64_t split = head_split(p_);
    const std::int64_t slices = head_dim_split(p_);
    const std::int64_t head_group = i % attention_degree(p_) / slices;
    AttentionHeads a;
    a.heads = m_.heads / split;
    a.head_begin = head_group * a.heads;
    a.dims = m_.head_dim / slices;
    a.dim_begin = (i % slices) * a.dims;
    if (m_.kv_heads >= split) {
      a.kv_heads = m_.kv_heads / split;
      a.kv_head_begin = head_group * a.kv_heads;
    } else { // replicated kv heads: split / kv_heads head groups share one kv head
      a.kv_heads = 1;
      a.kv_head_begin = head_group / (split / m_.kv_heads);
    }
    return a;
  }

  constexpr void lower_block(std::vector<std::size_t>& x) {
    const std::size_t t = static_cast<std::size_t>(t_);
    const std::int64_t d = m_.head_dim;
    std::vector<std::size_t> scores(t), v(t), attention_out(t), normed_input(t);
    if (p_.kv_parallel > 1) {
      kv_parallel_attention(x, normed_input, attention_out);
      finish_block(x, normed_input, attention_out);
      return;
    }
    for (std::int64_t i = 0; i < t_; ++i) {
      const std::size_t ii = static_cast<std::size_t>(i);
      const std::int64_t dev = rank(stage_, i);
      const AttentionHeads a = attention_slice(i);
      const std::size_t normed = norm(dev, x[ii], 0);
      normed_input[ii] = normed;
      const IndexRuns all_rows = IndexRuns::range(0, m_.hidden);
      const std::size_t q = linear<step::QProjection>(
          dev, normed, all_rows, {a.head_begin * d + a.dim_begin, a.dims, d, a.heads},
          heads_sharded_);
      const IndexRuns kv_cols{a.kv_head_begin * d + a.dim_begin, a.dims, d, a.kv_heads};
      std::size_t k = linear<step::KProjection>(dev, normed, all_rows, kv_cols, kv_sharded_);
      v[ii] = linear<step::VProjection>(dev, normed, all_rows, kv_cols, kv_sharded_);
      if (out_.workload.phase == Phase::decode) {
        k = append_cache(dev, k, a, false);
        v[ii] = append_cache(dev, v[ii], a, true);
      }
      const Shape score_shape{b_, a.heads, tokens_, keys_};
      scores[ii] = add(step::AttentionScores{a}, dev, {q, k}, score_shape, scores_partial_);
    }
    if (head_dim_split(p_) > 1 && out_.variant == SchemeVariant::exact) {
      // Scores sum over the whole head_dim: all-reduce the partial dot products of each head
      // group over its dimension slices before softmax.
      const std::int64_t slices = head_dim_split(p_);
      std::vector<std::size_t> reduced(t);
      for (std::int64_t g = 0; g < t_ / slices; ++g) {
        std::vector<std::size_t> members;
        for (std::int64_t s = 0; s < slices; ++s)
          members.push_back(scores[static_cast<std::size_t>(g * slices + s)]);
        const std::size_t id = collective<step::AllReduce>(
            CollectivePurpose::attention_scores, CollectivePhase::flat,
            DeviceGroup{rank(stage_, g * slices), axis_bit(Role::head_dim)}, members,
            out_.ops[members[0]].output, scores_whole_);
        for (std::int64_t s = 0; s < slices; ++s)
          reduced[static_cast<std::size_t>(g * slices + s)] = id;
      }
      ++logical_;
      scores = reduced;
    }
    for (std::int64_t i = 0; i < t_; ++i) {
      const std::size_t ii = static_cast<std::size_t>(i);
      const std::int64_t dev = rank(stage_, i);
      const AttentionHeads a = attention_slice(i);
      const Shape score_shape{b_, a.heads, tokens_, keys_};
      const std::size_t probabilities =
          add(step::Softmax{a, out_.workload.phase == Phase::prefill}, dev, {scores[ii]},
              score_shape, out_.placements[scores[ii]]);
      const std::size_t context = add(step::AttentionContext{a}, dev, {probabilities, v[ii]},
                                      Shape{b_, tokens_, a.heads * a.dims}, sharded_);
      attention_out[ii] = linear<step::OutProjection>(
          dev, context, {a.head_begin * d + a.dim_begin, a.dims, d, a.heads},
          IndexRuns::range(0, m_.hidden), partial_);
    }
    finish_block(x, normed_input, attention_out);
  }

  /// NVIDIA's Helix decode attention (Bhatia et al. 2025, §3) on the stage's K × A devices:
  /// device (k, j) — KV shard k, attention member j — projects Q for member j's heads (again on
  /// every shard), holds shard k of the cache (and, on the shard the placement appends to, the new
  /// token's K and V), and attends over it: partial outputs and log-sum-exps. One all-to-all per
  /// attention member j over its K shards hands shard k the partials of its 1/K of j's heads,
  /// which it merges exactly; the out-projection then takes the rows of those heads, so the
  /// stage's K·A devices hold 1/(K·A) of the context each, as tensor parallel over all of them
  /// would. The KV append and its projections run on the owning shard only: the other shards
  /// have no use for the new token's keys and values.
  constexpr void kv_parallel_attention(const std::vector<std::size_t>& x,
                                       std::vector<std::size_t>& normed_input,
                                       std::vector<std::size_t>& attention_out) {
    const std::int64_t d = m_.head_dim, shards = p_.kv_parallel, members = attention_degree(p_);
    const IndexRuns all_rows = IndexRuns::range(0, m_.hidden);
    std::vector<std::size_t> partials(static_cast<std::size_t>(t_));
    for (std::int64_t i = 0; i < t_; ++i) {
      const std::size_t ii = static_cast<std::size_t>(i);
      const std::int64_t dev = rank(stage_, i);
      const AttentionHeads a = attention_slice(i);
      const KVShard shard{i / members, shards, out_.workload.kv_placement};
      normed_input[ii] = norm(dev, x[ii], 0);
      const std::size_t q = linear<step::QProjection>(
          dev, normed_input[ii], all_rows, {a.head_begin * d, d, d, a.heads}, heads_sharded_);
      std::size_t kv[2];
      for (bool values : {false, true}) {
        const Shape cached{b_, shard.cached(m_.seq_len), a.kv_heads * a.dims};
        std::size_t id = add(step::KVCache{a, values, shard}, dev, {}, cached, kv_cache_);
        if (shard.owns_new(m_.seq_len)) {
          const IndexRuns cols{a.kv_head_begin * d, d, d, a.kv_heads};
          const std::size_t fresh =
              values
                  ? linear<step::VProjection>(dev, normed_input[ii], all_rows, cols, kv_sharded_)
                  : linear<step::KProjection>(dev, normed_input[ii], all_rows, cols, kv_sharded_);
          id = add(step::KVAppend{a, values, shard}, dev, {id, fresh},
                   Shape{b_, cached[1] + 1, cached[2]}, kv_cache_);
        }
        kv[values ? 1 : 0] = id;
      }
      partials[ii] = add(step::PartialAttention{a, shard}, dev, {q, kv[0], kv[1]},
                         Shape{b_, a.heads, d + 1}, attention_partials_);
    }
    std::vector<std::size_t> exchanged(static_cast<std::size_t>(t_));
    for (std::int64_t j = 0; j < members; ++j) {
      std::vector<std::size_t> group;
      for (std::int64_t k = 0; k < shards; ++k)
        group.push_back(partials[static_cast<std::size_t>(k * members + j)]);
      const AttentionHeads a = attention_slice(j);
      const std::size_t id =
          collective<step::AllToAll>(CollectivePurpose::attention_partials, CollectivePhase::flat,
                                     DeviceGroup{rank(stage_, j), axis_bit(Role::kv_seq)}, group,
                                     Shape{b_, shards, a.heads / shards, d + 1}, sharded_);
      for (std::int64_t k = 0; k < shards; ++k)
        exchanged[static_cast<std::size_t>(k * members + j)] = id;
    }
    ++logical_;
    for (std::int64_t i = 0; i < t_; ++i) {
      const std::size_t ii = static_cast<std::size_t>(i);
      const std::int64_t dev = rank(stage_, i);
      AttentionHeads merged = attention_slice(i);
      merged.heads /= shards;
      merged.head_begin += i / members * merged.heads;
      const std::size_t context = add(step::LogSumExpMerge{merged, shards}, dev, {exchanged[ii]},
                                      Shape{b_, 1, merged.heads * d}, sharded_);
      attention_out[ii] = linear<step::OutProjection>(
          dev, context, {merged.head_begin * d, d, d, merged.heads}, all_rows, partial_);
    }
  }

  /// The rest of a block after the attention's out-projection (partial sums on every device):
  /// its all-reduce, the residual adds and the MLP, or a parallel block's one sum of both.
  constexpr void finish_block(std::vector<std::size_t>& x,
                              const std::vector<std::size_t>& normed_input,
                              const std::vector<std::size_t>& attention_out) {
    const std::size_t t = static_cast<std::size_t>(t_);
    if (m_.parallel_block) {
      // x + Attention(n(x)) + MLP(n(x)): both branches' partial sums are added on each device
      // and reduced together, one all-reduce per layer.
      std::vector<std::size_t> both(t);
      for (std::int64_t i = 0; i < t_; ++i) {
        const std::size_t ii = static_cast<std::size_t>(i);
        const std::int64_t dev = rank(stage_, i);
        both[ii] = add(step::ParallelSum{}, dev, {attention_out[ii], mlp(dev, i, normed_input[ii])},
                       hidden_shape(), partial_);
      }
      const std::vector<std::size_t> sum = all_reduce(both, CollectivePurpose::block_output);
      for (std::int64_t i = 0; i < t_; ++i) {
        const std::size_t ii = static_cast<std::size_t>(i);
        x[ii] = add(step::ResidualAdd{Sublayer::mlp}, rank(stage_, i), {x[ii], sum[ii]},
                    hidden_shape(), whole_);
      }
      return;
    }
    const std::vector<std::size_t> attention =
        all_reduce(attention_out, CollectivePurpose::attention_output);
    std::vector<std::size_t> mlp_out(t), y(t);
    for (std::int64_t i = 0; i < t_; ++i) {
      const std::size_t ii = static_cast<std::size_t>(i);
      const std::int64_t dev = rank(stage_, i);
      y[ii] = add(step::ResidualAdd{Sublayer::attention}, dev, {x[ii], attention[ii]},
                  hidden_shape(), whole_);
      mlp_out[ii] = mlp(dev, i, norm(dev, y[ii], 1));
    }
    const std::vector<std::size_t> mlp_sum = all_reduce(mlp_out, CollectivePurpose::mlp_output);
    for (std::int64_t i = 0; i < t_; ++i) {
      const std::size_t ii = static_cast<std::size_t>(i);
      x[ii] = add(step::ResidualAdd{Sublayer::mlp}, rank(stage_, i), {y[ii], mlp_sum[ii]},
                  hidden_shape(), whole_);
    }
  }

  /// Tensor-local device `i`'s share of the MLP on `normed`: FC1 (and the gate) column-sliced,
  /// FC2 row-sliced; returns FC2, a partial sum.
  constexpr std::size_t mlp(std::int64_t dev, std::int64_t i, std::size_t normed) {
    const std::int64_t f = m_.ffn_hidden / t_;
    const std::size_t up = linear<step::Fc1>(dev, normed, IndexRuns::range(0, m_.hidden),
                                             IndexRuns::range(i * f, f), sharded_);
    std::size_t activated = 0;
    if (m_.activation == Activation::swiglu) {
      // The gate takes the same columns as FC1: the product is element by element.
      const std::size_t gate = linear<step::GateProjection>(
          dev, normed, IndexRuns::range(0, m_.hidden), IndexRuns::range(i * f, f), sharded_);
      activated = add(step::SwiGlu{}, dev, {gate, up}, out_.ops[up].output, sharded_);
    } else {
      activated = add(step::Gelu{}, dev, {up}, out_.ops[up].output, sharded_);
    }
    return linear<step::Fc2>(dev, activated, IndexRuns::range(i * f, f),
                             IndexRuns::range(0, m_.hidden), partial_);
  }

  constexpr std::size_t append_cache(std::int64_t dev, std::size_t fresh, AttentionHeads a,
                                     bool values) {
    const Shape cached{b_, m_.seq_len, a.kv_heads * a.dims};
    const std::size_t cache = add(step::KVCache{a, values}, dev, {}, cached, kv_sharded_);
    return add(step::KVAppend{a, values}, dev, {cache, fresh},
               Shape{b_, keys_, a.kv_heads * a.dims}, kv_sharded_);
  }

  /// Sums the partial outputs `partial[i]` of the stage's t devices: nothing for t = 1, one ring
  /// all-reduce for a flat mesh, and reduce-scatter → all-reduce → all-gather when the stage has
  /// several tensor groups of several devices. Returns, per device, the op whose output is the sum.
  constexpr std::vector<std::size_t> all_reduce(const std::vector<std::size_t>& partial,
                                                CollectivePurpose purpose) {
    if (t_ == 1)
      return partial;
    // Under KVParallel the KV shards are outer groups too: the devices of a stage are K × G
    // groups of S, all-reduced across the K·G groups in the middle step.
    const std::int64_t size = tensor_group_size(p_);
    const std::int64_t groups = t_ / size;
    const Shape full = hidden_shape();
    std::vector<std::size_t> result(partial.size());
    if (groups_per_stage(p_) == 1 || size == 1) { // a hierarchy with one level is a flat ring
      const std::size_t id = collective<step::AllReduce>(purpose, CollectivePhase::flat,
                                                         DeviceGroup{rank(stage_, 0), tensor_axes},
                                                         partial, full, whole_);
      for (std::size_t& r : result)
        r = id;
    } else {
      const Shape shard = full.with_last(m_.hidden / size);
      std::vector<std::size_t> scattered(partial.size()), reduced(partial.size());
      for (std::int64_t g = 0; g < groups; ++g) {
        std::vector<std::size_t> members(partial.begin() + g * size,
                                         partial.begin() + (g + 1) * size);
        const std::size_t id = collective<step::ReduceScatter>(
            purpose, CollectivePhase::intra_group_reduce_scatter,
            DeviceGroup{rank(stage_, g * size), axis_bit(Role::tensor)}, members, shard,
            scattered_);
        for (std::int64_t j = 0; j < size; ++j)
          scattered[static_cast<std::size_t>(g * size + j)] = id;
      }
      for (std::int64_t j = 0; j < size; ++j) {
        std::vector<std::size_t> members;
        for (std::int64_t g = 0; g < groups; ++g)
          members.push_back(scattered[static_cast<std::size_t>(g * size + j)]);
        const std::size_t id = collective<step::AllReduce>(
            purpose, CollectivePhase::inter_group_all_reduce,
            DeviceGroup{rank(stage_, j), outer_group_axes}, members, shard, across_groups_);
        for (std::int64_t g = 0; g < groups; ++g)
          reduced[static_cast<std::size_t>(g * size + j)] = id;
      }
      for (std::int64_t g = 0; g < groups; ++g) {
        std::vector<std::size_t> members(reduced.begin() + g * size,
                                         reduced.begin() + (g + 1) * size);
        const std::size_t id = collective<step::AllGather>(
            purpose, CollectivePhase::intra_group_all_gather,
            DeviceGroup{rank(stage_, g * size), axis_bit(Role::tensor)}, members, full, whole_);
        for (std::int64_t j = 0; j < size; ++j)
          result[static_cast<std::size_t>(g * size + j)] = id;
      }
    }
    ++logical_;
    return result;
  }
};

} // namespace detail

/// Lowers `model` partitioned by `plan` for `workload` into operators and tensors.
/// @pre `evaluate_rules(model, plan, workload)` all hold (build_dag checks this).
/// @post every op's inputs and output are what its payload implies (`signature`), and equal the
/// outputs of the ops feeding it (see `shapes_consistent`).
///
/// Example: helix_seed with `pp=2,tg=4x4` gives, per layer, 8 devices × (2 norms, Q, K, V,
/// scores, softmax, context, out-projection, 2 residual adds, FC1, GELU, FC2) and two hierarchical
/// all-reduces of 2 + 4 + 2 collective vertices each; between the stages 8 transfers of
/// [1024, 10000, 8192 / 8] (scatter-gather, the default) and one all-gather over stage 1's 8 GPUs.
[[nodiscard]] constexpr Lowering lower(const Model& model, const PlanSpec& plan,
                                       const Workload& workload,
                                       SchemeVariant variant = SchemeVariant::exact) {
  Lowering out{model, plan, workload, make_mesh(plan), variant, {}, {}, {}};
  detail::Lowerer(out).run();
  return out;
}

} // namespace helix
