// The reports as JSON, for tools: a plan's cost summary, a claim verdict, a plan's numerics, the
// comparison, and the document `helix_deploy --json` writes (schema in the README). Printing
// only: the numbers come from cost/compare.hpp and numerics/report.hpp.
// Needs nlohmann_json, which helix::helix does not: link helix::json and include this header
// yourself (helix/io.hpp and helix/helix.hpp leave it out).
#pragma once

#include "helix/cost/compare.hpp"
#include "helix/cost/hardware.hpp"
#include "helix/io/atomic_file.hpp"
#include "helix/model/model.hpp"
#include "helix/numerics/report.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace helix::io {

/// {"phase": "prefill"|"decode", "microbatches": n}
inline nlohmann::json to_json(const Workload& workload) {
  return {{"phase", std::string(phase_name(workload.phase))},
          {"microbatches", workload.microbatches}};
}

/// A plan's name, world size, DAG size and cost ("cost": FLOPs, all-reduce counts, bytes per
/// link class, memory, makespan, bubble, tokens per second).
inline nlohmann::json to_json(const cost::PlanSummary& p) {
  nlohmann::json bytes;
  for (std::size_t link = 0; link < cost::link_class_count; ++link)
    bytes[std::string(cost::link_class_name(static_cast<cost::LinkClass>(link)))] =
        p.bytes_by_link[link];
  return {{"name", p.name},
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
            {"makespan_s", p.makespan_seconds},
            {"bubble_fraction", p.bubble_fraction},
            {"tokens_per_s", p.tokens_per_second}}}};
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

/// {"hardware", "plans": [summary...], "claims": [verdict...], "notes": [text...]}
inline nlohmann::json to_json(const cost::Comparison& c) {
  nlohmann::json plans = nlohmann::json::array();
  for (const cost::PlanSummary& p : c.plans)
    plans.push_back(to_json(p));
  nlohmann::json claims = nlohmann::json::array();
  for (const cost::ClaimVerdict& v : c.verdicts)
    claims.push_back(to_json(v));
  return {{"hardware", c.hardware}, {"plans", plans}, {"claims", claims}, {"notes", c.notes}};
}

/// What `helix_deploy --json` writes: the comparison with the model's name and the workload, and
/// per plan i "checks": {"ok": checks_ok[i]} and "numerics" (numerics[i], null past its end:
/// not verified).
inline nlohmann::json to_json(std::string_view model_name, const Workload& workload,
                              const cost::Comparison& comparison,
                              const std::vector<bool>& checks_ok,
                              const std::vector<numerics::PlanNumerics>& numerics) {
  nlohmann::json document = to_json(comparison);
  document["model"] = std::string(model_name);
  document["workload"] = to_json(workload);
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
