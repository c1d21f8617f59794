// Proof by execution that a partition scheme computes what the unsharded model computes: build
// the Dag, execute it, run the reference on the same weights and input, and measure the error
// per layer and at the output against a stated tolerance.
#pragma once

#include "helix/graph/dag.hpp"
#include "helix/graph/lowering.hpp"
#include "helix/model/model.hpp"
#include "helix/numerics/execute.hpp"
#include "helix/numerics/reference.hpp"
#include "helix/numerics/weights.hpp"
#include "helix/plan/spec.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

namespace helix::numerics {

/// Error of one tensor against the reference. Relative error is normwise in the max norm:
/// max|executed − reference| / max|reference| over the whole tensor (every device's copy of every
/// sequence), so an element near zero cannot inflate it. NaN or infinity counts as infinite error.
struct ErrorMeasure {
  double max_abs = 0;
  double max_relative = 0;
};

struct LayerError {
  std::int64_t layer = 0;
  ErrorMeasure error;
};

struct NumericsReport {
  Model model{};
  PlanSpec plan{};
  Workload workload{};
  SchemeVariant variant = SchemeVariant::exact;
  std::string scalar; ///< "double" or "float"
  std::size_t vertices = 0;
  std::int64_t devices = 0;
  std::vector<LayerError> layers;
  ErrorMeasure output;
  /// Output tensors compared (one per output vertex: every device of the last stage).
  std::size_t output_copies = 0;
  /// Every sequence's output (and every layer output) is held by some device.
  bool complete = false;
  /// Every device holding the output (or a layer's output) of the same sequences holds the same
  /// bits: the collectives hand every member the identical sum.
  bool replicas_agree = false;
  /// Bound on every relative error (see `tolerance`).
  double tolerance = 0;
  bool passed = false;
  double reference_seconds = 0, execute_seconds = 0;
};

/// Largest relative error that passes. Double: 1e-12, about 1000× what the schemes show.
/// Float: executor and reference differ only in the order of their sums (how the plan splits
/// them); a sum of n terms in another order moves by about ε·sqrt(n) of its size when roundings
/// are random, a handful of such sums chain in a block (norm, projections, scores, context,
/// out-projection, MLP) and blocks add their errors along the residual stream. The bound is
/// 32 · ε · sqrt(n) · layers, n the longest reduction (hidden, attention width, ffn or keys):
/// for helix_seed shrunk (n = 512, 2 layers) 1.7e-4, some 300× the largest float error of the
/// tested schemes (5.4e-7) and some 2000× below the broken variant's (0.3).
template <std::floating_point Scalar>
double tolerance(const Model& model, const Workload& workload = {}) {
  if constexpr (std::same_as<Scalar, double>)
    return 1e-12;
  const std::int64_t n = std::max(
      {model.hidden, attention_width(model), model.ffn_hidden, attended_tokens(model, workload)});
  return 32 * static_cast<double>(std::numeric_limits<Scalar>::epsilon()) *
         std::sqrt(static_cast<double>(n)) * static_cast<double>(model.layers);
}

namespace detail {

/// Error of every part against the matching rows of `reference`, and whether the parts for the
/// same sequences are identical.
template <std::floating_point Scalar>
ErrorMeasure measure(const std::vector<const SequenceTensor<Scalar>*>& parts,
                     const Matrix<Scalar>& reference, std::int64_t tokens, bool& agree) {
  ErrorMeasure measured;
  const double scale = reference.size() ? static_cast<double>(reference.cwiseAbs().maxCoeff()) : 0;
  std::map<std::int64_t, const SequenceTensor<Scalar>*> first_of;
  for (const SequenceTensor<Scalar>* part : parts) {
    const Matrix<Scalar> expected =
        reference.middleRows(part->batch_begin * tokens, part->sequences * tokens);
    const Matrix<Scalar> difference = *part->value - expected;
    const double worst = difference.allFinite()
                             ? static_cast<double>(difference.cwiseAbs().maxCoeff())
                             : std::numeric_limits<double>::infinity();
    measured.max_abs = std::max(measured.max_abs, worst);
    const auto [it, fresh] = first_of.emplace(part->batch_begin, part);
    if (!fresh && (it->second->value->rows() != part->value->rows() ||
                   !(it->second->value->array() == part->value->array()).all()))
      agree = false;
  }
  measured.max_relative =
      scale > 0 ? measured.max_abs / scale
                : (measured.max_abs == 0 ? 0 : std::numeric_limits<double>::infinity());
  return measured;
}

inline double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

/// Elements of the largest tensor the reference and the executor hold for `model`: attention
/// scores, an activation, a full weight or the KV cache, with its name. Decode builds its cache
/// by a prefill of the `seq_len` context tokens, so both phases are sized as a prefill over
/// `seq_len + 1` keys.
inline std::pair<std::int64_t, std::string_view> largest_tensor(const Model& model) {
  const std::int64_t keys = model.seq_len + 1;
  const std::int64_t widest =
      std::max({model.hidden, model.ffn_hidden, attention_width(model), kv_width(model)});
  std::pair<std::int64_t, std::string_view> largest{
      model.batch * model.heads * model.seq_len * keys, "attention scores"};
  for (const auto& candidate :
       {std::pair<std::int64_t, std::string_view>{model.batch * keys * widest, "activation"},
        {model.hidden * std::max(model.ffn_hidden, attention_width(model)), "weight"},
        {model.batch * keys * kv_width(model), "KV cache"},
        {model.hidden * padded_vocab(model), "embedding"}})
    if (candidate.first > largest.first)
      largest = candidate;
  return largest;
}

} // namespace detail

/// The largest tensor `verify` will allocate: 2^27 elements, 1 GiB in double.
inline constexpr std::int64_t max_verify_tensor_elements = std::int64_t{1} << 27;

/// Executes `dag` on weights and input drawn from `seed` and compares with `reference_forward`
/// of the model it was built for, per layer and at the output. Any Dag will do, including one a
/// user or a test changed after building it: the executor reads only the graph.
/// @throws std::invalid_argument, naming the tensor and its size, when a tensor would exceed
/// `max_verify_tensor_elements`; std::logic_error naming the vertex when the graph cannot run.
template <std::floating_point Scalar>
[[nodiscard]] NumericsReport verify(const Dag& dag, std::uint64_t seed = default_seed) {
  const DagInfo& info = boost::get_property(dag, boost::graph_bundle);
  const Model& model = info.model;
  const Workload& workload = info.workload;
  NumericsReport report;
  report.model = model;
  report.plan = info.plan;
  report.workload = workload;
  report.variant = info.variant;
  report.scalar = std::same_as<Scalar, double> ? "double" : "float";
  // The size rule (checked when the graph was built) has shown every product below fits 64 bits.
  if (const auto [elements, name] = detail::largest_tensor(model);
      elements > max_verify_tensor_elements)
    throw std::invalid_argument("helix: verify: the model is too large to run on a CPU: its " +
                                std::string(name) + " tensor has " + std::to_string(elements) +
                                " elements (at most " + std::to_string(max_verify_tensor_elements) +
                                "); verify models::shrink(model, plan, workload) instead");
  report.vertices = boost::num_vertices(dag);
  report.devices = info.mesh.size();

  const Weights<Scalar> weights = make_weights<Scalar>(model, seed);
  const Input<Scalar> input = make_input<Scalar>(model, workload, weights, seed);
  auto start = std::chrono::steady_clock::now();
  const ReferenceResult<Scalar> reference = reference_forward(model, workload, weights, input);
  report.reference_seconds = detail::seconds_since(start);
  start = std::chrono::steady_clock::now();
  const Execution<Scalar> executed = execute(dag, weights, input);
  report.execute_seconds = detail::seconds_since(start);

  bool agree = true, complete = true;
  const auto covers_batch = [&](const std::vector<const SequenceTensor<Scalar>*>& parts) {
    std::vector<bool> seen(static_cast<std::size_t>(model.batch), false);
    for (const SequenceTensor<Scalar>* part : parts)
      for (std::int64_t s = 0; s < part->sequences; ++s)
        seen[static_cast<std::size_t>(part->batch_begin + s)] = true;
    return std::ranges::all_of(seen, [](bool b) { return b; });
  };
  for (std::int64_t layer = 0; layer < model.layers; ++layer) {
    std::vector<const SequenceTensor<Scalar>*> parts;
    for (const SequenceTensor<Scalar>& part : executed.layer_outputs)
      if (part.layer == layer)
        parts.push_back(&part);
    complete = complete && covers_batch(parts);
    report.layers.push_back(LayerError{
        layer, detail::measure(parts, reference.layer_outputs[static_cast<std::size_t>(layer)],
                               input.tokens, agree)});
  }
  std::vector<const SequenceTensor<Scalar>*> outputs;
  for (const SequenceTensor<Scalar>& part : executed.outputs)
    outputs.push_back(&part);
  complete = complete && covers_batch(outputs);
  // With a vocabulary the output is one row of logits per sequence.
  report.output =
      detail::measure(outputs, reference.output, model.vocab > 0 ? 1 : input.tokens, agree);
  report.output_copies = outputs.size();
  report.complete = complete;
  report.replicas_agree = agree;
  report.tolerance = tolerance<Scalar>(model, workload);
  bool within = report.output.max_relative <= report.tolerance;
  for (const LayerError& e : report.layers)
    within = within && e.error.max_relative <= report.tolerance;
  report.passed = within && complete && agree;
  return report;
}

/// Builds `plan` for `model` and `workload` (lowered as `variant`) and verifies the Dag (above).
/// `model` is used as given: pass `models::shrink(model, plan, workload)` for a preset's size.
/// @throws PlanError when the plan does not suit the model; std::invalid_argument, naming the
/// tensor and its size, when a tensor would exceed `max_verify_tensor_elements`.
///
/// Example: `verify<double>(models::shrink(models::helix_seed, parse_plan("hp=4x4")),
/// parse_plan("hp=4x4")).passed` is true; with `SchemeVariant::broken_slice_local_softmax` false.
template <std::floating_point Scalar>
[[nodiscard]] NumericsReport
verify(const Model& model, const PlanSpec& plan, const Workload& workload = {},
       SchemeVariant variant = SchemeVariant::exact, std::uint64_t seed = default_seed) {
  return verify<Scalar>(build_dag(model, plan, workload, variant), seed);
}

/// Sequences to check against the reference at scale: every one when `requested` is 0 or at
/// least `batch`, else `requested` of them spread evenly over the batch (so every data-parallel
/// replica and microbatch tends to be sampled).
/// Example: `sample_sequences(8, 3)` is {0, 2, 5}.
inline std::vector<std::int64_t> sample_sequences(std::int64_t batch, std::int64_t requested) {
  const std::int64_t n = requested <= 0 || requested >= batch ? batch : requested;
  std::vector<std::int64_t> sample;
  for (std::int64_t i = 0; i < n; ++i)
    sample.push_back(i * batch / n);
  return sample;
}

/// How gathered outputs compare with the reference on a sample of sequences.
struct SampleReport {
  std::vector<std::int64_t> sequences;
  ErrorMeasure error;
  /// Every sampled sequence's output is held by some output tensor.
  bool complete = false;
  /// Every output tensor holding the same sequences holds the same bits (all sequences, not only
  /// the sample).
  bool replicas_agree = false;
  double tolerance = 0;
  bool passed = false;
  double reference_seconds = 0;
};

/// Compares `outputs` (output tensors from any executor, e.g. gathered from MPI ranks) with
/// `reference_sample` on `sequences`: the reference at scale, one block's weights in memory at a
/// time.
template <std::floating_point Scalar>
SampleReport verify_sample(const Model& model, const Workload& workload,
                           const std::vector<SequenceTensor<Scalar>>& outputs,
                           const std::vector<std::int64_t>& sequences,
                           std::uint64_t seed = default_seed) {
  SampleReport report;
  report.sequences = sequences;
  report.tolerance = tolerance<Scalar>(model, workload);
  const auto start = std::chrono::steady_clock::now();
  const Matrix<Scalar> reference = reference_sample<Scalar>(model, workload, sequences, seed);
  report.reference_seconds = detail::seconds_since(start);
  const std::int64_t rows = model.vocab > 0 ? 1 : new_tokens(model, workload);
  report.replicas_agree = true;
  std::map<std::int64_t, const SequenceTensor<Scalar>*> first_of;
  for (const SequenceTensor<Scalar>& part : outputs) {
    const auto [it, fresh] = first_of.emplace(part.batch_begin, &part);
    if (!fresh && (it->second->value->rows() != part.value->rows() ||
                   it->second->value->cols() != part.value->cols() ||
                   !(it->second->value->array() == part.value->array()).all()))
      report.replicas_agree = false;
  }
  report.complete = true;
  const double scale = reference.size() ? static_cast<double>(reference.cwiseAbs().maxCoeff()) : 0;
  for (std::size_t i = 0; i < sequences.size(); ++i) {
    const std::int64_t s = sequences[i];
    bool found = false;
    for (const SequenceTensor<Scalar>& part : outputs) {
      if (s < part.batch_begin || s >= part.batch_begin + part.sequences)
        continue;
      found = true;
      const Matrix<Scalar> difference =
          part.value->middleRows((s - part.batch_begin) * rows, rows) -
          reference.middleRows(static_cast<std::int64_t>(i) * rows, rows);
      const double worst = difference.allFinite()
                               ? static_cast<double>(difference.cwiseAbs().maxCoeff())
                               : std::numeric_limits<double>::infinity();
      report.error.max_abs = std::max(report.error.max_abs, worst);
    }
    report.complete = report.complete && found;
  }
  report.error.max_relative =
      scale > 0 ? report.error.max_abs / scale
                : (report.error.max_abs > 0 ? std::numeric_limits<double>::infinity() : 0);
  report.passed =
      report.complete && report.replicas_agree && report.error.max_relative <= report.tolerance;
  return report;
}

/// How two executions' output tensors compare, tensor by tensor (matched by device, replica,
/// microbatch and sequences).
struct OutputComparison {
  /// Every tensor of each has a match in the other.
  bool matched = false;
  /// And every match holds the same bits.
  bool bit_identical = false;
  /// max|a − b| / max|b| over all matches.
  double max_relative = 0;
  std::size_t tensors = 0;
};

template <std::floating_point Scalar>
OutputComparison compare_outputs(const std::vector<SequenceTensor<Scalar>>& a,
                                 const std::vector<SequenceTensor<Scalar>>& b) {
  OutputComparison c;
  c.matched = a.size() == b.size();
  c.bit_identical = c.matched;
  double worst = 0, scale = 0;
  for (const SequenceTensor<Scalar>& x : a) {
    const SequenceTensor<Scalar>* match = nullptr;
    for (const SequenceTensor<Scalar>& y : b)
      if (y.layer == x.layer && y.device == x.device && y.replica == x.replica &&
          y.microbatch == x.microbatch && y.batch_begin == x.batch_begin &&
          y.sequences == x.sequences && y.value->rows() == x.value->rows() &&
          y.value->cols() == x.value->cols())
        match = &y;
    if (!match) {
      c.matched = c.bit_identical = false;
      continue;
    }
    ++c.tensors;
    c.bit_identical = c.bit_identical && (x.value->array() == match->value->array()).all();
    const Matrix<Scalar> difference = *x.value - *match->value;
    worst = std::max(worst, difference.allFinite()
                                ? static_cast<double>(difference.cwiseAbs().maxCoeff())
                                : std::numeric_limits<double>::infinity());
    if (match->value->size())
      scale = std::max(scale, static_cast<double>(match->value->cwiseAbs().maxCoeff()));
  }
  c.max_relative = scale > 0 ? worst / scale : worst;
  return c;
}

} // namespace helix::numerics
