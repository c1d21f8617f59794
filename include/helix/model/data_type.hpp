// The number formats a model's weights, activations and KV cache are stored in, held as bits so
// that fp4 (half a byte per value) is exact. They change cost and memory only: helix's numerics
// run in double and float on the CPU whatever the format.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace helix {

enum class DataType : std::uint8_t { fp32, bf16, fp16, fp8, fp4 };

struct DataTypeInfo {
  DataType type;
  std::string_view name;
  std::int64_t bits;
};

inline constexpr std::array<DataTypeInfo, 5> data_types{{{DataType::fp32, "fp32", 32},
                                                         {DataType::bf16, "bf16", 16},
                                                         {DataType::fp16, "fp16", 16},
                                                         {DataType::fp8, "fp8", 8},
                                                         {DataType::fp4, "fp4", 4}}};

constexpr std::int64_t bits(DataType type) {
  return data_types[static_cast<std::size_t>(type)].bits;
}

constexpr std::string_view data_type_name(DataType type) {
  return data_types[static_cast<std::size_t>(type)].name;
}

/// The format called `name` ("fp32", "bf16", "fp16", "fp8", "fp4"), or nothing.
constexpr std::optional<DataType> data_type_by_name(std::string_view name) {
  for (const DataTypeInfo& info : data_types)
    if (info.name == name)
      return info.type;
  return std::nullopt;
}

/// Bytes `elements` values of `type` occupy, rounded up to a whole byte (fp4 packs two per byte).
///
/// Example: `bytes_of(3, DataType::fp4)` is 2; `bytes_of(3, DataType::bf16)` is 6.
constexpr std::int64_t bytes_of(std::int64_t elements, DataType type) {
  return (elements * bits(type) + 7) / 8;
}

/// The same as a double, for sums of many tensors where a byte of rounding per tensor would add up.
constexpr double exact_bytes_of(double elements, DataType type) {
  return elements * static_cast<double>(bits(type)) / 8.0;
}

} // namespace helix
