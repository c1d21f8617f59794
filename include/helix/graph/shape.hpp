// Shape: the dimensions of a tensor on a DAG edge, a constexpr value type of rank up to 4.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>

namespace helix {

struct Shape {
  std::array<std::int64_t, 4> dims{};
  std::size_t rank = 0;

  constexpr Shape() = default;
  constexpr Shape(std::initializer_list<std::int64_t> extents) {
    for (std::int64_t e : extents)
      dims[rank++] = e;
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
    s.dims[rank - 1] = extent;
    return s;
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
