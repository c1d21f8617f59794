// The MPI communication backend of the DAG runner: MPI rank r is mesh device r; a collective runs
// on the communicator of its DeviceGroup (one MPI_Comm_split per group axes), either as the DAG's
// own ring of sendrecv steps (the summation order, and so the bits, of the single-process
// executor) or as MPI's own collectives; a transfer is a matched send and receive.
#pragma once

#include "helix/graph/dag.hpp"
#include "helix/graph/ops.hpp"
#include "helix/numerics/collectives.hpp"
#include "helix/numerics/execute.hpp"
#include "helix/plan/device_group.hpp"

#include <mpi.h>

#include <chrono>
#include <climits>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace helix::distributed {

using numerics::Arrival;
using numerics::Matrix;
using numerics::Placed;

/// A failure of the distributed run that every rank cannot see alike: an MPI error, a timeout, a
/// collective whose members disagree.
class DistributedError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// How collectives run: `ring` as the DAG's rings of MPI_Sendrecv steps (bit-identical to the
/// single-process executor), `mpi` as MPI_Allreduce / MPI_Reduce_scatter(_block) / MPI_Allgather
/// (the library's algorithms and summation order).
enum class Collectives : std::uint8_t { ring, mpi };

constexpr std::string_view collectives_name(Collectives c) {
  return c == Collectives::ring ? "ring" : "mpi";
}

struct MpiOptions {
  Collectives collectives = Collectives::ring;
  /// Longest wait for a transfer or for a collective's members to arrive; then the run fails
  /// with the vertex named instead of hanging.
  double timeout_seconds = 60;
  /// Before each collective its members exchange which vertex they are at (a small all-gather)
  /// and fail, naming both vertices, when they differ; without it a member that skipped a
  /// collective could pair its next one with the others' current one.
  bool check_collectives = true;
  /// Fault injection for tests: this rank treats the collective vertex with this index as done
  /// without communicating (its input passes through), as a rank whose DAG lacked it would.
  std::int64_t skip_vertex = -1;
};

/// What this rank's communication did.
struct CommunicationCounters {
  std::int64_t collectives = 0, transfers_sent = 0, transfers_received = 0;
  std::int64_t bytes_sent = 0; ///< payload this rank sent (ring steps, transfers; MPI's own
                               ///< collectives counted as their input)
  double seconds = 0;          ///< in communication calls, waits included
};

namespace detail {

inline void check_mpi(int code, std::string_view what) {
  if (code == MPI_SUCCESS)
    return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  throw DistributedError("helix: mpi: " + std::string(what) + ": " + std::string(text, length));
}

template <std::floating_point Scalar>
MPI_Datatype datatype() {
  return std::same_as<Scalar, double> ? MPI_DOUBLE : MPI_FLOAT;
}

/// An element count as MPI's int, or an error naming the tensor.
inline int message_count(std::int64_t elements, std::string_view what) {
  if (elements < 0 || elements > INT_MAX)
    throw DistributedError("helix: mpi: " + std::string(what) + " has " + std::to_string(elements) +
                           " elements, more than one MPI message carries (2^31 - 1)");
  return static_cast<int>(elements);
}

} // namespace detail

/// Waits for `requests` until `timeout_seconds`, then throws naming `what`: a rank whose partner
/// never arrives fails instead of hanging. Polls, yielding the core (ranks may share cores).
inline void wait_all(std::vector<MPI_Request>& requests, double timeout_seconds,
                     const std::string& what) {
  const auto start = std::chrono::steady_clock::now();
  for (long polls = 0;; ++polls) {
    int done = 0;
    detail::check_mpi(
        MPI_Testall(static_cast<int>(requests.size()), requests.data(), &done, MPI_STATUSES_IGNORE),
        what);
    if (done)
      return;
    const double waited =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (waited > timeout_seconds) {
      std::ostringstream text;
      text << "helix: mpi: timed out after " << timeout_seconds << " s " << what;
      throw DistributedError(text.str());
    }
    if (polls < 1000)
      std::this_thread::yield();
    else
      std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
}

/// One communicator per DeviceGroup this rank belongs to: for each set of group axes the DAG's
/// collectives use, one MPI_Comm_split of the world with colour = the group's first member and
/// key = the rank's place in the group's ring order, so communicator rank i is ring member i.
/// Every rank makes the same splits in the same order (the axes in order of first use).
class GroupCommunicators {
public:
  GroupCommunicators(const Dag& dag, const std::vector<Vertex>& order, MPI_Comm world)
      : mesh_(boost::get_property(dag, boost::graph_bundle).mesh) {
    int rank = 0;
    detail::check_mpi(MPI_Comm_rank(world, &rank), "MPI_Comm_rank");
    for (const Vertex v : order) {
      const step::Collective* c = collective_of(dag[v]);
      if (!c || communicators_.contains(c->group.axes))
        continue;
      const DeviceGroup mine{rank, c->group.axes};
      const auto colour = static_cast<int>(group_member(mesh_, mine, 0));
      const auto key = static_cast<int>(group_index(mesh_, mine, rank));
      MPI_Comm comm = MPI_COMM_NULL;
      detail::check_mpi(MPI_Comm_split(world, colour, key, &comm), "MPI_Comm_split");
      communicators_.emplace(c->group.axes, comm);
    }
  }
  GroupCommunicators(const GroupCommunicators&) = delete;
  GroupCommunicators& operator=(const GroupCommunicators&) = delete;
  ~GroupCommunicators() {
    // Not while a failure unwinds: the caller is about to abort every rank, and freeing a
    // communicator must not wait on ranks that will never get here.
    if (std::uncaught_exceptions() > 0)
      return;
    for (auto& [axes, comm] : communicators_)
      MPI_Comm_free(&comm);
  }

  /// The communicator of `group`, which must hold `rank`.
  MPI_Comm of(const DeviceGroup& group) const {
    const auto it = communicators_.find(group.axes);
    if (it == communicators_.end())
      throw DistributedError("helix: mpi: no communicator was made for group axes " +
                             std::to_string(group.axes));
    return it->second;
  }
  std::size_t size() const { return communicators_.size(); }

private:
  const Mesh& mesh_;
  std::map<AxisMask, MPI_Comm> communicators_;
};

/// The MPI backend: device `rank` is local; collectives and transfers as the file comment says.
/// A Communication for `DagRunner`.
template <std::floating_point Scalar>
class MpiCommunication {
public:
  MpiCommunication(const Dag& dag, const std::vector<Vertex>& order, MPI_Comm world,
                   MpiOptions options = {})
      : dag_(dag), mesh_(boost::get_property(dag, boost::graph_bundle).mesh), world_(world),
        options_(options), communicators_(dag, order, world) {
    int rank = 0, flag = 0;
    detail::check_mpi(MPI_Comm_rank(world, &rank), "MPI_Comm_rank");
    rank_ = rank;
    void* tag_ub = nullptr;
    detail::check_mpi(MPI_Comm_get_attr(world, MPI_TAG_UB, &tag_ub, &flag), "MPI_TAG_UB");
    tag_limit_ = flag ? static_cast<std::int64_t>(*static_cast<int*>(tag_ub)) + 1 : 32768;
  }

  bool is_local(std::int64_t device) const { return device == rank_; }
  const CommunicationCounters& counters() const { return counters_; }
  std::size_t communicators() const { return communicators_.size(); }

  /// Sender: one send of the columns the transfer carries (numerics::sent_columns: the whole
  /// tensor, or its slice of hidden); receiver: one receive of the op's output shape. The tag is
  /// the vertex, so a message can only match the transfer it belongs to.
  std::vector<Placed<Scalar>> communicate(Vertex v, const Op& op, const step::Transfer& t,
                                          const std::vector<Arrival<Scalar>>& in) {
    const Timer timer(counters_);
    const int tag = static_cast<int>(static_cast<std::int64_t>(v) % tag_limit_);
    const int count = detail::message_count(op.output.elements(), "the tensor of a transfer");
    std::vector<MPI_Request> requests;
    std::vector<Placed<Scalar>> out;
    // What the sender sends, packed (a slice of a row-major tensor is not contiguous); it must
    // outlive the wait.
    Matrix<Scalar> sent;
    if (t.destination == rank_) {
      out.push_back(Placed<Scalar>{
          rank_, Matrix<Scalar>(op.output.elements() / op.output.last(), op.output.last())});
      requests.emplace_back();
      detail::check_mpi(MPI_Irecv(out.back().value.data(), count, detail::datatype<Scalar>(),
                                  static_cast<int>(t.source), tag, world_, &requests.back()),
                        "MPI_Irecv");
      ++counters_.transfers_received;
    }
    if (t.source == rank_) {
      sent = numerics::sent_columns(*in.at(0).value, t);
      if (sent.size() != op.output.elements())
        throw DistributedError("helix: mpi: transfer " + describe(v) + " sends " +
                               std::to_string(sent.size()) + " elements, but its output holds " +
                               std::to_string(op.output.elements()));
      requests.emplace_back();
      detail::check_mpi(MPI_Isend(sent.data(), count, detail::datatype<Scalar>(),
                                  static_cast<int>(t.destination), tag, world_, &requests.back()),
                        "MPI_Isend");
      ++counters_.transfers_sent;
      counters_.bytes_sent += bytes(sent);
    }
    wait_all(requests, options_.timeout_seconds,
             "in transfer " + describe(v) + " from rank " + std::to_string(t.source) + " to rank " +
                 std::to_string(t.destination));
    return out;
  }

  std::vector<Placed<Scalar>> communicate(Vertex v, const Op&, const step::AllReduce& c,
                                          const std::vector<Arrival<Scalar>>& in) {
    return collective(v, c, in, [&](MPI_Comm comm, int i, int n, Matrix<Scalar>& buffer) {
      if (options_.collectives == Collectives::mpi) {
        counters_.bytes_sent += bytes(buffer);
        detail::check_mpi(MPI_Allreduce(MPI_IN_PLACE, buffer.data(),
                                        detail::message_count(buffer.size(), "an all-reduce"),
                                        detail::datatype<Scalar>(), MPI_SUM, comm),
                          "MPI_Allreduce");
        return;
      }
      ring_reduce_scatter(comm, i, n, 0, buffer);
      ring_all_gather(comm, i, n, 0, buffer);
    });
  }

  std::vector<Placed<Scalar>> communicate(Vertex v, const Op&, const step::ReduceScatter& c,
                                          const std::vector<Arrival<Scalar>>& in) {
    return collective(v, c, in, [&](MPI_Comm comm, int i, int n, Matrix<Scalar>& buffer) {
      const Eigen::Index columns = buffer.cols();
      const numerics::RingChunk mine = numerics::ring_chunk(columns, n, i);
      if (options_.collectives == Collectives::ring) {
        ring_reduce_scatter(comm, i, n, -1, buffer);
        Matrix<Scalar> slice = buffer.middleCols(mine.begin, mine.size);
        buffer = std::move(slice);
        return;
      }
      // Chunk j of every row, laid out one chunk after another: what member j receives.
      Matrix<Scalar> packed(1, buffer.size());
      std::vector<int> counts;
      Eigen::Index offset = 0;
      for (int j = 0; j < n; ++j) {
        const numerics::RingChunk chunk = numerics::ring_chunk(columns, n, j);
        Eigen::Map<Matrix<Scalar>>(packed.data() + offset, buffer.rows(), chunk.size) =
            buffer.middleCols(chunk.begin, chunk.size);
        counts.push_back(detail::message_count(buffer.rows() * chunk.size, "a reduce-scatter"));
        offset += buffer.rows() * chunk.size;
      }
      Matrix<Scalar> slice(buffer.rows(), mine.size);
      counters_.bytes_sent += bytes(buffer);
      bool equal = true;
      for (const int count : counts)
        equal = equal && count == counts[0];
      if (equal)
        detail::check_mpi(MPI_Reduce_scatter_block(packed.data(), slice.data(), counts[0],
                                                   detail::datatype<Scalar>(), MPI_SUM, comm),
                          "MPI_Reduce_scatter_block");
      else
        detail::check_mpi(MPI_Reduce_scatter(packed.data(), slice.data(), counts.data(),
                                             detail::datatype<Scalar>(), MPI_SUM, comm),
                          "MPI_Reduce_scatter");
      buffer = std::move(slice);
    });
  }

  std::vector<Placed<Scalar>> communicate(Vertex v, const Op& op, const step::AllGather& c,
                                          const std::vector<Arrival<Scalar>>& in) {
    return collective(v, c, in, [&](MPI_Comm comm, int i, int n, Matrix<Scalar>& buffer) {
      const Eigen::Index width = buffer.cols(), rows = buffer.rows();
      if (width * n != op.output.last())
        throw DistributedError("helix: mpi: all-gather " + describe(v) + ": " + std::to_string(n) +
                               " slices of " + std::to_string(width) + " columns do not make " +
                               std::to_string(op.output.last()));
      // Slice j of the result comes from member j, whichever way it travels.
      std::vector<Matrix<Scalar>> slices(static_cast<std::size_t>(n));
      slices[static_cast<std::size_t>(i)] = buffer;
      if (options_.collectives == Collectives::mpi) {
        Matrix<Scalar> all(n * rows, width);
        counters_.bytes_sent += bytes(buffer);
        const int count = detail::message_count(buffer.size(), "an all-gather");
        detail::check_mpi(MPI_Allgather(buffer.data(), count, detail::datatype<Scalar>(),
                                        all.data(), count, detail::datatype<Scalar>(), comm),
                          "MPI_Allgather");
        for (int j = 0; j < n; ++j)
          slices[static_cast<std::size_t>(j)] = all.middleRows(j * rows, rows);
      } else {
        // Around the ring: at step s member i passes on slice i − s, which it got at step s − 1.
        for (int step = 0; step + 1 < n; ++step) {
          const auto out = static_cast<std::size_t>(numerics::detail::ring_mod(i - step, n));
          const auto into = static_cast<std::size_t>(numerics::detail::ring_mod(i - 1 - step, n));
          slices[into].resize(rows, width);
          sendrecv(comm, i, n, slices[out], slices[into]);
        }
      }
      Matrix<Scalar> whole(rows, op.output.last());
      for (int j = 0; j < n; ++j)
        whole.middleCols(j * width, width) = slices[static_cast<std::size_t>(j)];
      buffer = std::move(whole);
    });
  }

  /// One MPI_Alltoall in either collectives mode (a ring has nothing to add to an exchange):
  /// member i sends block j of its partials (numerics::all_to_all_block) to member j and
  /// assembles what it receives in member order, as the in-process backend does.
  std::vector<Placed<Scalar>> communicate(Vertex v, const Op& op, const step::AllToAll& c,
                                          const std::vector<Arrival<Scalar>>& in) {
    return collective(v, c, in, [&](MPI_Comm comm, int, int n, Matrix<Scalar>& buffer) {
      const std::int64_t batch = op.output[0];
      std::vector<Matrix<Scalar>> blocks;
      for (int j = 0; j < n; ++j)
        blocks.push_back(numerics::all_to_all_block<Scalar>(buffer, batch, n, j));
      const Eigen::Index block = blocks[0].size();
      Matrix<Scalar> packed(1, block * n), received(1, block * n);
      for (int j = 0; j < n; ++j)
        Eigen::Map<Matrix<Scalar>>(packed.data() + j * block, blocks[0].rows(), blocks[0].cols()) =
            blocks[static_cast<std::size_t>(j)];
      counters_.bytes_sent += bytes(packed);
      const int count = detail::message_count(block, "an all-to-all block");
      detail::check_mpi(MPI_Alltoall(packed.data(), count, detail::datatype<Scalar>(),
                                     received.data(), count, detail::datatype<Scalar>(), comm),
                        "MPI_Alltoall");
      for (int i = 0; i < n; ++i)
        blocks[static_cast<std::size_t>(i)] = Eigen::Map<const Matrix<Scalar>>(
            received.data() + i * block, blocks[0].rows(), blocks[0].cols());
      std::vector<const Matrix<Scalar>*> from;
      for (const Matrix<Scalar>& b : blocks)
        from.push_back(&b);
      buffer = numerics::all_to_all_assemble<Scalar>(from, batch);
    });
  }

private:
  const Dag& dag_;
  const Mesh& mesh_;
  MPI_Comm world_;
  MpiOptions options_;
  GroupCommunicators communicators_;
  std::int64_t rank_ = 0;
  std::int64_t tag_limit_ = 32768;
  CommunicationCounters counters_;

  /// Adds the time of a scope to the counters.
  struct Timer {
    explicit Timer(CommunicationCounters& c) : counters(c) {}
    ~Timer() {
      counters.seconds +=
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
    Timer(const Timer&) = delete;
    Timer& operator=(const Timer&) = delete;
    CommunicationCounters& counters;
    std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  };

  static std::int64_t bytes(const Matrix<Scalar>& m) {
    return static_cast<std::int64_t>(m.size() * sizeof(Scalar));
  }

  std::string describe(Vertex v) const {
    const Op& op = dag_[v];
    return std::to_string(v) + " (" + std::string(op_kind_name(op.kind())) + ", layer " +
           std::to_string(op.layer) + ")";
  }

  /// Sends `out` to member i + 1 and receives `into` from member i − 1 (one ring step).
  void sendrecv(MPI_Comm comm, int i, int n, const Matrix<Scalar>& out, Matrix<Scalar>& into) {
    counters_.bytes_sent += bytes(out);
    detail::check_mpi(MPI_Sendrecv(out.data(), detail::message_count(out.size(), "a ring step"),
                                   detail::datatype<Scalar>(), (i + 1) % n, 0, into.data(),
                                   detail::message_count(into.size(), "a ring step"),
                                   detail::datatype<Scalar>(), (i + n - 1) % n, 0, comm,
                                   MPI_STATUS_IGNORE),
                      "MPI_Sendrecv");
  }

  /// Member i's part of the ring reduce-scatter (collectives.hpp, same schedule): at each step it
  /// sends its running sum of one chunk on and adds the chunk member i − 1 sends to its own.
  void ring_reduce_scatter(MPI_Comm comm, int i, int n, std::int64_t shift,
                           Matrix<Scalar>& buffer) {
    for (std::int64_t step = 0; step + 1 < n; ++step) {
      const numerics::RingChunk out =
          numerics::ring_chunk(buffer.cols(), n, numerics::reduce_scatter_chunk(i, step, shift, n));
      const numerics::RingChunk in = numerics::ring_chunk(
          buffer.cols(), n, numerics::reduce_scatter_chunk(i - 1, step, shift, n));
      const Matrix<Scalar> sent = buffer.middleCols(out.begin, out.size);
      Matrix<Scalar> received(buffer.rows(), in.size);
      sendrecv(comm, i, n, sent, received);
      // The receiver's running sum plus the sender's share, as the in-memory ring adds them.
      buffer.middleCols(in.begin, in.size) += received;
    }
  }

  /// Member i's part of the ring all-gather: it passes each finished chunk on.
  void ring_all_gather(MPI_Comm comm, int i, int n, std::int64_t shift, Matrix<Scalar>& buffer) {
    for (std::int64_t step = 0; step + 1 < n; ++step) {
      const numerics::RingChunk out =
          numerics::ring_chunk(buffer.cols(), n, numerics::all_gather_chunk(i, step, shift, n));
      const numerics::RingChunk in =
          numerics::ring_chunk(buffer.cols(), n, numerics::all_gather_chunk(i - 1, step, shift, n));
      const Matrix<Scalar> sent = buffer.middleCols(out.begin, out.size);
      Matrix<Scalar> received(buffer.rows(), in.size);
      sendrecv(comm, i, n, sent, received);
      buffer.middleCols(in.begin, in.size) = received;
    }
  }

  /// Every member's (vertex, kind, elements) gathered over the group's communicator, within the
  /// timeout: the members must be at the same vertex before any data moves.
  void check_members(Vertex v, const step::Collective& c, MPI_Comm comm, int n,
                     std::int64_t elements) {
    const Op& op = dag_[v];
    const std::int64_t mine[3] = {static_cast<std::int64_t>(v),
                                  static_cast<std::int64_t>(op.kind()), elements};
    std::vector<std::int64_t> all(static_cast<std::size_t>(3 * n));
    std::vector<MPI_Request> request(1);
    detail::check_mpi(
        MPI_Iallgather(mine, 3, MPI_INT64_T, all.data(), 3, MPI_INT64_T, comm, &request[0]),
        "MPI_Iallgather");
    wait_all(request, options_.timeout_seconds,
             "waiting for the members of collective " + describe(v) + " (ranks " + members(c) +
                 ") to reach it: a member never called it");
    for (int j = 0; j < n; ++j) {
      const std::int64_t* theirs = &all[static_cast<std::size_t>(3 * j)];
      if (theirs[0] == mine[0] && theirs[1] == mine[1] && theirs[2] == mine[2])
        continue;
      const auto other = static_cast<Vertex>(theirs[0]);
      throw DistributedError(
          "helix: mpi: collective " + describe(v) + " on ranks " + members(c) + ": rank " +
          std::to_string(group_member(mesh_, c.group, j)) + " called it at vertex " +
          (theirs[0] >= 0 && other < boost::num_vertices(dag_) ? describe(other)
                                                               : std::to_string(theirs[0])) +
          " with " + std::to_string(theirs[2]) +
          " elements: the ranks do not run the same "
          "collectives in the same order (does a rank's DAG differ?)");
    }
  }

  std::string members(const step::Collective& c) const {
    std::string text;
    for (std::int64_t j = 0; j < group_size(mesh_, c.group); ++j)
      text += (j ? "," : "") + std::to_string(group_member(mesh_, c.group, j));
    return text;
  }

  /// This rank's part of collective `v`: its input (port = its member index), checked, handed to
  /// `algorithm` with its communicator, member index and group size, and left on this rank.
  template <class Algorithm>
  std::vector<Placed<Scalar>> collective(Vertex v, const step::Collective& c,
                                         const std::vector<Arrival<Scalar>>& in,
                                         Algorithm&& algorithm) {
    const Timer timer(counters_);
    const std::int64_t i = group_index(mesh_, c.group, rank_);
    if (in.size() != 1 || i < 0 || static_cast<std::int64_t>(in[0].port) != i)
      throw DistributedError("helix: mpi: collective " + describe(v) + ": rank " +
                             std::to_string(rank_) + " holds " + std::to_string(in.size()) +
                             " inputs, expected its own as member " + std::to_string(i));
    Matrix<Scalar> buffer = *in[0].value;
    std::vector<Placed<Scalar>> out;
    if (static_cast<std::int64_t>(v) == options_.skip_vertex) {
      out.push_back(Placed<Scalar>{rank_, std::move(buffer)});
      return out;
    }
    MPI_Comm comm = communicators_.of(c.group);
    int n = 0, position = 0;
    detail::check_mpi(MPI_Comm_size(comm, &n), "MPI_Comm_size");
    detail::check_mpi(MPI_Comm_rank(comm, &position), "MPI_Comm_rank");
    if (n != group_size(mesh_, c.group) || position != i)
      throw DistributedError("helix: mpi: the communicator of collective " + describe(v) + " has " +
                             std::to_string(n) + " ranks and this rank at " +
                             std::to_string(position) + "; its group has " +
                             std::to_string(group_size(mesh_, c.group)) + ", this rank at " +
                             std::to_string(i));
    if (options_.check_collectives)
      check_members(v, c, comm, n, buffer.size());
    ++counters_.collectives;
    algorithm(comm, static_cast<int>(i), n, buffer);
    out.push_back(Placed<Scalar>{rank_, std::move(buffer)});
    return out;
  }
};

} // namespace helix::distributed
