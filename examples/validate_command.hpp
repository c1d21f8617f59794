// helix_deploy --validate FILE: every measurement in FILE predicted as helix_deploy costs a
// generation, with the error of each and their median and worst; and --calibrate FILE: a
// hardware's efficiencies fitted to the measurements taken on it, written as a hardware file.
// Included by helix_deploy.cpp, kept apart so that file stays the plan run.
#pragma once

#include <helix/cost/calibration.hpp>
#include <helix/cost/hardware.hpp>
#include <helix/cost/simulate.hpp>
#include <helix/cost/units.hpp>
#include <helix/cost/validation.hpp>
#include <helix/io/hardware_json.hpp>
#include <helix/io/measurements_json.hpp>
#include <helix/model/data_type.hpp>
#include <helix/plan/parse.hpp>

#include "command_line.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <iostream>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace helix::examples {

/// The options of helix_deploy that --validate and --calibrate read.
struct MeasurementCommand {
  std::string validate_file;  ///< --validate: empty unless given
  std::string calibrate_file; ///< --calibrate: empty unless given
  std::string hardware_name;  ///< --hardware: the preset --calibrate fits
  std::string hardware_file;  ///< --hardware-file: fitted by --calibrate, or put in place by
                              ///< --validate of the preset of its name
  std::string hardware_out;   ///< --hardware-out: where --calibrate writes the fitted hardware
  std::string json_file;      ///< --json: the report as JSON
  bool overlap = false;       ///< --overlap: the timeline option the predictions use
  cost::CollectiveModel collectives = cost::CollectiveModel::nccl; ///< --collectives
  std::vector<std::string> fit; ///< --fit: the parameters --calibrate fits; empty: all
};

namespace validate_command {

/// Bad input: one line on stderr, exit 2.
struct BadInput : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// `fraction` in percent with a sign and one decimal, the minus a true minus as format_change
/// writes it: "+10.4%", "−65.9%".
inline std::string signed_percent(double fraction) {
  char number[32];
  std::snprintf(number, sizeof number, "%.1f%%", std::abs(fraction) * 100);
  return (fraction < 0 ? "−" : "+") + std::string(number);
}

inline std::string percent(double fraction) {
  char number[32];
  std::snprintf(number, sizeof number, "%.1f%%", fraction * 100);
  return number;
}

/// A metric's value for people: "7 ms", "26.2 ktokens/s".
inline std::string metric_text(double value, cost::Metric metric) {
  return cost::format_si(value, cost::metric_info(metric).unit);
}

inline std::string dtype_text(const cost::Measurement& m) {
  const std::string dtype(data_type_name(m.dtype));
  return m.kv_dtype == m.dtype ? dtype
                               : dtype + " (kv " + std::string(data_type_name(m.kv_dtype)) + ")";
}

/// The columns that say what was measured, as one markdown row's first cells.
inline std::string measurement_cells(std::size_t number, const cost::Measurement& m) {
  return "| " + std::to_string(number) + " | " + m.source + " | " + m.model_name + " | " +
         std::string(m.hardware.name) + " | " + dtype_text(m) + " | " + to_string(m.plan) + " | " +
         std::to_string(m.batch) + " | " + std::to_string(m.input_tokens) + " | " +
         std::to_string(m.output_tokens) + " | " + std::string(cost::metric_name(m.metric)) + " | ";
}

inline constexpr std::string_view measurement_header =
    "| # | source | model | hardware | dtype | plan | batch | input | output | metric | ";
inline constexpr std::string_view measurement_rule = "|--:|---|---|---|---|---|--:|--:|--:|---|";

/// "median |error| X%, max |error| Y% over N measurements".
inline std::string summary_line(const cost::ValidationReport& report) {
  return "median |error| " + percent(report.median_abs_error) + ", max |error| " +
         percent(report.max_abs_error) + " over " + std::to_string(report.rows.size()) +
         " measurement" + (report.rows.size() == 1 ? "" : "s");
}

/// The worst row in words.
inline std::string worst_line(const cost::ValidationReport& report) {
  const cost::ValidationRow& row = report.rows[report.worst];
  const cost::Measurement& m = row.measurement;
  return "worst: #" + std::to_string(report.worst + 1) + ", " + m.model_name + " on " +
         std::string(m.hardware.name) + " (" + to_string(m.plan) + ", " + dtype_text(m) +
         ", batch " + std::to_string(m.batch) + ", " + std::to_string(m.input_tokens) + " → " +
         std::to_string(m.output_tokens) + " tokens), " + std::string(cost::metric_name(m.metric)) +
         ": predicted " + metric_text(row.predicted, m.metric) + ", measured " +
         metric_text(row.measured, m.metric) + " (" + signed_percent(row.error) + ")";
}

inline std::vector<cost::Measurement> read_measurements(const std::string& option,
                                                        const std::string& file) {
  try {
    return io::read_measurements_json(file);
  } catch (const io::MeasurementsJsonError& e) {
    throw BadInput(option + ": " + e.what());
  }
}

inline cost::Hardware read_hardware_file(const std::string& file) {
  try {
    return io::read_hardware_json(file);
  } catch (const io::HardwareJsonError& e) {
    throw BadInput(std::string("--hardware-file: ") + e.what());
  }
}

inline void require_writable(std::string_view option, const std::string& file) {
  if (const std::optional<std::string> why = unwritable_file(file))
    throw BadInput(std::string(option) + " '" + file + "': " + *why);
}

/// "wrote F" or "wrote F (replacing the file there)", as helix_deploy says it.
inline void write_announced(const std::string& file, const auto& write) {
  std::error_code error;
  const bool existed = std::filesystem::exists(file, error);
  write();
  std::cout << "wrote " << file << (existed ? " (replacing the file there)" : "") << '\n';
}

inline int validate(const MeasurementCommand& c) {
  std::vector<cost::Measurement> measurements = read_measurements("--validate", c.validate_file);
  std::string substituted;
  if (!c.hardware_file.empty()) {
    const cost::Hardware hw = read_hardware_file(c.hardware_file);
    if (cost::substitute_hardware(measurements, hw) == 0)
      throw BadInput("--hardware-file '" + c.hardware_file + "' describes '" +
                     std::string(hw.name) + "', and no measurement in " + c.validate_file +
                     " was taken on hardware of that name");
    substituted =
        " (hardware '" + std::string(hw.name) + "' as " + c.hardware_file + " describes it)";
  }
  if (!c.json_file.empty())
    require_writable("--json", c.json_file);
  const cost::ValidationReport report = cost::validation_report(
      measurements, {.overlap_communication = c.overlap, .collectives = c.collectives});
  std::cout << "## Validation: " << report.rows.size() << " measurements from " << c.validate_file
            << substituted
            << ", each predicted as helix_deploy costs its generation (error = predicted / "
               "measured − 1)\n\n"
            << measurement_header << "predicted | measured | error |\n"
            << measurement_rule << "--:|--:|--:|\n";
  for (std::size_t i = 0; i < report.rows.size(); ++i) {
    const cost::ValidationRow& row = report.rows[i];
    std::cout << measurement_cells(i + 1, row.measurement)
              << metric_text(row.predicted, row.measurement.metric) << " | "
              << metric_text(row.measured, row.measurement.metric) << " | "
              << signed_percent(row.error) << " |\n";
  }
  std::cout << '\n' << summary_line(report) << '\n' << worst_line(report) << '\n';
  if (!c.json_file.empty())
    write_announced(c.json_file, [&] { io::write_report_json(c.json_file, io::to_json(report)); });
  return 0;
}

/// A value as a hardware file holds it ("0.7", "0.93214"): enough digits to see the change.
inline std::string parameter_text(double value) {
  char number[32];
  std::snprintf(number, sizeof number, "%.4g", value);
  return number;
}

inline int calibrate(const MeasurementCommand& c) {
  const std::vector<cost::Measurement> measurements =
      read_measurements("--calibrate", c.calibrate_file);
  cost::Hardware hw;
  if (!c.hardware_file.empty()) {
    hw = read_hardware_file(c.hardware_file);
  } else if (const cost::Hardware* preset = cost::hardware::by_name(c.hardware_name)) {
    hw = *preset;
  } else {
    throw BadInput("unknown --hardware '" + c.hardware_name +
                   "'; known: " + cost::hardware::names());
  }
  const std::size_t on = cost::measurements_on(measurements, hw.name).size();
  if (on == 0)
    throw BadInput("--calibrate: no measurement in " + c.calibrate_file + " was taken on '" +
                   std::string(hw.name) +
                   "' (give --hardware or --hardware-file of one they name)");
  if (!c.hardware_out.empty())
    require_writable("--hardware-out", c.hardware_out);
  if (!c.json_file.empty())
    require_writable("--json", c.json_file);
  for (const std::string& name : c.fit)
    if (std::ranges::none_of(cost::calibrated_parameters,
                             [&](const cost::CalibratedParameter& p) { return p.name == name; })) {
      std::string list;
      for (const cost::CalibratedParameter& p : cost::calibrated_parameters)
        list += (list.empty() ? "" : ", ") + std::string(p.name);
      throw BadInput("unknown --fit parameter '" + name + "'; known: " + list);
    }
  std::cout << "## Calibration of " << hw.name.view() << " on the " << on << " measurement"
            << (on == 1 ? "" : "s") << " of " << c.calibrate_file << " taken on it";
  if (on < measurements.size())
    std::cout << " (" << measurements.size() - on << " on other hardware left out)";
  std::cout << "\nfit: least squares on log(predicted / measured), each parameter inside its "
               "bounds (Eigen's Levenberg-Marquardt, numeric differences)\n"
            << std::flush;
  const cost::Calibration fit = cost::calibrate(
      hw, measurements,
      {.simulation = {.overlap_communication = c.overlap, .collectives = c.collectives},
       .parameters = c.fit});
  std::cout << "stopped after " << fit.iterations << " iteration"
            << (fit.iterations == 1 ? "" : "s") << " and " << fit.evaluations
            << " evaluations of every prediction: " << fit.stop_reason << "\n\n"
            << "| parameter | original | fitted | bounds | note |\n|---|--:|--:|---|---|\n";
  for (const cost::FittedParameter& p : fit.parameters) {
    const double span = p.parameter.upper - p.parameter.lower;
    const bool at_bound = p.constrained && (p.fitted - p.parameter.lower < 1e-3 * span ||
                                            p.parameter.upper - p.fitted < 1e-3 * span);
    std::cout << "| " << p.parameter.name << " | " << parameter_text(p.original) << " | "
              << parameter_text(p.fitted) << " | (" << parameter_text(p.parameter.lower) << ", "
              << parameter_text(p.parameter.upper) << "): " << p.parameter.bounds_reason << " | "
              << (!p.requested     ? "not in --fit: unchanged"
                  : !p.constrained ? "no measurement depends on it: unchanged"
                  : at_bound       ? "at its bound: the model misses something this cannot explain"
                                   : "")
              << " |\n";
  }
  std::cout << '\n'
            << measurement_header << "measured | before | error | after | error |\n"
            << measurement_rule << "--:|--:|--:|--:|--:|\n";
  for (std::size_t i = 0; i < fit.before.rows.size(); ++i) {
    const cost::ValidationRow& before = fit.before.rows[i];
    const cost::ValidationRow& after = fit.after.rows[i];
    const cost::Metric metric = before.measurement.metric;
    std::cout << measurement_cells(i + 1, before.measurement)
              << metric_text(before.measured, metric) << " | "
              << metric_text(before.predicted, metric) << " | " << signed_percent(before.error)
              << " | " << metric_text(after.predicted, metric) << " | "
              << signed_percent(after.error) << " |\n";
  }
  std::cout << "\nbefore: " << summary_line(fit.before) << "\n  " << worst_line(fit.before)
            << "\nafter:  " << summary_line(fit.after) << "\n  " << worst_line(fit.after) << '\n';
  if (!c.hardware_out.empty())
    write_announced(c.hardware_out, [&] { io::write_hardware_json(c.hardware_out, fit.fitted); });
  else
    std::cout << "no --hardware-out: the fitted hardware is not written\n";
  if (!c.json_file.empty())
    write_announced(c.json_file, [&] { io::write_report_json(c.json_file, io::to_json(fit)); });
  return 0;
}

} // namespace validate_command

/// Runs --validate or --calibrate. Exit code: 0 when the report was made (whatever its errors),
/// 2 on bad input (one line on stderr naming the file, entry and key), 1 when a step fails.
inline int run_measurement_command(const MeasurementCommand& c) {
  try {
    return c.validate_file.empty() ? validate_command::calibrate(c) : validate_command::validate(c);
  } catch (const validate_command::BadInput& e) {
    std::cerr << "helix_deploy: " << e.what() << '\n';
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "helix_deploy: " << e.what() << '\n';
    return 1;
  }
}

} // namespace helix::examples
