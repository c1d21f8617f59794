// The reports as JSON, for tools: a plan's cost summary, a claim verdict, a plan's numerics, the
// comparison, and the document `helix_deploy --json` writes (schema in the README). Printing
// only: the numbers come from cost/compare.hpp and numerics/report.hpp.
// Needs nlohmann_json, which helix::helix does not: link helix::json and include this header
// yourself (helix/io.hpp and helix/helix.hpp leave it out).
#pragma once

#include "helix/cost/collectives.hpp"
#include "helix/cost/compare.hpp"
#include "helix/cost/generation.hpp"
#include "helix/cost/hardware.hpp"
#include "helix/io/atomic_file.hpp"
#include "helix/model/model.hpp"
#include "helix/numerics/report.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace helix::io {

/// {"phase": "prefill"|"decode", "microbatches": n, "pipeline_send": "scatter_gather"|"full",
/// "kv_placement": "contiguous"|"interleaved:N" (how KV-parallel decode deals the cache)}
inline nlohmann::json to_json(const Workload& workload) {
  return {{"phase", std::string(phase_name(workload.phase))},
          {"microbatches", workload.microbatches},
          {"pipeline_send", std::string(pipeline_send_name(workload.pipeline_send))},
          {"kv_placement", to_string(workload.kv_placement)}};
}

/// What a run costs, in the words of serving benchmarks: {"phase", "batch", "input_tokens" (the
/// prompt, or the KV cache a decode step reads), "output_tokens", "microbatches",
/// "pipeline_send", "dtype", "kv_dtype", "attention"}.
inline nlohmann::json to_json(const Model& model, const Workload& workload,
                              std::int64_t output_tokens) {
  nlohmann::json j = to_json(workload);
  j["batch"] = model.batch;
  j["input_tokens"] = model.seq_len;
  j["output_tokens"] = output_tokens;
  j["dtype"] = std::string(data_type_name(model.dtype));
  j["kv_dtype"] = std::string(data_type_name(model.kv_dtype));
  j["attention"] = std::string(attention_kernel_name(workload.attention));
  return j;
}

/// {"prefill" (false for a decode-only generation), "ttft_s" (null without a prefill), "tpot_s"
/// (null with one output token: no decode step), "e2e_s",
/// "output_tokens_per_s", "output_tokens_per_s_per_gpu", "decode": {"kv_lengths": [first, last],
/// "points": [{"kv_length", "step_s"}...], "tpot_error_bound_s" (null when the step time showed it
/// is not convex)}}
inline nlohmann::json to_json(const cost::Generation& g) {
  nlohmann::json points = nlohmann::json::array();
  for (const cost::DecodePoint& p : g.decode.points)
    points.push_back({{"kv_length", p.kv_length}, {"step_s", p.seconds}});
  const bool decodes = g.output_tokens > 1;
  return {{"prefill", g.prefill},
          {"ttft_s", g.prefill ? nlohmann::json(g.ttft_seconds) : nlohmann::json(nullptr)},
          {"tpot_s", decodes ? nlohmann::json(g.tpot_seconds) : nlohmann::json(nullptr)},
          {"e2e_s", g.e2e_seconds},
          {"output_tokens_per_s", g.output_tokens_per_second},
          {"output_tokens_per_s_per_gpu", g.output_tokens_per_second_per_gpu},
          {"decode",
           decodes
               ? nlohmann::json{{"kv_lengths", {g.decode.first_kv_length, g.decode.last_kv_length}},
                                {"points", points},
                                {"tpot_error_bound_s",
                                 g.decode.convex ? nlohmann::json(g.decode.error_bound_seconds)
                                                 : nlohmann::json(nullptr)}}
               : nlohmann::json(nullptr)}};
}

/// A plan's name, its text, world size, DAG size and cost ("cost": FLOPs, all-reduce counts, bytes
/// per link class, memory with the fullest device's split, makespan, bubble, tokens per second
/// (and per GPU), and the generation: null for a decode step).
inline nlohmann::json to_json(const cost::PlanSummary& p) {
  nlohmann::json bytes;
  for (std::size_t link = 0; link < cost::link_class_count; ++link)
    bytes[std::string(cost::link_class_name(static_cast<cost::LinkClass>(link)))] =
        p.bytes_by_link[link];
  const cost::DeviceMemory& m = p.fullest_device;
  return {{"name", p.name},
          {"plan", p.plan},
          {"world_size", p.world_size},
          {"dag", {{"vertices", p.vertices}, {"edges", p.edges}}},
          {"cost",
           {{"flops_total", p.flops_total},
            {"flops_per_device_max", p.flops_per_device_max},
            {"allreduce_logical", p.allreduce_logical},
            {"collective_phases", p.collective_phases},
            {"bytes_by_link", bytes},
            {"bytes_per_device", p.bytes_per_device},
            {"communication_s_per_device", p.communication_seconds_per_device},
            {"memory_per_device_max", p.memory_per_device_max},
            {"memory_capacity", p.memory_capacity},
            {"fits", p.fits},
            {"memory_per_device",
             {{"weights", m.weight_bytes},
              {"kv_cache", m.kv_cache_bytes},
              {"activations", m.activation_bytes},
              {"total", m.total_bytes},
              {"device", m.device},
              {"phase", std::string(phase_name(p.memory_phase))}}},
            {"makespan_s", p.makespan_seconds},
            {"bubble_fraction", p.bubble_fraction},
            {"tokens_per_s", p.tokens_per_second},
            {"tokens_per_s_per_gpu", p.tokens_per_second_per_gpu},
            {"generation", p.generation ? to_json(*p.generation) : nlohmann::json(nullptr)}}}};
}

/// The double run's output errors, tolerance and replica agreement; "passed" when both the
/// double and the float run passed, and the float run's largest relative error.
inline nlohmann::json to_json(const numerics::PlanNumerics& n) {
  const numerics::NumericsReport& d = n.in_double;
  return {{"max_abs_err", d.output.max_abs},
          {"max_rel_err", d.output.max_relative},
          {"tolerance", d.tolerance},
          {"replicas_agree", d.replicas_agree},
          {"passed", d.passed && n.in_float.passed},
          {"float_max_rel_err", n.in_float.output.max_relative}};
}

/// {"claim", "baseline", "plan", "verdict": "holds"|"partly holds"|"does not hold", "text"}
inline nlohmann::json to_json(const cost::ClaimVerdict& v) {
  return {{"claim", v.claim},
          {"baseline", v.baseline},
          {"plan", v.plan},
          {"verdict", std::string(cost::verdict_name(v.verdict))},
          {"text", v.text}};
}

/// {"hardware", "simulation": {"overlap_communication", "collectives"}, "objective", "plans":
/// [summary with its "rank" under the objective, 1 = best...], "claims": [verdict...], "notes":
/// [text...]}
inline nlohmann::json to_json(const cost::Comparison& c) {
  nlohmann::json plans = nlohmann::json::array();
  for (const cost::PlanSummary& p : c.plans)
    plans.push_back(to_json(p));
  for (std::size_t place = 0; place < c.ranking.size() && place < plans.size(); ++place)
    plans[c.ranking[place]]["rank"] = place + 1;
  nlohmann::json claims = nlohmann::json::array();
  for (const cost::ClaimVerdict& v : c.verdicts)
    claims.push_back(to_json(v));
  return {{"hardware", c.hardware},
          {"simulation",
           {{"overlap_communication", c.overlap_communication},
            {"collectives", std::string(cost::collective_model_name(c.collectives))}}},
          {"objective", std::string(cost::objective_info(c.objective).name)},
          {"plans", plans},
          {"claims", claims},
          {"notes", c.notes}};
}

/// What `helix_deploy --json` writes: the comparison with the model's name and the workload
/// (`model` sized as run: batch and prompt), and per plan i "checks": {"ok": checks_ok[i]} and
/// "numerics" (numerics[i], null past its end: not verified).
inline nlohmann::json to_json(std::string_view model_name, const Model& model,
                              const Workload& workload, std::int64_t output_tokens,
                              const cost::Comparison& comparison,
                              const std::vector<bool>& checks_ok,
                              const std::vector<numerics::PlanNumerics>& numerics) {
  nlohmann::json document = to_json(comparison);
  document["model"] = std::string(model_name);
  document["workload"] = to_json(model, workload, output_tokens);
  nlohmann::json& plans = document["plans"];
  for (std::size_t i = 0; i < plans.size(); ++i) {
    plans[i]["checks"] = {{"ok", i < checks_ok.size() && checks_ok[i]}};
    plans[i]["numerics"] = i < numerics.size() ? to_json(numerics[i]) : nlohmann::json(nullptr);
  }
  return document;
}

/// The sizes a `.npy` dump of `model` does not tell by its arrays' shapes (heads, kv heads, ...),
/// its norm and the workload's phase: `model.json` beside `write_numerics_npy`'s files.
inline nlohmann::json npy_sizes_json(const Model& model, const Workload& workload) {
  return {{"layers", model.layers},
          {"hidden", model.hidden},
          {"heads", model.heads},
          {"kv_heads", model.kv_heads},
          {"head_dim", model.head_dim},
          {"ffn_hidden", model.ffn_hidden},
          {"batch", model.batch},
          {"seq_len", model.seq_len},
          {"norm", std::string(norm_name(model.norm))},
          {"activation", std::string(activation_name(model.activation))},
          {"vocab", model.vocab},
          {"padded_vocab", model.vocab > 0 ? padded_vocab(model) : 0},
          {"parallel_block", model.parallel_block},
          {"workload", std::string(phase_name(workload.phase))}};
}

/// Writes `document` indented by 2, with a final newline, atomically (see write_file_atomically).
inline void write_json_file(const std::filesystem::path& file, const nlohmann::json& document) {
  write_file_atomically(file, document.dump(2) + "\n");
}

} // namespace helix::io
