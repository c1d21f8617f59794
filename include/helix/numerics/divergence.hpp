// Whether a tensor someone else computed is the one expected: `verify`'s error measures (the
// largest absolute difference, and that over the largest expected magnitude) and a tolerance on
// them. What helix_compare judges each op by (io/compare_dump.hpp).
#pragma once

#include "helix/numerics/verify.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <span>
#include <stdexcept>

namespace helix::numerics {

/// A tensor matches when its largest absolute difference is at most `absolute` or its relative
/// error (as `verify` defines it) at most `relative`: the absolute bound is for tensors expected
/// to be all zeros (an embedding slice no token falls in), whose relative error is infinite for
/// any difference.
struct Tolerance {
  double absolute = 0;
  double relative = 1e-12;
};

/// `verify`'s measures of `actual` against `expected`, element by element in the same order:
/// max|actual − expected|, and that over max|expected| (0 when both are 0, infinite when only the
/// difference is not). NaN or infinity anywhere in the difference counts as infinite error.
/// @throws std::invalid_argument when the sizes differ.
template <class A, class E>
ErrorMeasure error_between(std::span<const A> actual, std::span<const E> expected) {
  if (actual.size() != expected.size())
    throw std::invalid_argument("helix: error_between: " + std::to_string(actual.size()) +
                                " elements against " + std::to_string(expected.size()));
  constexpr double infinite = std::numeric_limits<double>::infinity();
  double worst = 0, scale = 0;
  for (std::size_t i = 0; i < actual.size(); ++i) {
    const double difference =
        std::abs(static_cast<double>(actual[i]) - static_cast<double>(expected[i]));
    worst = std::isfinite(difference) ? std::max(worst, difference) : infinite;
    scale = std::max(scale, std::abs(static_cast<double>(expected[i])));
  }
  ErrorMeasure e;
  e.max_abs = worst;
  e.max_relative = scale > 0 ? worst / scale : (worst == 0 ? 0 : infinite);
  return e;
}

constexpr bool within(const ErrorMeasure& error, const Tolerance& tolerance) {
  return error.max_abs <= tolerance.absolute || error.max_relative <= tolerance.relative;
}

} // namespace helix::numerics
