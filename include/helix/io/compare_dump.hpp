// The oracle's other half: another implementation's tensors, saved in a dump's layout, compared
// with the expected ones in topological order; the first op and device that differs is where
// that implementation goes wrong (helix_compare prints it). Needs helix::json.
#pragma once

#include "helix/io/expected_dump.hpp"
#include "helix/io/npy.hpp"
#include "helix/numerics/divergence.hpp"
#include "helix/numerics/verify.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <optional>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace helix::io {

/// A dump or an actual folder that cannot be read as one: a missing folder, an index.json that is
/// not the format, a malformed .npy. The message names the path (and the index's field).
class DumpError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// What helix_compare needs of one index.json entry.
struct IndexedOp {
  std::string name; ///< "layer03.out_projection.dev05"
  std::string file; ///< "dev05/layer03_out_projection.npy"
  std::string kind;
  std::int64_t device = -1;
  std::optional<std::int64_t> layer;
  std::vector<std::int64_t> sequences; ///< [begin, count]
  std::vector<std::int64_t> shape;
  std::string placement;
  std::string holds;
  std::string computes;
  std::vector<std::string> producers, consumers;
};

/// What helix_compare needs of index.json.
struct DumpIndex {
  std::string model;
  std::string plan;
  std::int64_t world_size = 0;
  /// The relative tolerance `verify` applies to this model in double and in float.
  double tolerance_float64 = 0, tolerance_float32 = 0;
  std::vector<IndexedOp> ops; ///< in the dump's (topological) order
};

namespace detail {

/// Typed reads of index.json that name the field when it is missing or of another type.
class IndexReader {
public:
  explicit IndexReader(std::filesystem::path path) : path_(std::move(path)) {}

  [[noreturn]] void fail(const std::string& field, const std::string& why) const {
    throw DumpError("'" + path_.string() + "': " + field + ": " + why);
  }
  const nlohmann::json& at(const nlohmann::json& j, const std::string& field,
                           std::string_view key) const {
    if (!j.is_object() || !j.contains(key))
      fail(field, "missing");
    return j.at(std::string(key));
  }
  std::string text(const nlohmann::json& j, const std::string& field) const {
    if (!j.is_string())
      fail(field, "expected a string, found " + j.dump());
    return j.get<std::string>();
  }
  std::int64_t whole(const nlohmann::json& j, const std::string& field) const {
    if (!j.is_number_integer())
      fail(field, "expected a whole number, found " + j.dump());
    return j.get<std::int64_t>();
  }
  double number(const nlohmann::json& j, const std::string& field) const {
    if (!j.is_number())
      fail(field, "expected a number, found " + j.dump());
    return j.get<double>();
  }
  std::vector<std::int64_t> wholes(const nlohmann::json& j, const std::string& field) const {
    if (!j.is_array())
      fail(field, "expected an array of whole numbers, found " + j.dump());
    std::vector<std::int64_t> out;
    for (std::size_t i = 0; i < j.size(); ++i)
      out.push_back(whole(j[i], field + "[" + std::to_string(i) + "]"));
    return out;
  }
  std::vector<std::string> texts(const nlohmann::json& j, const std::string& field) const {
    if (!j.is_array())
      fail(field, "expected an array of strings, found " + j.dump());
    std::vector<std::string> out;
    for (std::size_t i = 0; i < j.size(); ++i)
      out.push_back(text(j[i], field + "[" + std::to_string(i) + "]"));
    return out;
  }

private:
  std::filesystem::path path_;
};

/// A file name from the index must stay inside the dump: relative, no "..".
inline bool inside(const std::string& relative) {
  const std::filesystem::path p(relative);
  if (p.empty() || p.is_absolute())
    return false;
  for (const std::filesystem::path& part : p)
    if (part == "..")
      return false;
  return true;
}

} // namespace detail

/// Reads `folder/index.json`.
/// @throws DumpError naming the file and the field when the folder or the file is missing, the
/// file is not JSON, not this format and version, or a field is missing or of another type.
inline DumpIndex read_dump_index(const std::filesystem::path& folder) {
  std::error_code error;
  if (!std::filesystem::is_directory(folder, error))
    throw DumpError("'" + folder.string() + "': no such folder");
  const std::filesystem::path path = folder / "index.json";
  std::ifstream in(path);
  if (!in)
    throw DumpError("'" + path.string() +
                    "': cannot open (a dump written by helix_deploy --dump-expected has one)");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw DumpError("'" + path.string() + "': not JSON: " + e.what());
  }
  const detail::IndexReader r(path);
  if (r.text(r.at(j, "format", "format"), "format") != expected_dump_format)
    r.fail("format", "expected \"" + std::string(expected_dump_format) + "\"");
  if (const std::int64_t version = r.whole(r.at(j, "version", "version"), "version");
      version != expected_dump_version)
    r.fail("version", std::to_string(version) + ", this helix reads version " +
                          std::to_string(expected_dump_version));
  DumpIndex index;
  index.model = r.text(r.at(j, "model", "model"), "model");
  index.plan = r.text(r.at(j, "plan", "plan"), "plan");
  index.world_size = r.whole(r.at(j, "world_size", "world_size"), "world_size");
  const nlohmann::json& tolerance = r.at(j, "tolerance", "tolerance");
  index.tolerance_float64 =
      r.number(r.at(tolerance, "tolerance.float64", "float64"), "tolerance.float64");
  index.tolerance_float32 =
      r.number(r.at(tolerance, "tolerance.float32", "float32"), "tolerance.float32");
  const nlohmann::json& ops = r.at(j, "ops", "ops");
  if (!ops.is_array())
    r.fail("ops", "expected an array");
  std::set<std::string> names;
  for (std::size_t i = 0; i < ops.size(); ++i) {
    const std::string field = "ops[" + std::to_string(i) + "]";
    const nlohmann::json& o = ops[i];
    const auto get = [&](std::string_view key) -> const nlohmann::json& {
      return r.at(o, field + "." + std::string(key), key);
    };
    const auto sub = [&](std::string_view key) { return field + "." + std::string(key); };
    IndexedOp op;
    op.name = r.text(get("name"), sub("name"));
    op.file = r.text(get("file"), sub("file"));
    if (!detail::inside(op.file))
      r.fail(sub("file"), "'" + op.file + "' is not a relative path inside the dump");
    if (!names.insert(op.name).second)
      r.fail(sub("name"), "'" + op.name + "' is listed twice");
    op.kind = r.text(get("kind"), sub("kind"));
    op.device = r.whole(get("device"), sub("device"));
    if (!get("layer").is_null())
      op.layer = r.whole(get("layer"), sub("layer"));
    op.sequences = r.wholes(get("sequences"), sub("sequences"));
    op.shape = r.wholes(get("shape"), sub("shape"));
    op.placement = r.text(get("placement"), sub("placement"));
    op.holds = r.text(get("holds"), sub("holds"));
    op.computes = r.text(get("computes"), sub("computes"));
    op.producers = r.texts(get("producers"), sub("producers"));
    op.consumers = r.texts(get("consumers"), sub("consumers"));
    index.ops.push_back(std::move(op));
  }
  return index;
}

/// How one expected tensor fared.
enum class Verdict : std::uint8_t {
  missing, ///< the actual folder has no file for it: listed, not compared
  matches,
  differs, ///< beyond tolerance, or of another shape
};

struct OpComparison {
  Verdict verdict = Verdict::missing;
  numerics::ErrorMeasure error;
  std::string actual_dtype;               ///< "<f8" or "<f4"
  numerics::Tolerance tolerance;          ///< what it was judged by (from its element type)
  std::vector<std::int64_t> actual_shape; ///< as the actual file has it
  bool shape_differs = false;
};

/// The tolerance helix_compare judges by: `relative` when given, else the one `verify` applies to
/// the model in the actual file's element type (index.json's "tolerance": 1e-12 for float64,
/// 32·ε·√n·layers for float32); `absolute` 0 unless given.
struct CompareOptions {
  std::optional<double> relative;
  double absolute = 0;
};

struct DumpComparison {
  DumpIndex index;
  std::vector<OpComparison> ops; ///< one per index.ops entry, in its order
  /// The first op (index into `ops`) in topological order that differs.
  std::optional<std::size_t> first_difference;
  std::size_t compared = 0, differing = 0, missing = 0;
  /// .npy files in the actual folder that no op names (outside `weights/` and `input/`), as
  /// paths relative to it: likely misnamed tensors.
  std::vector<std::string> unknown_files;

  /// The verdict on the op called `name`, or null when the index has none.
  const OpComparison* find(std::string_view name) const {
    for (std::size_t i = 0; i < index.ops.size(); ++i)
      if (index.ops[i].name == name)
        return &ops[i];
    return nullptr;
  }
};

/// Compares every tensor of `actual` that the dump in `expected` lists (same relative file names)
/// with the expected one, one pair of files in memory at a time, in the index's topological
/// order. A tensor matches when `numerics::within` its tolerance (see CompareOptions); one of
/// another shape differs (its error infinite): an implementation that holds something else after
/// an op has gone wrong there, even if only in its layout. A file the dump lists and `actual`
/// lacks is missing: listed, not an error.
/// @throws DumpError naming the path: a folder missing, index.json unreadable (read_dump_index), a
/// .npy file of either side unreadable (read_npy_widened), an expected file of another shape than
/// its index entry, or `actual` holding none of the expected tensors (nothing compared is a wrong
/// folder or wrong names, not a match).
inline DumpComparison compare_dump(const std::filesystem::path& expected,
                                   const std::filesystem::path& actual,
                                   const CompareOptions& options = {}) {
  DumpComparison result;
  result.index = read_dump_index(expected);
  std::error_code error;
  if (!std::filesystem::is_directory(actual, error))
    throw DumpError("'" + actual.string() + "': no such folder");
  std::set<std::string> listed;
  for (const IndexedOp& op : result.index.ops)
    listed.insert(std::filesystem::path(op.file).lexically_normal().generic_string());
  for (auto it = std::filesystem::recursive_directory_iterator(actual, error);
       !error && it != std::filesystem::recursive_directory_iterator(); it.increment(error)) {
    if (!it->is_regular_file() || it->path().extension() != ".npy")
      continue;
    const std::string relative = it->path().lexically_relative(actual).generic_string();
    if (relative.starts_with("input/") || relative.find("/weights/") != std::string::npos ||
        relative.starts_with("weights/") || listed.count(relative))
      continue;
    result.unknown_files.push_back(relative);
  }
  std::sort(result.unknown_files.begin(), result.unknown_files.end());
  const auto read = [](const std::filesystem::path& path) {
    try {
      return read_npy_widened(path);
    } catch (const std::runtime_error& e) {
      throw DumpError(e.what());
    }
  };
  for (const IndexedOp& op : result.index.ops) {
    OpComparison& c = result.ops.emplace_back();
    const std::filesystem::path actual_file = actual / op.file;
    if (!std::filesystem::exists(actual_file, error)) {
      ++result.missing;
      continue;
    }
    const NpyDoubles theirs = read(actual_file);
    const NpyDoubles ours = read(expected / op.file);
    if (ours.shape != op.shape)
      throw DumpError("'" + (expected / op.file).string() +
                      "': its shape differs from index.json's entry for " + op.name);
    ++result.compared;
    c.actual_dtype = theirs.descr;
    c.actual_shape = theirs.shape;
    c.tolerance.absolute = options.absolute;
    c.tolerance.relative = options.relative.value_or(
        theirs.descr == "<f4" ? result.index.tolerance_float32 : result.index.tolerance_float64);
    if (theirs.shape != ours.shape) {
      c.shape_differs = true;
      c.error.max_abs = c.error.max_relative = std::numeric_limits<double>::infinity();
    } else {
      c.error = numerics::error_between(std::span<const double>(theirs.data),
                                        std::span<const double>(ours.data));
    }
    c.verdict = !c.shape_differs && numerics::within(c.error, c.tolerance) ? Verdict::matches
                                                                           : Verdict::differs;
    if (c.verdict == Verdict::differs) {
      ++result.differing;
      if (!result.first_difference)
        result.first_difference = result.ops.size() - 1;
    }
  }
  if (result.compared == 0) {
    std::string unknown;
    for (std::size_t i = 0; i < result.unknown_files.size() && i < 3; ++i)
      unknown += (i ? ", " : "") + result.unknown_files[i];
    throw DumpError(
        "'" + actual.string() + "' holds none of the " + std::to_string(result.index.ops.size()) +
        " tensors '" + (expected / "index.json").string() + "' lists (they are named like '" +
        (result.index.ops.empty() ? std::string("?") : result.index.ops.front().file) + "')" +
        (unknown.empty() ? std::string()
                         : "; it has " + std::to_string(result.unknown_files.size()) +
                               " other .npy files, e.g. " + unknown));
  }
  return result;
}

} // namespace helix::io
