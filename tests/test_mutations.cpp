// Mutation suite: deliberate lowering bugs applied to a correct lowering before it becomes a Dag.
// Each must be caught by check() (the rules named), by verify() (the executed DAG no longer
// equals the reference), or be shown harmless with the reason. README's table lists them.
#include "helix/graph.hpp"
#include "helix/model.hpp"
#include "helix/numerics/shrink.hpp"
#include "helix/numerics/verify.hpp"
#include "helix/plan.hpp"
#include "support/dag_fixtures.hpp"

#include <doctest/doctest.h>

#include <functional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

using namespace helix;
using namespace helix::testing;

namespace {

struct Mutation {
  std::string name;
  Model model;
  std::string plan;
  Workload workload;
  std::function<void(Lowering&)> apply;
  std::vector<CheckRule> caught_by_check; ///< empty: check() finds nothing
  bool caught_by_verify = false;
  std::string harmless_because; ///< for a mutation neither catches: why that is right
};

Model small(const Model& model, const std::string& plan, const Workload& workload = {}) {
  return models::shrink(model, parse_plan(plan), workload);
}

bool is_collective_of(const Op& op, CollectivePurpose purpose, CollectivePhase phase,
                      std::int64_t layer) {
  const step::Collective* c = collective_of(op);
  return c && c->purpose == purpose && c->phase == phase && op.layer == layer && op.replica == 0 &&
         op.microbatch == 0;
}

/// What a lowering for `tg` that runs each all-reduce as one flat ring over the stage would make:
/// the ops and edges of `pp=2,tp=8` (the same devices), each tensor placed over both tensor axes
/// of the `tg` mesh as the flat lowering places it over its one.
void lower_flat(Lowering& l) {
  const Lowering flat = lower(l.model, parse_plan("pp=2,tp=8"), l.workload);
  l.ops = flat.ops;
  l.edges = flat.edges;
  for (LoweredEdge& e : l.edges)
    e.tensor.placement[Role::tensor_group] = e.tensor.placement[Role::tensor];
}

/// Drops every collective of `purpose` and `phase` in `layer`.
void drop_collectives(Lowering& l, CollectivePurpose purpose, CollectivePhase phase,
                      std::int64_t layer = 0) {
  for (std::size_t i = l.ops.size(); i-- > 0;)
    if (is_collective_of(l.ops[i], purpose, phase, layer))
      bypass(l, i);
}

/// Swaps the weight slices of `kind` on GPUs a and b in layer 0.
void swap_slices(Lowering& l, OpKind kind, std::int64_t a, std::int64_t b) {
  LinearSlice& x = *linear_slice_of(l.ops[find_op(l, kind, a, 0)]);
  LinearSlice& y = *linear_slice_of(l.ops[find_op(l, kind, b, 0)]);
  std::swap(x, y);
}

/// Appends a copy of op `index` on `device` (its intended placement too) with copies of its input
/// edges, still reading the original's producers but on `device`; returns the copy's index.
std::size_t copy_op_to(Lowering& l, std::size_t index, std::int64_t device) {
  const std::size_t copy = l.ops.size();
  l.ops.push_back(l.ops[index]);
  l.ops.back().device = device;
  l.placements.push_back(l.placements[index]);
  const std::vector<LoweredEdge> edges = l.edges;
  for (LoweredEdge e : edges)
    if (e.target == index) {
      e.target = copy;
      e.tensor.device = device;
      l.edges.push_back(e);
    }
  return copy;
}

/// Points input `port` of op `target` at op `source`, shape and placement as `source` makes them.
void rewire(Lowering& l, std::size_t target, std::size_t port, std::size_t source) {
  LoweredEdge& e = in_edge(l, target, port);
  e.source = source;
  e.tensor.shape = l.ops[source].output;
  e.tensor.placement = l.placements[source];
  l.ops[target].inputs[port] = l.ops[source].output;
}

std::vector<Mutation> mutations() {
  const Model seed_tp4 = small(models::helix_seed, "tp=4");
  const Model seed_tg = small(models::helix_seed, "pp=2,tg=4x4");
  const Model seed_hp = small(models::helix_seed, "hp=4x4");
  const Model gqa = small(models::llama3_70b, "tp=16");
  const Workload decode = Workload::decode();
  using R = CheckRule;
  std::vector<Mutation> list;
  list.push_back({"drop the inter-group all-reduce phase of a hierarchical all-reduce",
                  seed_tg,
                  "pp=2,tg=4x4",
                  {},
                  [](Lowering& l) {
                    drop_collectives(l, CollectivePurpose::mlp_output,
                                     CollectivePhase::inter_group_all_reduce);
                  },
                  {R::placement},
                  true,
                  ""});
  list.push_back({"drop the MLP all-reduce",
                  seed_tp4,
                  "tp=4",
                  {},
                  [](Lowering& l) {
                    drop_collectives(l, CollectivePurpose::mlp_output, CollectivePhase::flat);
                  },
                  {R::placement},
                  true,
                  ""});
  list.push_back({"drop the attention-output all-reduce",
                  seed_tp4,
                  "tp=4",
                  {},
                  [](Lowering& l) {
                    drop_collectives(l, CollectivePurpose::attention_output, CollectivePhase::flat);
                  },
                  {R::placement},
                  true,
                  ""});
  list.push_back({"drop the partial-score all-reduce (the seed material's slice-local softmax)",
                  seed_hp,
                  "hp=4x4",
                  {},
                  [](Lowering& l) {
                    drop_collectives(l, CollectivePurpose::attention_scores, CollectivePhase::flat);
                  },
                  {R::placement},
                  true,
                  ""});
  list.push_back({"drop the intra-group all-gather",
                  seed_tg,
                  "pp=2,tg=4x4",
                  {},
                  [](Lowering& l) {
                    drop_collectives(l, CollectivePurpose::mlp_output,
                                     CollectivePhase::intra_group_all_gather);
                  },
                  {R::edge_shape},
                  true,
                  ""});
  list.push_back({"lower tg=4x4 as one flat 8-GPU ring per stage",
                  seed_tg,
                  "pp=2,tg=4x4",
                  {},
                  [](Lowering& l) { lower_flat(l); },
                  {R::collective_group},
                  false,
                  ""});
  list.push_back({"a reduce-scatter across groups instead of inside one",
                  seed_tg,
                  "pp=2,tg=4x4",
                  {},
                  [](Lowering& l) {
                    for (Op& op : l.ops)
                      if (is_collective_of(op, CollectivePurpose::mlp_output,
                                           CollectivePhase::intra_group_reduce_scatter, 0))
                        collective_of(op)->group.axes = axis_bit(Role::tensor_group);
                  },
                  {R::collective_group},
                  true,
                  ""});
  list.push_back({"an all-reduce over an axis that owes nothing (inter-group phase over tp)",
                  seed_tg,
                  "pp=2,tg=4x4",
                  {},
                  [](Lowering& l) {
                    for (Op& op : l.ops)
                      if (is_collective_of(op, CollectivePurpose::mlp_output,
                                           CollectivePhase::inter_group_all_reduce, 0))
                        collective_of(op)->group.axes = axis_bit(Role::tensor);
                  },
                  {R::collective_group, R::placement},
                  true,
                  ""});
  list.push_back({"an all-gather where the all-reduce belongs",
                  seed_tp4,
                  "tp=4",
                  {},
                  [](Lowering& l) {
                    const std::size_t i = find_op(l, [](const Op& op) {
                      return is_collective_of(op, CollectivePurpose::mlp_output,
                                              CollectivePhase::flat, 0);
                    });
                    step::AllGather gather;
                    static_cast<step::Collective&>(gather) = *collective_of(l.ops[i]);
                    l.ops[i].step = gather;
                  },
                  {R::op_shape},
                  true,
                  ""});
  list.push_back({"collective members wired in the wrong order",
                  seed_tp4,
                  "tp=4",
                  {},
                  [](Lowering& l) {
                    const std::size_t i = find_op(l, [](const Op& op) {
                      return is_collective_of(op, CollectivePurpose::mlp_output,
                                              CollectivePhase::flat, 0);
                    });
                    LoweredEdge& first = in_edge(l, i, 0);
                    LoweredEdge& second = in_edge(l, i, 1);
                    std::swap(first.tensor.port, second.tensor.port);
                  },
                  {R::edge_device},
                  false,
                  ""});
  list.push_back({"swap FC1's column slices of GPUs 0 and 1, FC2 untouched",
                  seed_tp4,
                  "tp=4",
                  {},
                  [](Lowering& l) { swap_slices(l, OpKind::fc1, 0, 1); },
                  {},
                  true,
                  ""});
  list.push_back(
      {"swap FC1's and FC2's slices of GPUs 0 and 1 together",
       seed_tp4,
       "tp=4",
       {},
       [](Lowering& l) {
         swap_slices(l, OpKind::fc1, 0, 1);
         swap_slices(l, OpKind::fc2, 0, 1);
       },
       {},
       false,
       "a permutation of the MLP's hidden units: GPU 0 computes GPU 1's share of the sum and vice "
       "versa, and the all-reduce adds the same addends (the ring order changes the last bits "
       "only)"});
  list.push_back({"Q on GPU 1 takes GPU 0's columns",
                  seed_tp4,
                  "tp=4",
                  {},
                  [](Lowering& l) {
                    *linear_slice_of(l.ops[find_op(l, OpKind::q_projection, 1, 0)]) =
                        *linear_slice_of(l.ops[find_op(l, OpKind::q_projection, 0, 0)]);
                  },
                  {R::weight_tiling},
                  true,
                  ""});
  list.push_back({"the out-projection holds rows shifted by one head",
                  seed_tp4,
                  "tp=4",
                  {},
                  [](Lowering& l) {
                    linear_slice_of(l.ops[find_op(l, OpKind::out_projection, 1, 0)])->rows.begin +=
                        l.model.head_dim;
                  },
                  {R::weight_tiling},
                  true,
                  ""});
  list.push_back({"drop the causal mask in prefill",
                  seed_tp4,
                  "tp=4",
                  {},
                  [](Lowering& l) {
                    for (Op& op : l.ops)
                      if (step::Softmax* s = step_if<step::Softmax>(op); s && op.layer == 0)
                        s->causal = false;
                  },
                  {R::step_data},
                  true,
                  ""});
  list.push_back({"a causal mask on decode's new token",
                  small(models::helix_seed, "tp=4", decode),
                  "tp=4",
                  decode,
                  [](Lowering& l) {
                    for (Op& op : l.ops)
                      if (step::Softmax* s = step_if<step::Softmax>(op); s && op.layer == 0)
                        s->causal = true;
                  },
                  {},
                  false,
                  "the mask is aligned to the query's position, the last one in decode, so the "
                  "new token still sees every cached key (FlashAttention's bottom-right causal "
                  "mask does the same)"});
  list.push_back({"a replicated kv head picked as g % kv_heads instead of g / (split / kv)",
                  gqa,
                  "tp=16",
                  {},
                  [](Lowering& l) {
                    const std::int64_t kv = l.model.kv_heads, d = l.model.head_dim;
                    for (Op& op : l.ops) {
                      if (op.layer != 0)
                        continue;
                      if (AttentionHeads* a = attention_heads_of(op))
                        a->kv_head_begin = op.device % kv;
                      if (op.kind() == OpKind::k_projection || op.kind() == OpKind::v_projection)
                        linear_slice_of(op)->cols.begin = op.device % kv * d;
                    }
                  },
                  {R::step_data},
                  true,
                  ""});
  list.push_back({"attention on GPU 1 computes GPU 0's query heads",
                  seed_tp4,
                  "tp=4",
                  {},
                  [](Lowering& l) {
                    for (Op& op : l.ops)
                      if (AttentionHeads* a = attention_heads_of(op);
                          a && op.device == 1 && op.layer == 0)
                        a->head_begin = 0;
                  },
                  {R::step_data},
                  true,
                  ""});
  list.push_back({"an edge moved to another GPU",
                  seed_tp4,
                  "tp=4",
                  {},
                  [](Lowering& l) {
                    in_edge(l, find_op(l, OpKind::attention_scores, 1, 0), 0).tensor.device = 2;
                  },
                  {R::edge_device},
                  true,
                  ""});
  list.push_back({"scores on GPU 1 read K from GPU 0's projection",
                  seed_tp4,
                  "tp=4",
                  {},
                  [](Lowering& l) {
                    in_edge(l, find_op(l, OpKind::attention_scores, 1, 0), 1).source =
                        find_op(l, OpKind::k_projection, 0, 0);
                  },
                  {R::edge_device},
                  true,
                  ""});
  list.push_back({"softmax on GPU 1 reads GPU 0's scores, on GPU 0",
                  seed_tp4,
                  "tp=4",
                  {},
                  [](Lowering& l) {
                    LoweredEdge& e = in_edge(l, find_op(l, OpKind::softmax, 1, 0), 0);
                    e.source = find_op(l, OpKind::attention_scores, 0, 0);
                    e.tensor.device = 0;
                  },
                  {R::edge_device},
                  true,
                  ""});
  list.push_back({"a transfer delivers to the wrong GPU of the next stage",
                  seed_tg,
                  "pp=2,tg=4x4",
                  {},
                  [](Lowering& l) {
                    step_if<step::Transfer>(l.ops[find_op(l, [](const Op& op) {
                      return op.kind() == OpKind::transfer;
                    })])->destination += 1;
                  },
                  {R::edge_device},
                  true,
                  ""});
  // Scatter-gather pipeline sends (the default) under pp=2,tp=4: GPU i of stage 0 sends hidden
  // slice i to GPU 4 + i, and stage 1 all-gathers the slices.
  const Model seed_pp = small(models::helix_seed, "pp=2,tp=4");
  list.push_back({"drop the pipeline all-gather",
                  seed_pp,
                  "pp=2,tp=4",
                  {},
                  [](Lowering& l) {
                    drop_collectives(l, CollectivePurpose::pipeline_activation,
                                     CollectivePhase::flat, -1);
                  },
                  {R::edge_shape, R::placement},
                  true,
                  ""});
  list.push_back({"send the wrong slice: GPUs 0 and 1 of stage 0 swap their slices of hidden",
                  seed_pp,
                  "pp=2,tp=4",
                  {},
                  [](Lowering& l) {
                    step::Transfer* first = nullptr;
                    for (Op& op : l.ops)
                      if (step::Transfer* t = step_if<step::Transfer>(op);
                          t && op.replica == 0 && op.microbatch == 0 && t->source < 2) {
                        if (!first)
                          first = t;
                        else
                          std::swap(first->columns, t->columns);
                      }
                  },
                  {R::placement},
                  true,
                  ""});
  list.push_back({"the residual add on GPU 0 adds the attention output to itself",
                  seed_tp4,
                  "tp=4",
                  {},
                  [](Lowering& l) {
                    const std::size_t add = find_op(l, OpKind::residual_add, 0, 0);
                    in_edge(l, add, 0).source = in_edge(l, add, 1).source;
                  },
                  {},
                  true,
                  ""});
  list.push_back({"the MLP's norm uses the attention norm's weights",
                  seed_tp4,
                  "tp=4",
                  {},
                  [](Lowering& l) {
                    for (Op& op : l.ops)
                      if (step::Norm* n = step_if<step::Norm>(op); n && op.layer == 0)
                        n->slot = 0;
                  },
                  {},
                  true,
                  ""});
  list.push_back(
      {"K and V take other kv heads' columns, the attention ops unchanged",
       small(models::llama3_70b, "tp=8"),
       "tp=8",
       {},
       [](Lowering& l) {
         for (Op& op : l.ops)
           if ((op.kind() == OpKind::k_projection || op.kind() == OpKind::v_projection) &&
               op.layer == 0) {
             LinearSlice& s = *linear_slice_of(op);
             s.cols.begin = (s.cols.begin + s.cols.total()) % kv_width(l.model);
           }
       },
       {R::step_data},
       true,
       ""});
  list.push_back({"V slices of GPUs 0 and 1 swapped",
                  seed_tp4,
                  "tp=4",
                  {},
                  [](Lowering& l) { swap_slices(l, OpKind::v_projection, 0, 1); },
                  {R::step_data},
                  true,
                  ""});
  list.push_back({"replica 1 swaps FC1's column slices of its two GPUs",
                  small(models::helix_seed, "dp=2,tp=2"),
                  "dp=2,tp=2",
                  {},
                  [](Lowering& l) {
                    LinearSlice* first = nullptr;
                    for (Op& op : l.ops)
                      if (op.kind() == OpKind::fc1 && op.replica == 1 && op.layer == 0) {
                        if (!first)
                          first = linear_slice_of(op);
                        else
                          std::swap(*first, *linear_slice_of(op));
                      }
                  },
                  {R::placement},
                  true,
                  ""});
  list.push_back({"microbatch 1 reads microbatch 0's sequences",
                  small(models::helix_seed, "tp=2", Workload::prefill(2)),
                  "tp=2",
                  Workload::prefill(2),
                  [](Lowering& l) {
                    for (Op& op : l.ops)
                      if (op.kind() == OpKind::input && op.microbatch == 1)
                        op.batch_begin = 0;
                  },
                  {},
                  true,
                  ""});
  // A vocabulary (SwiGLU, GQA) and a parallel block, each on 4 tensor-parallel GPUs.
  const Model vocab =
      small(models::llama3_70b.with_activation(Activation::swiglu).with_vocab(1000), "tp=4");
  const Model parallel =
      small(models::llama3_70b.with_parallel_block(true).with_vocab(1000), "tp=4");
  const auto swap_vocabulary_slices = [](Lowering& l, OpKind kind) {
    LinearSlice& x = *linear_slice_of(l.ops[find_op(l, kind, 0, -1)]);
    LinearSlice& y = *linear_slice_of(l.ops[find_op(l, kind, 1, -1)]);
    std::swap(x, y);
  };
  list.push_back({"drop the vocab-parallel embedding's all-reduce",
                  vocab,
                  "tp=4",
                  {},
                  [](Lowering& l) {
                    drop_collectives(l, CollectivePurpose::embedding, CollectivePhase::flat, -1);
                  },
                  {R::placement},
                  true,
                  ""});
  list.push_back({"swap the embedding's vocabulary slices of GPUs 0 and 1",
                  vocab,
                  "tp=4",
                  {},
                  [&](Lowering& l) { swap_vocabulary_slices(l, OpKind::embedding); },
                  {},
                  false,
                  "every token's row is still found on exactly one GPU, and the all-reduce sums "
                  "the lookups whoever holds them"});
  list.push_back({"swap the LM head's vocabulary slices of GPUs 0 and 1",
                  vocab,
                  "tp=4",
                  {},
                  [&](Lowering& l) { swap_vocabulary_slices(l, OpKind::lm_head); },
                  {},
                  true,
                  ""});
  list.push_back({"the LM head reads the whole prompt, not each sequence's last position",
                  vocab,
                  "tp=4",
                  {},
                  [](Lowering& l) {
                    for (std::size_t i = l.ops.size(); i-- > 0;)
                      if (l.ops[i].kind() == OpKind::last_token)
                        bypass(l, i);
                  },
                  {R::edge_shape},
                  true,
                  ""});
  list.push_back({"drop a parallel block's one all-reduce",
                  parallel,
                  "tp=4",
                  {},
                  [](Lowering& l) {
                    drop_collectives(l, CollectivePurpose::block_output, CollectivePhase::flat);
                  },
                  {R::placement},
                  true,
                  ""});
  // KV-parallel decode (issue 14) under kvp=2,tp=2, contiguous: GPU i holds KV shard i / 2 of
  // attention member i % 2's heads; the new token lands on the last shard (GPUs 2 and 3); member
  // j's all-to-all exchanges the partials of GPUs j (shard 0) and 2 + j (shard 1).
  const Workload kv_decode = decode.with_kv_placement({KVLayout::contiguous, 16});
  const Model kv_llama = small(models::llama3_70b, "kvp=2,tp=2", kv_decode);
  const auto layer0_all_to_all = [](const Lowering& l) {
    return find_op(l, [](const Op& op) {
      return op.kind() == OpKind::all_to_all && op.layer == 0 && op.replica == 0 &&
             op.microbatch == 0;
    });
  };
  list.push_back({"a KV shard merged twice: member 1 of an all-to-all takes shard 0's partials",
                  kv_llama,
                  "kvp=2,tp=2",
                  kv_decode,
                  [=](Lowering& l) {
                    // The group built from partials[j] for every shard instead of
                    // partials[k · members + j]: shard 0's keys twice, shard 1's never.
                    const std::size_t exchange = layer0_all_to_all(l);
                    LoweredEdge& member1 = in_edge(l, exchange, 1);
                    member1.source = find_op(l, OpKind::partial_attention, 0, 0);
                    member1.tensor.device = 0;
                  },
                  // Shard 1's partial attention no longer reaches an output.
                  {R::kv_shards, R::edge_device, R::connected},
                  true,
                  ""});
  list.push_back({"a wrong log-sum-exp: shard 0 appends the new token too (counted twice)",
                  kv_llama,
                  "kvp=2,tp=2",
                  kv_decode,
                  [](Lowering& l) {
                    // The append no longer guarded by owns_new: GPU 0 (shard 0) projects the new
                    // token's K and V and attends to it, as GPU 2 (shard 1, its owner) does, so
                    // both partial log-sum-exps hold exp(q·k_new) and the merge counts it twice.
                    const std::size_t norm = find_op(l, OpKind::norm, 0, 0);
                    const std::size_t partial = find_op(l, OpKind::partial_attention, 0, 0);
                    for (const bool values : {false, true}) {
                      const std::size_t append = find_op(l, [&](const Op& op) {
                        const step::KVAppend* a = step_if<step::KVAppend>(op);
                        return a && a->values == values && op.device == 2 && op.layer == 0;
                      });
                      const std::size_t projection = copy_op_to(
                          l, find_op(l, values ? OpKind::v_projection : OpKind::k_projection, 2, 0),
                          0);
                      rewire(l, projection, 0, norm);
                      const std::size_t own = copy_op_to(l, append, 0);
                      step_if<step::KVAppend>(l.ops[own])->shard.index = 0;
                      const std::size_t cache = find_op(l, [&](const Op& op) {
                        const step::KVCache* c = step_if<step::KVCache>(op);
                        return c && c->values == values && op.device == 0 && op.layer == 0;
                      });
                      rewire(l, own, 0, cache);
                      rewire(l, own, 1, projection);
                      rewire(l, partial, values ? 2 : 1, own);
                    }
                  },
                  // The append on a shard the placement does not give the token; Wk and Wv
                  // columns held twice; keys one more than shard 0's step implies.
                  {R::kv_shards, R::weight_tiling, R::op_shape},
                  true,
                  ""});
  list.push_back({"an all-to-all over the tensor axis instead of the KV shards (kv_seq)",
                  kv_llama,
                  "kvp=2,tp=2",
                  kv_decode,
                  [=](Lowering& l) {
                    collective_of(l.ops[layer0_all_to_all(l)])->group.axes = axis_bit(Role::tensor);
                  },
                  // Members GPUs 0 and 1, not 0 and 2; partials exchanged that still owe their
                  // merge along kv_seq; the merges not fed from the exchange of their shards.
                  {R::collective_group, R::edge_device, R::placement, R::kv_shards},
                  true,
                  ""});
  return list;
}

/// Whether verify() rejects `dag`: a wrong result, or an executor that refuses to run it (it
/// throws std::logic_error naming the vertex).
bool verify_fails(const Dag& dag) {
  try {
    return !numerics::verify<double>(dag).passed;
  } catch (const std::logic_error&) {
    return true;
  }
}

} // namespace

TEST_CASE("every deliberate lowering bug is caught by check() or verify(), or is harmless") {
  const std::vector<Mutation> list = mutations();
  CHECK(list.size() >= 20);
  for (const Mutation& mutation : list) {
    CAPTURE(mutation.name);
    const PlanSpec plan = parse_plan(mutation.plan);
    // The unmutated lowering is sound and computes the reference, so whatever is found below is
    // the mutation's doing; and the mutation changes something.
    const Lowering original = lower(mutation.model, plan, mutation.workload);
    REQUIRE(check(materialize(original)).empty());
    REQUIRE_FALSE(verify_fails(materialize(original)));
    Lowering lowering = original;
    mutation.apply(lowering);
    REQUIRE_FALSE((lowering.ops == original.ops && lowering.edges == original.edges));
    const Dag dag = materialize(lowering);
    const std::vector<Diagnostic> diagnostics = check(dag);
    for (CheckRule rule : mutation.caught_by_check) {
      CAPTURE(check_rule_name(rule));
      CHECK(has_rule(diagnostics, rule));
    }
    if (mutation.caught_by_check.empty())
      CHECK(diagnostics.empty());
    CHECK(verify_fails(dag) == mutation.caught_by_verify);
    const bool caught = !diagnostics.empty() || mutation.caught_by_verify;
    CHECK((caught || !mutation.harmless_because.empty()));
  }
}

TEST_CASE("tg=4x4 lowered as a flat ring is rejected by check() naming the collective and plan") {
  const Model model = small(models::helix_seed, "pp=2,tg=4x4");
  Lowering lowering = lower(model, parse_plan("pp=2,tg=4x4"), {});
  lower_flat(lowering);
  const std::vector<Diagnostic> diagnostics = check(materialize(lowering));
  REQUIRE_FALSE(diagnostics.empty());
  // 2 layers × 2 all-reduces, each one flat ring over a stage's 8 GPUs.
  CHECK(diagnostics.size() == 4);
  CHECK(diagnostics[0].message.find("all_reduce") != std::string::npos);
  CHECK(diagnostics[0].message.find("flat ring") != std::string::npos);
  CHECK(diagnostics[0].message.find("over 8 GPUs, but plan 'pp=2,tg=4x4' prescribes a "
                                    "hierarchical all-reduce") != std::string::npos);
}
