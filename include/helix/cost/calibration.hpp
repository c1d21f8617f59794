// Fitting a hardware's efficiencies to measurements taken on it: least squares on
// log(predicted / measured), each parameter kept inside its physical range by a logistic map,
// solved by Eigen's Levenberg-Marquardt with numeric differences. The parameters are a table, one
// entry each, so a new field of the hardware becomes calibratable with one line.
#pragma once

#include "helix/cost/hardware.hpp"
#include "helix/cost/simulate.hpp"
#include "helix/cost/validation.hpp"

#include <Eigen/Core>
#include <unsupported/Eigen/LevenbergMarquardt>
#include <unsupported/Eigen/NumericalDiff>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace helix::cost {

/// A field of `Hardware` that calibration fits, and the range physics allows it.
struct CalibratedParameter {
  /// Its key in a hardware file ("nvlink.efficiency"): reports name what the file holds.
  std::string_view name;
  /// The field in a hardware.
  double& (*field)(Hardware&);
  /// The fit stays strictly inside (lower, upper).
  double lower = 0;
  double upper = 1;
  /// Why these bounds, in one line.
  std::string_view bounds_reason;

  double value(Hardware hw) const { return field(hw); }
  void set(Hardware& hw, double value) const { field(hw) = value; }
};

/// The parameters calibration fits, in the order reports list them. Upper bounds of 1: an
/// efficiency is a fraction of a datasheet peak, which no kernel exceeds. Lower bounds of 0.1:
/// a fit that wants less is explaining something else (launch latency, a missing op) with the
/// efficiency, and should fail visibly at the bound instead.
inline constexpr std::array<CalibratedParameter, 8> calibrated_parameters{{
    {"compute_efficiency", [](Hardware& hw) -> double& { return hw.compute_efficiency; }, 0.1, 1,
     "a fraction of the dense tensor-core peak; cuBLAS GEMMs of transformer sizes sustain more "
     "than a tenth of it"},
    {"memory_efficiency", [](Hardware& hw) -> double& { return hw.memory_efficiency; }, 0.1, 0.95,
     "a fraction of the rated HBM bandwidth; streaming kernels sustain more than a tenth of it, "
     "and refresh and row switches keep the best copy kernels near 90% of it"},
    {"nvlink.efficiency", [](Hardware& hw) -> double& { return hw.nvlink.efficiency; }, 0.1, 1,
     "a fraction of the rated NVLink bandwidth; NCCL's large messages reach more than a tenth"},
    {"infiniband.efficiency", [](Hardware& hw) -> double& { return hw.infiniband.efficiency; }, 0.1,
     1, "a fraction of the NICs' line rate; NCCL's large messages reach more than a tenth"},
    {"attention_efficiency", [](Hardware& hw) -> double& { return hw.attention_efficiency; }, 0.1,
     1, "a fraction of the dense peak; FlashAttention kernels sustain a third to three quarters"},
    {"attention_memory_efficiency",
     [](Hardware& hw) -> double& { return hw.attention_memory_efficiency; }, 0.1, 0.95,
     "a fraction of the rated HBM bandwidth, bounded as memory_efficiency"},
    {"kernel_launch_seconds", [](Hardware& hw) -> double& { return hw.kernel_launch_seconds; },
     0.2e-6, 20e-6,
     "a launch from a stream costs about a microsecond on the GPU's side (NVIDIA's CUDA Graphs "
     "blog); host-side dispatch in a framework adds up to tens of microseconds per kernel"},
    {"step_overhead_seconds", [](Hardware& hw) -> double& { return hw.step_overhead_seconds; }, 0,
     20e-3,
     "a serving runtime's host work per step (scheduling, sampling, synchronizing) is "
     "microseconds to a few milliseconds; more would be a missing op, not overhead"},
}};

/// One parameter before and after the fit.
struct FittedParameter {
  CalibratedParameter parameter;
  double original = 0;
  double fitted = 0;
  /// Whether any measurement's prediction moves when the parameter goes from one bound to the
  /// other (the others held at their original values); one that none moves is left as it was.
  bool constrained = false;
  /// Whether the caller asked for it to be fitted (`CalibrationOptions::parameters`).
  bool requested = true;
};

struct Calibration {
  Hardware original;
  Hardware fitted;
  /// One per entry of `calibrated_parameters`, in its order.
  std::vector<FittedParameter> parameters;
  /// The measurements on the hardware, predicted with the original and with the fitted values.
  ValidationReport before;
  ValidationReport after;
  /// How the solver stopped, in words; the iterations and the evaluations of every prediction.
  std::string stop_reason;
  std::int64_t iterations = 0;
  std::int64_t evaluations = 0;
};

struct CalibrationOptions {
  SimulationOptions simulation{};
  /// Most evaluations of every prediction the solver may spend (each builds and simulates a
  /// generation per measurement); the fits of benchmarks/validation stop within 30.
  std::int64_t max_evaluations = 200;
  /// Forward-difference step on the reparametrized values, relative to each (absolute at 0).
  /// Well above rounding: a prediction sums thousands of op times (rounding near 1e-13 of it),
  /// and generation()'s affine test has a tolerance of 1e-9.
  double difference_step = 1e-4;
  /// Names (as in `calibrated_parameters`) of the parameters to fit; empty: every one. Fewer
  /// measurements than parameters leave a fit free to trade one for another, so a small set
  /// should fit only what it constrains.
  std::vector<std::string> parameters{};
};

namespace detail {

/// The logistic map of the real line onto (lower, upper), and back: the solver moves freely while
/// the parameter stays in range.
inline double to_bounded(double unbounded, double lower, double upper) {
  // Far out on either side the map rounds to the bound itself: keep a hair inside.
  const double margin = 1e-9 * (upper - lower);
  return std::clamp(lower + (upper - lower) / (1 + std::exp(-unbounded)), lower + margin,
                    upper - margin);
}
inline double to_unbounded(double bounded, double lower, double upper) {
  // A start on or past a bound is moved a hair inside: the map reaches neither end.
  const double margin = 1e-6 * (upper - lower);
  const double inside = std::clamp(bounded, lower + margin, upper - margin);
  return std::log((inside - lower) / (upper - inside));
}

inline std::string levenberg_marquardt_reason(Eigen::LevenbergMarquardtSpace::Status status) {
  using namespace Eigen::LevenbergMarquardtSpace;
  switch (status) {
  case NotStarted:
  case Running:
    return "not finished";
  case ImproperInputParameters:
    return "improper input parameters";
  case RelativeReductionTooSmall:
    return "the sum of squares stopped falling";
  case RelativeErrorTooSmall:
    return "the parameters stopped moving";
  case RelativeErrorAndReductionTooSmall:
    return "the sum of squares and the parameters stopped changing";
  case CosinusTooSmall:
    return "the residuals are orthogonal to the Jacobian (a minimum)";
  case TooManyFunctionEvaluation:
    return "the evaluation budget ran out";
  case FtolTooSmall:
  case XtolTooSmall:
  case GtolTooSmall:
    return "no further improvement is possible at machine precision";
  case UserAsked:
    return "stopped on request";
  }
  return "unknown";
}

/// The residuals log(predicted / measured) of `measurements` on `base` with the free parameters
/// set from unbounded values, padded with zeros to at least as many residuals as parameters (the
/// solver's requirement; a zero changes no sum of squares).
struct LogErrorResiduals : Eigen::DenseFunctor<double> {
  LogErrorResiduals(const std::vector<Measurement>& measurements, const Hardware& base,
                    std::vector<CalibratedParameter> free, const SimulationOptions& options,
                    std::int64_t& evaluations)
      : Eigen::DenseFunctor<double>(static_cast<int>(free.size()),
                                    static_cast<int>(std::max(measurements.size(), free.size()))),
        measurements_(&measurements), base_(base), free_(std::move(free)), options_(options),
        evaluations_(&evaluations) {}

  Hardware hardware(const InputType& unbounded) const {
    Hardware hw = base_;
    for (std::size_t i = 0; i < free_.size(); ++i)
      free_[i].set(
          hw, to_bounded(unbounded[static_cast<Eigen::Index>(i)], free_[i].lower, free_[i].upper));
    return hw;
  }

  int operator()(const InputType& unbounded, ValueType& residuals) const {
    const Hardware hw = hardware(unbounded);
    residuals.setZero(values());
    for (std::size_t i = 0; i < measurements_->size(); ++i) {
      const Measurement& m = (*measurements_)[i];
      const double predicted = predict(m, hw, options_);
      // A prediction of 0 (or less) has no logarithm; a huge residual steers the solver away.
      residuals[static_cast<Eigen::Index>(i)] =
          predicted > 0 ? std::log(predicted / m.value) : std::log(m.value) + 1e3;
    }
    ++*evaluations_;
    return 0;
  }

private:
  const std::vector<Measurement>* measurements_;
  Hardware base_;
  std::vector<CalibratedParameter> free_;
  SimulationOptions options_;
  std::int64_t* evaluations_;
};

/// Each measurement's prediction on `hw`, as report rows.
inline std::vector<ValidationRow> predicted_rows(const std::vector<Measurement>& measurements,
                                                 const Hardware& hw,
                                                 const SimulationOptions& options) {
  std::vector<ValidationRow> rows;
  for (const Measurement& m : measurements) {
    const double predicted = predict(m, hw, options);
    rows.push_back({m, predicted, m.value, relative_error(predicted, m.value)});
    rows.back().measurement.hardware = hw;
  }
  return rows;
}

} // namespace detail

/// `hw`'s calibrated parameters fitted to the measurements taken on hardware of its name (the
/// others are left out): minimizes Σ log(predicted / measured)² with every parameter in its
/// (lower, upper), and reports the errors before and after. A parameter no measurement depends on
/// keeps its value; a start outside its bounds is moved just inside them.
/// @throws std::invalid_argument when no measurement was taken on `hw.name`.
inline Calibration calibrate(const Hardware& hw, const std::vector<Measurement>& measurements,
                             const CalibrationOptions& options = {}) {
  std::vector<Measurement> on = measurements_on(measurements, hw.name);
  if (on.empty())
    throw std::invalid_argument("helix::cost::calibrate: no measurement was taken on '" +
                                std::string(hw.name) + "'");
  for (Measurement& m : on)
    m.hardware = hw;
  Calibration result;
  result.original = hw;
  result.before = make_validation_report(detail::predicted_rows(on, hw, options.simulation));
  const std::vector<double> base_predictions = [&] {
    std::vector<double> values;
    for (const ValidationRow& row : result.before.rows)
      values.push_back(row.predicted);
    return values;
  }();
  // Which parameters the measurements constrain: each taken to both bounds alone.
  std::vector<CalibratedParameter> free;
  for (const CalibratedParameter& p : calibrated_parameters) {
    if (!options.parameters.empty() &&
        std::find(options.parameters.begin(), options.parameters.end(), p.name) ==
            options.parameters.end()) {
      result.parameters.push_back({p, p.value(hw), p.value(hw), false, false});
      continue;
    }
    bool moves = false;
    for (const double end : {p.lower, p.upper}) {
      Hardware probe = hw;
      p.set(probe, end);
      const std::vector<ValidationRow> rows = detail::predicted_rows(on, probe, options.simulation);
      ++result.evaluations;
      for (std::size_t i = 0; i < rows.size(); ++i)
        moves = moves || rows[i].predicted != base_predictions[i];
    }
    result.parameters.push_back({p, p.value(hw), p.value(hw), moves});
    if (moves)
      free.push_back(p);
  }
  result.fitted = hw;
  if (free.empty()) {
    result.stop_reason = "no measurement depends on any calibrated parameter";
    result.after = result.before;
    return result;
  }
  using Residuals = detail::LogErrorResiduals;
  Eigen::NumericalDiff<Residuals> residuals(
      Residuals(on, hw, free, options.simulation, result.evaluations),
      options.difference_step * options.difference_step);
  Eigen::VectorXd unbounded(static_cast<Eigen::Index>(free.size()));
  for (std::size_t i = 0; i < free.size(); ++i)
    unbounded[static_cast<Eigen::Index>(i)] =
        detail::to_unbounded(free[i].value(hw), free[i].lower, free[i].upper);
  Eigen::LevenbergMarquardt<Eigen::NumericalDiff<Residuals>> solver(residuals);
  solver.setMaxfev(options.max_evaluations);
  const Eigen::LevenbergMarquardtSpace::Status status = solver.minimize(unbounded);
  result.stop_reason = detail::levenberg_marquardt_reason(status);
  result.iterations = static_cast<std::int64_t>(solver.iterations());
  result.fitted = residuals.hardware(unbounded);
  for (FittedParameter& fitted : result.parameters)
    fitted.fitted = fitted.parameter.value(result.fitted);
  result.after =
      make_validation_report(detail::predicted_rows(on, result.fitted, options.simulation));
  return result;
}

} // namespace helix::cost
