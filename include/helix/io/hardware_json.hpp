// Hardware as a JSON file, so a user can cost plans on a machine helix has no preset for: the same
// fields as `cost::Hardware`, every one required, unknown keys and wrong types refused by name.
// Needs nlohmann_json: link helix::json and include this header yourself, as for io/json.hpp.
#pragma once

#include "helix/cost/hardware.hpp"
#include "helix/io/atomic_file.hpp"
#include "helix/model/data_type.hpp"

#include <nlohmann/json.hpp>

#include <array>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

namespace helix::io {

/// A hardware description that cannot be used; the message names the file (when there is one),
/// the key and the value.
class HardwareJsonError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// The collective library's constants: {"ring", "tree", "nvls", "nvls_tree": {"base",
/// "nvlink_hop", "network_hop": {"ll", "ll128", "simple"}}, "network_overhead_seconds",
/// "ll_bandwidth_fraction", "ll128_bandwidth_fraction", "tree_bandwidth_fraction",
/// "tree_ll_bandwidth_fraction", "tree_ll128_single_node_bandwidth_fraction",
/// "tree_ll128_multi_node_bandwidth_fraction", "ll_max_bus_bandwidth_two_nodes",
/// "ll_max_bus_bandwidth_more_nodes"}.
inline nlohmann::json to_json(const cost::CollectiveLibrary& library) {
  const auto protocols = [](const cost::ProtocolLatencies& l) {
    return nlohmann::json{{"ll", l.ll}, {"ll128", l.ll128}, {"simple", l.simple}};
  };
  const auto algorithm = [&](const cost::AlgorithmLatencies& a) {
    return nlohmann::json{{"base", protocols(a.base)},
                          {"nvlink_hop", protocols(a.nvlink_hop)},
                          {"network_hop", protocols(a.network_hop)}};
  };
  return {{"ring", algorithm(library.ring)},
          {"tree", algorithm(library.tree)},
          {"nvls", algorithm(library.nvls)},
          {"nvls_tree", algorithm(library.nvls_tree)},
          {"network_overhead_seconds", library.network_overhead_seconds},
          {"ll_bandwidth_fraction", library.ll_bandwidth_fraction},
          {"ll128_bandwidth_fraction", library.ll128_bandwidth_fraction},
          {"tree_bandwidth_fraction", library.tree_bandwidth_fraction},
          {"tree_ll_bandwidth_fraction", library.tree_ll_bandwidth_fraction},
          {"tree_ll128_single_node_bandwidth_fraction",
           library.tree_ll128_single_node_bandwidth_fraction},
          {"tree_ll128_multi_node_bandwidth_fraction",
           library.tree_ll128_multi_node_bandwidth_fraction},
          {"ll_max_bus_bandwidth_two_nodes", library.ll_max_bus_bandwidth_two_nodes},
          {"ll_max_bus_bandwidth_more_nodes", library.ll_max_bus_bandwidth_more_nodes}};
}

/// {"name", "gpus_per_node", "peak_flops_per_second": {"fp32", "bf16", "fp16", "fp8", "fp4"},
/// "compute_efficiency", "streaming_multiprocessors", "gemm_tile": {"rows", "cols"},
/// "attention_efficiency", "attention_memory_efficiency", "kernel_launch_seconds", "cuda_graphs",
/// "graph_kernel_launch_seconds", "step_overhead_seconds", "memory_bandwidth_bytes_per_second",
/// "memory_efficiency", "memory_capacity_bytes", "nics_per_node", "nic_bandwidth_bytes_per_second",
/// "nvlink" and "infiniband":
/// {"bandwidth_bytes_per_second", "efficiency", "latency_seconds"}, "nvlink_sharp_efficiency",
/// "ll_max_bus_bandwidth_bytes_per_second", "collective_library" (see above)}
inline nlohmann::json to_json(const cost::Hardware& hw) {
  nlohmann::json peaks;
  for (const DataTypeInfo& type : data_types)
    peaks[std::string(type.name)] = hw.peak_flops(type.type);
  const auto link = [](const cost::Link& l) {
    return nlohmann::json{{"bandwidth_bytes_per_second", l.bandwidth_bytes_per_second},
                          {"efficiency", l.efficiency},
                          {"latency_seconds", l.latency_seconds}};
  };
  return {{"name", std::string(hw.name)},
          {"gpus_per_node", hw.gpus_per_node},
          {"peak_flops_per_second", peaks},
          {"compute_efficiency", hw.compute_efficiency},
          {"streaming_multiprocessors", hw.streaming_multiprocessors},
          {"gemm_tile", {{"rows", hw.gemm_tile.rows}, {"cols", hw.gemm_tile.cols}}},
          {"attention_efficiency", hw.attention_efficiency},
          {"attention_memory_efficiency", hw.attention_memory_efficiency},
          {"kernel_launch_seconds", hw.kernel_launch_seconds},
          {"cuda_graphs", hw.cuda_graphs},
          {"graph_kernel_launch_seconds", hw.graph_kernel_launch_seconds},
          {"step_overhead_seconds", hw.step_overhead_seconds},
          {"memory_bandwidth_bytes_per_second", hw.memory_bandwidth_bytes_per_second},
          {"memory_efficiency", hw.memory_efficiency},
          {"memory_capacity_bytes", hw.memory_capacity_bytes},
          {"nics_per_node", hw.nics_per_node},
          {"nic_bandwidth_bytes_per_second", hw.nic_bandwidth_bytes_per_second},
          {"nvlink", link(hw.nvlink)},
          {"infiniband", link(hw.infiniband)},
          {"nvlink_sharp_efficiency", hw.nvlink_sharp_efficiency},
          {"ll_max_bus_bandwidth_bytes_per_second", hw.ll_max_bus_bandwidth_bytes_per_second},
          {"collective_library", to_json(hw.collective_library)}};
}

namespace detail {

/// `x` in the shortest form that reads back to the same double ("1", "0.9", "5e+10").
inline std::string shortest(double x) {
  std::array<char, 32> text{};
  const auto [end, error] = std::to_chars(text.data(), text.data() + text.size(), x);
  return error == std::errc{} ? std::string(text.data(), end) : std::to_string(x);
}

/// Reads one JSON object's keys, each at most once, and refuses the keys it was not asked for.
/// Keys are named by their path from the document's root ("nvlink.efficiency").
class HardwareJsonReader {
public:
  HardwareJsonReader(const nlohmann::json& object, std::string path)
      : object_(object), path_(std::move(path)) {
    if (!object_.is_object())
      fail(path_.empty() ? "the document" : "key '" + path_ + "'",
           "must be a JSON object, got " + describe(object_));
  }

  /// Every key must have been read: the first one that was not is an error.
  void finish(std::initializer_list<std::string_view> known) const {
    for (const auto& [key, value] : object_.items()) {
      bool is_known = false;
      for (std::string_view k : known)
        is_known = is_known || k == key;
      if (!is_known) {
        std::string list;
        for (std::string_view k : known)
          list += (list.empty() ? "" : ", ") + std::string(k);
        fail("unknown key '" + name(key) + "'", "(known here: " + list + ")");
      }
    }
  }

  const nlohmann::json& required(std::string_view key) const {
    const auto found = object_.find(std::string(key));
    if (found == object_.end())
      fail("missing key '" + name(key) + "'",
           "(every field of the hardware is required but collective_library)");
    return *found;
  }

  std::string text(std::string_view key) const {
    const nlohmann::json& value = required(key);
    if (!value.is_string())
      wrong(key, "a string", value);
    return value.get<std::string>();
  }

  /// A finite number in [minimum, maximum] (or (minimum, maximum] when `above_minimum`).
  double number(std::string_view key, double minimum, bool above_minimum,
                double maximum = std::numeric_limits<double>::max()) const {
    const nlohmann::json& value = required(key);
    if (!value.is_number())
      wrong(key, "a number", value);
    const double x = value.get<double>();
    const bool bounded = maximum < std::numeric_limits<double>::max();
    if (!std::isfinite(x) || x > maximum || x < minimum || (above_minimum && x == minimum))
      wrong(key,
            bounded ? "a number in " + std::string(above_minimum ? "(" : "[") + shortest(minimum) +
                          ", " + shortest(maximum) + "]"
                    : std::string("a number ") + (above_minimum ? "above " : "from ") +
                          shortest(minimum),
            value);
    return x;
  }

  /// A whole number from 1 (a count).
  std::int64_t count(std::string_view key) const { return whole(key, 1); }

  /// A whole number from `minimum`.
  std::int64_t whole(std::string_view key, std::int64_t minimum) const {
    const nlohmann::json& value = required(key);
    if (!value.is_number_integer() ||
        (value.is_number_unsigned() &&
         value.get<std::uint64_t>() >
             static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) ||
        value.get<std::int64_t>() < minimum)
      wrong(key, "a whole number from " + std::to_string(minimum), value);
    return value.get<std::int64_t>();
  }

  bool boolean(std::string_view key) const {
    const nlohmann::json& value = required(key);
    if (!value.is_boolean())
      wrong(key, "true or false", value);
    return value.get<bool>();
  }

  bool has(std::string_view key) const { return object_.contains(std::string(key)); }

  HardwareJsonReader object(std::string_view key) const {
    return HardwareJsonReader(required(key), name(key));
  }

  std::string name(std::string_view key) const {
    return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
  }

  [[noreturn]] static void fail(const std::string& what, const std::string& why) {
    throw HardwareJsonError(what + " " + why);
  }

  [[noreturn]] void wrong(std::string_view key, const std::string& expected,
                          const nlohmann::json& value) const {
    fail("key '" + name(key) + "'", "must be " + expected + ", got " + describe(value));
  }

private:
  static std::string describe(const nlohmann::json& value) {
    return std::string(value.type_name()) + " " + value.dump();
  }

  const nlohmann::json& object_;
  std::string path_;
};

/// The collective library a "collective_library" object describes (every key required inside it).
inline cost::CollectiveLibrary collective_library_from_json(const HardwareJsonReader& reader) {
  const auto protocols = [](const HardwareJsonReader& r) {
    const cost::ProtocolLatencies read{.ll = r.number("ll", 0, false),
                                       .ll128 = r.number("ll128", 0, false),
                                       .simple = r.number("simple", 0, false)};
    r.finish({"ll", "ll128", "simple"});
    return read;
  };
  const auto algorithm = [&](std::string_view key) {
    const HardwareJsonReader a = reader.object(key);
    const cost::AlgorithmLatencies read{.base = protocols(a.object("base")),
                                        .nvlink_hop = protocols(a.object("nvlink_hop")),
                                        .network_hop = protocols(a.object("network_hop"))};
    a.finish({"base", "nvlink_hop", "network_hop"});
    return read;
  };
  cost::CollectiveLibrary library;
  library.ring = algorithm("ring");
  library.tree = algorithm("tree");
  library.nvls = algorithm("nvls");
  library.nvls_tree = algorithm("nvls_tree");
  library.network_overhead_seconds = reader.number("network_overhead_seconds", 0, false);
  const auto fraction = [&](std::string_view key) { return reader.number(key, 0, true, 1); };
  library.ll_bandwidth_fraction = fraction("ll_bandwidth_fraction");
  library.ll128_bandwidth_fraction = fraction("ll128_bandwidth_fraction");
  library.tree_bandwidth_fraction = fraction("tree_bandwidth_fraction");
  library.tree_ll_bandwidth_fraction = fraction("tree_ll_bandwidth_fraction");
  library.tree_ll128_single_node_bandwidth_fraction =
      fraction("tree_ll128_single_node_bandwidth_fraction");
  library.tree_ll128_multi_node_bandwidth_fraction =
      fraction("tree_ll128_multi_node_bandwidth_fraction");
  library.ll_max_bus_bandwidth_two_nodes = reader.number("ll_max_bus_bandwidth_two_nodes", 0, true);
  library.ll_max_bus_bandwidth_more_nodes =
      reader.number("ll_max_bus_bandwidth_more_nodes", 0, true);
  reader.finish({"ring", "tree", "nvls", "nvls_tree", "network_overhead_seconds",
                 "ll_bandwidth_fraction", "ll128_bandwidth_fraction", "tree_bandwidth_fraction",
                 "tree_ll_bandwidth_fraction", "tree_ll128_single_node_bandwidth_fraction",
                 "tree_ll128_multi_node_bandwidth_fraction", "ll_max_bus_bandwidth_two_nodes",
                 "ll_max_bus_bandwidth_more_nodes"});
  return library;
}

} // namespace detail

/// The hardware a JSON document describes (the keys `to_json` writes).
/// @throws HardwareJsonError naming the key: unknown, missing, of the wrong type, out of range
/// (counts from 1, bandwidths, peaks and capacity above 0, efficiencies in (0, 1], latencies from
/// 0), a name past `cost::hardware_name_capacity` characters, or an InfiniBand bandwidth that is
/// not what the NICs give each GPU (`cost::nic_bandwidth_per_gpu`).
inline cost::Hardware hardware_from_json(const nlohmann::json& document) {
  using Reader = detail::HardwareJsonReader;
  const Reader root(document, "");
  cost::Hardware hw;
  const std::string name = root.text("name");
  if (name.empty() || name.size() > cost::hardware_name_capacity)
    root.wrong("name",
               "a string of 1 to " + std::to_string(cost::hardware_name_capacity) + " characters",
               root.required("name"));
  hw.name = cost::HardwareName(name);
  hw.gpus_per_node = root.count("gpus_per_node");
  const Reader peaks = root.object("peak_flops_per_second");
  hw.peak_flops_per_second = {.fp32 = peaks.number("fp32", 0, true),
                              .bf16 = peaks.number("bf16", 0, true),
                              .fp16 = peaks.number("fp16", 0, true),
                              .fp8 = peaks.number("fp8", 0, true),
                              .fp4 = peaks.number("fp4", 0, true)};
  peaks.finish({"fp32", "bf16", "fp16", "fp8", "fp4"});
  hw.compute_efficiency = root.number("compute_efficiency", 0, true, 1);
  hw.streaming_multiprocessors = root.whole("streaming_multiprocessors", 0);
  const Reader tile = root.object("gemm_tile");
  hw.gemm_tile = {.rows = tile.count("rows"), .cols = tile.count("cols")};
  tile.finish({"rows", "cols"});
  hw.attention_efficiency = root.number("attention_efficiency", 0, true, 1);
  hw.attention_memory_efficiency = root.number("attention_memory_efficiency", 0, true, 1);
  hw.kernel_launch_seconds = root.number("kernel_launch_seconds", 0, false);
  hw.cuda_graphs = root.boolean("cuda_graphs");
  hw.graph_kernel_launch_seconds = root.number("graph_kernel_launch_seconds", 0, false);
  hw.step_overhead_seconds = root.number("step_overhead_seconds", 0, false);
  hw.memory_bandwidth_bytes_per_second = root.number("memory_bandwidth_bytes_per_second", 0, true);
  hw.memory_efficiency = root.number("memory_efficiency", 0, true, 1);
  hw.memory_capacity_bytes = root.number("memory_capacity_bytes", 0, true);
  hw.nics_per_node = root.count("nics_per_node");
  hw.nic_bandwidth_bytes_per_second = root.number("nic_bandwidth_bytes_per_second", 0, true);
  const auto link = [&](std::string_view key) {
    const Reader l = root.object(key);
    const cost::Link read{.bandwidth_bytes_per_second =
                              l.number("bandwidth_bytes_per_second", 0, true),
                          .efficiency = l.number("efficiency", 0, true, 1),
                          .latency_seconds = l.number("latency_seconds", 0, false)};
    l.finish({"bandwidth_bytes_per_second", "efficiency", "latency_seconds"});
    return read;
  };
  hw.nvlink = link("nvlink");
  hw.infiniband = link("infiniband");
  hw.nvlink_sharp_efficiency = root.number("nvlink_sharp_efficiency", 0, false, 1);
  hw.ll_max_bus_bandwidth_bytes_per_second =
      root.number("ll_max_bus_bandwidth_bytes_per_second", 0, false);
  // The library's constants are NCCL's, not the machine's: a file may leave them out.
  if (root.has("collective_library"))
    hw.collective_library = detail::collective_library_from_json(root.object("collective_library"));
  root.finish({"name",
               "gpus_per_node",
               "peak_flops_per_second",
               "compute_efficiency",
               "streaming_multiprocessors",
               "gemm_tile",
               "attention_efficiency",
               "attention_memory_efficiency",
               "kernel_launch_seconds",
               "cuda_graphs",
               "graph_kernel_launch_seconds",
               "step_overhead_seconds",
               "memory_bandwidth_bytes_per_second",
               "memory_efficiency",
               "memory_capacity_bytes",
               "nics_per_node",
               "nic_bandwidth_bytes_per_second",
               "nvlink",
               "infiniband",
               "nvlink_sharp_efficiency",
               "ll_max_bus_bandwidth_bytes_per_second",
               "collective_library"});
  // Today's cost model sends between nodes at infiniband.bandwidth per GPU; it must be what the
  // NICs give, or one of the two numbers would be silently ignored. Relative 1e-9 allows for the
  // last digit of a value written by hand.
  const double per_gpu = cost::nic_bandwidth_per_gpu(hw);
  const double relative_tolerance = 1e-9;
  if (std::abs(hw.infiniband.bandwidth_bytes_per_second - per_gpu) > relative_tolerance * per_gpu)
    Reader::fail("key 'infiniband.bandwidth_bytes_per_second'",
                 "must be nics_per_node · nic_bandwidth_bytes_per_second / gpus_per_node = " +
                     std::to_string(hw.nics_per_node) + " · " +
                     detail::shortest(hw.nic_bandwidth_bytes_per_second) + " / " +
                     std::to_string(hw.gpus_per_node) + " = " + detail::shortest(per_gpu) +
                     ", got " + detail::shortest(hw.infiniband.bandwidth_bytes_per_second));
  return hw;
}

/// The hardware in the JSON file `path`.
/// @throws HardwareJsonError "hardware file '<path>': ..." when it cannot be read, is not JSON
/// (with nlohmann's line and column) or describes no usable hardware (with the key).
inline cost::Hardware read_hardware_json(const std::filesystem::path& path) {
  const std::string where = "hardware file '" + path.string() + "': ";
  std::error_code error;
  if (std::filesystem::is_directory(path, error))
    throw HardwareJsonError(where + "it is a folder, not a file");
  std::ifstream in(path);
  if (!in)
    throw HardwareJsonError(where + "cannot open it");
  nlohmann::json document;
  try {
    document = nlohmann::json::parse(in);
  } catch (const nlohmann::json::parse_error& e) {
    throw HardwareJsonError(where + "not JSON: " + e.what());
  }
  try {
    return hardware_from_json(document);
  } catch (const HardwareJsonError& e) {
    throw HardwareJsonError(where + e.what());
  }
}

/// Writes `hw` to `path` as JSON (indented by 2, final newline), atomically
/// (write_file_atomically).
inline void write_hardware_json(const std::filesystem::path& path, const cost::Hardware& hw) {
  write_file_atomically(path, to_json(hw).dump(2) + "\n");
}

} // namespace helix::io
