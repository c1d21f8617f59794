// Ring collectives over per-member buffers, in the order real rings move data, so a sum is
// accumulated in the order the devices would (which decides the bits in float). The DAG executor
// runs every collective vertex through these; they are public so other executors (an MPI
// backend, a user's own) can reproduce the same bits.
#pragma once

#include "helix/numerics/weights.hpp"

#include <Eigen/Core>

#include <algorithm>
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

/// The whole an all-gather by concatenation leaves on every member: member j's tensor is slice j
/// of the `columns`-wide result.
/// @throws std::invalid_argument when the slices do not make up `columns` columns of equal rows.
template <std::floating_point Scalar>
Matrix<Scalar> gathered(const std::vector<const Matrix<Scalar>*>& members, Eigen::Index columns) {
  Matrix<Scalar> whole(members.at(0)->rows(), columns);
  Eigen::Index column = 0;
  for (const Matrix<Scalar>* part : members) {
    if (part->rows() != whole.rows() || column + part->cols() > whole.cols())
      throw std::invalid_argument("helix: all-gather: members' slices do not make up the gathered "
                                  "tensor of " +
                                  std::to_string(columns) + " columns");
    whole.middleCols(column, part->cols()) = *part;
    column += part->cols();
  }
  if (column != columns)
    throw std::invalid_argument("helix: all-gather: members' slices make " +
                                std::to_string(column) + " columns, not " +
                                std::to_string(columns));
  return whole;
}

/// All-gather by concatenation in place: every member ends with `gathered` of the buffers.
/// @throws std::invalid_argument as `gathered`.
template <std::floating_point Scalar>
void gather_concatenate(std::vector<Matrix<Scalar>>& buffers, Eigen::Index columns) {
  std::vector<const Matrix<Scalar>*> members;
  for (const Matrix<Scalar>& buffer : buffers)
    members.push_back(&buffer);
  Matrix<Scalar> whole = gathered(members, columns);
  for (Matrix<Scalar>& buffer : buffers)
    buffer = whole;
}

namespace detail {

/// Columns [chunk.begin, +chunk.size) of the sum of `members`, rows [row, +rows), accumulated as
/// a ring with rotation `shift` accumulates chunk `k`: starting at member k − shift, each next
/// member adding its share to the running sum (a + b and b + a are the same bits), into `out`.
template <std::floating_point Scalar, class Out>
void ring_chunk_sum(const std::vector<const Matrix<Scalar>*>& members, std::int64_t shift,
                    std::int64_t k, RingChunk chunk, Eigen::Index row, Eigen::Index rows,
                    Out&& out) {
  const std::int64_t n = static_cast<std::int64_t>(members.size());
  const std::int64_t first = ring_mod(k - shift, n);
  out = members[static_cast<std::size_t>(first)]->block(row, chunk.begin, rows, chunk.size);
  for (std::int64_t j = 1; j < n; ++j)
    out += members[static_cast<std::size_t>((first + j) % n)]->block(row, chunk.begin, rows,
                                                                     chunk.size);
}

/// Rows per tile of the sums below: a tile of the result (about 32 KiB) stays in the first-level
/// cache while every member's share is added to it, so each member is read from memory once.
template <std::floating_point Scalar>
Eigen::Index tile_rows(Eigen::Index columns) {
  constexpr Eigen::Index tile_bytes = 32 * 1024;
  return std::max<Eigen::Index>(
      1, tile_bytes / std::max<Eigen::Index>(1, columns * Eigen::Index{sizeof(Scalar)}));
}

/// @throws std::invalid_argument when the members are none or of different shapes.
template <std::floating_point Scalar>
void require_same_shapes(const std::vector<const Matrix<Scalar>*>& members) {
  if (members.empty())
    throw std::invalid_argument("helix: collective: no member holds a tensor");
  for (const Matrix<Scalar>* m : members)
    if (m->rows() != members[0]->rows() || m->cols() != members[0]->cols())
      throw std::invalid_argument("helix: collective: members hold tensors of different shapes (" +
                                  std::to_string(m->rows()) + " × " + std::to_string(m->cols()) +
                                  " and " + std::to_string(members[0]->rows()) + " × " +
                                  std::to_string(members[0]->cols()) + ")");
}

} // namespace detail

/// What every member holds after `ring_all_reduce` of the members' tensors, bit for bit, computed
/// once from them: each chunk is summed in the order the ring sums it, without moving chunks
/// between N buffers (the single-process executor's all-reduce, which shares the one result).
/// @throws std::invalid_argument when the members are none or of different shapes.
template <std::floating_point Scalar>
Matrix<Scalar> ring_all_reduce_sum(const std::vector<const Matrix<Scalar>*>& members) {
  detail::require_same_shapes(members);
  const std::int64_t n = static_cast<std::int64_t>(members.size());
  const Eigen::Index rows = members[0]->rows(), columns = members[0]->cols();
  Matrix<Scalar> sum(rows, columns);
  const Eigen::Index tile = detail::tile_rows<Scalar>(columns);
  for (Eigen::Index row = 0; row < rows; row += tile) {
    const Eigen::Index count = std::min(tile, rows - row);
    for (std::int64_t k = 0; k < n; ++k) {
      const RingChunk chunk = ring_chunk(columns, n, k);
      detail::ring_chunk_sum(members, 0, k, chunk, row, count,
                             sum.block(row, chunk.begin, count, chunk.size));
    }
  }
  return sum;
}

/// What member `owner` holds after `ring_reduce_scatter_to_owners` of the members' tensors, bit
/// for bit: chunk `owner` of the sum, computed from them in the ring's order.
/// @throws std::invalid_argument when the members are none or of different shapes.
template <std::floating_point Scalar>
Matrix<Scalar> ring_reduce_scatter_share(const std::vector<const Matrix<Scalar>*>& members,
                                         std::int64_t owner) {
  detail::require_same_shapes(members);
  const std::int64_t n = static_cast<std::int64_t>(members.size());
  const Eigen::Index rows = members[0]->rows();
  const RingChunk chunk = ring_chunk(members[0]->cols(), n, owner);
  Matrix<Scalar> share(rows, chunk.size);
  const Eigen::Index tile = detail::tile_rows<Scalar>(chunk.size);
  for (Eigen::Index row = 0; row < rows; row += tile) {
    const Eigen::Index count = std::min(tile, rows - row);
    detail::ring_chunk_sum(members, -1, owner, chunk, row, count, share.middleRows(row, count));
  }
  return share;
}

/// All-to-all over the heads, as `step::AllToAll` does it: `input` is a member's
/// [batch, heads, width] ((batch·heads) × width); the block it sends member j is j's 1/n of every
/// sequence's heads, [batch, heads / n, width].
template <std::floating_point Scalar>
Matrix<Scalar> all_to_all_block(const Matrix<Scalar>& input, std::int64_t batch, std::int64_t n,
                                std::int64_t j) {
  const std::int64_t heads = input.rows() / batch, share = heads / n;
  if (heads * batch != input.rows() || share * n != heads)
    throw std::invalid_argument("helix: all-to-all: " + std::to_string(input.rows()) +
                                " rows are not " + std::to_string(batch) +
                                " sequences of heads dividing by " + std::to_string(n));
  Matrix<Scalar> block(batch * share, input.cols());
  for (std::int64_t s = 0; s < batch; ++s)
    block.middleRows(s * share, share) = input.middleRows(s * heads + j * share, share);
  return block;
}

/// What a member receives: block i from member i, laid out [batch, n, heads / n, width].
template <std::floating_point Scalar>
Matrix<Scalar> all_to_all_assemble(const std::vector<const Matrix<Scalar>*>& blocks,
                                   std::int64_t batch) {
  const std::int64_t n = static_cast<std::int64_t>(blocks.size());
  const std::int64_t share = blocks.at(0)->rows() / batch;
  Matrix<Scalar> out(batch * n * share, blocks[0]->cols());
  for (std::int64_t i = 0; i < n; ++i) {
    const Matrix<Scalar>& block = *blocks[static_cast<std::size_t>(i)];
    if (block.rows() != batch * share || block.cols() != out.cols())
      throw std::invalid_argument("helix: all-to-all: the members' blocks differ in size");
    for (std::int64_t s = 0; s < batch; ++s)
      out.middleRows((s * n + i) * share, share) = block.middleRows(s * share, share);
  }
  return out;
}

} // namespace helix::numerics
