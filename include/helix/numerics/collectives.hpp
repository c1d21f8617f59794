// Ring collectives over per-member buffers, in the order real rings move data, so a sum is
// accumulated in the order the devices would (which decides the bits in float). The DAG executor
// runs every collective vertex through these; they are public so other executors (an MPI
// backend, a user's own) can reproduce the same bits.
#pragma once

#include "helix/numerics/weights.hpp"

#include <Eigen/Dense>

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace helix::numerics {

/// Columns [begin, begin + size) of a ring's chunk k.
struct RingChunk {
  Eigen::Index begin = 0, size = 0;
};

/// Chunk k of `columns` split over `members`, as evenly as it goes: a length that does not divide
/// by the members still works (chunks differ by one).
/// Example: 7 columns over 3 members are chunks [0, 2), [2, 4), [4, 7).
inline RingChunk ring_chunk(Eigen::Index columns, std::int64_t members, std::int64_t k) {
  const Eigen::Index begin = k * columns / members, end = (k + 1) * columns / members;
  return {begin, end - begin};
}

namespace detail {
inline std::int64_t ring_mod(std::int64_t value, std::int64_t n) {
  return (value % n + n) % n;
}
} // namespace detail

/// The chunk member `member` of an `n`-member ring passes on at step `step` of a reduce-scatter
/// (its running sum of that chunk) with rotation `shift`; it receives the chunk member − 1 passes.
/// One schedule for every executor: the in-memory ring below and the MPI ranks' sendrecv steps.
inline std::int64_t reduce_scatter_chunk(std::int64_t member, std::int64_t step, std::int64_t shift,
                                         std::int64_t n) {
  return detail::ring_mod(member - step + shift, n);
}

/// The chunk member `member` passes on at step `step` of an all-gather with rotation `shift`.
inline std::int64_t all_gather_chunk(std::int64_t member, std::int64_t step, std::int64_t shift,
                                     std::int64_t n) {
  return detail::ring_mod(member + 1 + shift - step, n);
}

/// Ring reduce-scatter in place over buffers[0 → 1 → … → N-1 → 0]: at step s member i passes
/// its running sum of chunk (i − s + shift) to member i+1, which adds its own share.
/// @pre at least one buffer, every buffer of the same shape (as for every function below).
/// @post member i holds the whole sum of chunk (i + 1 + shift), accumulated in ring order
/// starting at member (chunk − shift); its other chunks hold partial sums.
template <std::floating_point Scalar>
void ring_reduce_scatter(std::vector<Matrix<Scalar>>& buffers, std::int64_t shift) {
  const std::int64_t n = static_cast<std::int64_t>(buffers.size());
  const Eigen::Index columns = buffers[0].cols();
  // Within a step no member sends the chunk it receives, so updating in place is one step.
  for (std::int64_t step = 0; step + 1 < n; ++step)
    for (std::int64_t i = 0; i < n; ++i) {
      const RingChunk c = ring_chunk(columns, n, reduce_scatter_chunk(i, step, shift, n));
      Matrix<Scalar>& receiver = buffers[static_cast<std::size_t>((i + 1) % n)];
      receiver.middleCols(c.begin, c.size) +=
          buffers[static_cast<std::size_t>(i)].middleCols(c.begin, c.size);
    }
}

/// Ring all-gather in place: member i starts with the finished chunk (i + 1 + shift) and at step
/// s passes chunk (i + 1 + shift − s) on.
/// @post every member holds every chunk, bit for bit the same.
template <std::floating_point Scalar>
void ring_all_gather(std::vector<Matrix<Scalar>>& buffers, std::int64_t shift) {
  const std::int64_t n = static_cast<std::int64_t>(buffers.size());
  const Eigen::Index columns = buffers[0].cols();
  for (std::int64_t step = 0; step + 1 < n; ++step)
    for (std::int64_t i = 0; i < n; ++i) {
      const RingChunk c = ring_chunk(columns, n, all_gather_chunk(i, step, shift, n));
      buffers[static_cast<std::size_t>((i + 1) % n)].middleCols(c.begin, c.size) =
          buffers[static_cast<std::size_t>(i)].middleCols(c.begin, c.size);
    }
}

/// Ring all-reduce in place: reduce-scatter then all-gather around the ring.
/// @post every member holds the sum, each chunk accumulated starting at the member that owns it.
template <std::floating_point Scalar>
void ring_all_reduce(std::vector<Matrix<Scalar>>& buffers) {
  ring_reduce_scatter(buffers, 0);
  ring_all_gather(buffers, 0);
}

/// Ring reduce-scatter that leaves member j with slice j of the last dimension of the sum (the
/// ring shifted by one so that member j finishes chunk j), each buffer cut to its slice.
template <std::floating_point Scalar>
void ring_reduce_scatter_to_owners(std::vector<Matrix<Scalar>>& buffers) {
  const std::int64_t n = static_cast<std::int64_t>(buffers.size());
  ring_reduce_scatter(buffers, -1);
  const Eigen::Index columns = buffers[0].cols();
  for (std::int64_t j = 0; j < n; ++j) {
    const RingChunk chunk = ring_chunk(columns, n, j);
    Matrix<Scalar> slice = buffers[static_cast<std::size_t>(j)].middleCols(chunk.begin, chunk.size);
    buffers[static_cast<std::size_t>(j)] = std::move(slice);
  }
}

/// All-gather by concatenation: member j's buffer is slice j of the `columns`-wide result, and
/// every member ends with the whole.
/// @throws std::invalid_argument when the slices do not make up `columns` columns of equal rows.
template <std::floating_point Scalar>
void gather_concatenate(std::vector<Matrix<Scalar>>& buffers, Eigen::Index columns) {
  Matrix<Scalar> whole(buffers[0].rows(), columns);
  Eigen::Index column = 0;
  for (const Matrix<Scalar>& part : buffers) {
    if (part.rows() != whole.rows() || column + part.cols() > whole.cols())
      throw std::invalid_argument("helix: all-gather: members' slices do not make up the gathered "
                                  "tensor of " +
                                  std::to_string(columns) + " columns");
    whole.middleCols(column, part.cols()) = part;
    column += part.cols();
  }
  if (column != columns)
    throw std::invalid_argument("helix: all-gather: members' slices make " +
                                std::to_string(column) + " columns, not " +
                                std::to_string(columns));
  for (Matrix<Scalar>& buffer : buffers)
    buffer = whole;
}

} // namespace helix::numerics
