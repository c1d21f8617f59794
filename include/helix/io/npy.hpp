// NumPy .npy files (format 1.0, little endian, C order, float64 or float32), written atomically,
// and the dump of a verification run: input, every weight, the reference output and each plan's
// executed output, so the README's equations can be checked in NumPy or PyTorch.
#pragma once

#include "helix/graph/dag.hpp"
#include "helix/io/atomic_file.hpp"
#include "helix/io/file_names.hpp"
#include "helix/model/model.hpp"
#include "helix/numerics/execute.hpp"
#include "helix/numerics/reference.hpp"
#include "helix/numerics/weights.hpp"
#include "helix/plan/spec.hpp"

#include <bit>
#include <charconv>
#include <concepts>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <ostream>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace helix::io {

namespace detail {

template <std::floating_point Scalar>
constexpr std::string_view npy_descr() {
  static_assert(sizeof(Scalar) == 8 || sizeof(Scalar) == 4,
                "helix: npy element type: only float64 and float32 are written");
  return sizeof(Scalar) == 8 ? "<f8" : "<f4";
}

/// Magic, version 1.0, header length, and the header dict padded with spaces and a newline so
/// the data starts at a multiple of 64 bytes (NumPy's own alignment; the format asks for 16).
inline std::string npy_header(std::string_view descr, std::span<const std::int64_t> shape) {
  std::string dict = "{'descr': '" + std::string(descr) + "', 'fortran_order': False, 'shape': (";
  for (std::size_t i = 0; i < shape.size(); ++i)
    dict += (i ? ", " : "") + std::to_string(shape[i]);
  dict += shape.size() == 1 ? ",), }" : "), }";
  const std::size_t unpadded = 10 + dict.size() + 1;
  dict.append((64 - unpadded % 64) % 64, ' ');
  dict += '\n';
  if (dict.size() > 0xffff)
    throw std::invalid_argument("helix: npy: a shape of " + std::to_string(shape.size()) +
                                " dimensions does not fit a version 1.0 header");
  std::string header("\x93NUMPY\x01\x00", 8);
  header += static_cast<char>(dict.size() & 0xff);
  header += static_cast<char>(dict.size() >> 8);
  return header + dict;
}

template <std::floating_point Scalar>
void write_little_endian(std::ostream& out, std::span<const Scalar> data) {
  if constexpr (std::endian::native == std::endian::little) {
    out.write(reinterpret_cast<const char*>(data.data()),
              static_cast<std::streamsize>(data.size_bytes()));
  } else {
    for (Scalar value : data) {
      char bytes[sizeof(Scalar)];
      std::memcpy(bytes, &value, sizeof(Scalar));
      for (std::size_t i = sizeof(Scalar); i-- > 0;)
        out.put(bytes[i]);
    }
  }
}

} // namespace detail

/// Writes `data` (C order) as an array of `shape` to `path`, atomically.
/// @pre the product of `shape` is `data.size()`.
/// @throws std::invalid_argument when it is not; std::runtime_error naming `path` when the file
/// cannot be written.
///
/// Example: `write_npy<double>("y.npy", values, {2, 16, 128})`; `numpy.load("y.npy")` gives a
/// float64 array of shape (2, 16, 128).
template <std::floating_point Scalar>
void write_npy(const std::filesystem::path& path, std::span<const Scalar> data,
               std::span<const std::int64_t> shape) {
  std::int64_t elements = 1;
  for (std::int64_t extent : shape)
    elements *= extent;
  if (elements != static_cast<std::int64_t>(data.size()))
    throw std::invalid_argument("helix: npy: '" + path.string() + "': shape holds " +
                                std::to_string(elements) + " elements, data " +
                                std::to_string(data.size()));
  const std::string header = detail::npy_header(detail::npy_descr<Scalar>(), shape);
  write_file_atomically(path, [&](std::ostream& out) {
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    detail::write_little_endian(out, data);
  });
}

template <std::floating_point Scalar>
void write_npy(const std::filesystem::path& path, std::span<const Scalar> data,
               std::initializer_list<std::int64_t> shape) {
  write_npy(path, data, std::span<const std::int64_t>(shape.begin(), shape.size()));
}

/// A row-major Eigen matrix (or the contiguous tensor it stands for) as an array of `shape`.
template <std::floating_point Scalar>
void write_npy(const std::filesystem::path& path, const numerics::Matrix<Scalar>& matrix,
               std::initializer_list<std::int64_t> shape) {
  write_npy(path, std::span<const Scalar>(matrix.data(), static_cast<std::size_t>(matrix.size())),
            std::span<const std::int64_t>(shape.begin(), shape.size()));
}

template <std::floating_point Scalar>
struct NpyArray {
  std::vector<std::int64_t> shape;
  std::vector<Scalar> data; ///< C order
};

/// Reads back what write_npy writes (version 1.0, C order, little endian, this element type).
/// @throws std::runtime_error naming `path` and what differs.
template <std::floating_point Scalar>
NpyArray<Scalar> read_npy(const std::filesystem::path& path) {
  const auto fail = [&](const std::string& why) {
    throw std::runtime_error("helix: npy: '" + path.string() + "': " + why);
  };
  std::ifstream in(path, std::ios::binary);
  if (!in)
    fail("cannot open");
  const std::string bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (bytes.size() < 10 || bytes.compare(0, 8, std::string("\x93NUMPY\x01\x00", 8)) != 0)
    fail("not a version 1.0 .npy file");
  const std::size_t length = static_cast<unsigned char>(bytes[8]) |
                             static_cast<std::size_t>(static_cast<unsigned char>(bytes[9])) << 8;
  if (bytes.size() < 10 + length)
    fail("header is cut short");
  const std::string dict = bytes.substr(10, length);
  if (dict.find("'descr': '" + std::string(detail::npy_descr<Scalar>()) + "'") ==
          std::string::npos ||
      dict.find("'fortran_order': False") == std::string::npos)
    fail("not " + std::string(detail::npy_descr<Scalar>()) + " in C order: " + dict);
  NpyArray<Scalar> array;
  const std::size_t open = dict.find("'shape': (");
  const std::size_t close = dict.find(')', open);
  if (open == std::string::npos || close == std::string::npos)
    fail("no shape in the header");
  std::int64_t elements = 1;
  for (std::size_t i = open + 10; i < close;) {
    std::size_t used = 0;
    const std::string rest = dict.substr(i, close - i);
    if (rest.find_first_of("0123456789") == std::string::npos)
      break;
    const std::int64_t extent = std::stoll(rest, &used);
    array.shape.push_back(extent);
    elements *= extent;
    i += used;
    while (i < close && (dict[i] == ',' || dict[i] == ' '))
      ++i;
  }
  if (bytes.size() != 10 + length + static_cast<std::size_t>(elements) * sizeof(Scalar))
    fail("data size differs from the shape");
  array.data.resize(static_cast<std::size_t>(elements));
  std::memcpy(array.data.data(), bytes.data() + 10 + length, array.data.size() * sizeof(Scalar));
  if constexpr (std::endian::native != std::endian::little)
    for (Scalar& value : array.data) {
      char swapped[sizeof(Scalar)];
      std::memcpy(swapped, &value, sizeof(Scalar));
      for (std::size_t i = 0; i < sizeof(Scalar) / 2; ++i)
        std::swap(swapped[i], swapped[sizeof(Scalar) - 1 - i]);
      std::memcpy(&value, swapped, sizeof(Scalar));
    }
  return array;
}

/// An array read as double whatever float type another program saved it in.
struct NpyDoubles {
  std::vector<std::int64_t> shape;
  std::vector<double> data; ///< C order
  std::string descr;        ///< as the file says: "<f8" or "<f4"
};

/// Reads a .npy file that NumPy (`numpy.save`) or PyTorch (via NumPy) wrote: format 1.0, 2.0 or
/// 3.0, C order, little-endian float64 or float32 (widened to double), any number of dimensions.
/// Strict, because what it reads is someone else's output: a header that is not a dict of
/// exactly 'descr', 'fortran_order' and 'shape', another type, Fortran order or a size that
/// differs from the shape is an error.
/// @throws std::runtime_error naming `path` and what is wrong.
inline NpyDoubles read_npy_widened(const std::filesystem::path& path) {
  const auto fail = [&](const std::string& why) -> void {
    throw std::runtime_error("helix: npy: '" + path.string() + "': " + why);
  };
  std::ifstream in(path, std::ios::binary);
  if (!in)
    fail("cannot open");
  const std::string bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (bytes.size() < 6 || bytes.compare(0, 6, "\x93NUMPY") != 0)
    fail("not a .npy file (no \\x93NUMPY magic)");
  if (bytes.size() < 10)
    fail("header is cut short");
  const auto byte = [&](std::size_t i) {
    return static_cast<std::size_t>(static_cast<unsigned char>(bytes[i]));
  };
  const std::size_t major = byte(6);
  if (major < 1 || major > 3)
    fail("format version " + std::to_string(major) + " (1, 2 and 3 are read)");
  const std::size_t length_bytes = major == 1 ? 2 : 4;
  if (bytes.size() < 8 + length_bytes)
    fail("header is cut short");
  std::size_t length = 0;
  for (std::size_t i = 0; i < length_bytes; ++i)
    length |= byte(8 + i) << (8 * i);
  const std::size_t start = 8 + length_bytes;
  if (bytes.size() < start + length)
    fail("header is cut short");
  const std::string dict = bytes.substr(start, length);
  // The value after `'key': ` up to the next top-level comma or the closing brace.
  const auto value_of = [&](std::string_view key) {
    const std::string quoted = "'" + std::string(key) + "':";
    const std::size_t at = dict.find(quoted);
    if (at == std::string::npos)
      fail("header has no '" + std::string(key) + "': " + dict);
    std::size_t i = at + quoted.size();
    while (i < dict.size() && dict[i] == ' ')
      ++i;
    if (i >= dict.size())
      fail("header is malformed: " + dict);
    const std::size_t end = dict[i] == '(' ? dict.find(')', i) + 1 : dict.find_first_of(",}", i);
    if (end == std::string::npos || end == 0)
      fail("header is malformed: " + dict);
    return dict.substr(i, end - i);
  };
  NpyDoubles array;
  const std::string descr = value_of("descr");
  if (descr != "'<f8'" && descr != "'<f4'")
    fail("element type " + descr + ": float64 or float32, little endian ('<f8' or '<f4') is read");
  array.descr = descr.substr(1, 3);
  if (value_of("fortran_order") != "False")
    fail("Fortran order: save it in C order (numpy.ascontiguousarray)");
  const std::string shape = value_of("shape");
  if (shape.size() < 2 || shape.front() != '(' || shape.back() != ')')
    fail("shape " + shape + " is not a tuple");
  std::int64_t elements = 1;
  for (std::size_t i = 1; i + 1 < shape.size();) {
    if (shape[i] == ' ' || shape[i] == ',') {
      ++i;
      continue;
    }
    std::int64_t extent = 0;
    const auto [end, error] =
        std::from_chars(shape.data() + i, shape.data() + shape.size() - 1, extent);
    if (error != std::errc{} || extent < 0 ||
        (extent > 0 && elements > (std::int64_t{1} << 40) / extent))
      fail("shape " + shape + " is not a tuple of sizes");
    array.shape.push_back(extent);
    elements *= extent;
    i = static_cast<std::size_t>(end - shape.data());
  }
  const std::size_t width = array.descr == "<f8" ? 8 : 4;
  if (bytes.size() != start + length + static_cast<std::size_t>(elements) * width)
    fail("holds " + std::to_string(bytes.size() - start - length) + " bytes of data, its shape " +
         shape + " needs " + std::to_string(static_cast<std::size_t>(elements) * width));
  array.data.resize(static_cast<std::size_t>(elements));
  const char* data = bytes.data() + start + length;
  for (std::size_t k = 0; k < array.data.size(); ++k) {
    char element[8];
    std::memcpy(element, data + k * width, width);
    if constexpr (std::endian::native != std::endian::little)
      for (std::size_t i = 0; i < width / 2; ++i)
        std::swap(element[i], element[width - 1 - i]);
    if (width == 8) {
      std::memcpy(&array.data[k], element, 8);
    } else {
      float narrow = 0;
      std::memcpy(&narrow, element, 4);
      array.data[k] = narrow;
    }
  }
  return array;
}

/// Writes, into the existing folder `folder`, everything needed to reproduce the reference in
/// NumPy: `x.npy` [batch, tokens, hidden]; per layer l `layer{l}_{wq,wk,wv,wo,w1,w2}.npy`
/// ([in, out], y = x @ W), `layer{l}_norm{1,2}_gain.npy` (and `_shift` for layernorm), and in
/// decode `layer{l}_{keys,values}_cache.npy` [batch, seq_len, kv_heads·head_dim];
/// `y_reference.npy`; and `y_<plan>.npy` (see plan_file_part) with each plan's executed output.
/// A model with a vocabulary has `token_ids.npy` [batch, tokens] (whole numbers, as floats)
/// instead of `x.npy`, plus `embedding.npy` [padded vocab, hidden], `lm_head.npy` [hidden, padded
/// vocab] and `final_norm_gain.npy` (and `_shift`), and its outputs are the last position's
/// logits [batch, 1, padded vocab].
/// Weights and input come from `seed` as in `numerics::verify`; `model` is used as given (pass a
/// verification-size model such as `models::shrink(model, plans, workload)`).
/// @returns the files written. @throws PlanError for a plan that does not suit the model;
/// std::runtime_error when a file cannot be written.
template <std::floating_point Scalar = double>
std::vector<std::filesystem::path>
write_numerics_npy(const std::filesystem::path& folder, const Model& model,
                   std::span<const PlanSpec> plans, const Workload& workload = {},
                   std::uint64_t seed = numerics::default_seed) {
  using numerics::Matrix;
  const numerics::Weights<Scalar> weights = numerics::make_weights<Scalar>(model, seed);
  const numerics::Input<Scalar> input =
      numerics::make_input<Scalar>(model, workload, weights, seed);
  std::vector<std::filesystem::path> written;
  // Matrices and norm vectors alike: contiguous, row-major, so their bytes are the C order.
  const auto put = [&](const std::string& name, const auto& tensor,
                       std::initializer_list<std::int64_t> shape) {
    written.push_back(folder / name);
    write_npy<Scalar>(
        written.back(),
        std::span<const Scalar>(tensor.data(), static_cast<std::size_t>(tensor.size())), shape);
  };
  const std::int64_t b = model.batch, t = input.tokens, h = model.hidden;
  if (model.vocab > 0) {
    const std::int64_t vocab = padded_vocab(model);
    put("token_ids.npy", input.token_ids, {b, t});
    put("embedding.npy", weights.embedding, {vocab, h});
    put("lm_head.npy", weights.lm_head, {h, vocab});
    if (model.norm != Norm::none)
      put("final_norm_gain.npy", weights.final_norm_gain, {h});
    if (model.norm == Norm::layernorm)
      put("final_norm_shift.npy", weights.final_norm_shift, {h});
  } else {
    put("x.npy", input.x, {b, t, h});
  }
  for (std::int64_t l = 0; l < model.layers; ++l) {
    const numerics::LayerWeights<Scalar>& w = weights.layers[static_cast<std::size_t>(l)];
    const std::string layer = "layer" + std::to_string(l) + "_";
    for (const Weight which : block_weights) {
      if (!uses_weight(model, which))
        continue;
      const Matrix<Scalar>& m = w.weight(which);
      put(layer + std::string(weight_name(which)) + ".npy", m, {m.rows(), m.cols()});
    }
    for (std::size_t slot = 0;
         slot < static_cast<std::size_t>(norms_per_layer(model)) && model.norm != Norm::none;
         ++slot) {
      const std::string norm = layer + "norm" + std::to_string(slot + 1);
      put(norm + "_gain.npy", w.norm_gain[slot], {h});
      if (model.norm == Norm::layernorm)
        put(norm + "_shift.npy", w.norm_shift[slot], {h});
    }
    if (workload.phase == Phase::decode) {
      const std::size_t i = static_cast<std::size_t>(l);
      put(layer + "keys_cache.npy", input.cached_keys[i], {b, model.seq_len, kv_width(model)});
      put(layer + "values_cache.npy", input.cached_values[i], {b, model.seq_len, kv_width(model)});
    }
  }
  const std::int64_t out_tokens = model.vocab > 0 ? 1 : t;
  const std::int64_t out_width = model.vocab > 0 ? padded_vocab(model) : h;
  put("y_reference.npy", numerics::reference_forward(model, workload, weights, input).output,
      {b, out_tokens, out_width});
  for (const PlanSpec& plan : plans)
    put("y_" + plan_file_part(plan) + ".npy",
        numerics::execute(build_dag(model, plan, workload), weights, input).assemble(),
        {b, out_tokens, out_width});
  return written;
}

} // namespace helix::io
