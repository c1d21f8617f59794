// Shape: the dimensions of a tensor on a DAG edge, a constexpr value type of rank up to 4.
// Stored as 32-bit extents (20 bytes, not 40: an Op holds four shapes and a 10^6-vertex DAG holds
// 10^6 Ops); every extent a model makes (batch, tokens, heads, widths, vocabulary) fits, and
// element counts are computed in 64 bits.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <stdexcept>
#include <string>

namespace helix {

struct Shape {
  std::array<std::int32_t, 4> dims{};
  std::uint8_t rank = 0;

  constexpr Shape() = default;
  constexpr Shape(std::initializer_list<std::int64_t> extents) {
    for (std::int64_t e : extents)
      dims[rank++] = narrow(e);
  }

  friend constexpr bool operator==(const Shape&, const Shape&) = default;

  constexpr std::int64_t operator[](std::size_t i) const { return dims[i]; }
  constexpr std::int64_t elements() const {
    std::int64_t n = 1;
    for (std::size_t i = 0; i < rank; ++i)
      n *= dims[i];
    return n;
  }
  constexpr std::int64_t last() const { return dims[rank - 1]; }
  /// The same shape with the last dimension replaced.
  constexpr Shape with_last(std::int64_t extent) const {
    Shape s = *this;
    s.dims[rank - 1] = narrow(extent);
    return s;
  }

private:
  /// An extent as stored; one past 32 bits is an error naming it, not a wrapped number (and in a
  /// constant expression, a compile error).
  static constexpr std::int32_t narrow(std::int64_t extent) {
    if (extent > std::numeric_limits<std::int32_t>::max() ||
        extent < std::numeric_limits<std::int32_t>::min())
      throw std::out_of_range("helix: shape: extent " + std::to_string(extent) +
                              " does not fit the 32-bit extents of a Shape");
    return static_cast<std::int32_t>(extent);
  }
};

/// "[2,16,128]".
inline std::string to_string(const Shape& s) {
  std::string text = "[";
  for (std::size_t i = 0; i < s.rank; ++i)
    text += (i ? "," : "") + std::to_string(s.dims[i]);
  return text + "]";
}

} // namespace helix
