// A Dag as an SPMD program: every MPI rank builds the same Dag, walks the one execution order and
// runs the vertices it takes part in, with only its own weight slices drawn; then the outputs and
// each rank's measurements (time, bytes held, peak memory) are gathered on one rank to verify.
#pragma once

#include "helix/distributed/mpi_communication.hpp"
#include "helix/graph/dag.hpp"
#include "helix/numerics/execute.hpp"
#include "helix/numerics/local_share.hpp"
#include "helix/numerics/weights.hpp"

#include <mpi.h>
#include <sys/resource.h>

#include <array>
#include <chrono>
#include <concepts>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace helix::distributed {

/// What one rank held and spent. Plain numbers, so ranks can gather them as bytes.
struct RankReport {
  std::int64_t rank = 0;
  std::int64_t vertices = 0;     ///< vertices this rank took part in
  std::int64_t weight_bytes = 0; ///< its weight slices and norm parameters
  std::int64_t cache_bytes = 0;  ///< decode: the KV cache it drew
  /// Most bytes of tensors (activations, received buffers) live at once during the run.
  std::int64_t peak_tensor_bytes = 0;
  /// The process's peak resident memory after the run (getrusage: code, MPI buffers, the Dag,
  /// weights, tensors).
  std::int64_t peak_rss_bytes = 0;
  std::int64_t collectives = 0, transfers = 0, bytes_sent = 0;
  double setup_seconds = 0;         ///< drawing its weights (and decode cache)
  double run_seconds = 0;           ///< running its vertices, from a common start
  double communication_seconds = 0; ///< of which in communication, waits included
};

template <std::floating_point Scalar>
struct RankRun {
  /// The outputs of the output vertices on this rank's device (no per-layer copies).
  numerics::Execution<Scalar> execution;
  RankReport report;
};

/// The process's peak resident set size in bytes (Linux reports ru_maxrss in KiB).
inline std::int64_t peak_rss_bytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<std::int64_t>(usage.ru_maxrss) * 1024;
}

/// Waits for every rank of `world` (a barrier within the timeout), naming `what` on timeout.
inline void barrier(MPI_Comm world, double timeout_seconds, const std::string& what) {
  std::vector<MPI_Request> request(1);
  detail::check_mpi(MPI_Ibarrier(world, &request[0]), "MPI_Ibarrier");
  wait_all(request, timeout_seconds, what);
}

/// Runs this rank's share of `dag`: draws the weight slices and input its compute ops need
/// (`LocalWeights`, `LocalInput`), then runs its vertices in `execution_order(dag)` with the MPI
/// backend. Every rank of `world` must call it with the same Dag; world rank r is device r.
/// @throws DistributedError when the world's size is not the Dag's mesh size, on an MPI error,
/// a timeout or members that disagree about a collective; std::logic_error naming the vertex
/// when the Dag cannot run.
template <std::floating_point Scalar>
RankRun<Scalar> run_rank(const Dag& dag, MPI_Comm world, const MpiOptions& options = {},
                         std::uint64_t seed = numerics::default_seed) {
  int rank = 0, size = 0;
  detail::check_mpi(MPI_Comm_rank(world, &rank), "MPI_Comm_rank");
  detail::check_mpi(MPI_Comm_size(world, &size), "MPI_Comm_size");
  const Mesh& mesh = boost::get_property(dag, boost::graph_bundle).mesh;
  if (size != mesh.size())
    throw DistributedError("helix: mpi: the plan's world size is " + std::to_string(mesh.size()) +
                           " devices, but " + std::to_string(size) + " ranks run it");
  const auto is_local = [rank](std::int64_t device) { return device == rank; };
  const std::vector<Vertex> order = numerics::execution_order(dag);
  RankRun<Scalar> result;
  RankReport& report = result.report;
  report.rank = rank;

  auto start = std::chrono::steady_clock::now();
  const numerics::LocalWeights<Scalar> weights(dag, is_local, seed);
  const numerics::LocalInput<Scalar> input(dag, is_local, seed);
  report.setup_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  report.weight_bytes = weights.bytes();
  report.cache_bytes = input.cache_bytes();

  MpiCommunication<Scalar> communication(dag, order, world, options);
  barrier(world, options.timeout_seconds, "waiting for every rank to draw its weights");
  start = std::chrono::steady_clock::now();
  numerics::DagRunner<Scalar, numerics::LocalWeights<Scalar>, numerics::LocalInput<Scalar>,
                      MpiCommunication<Scalar>>
      runner(dag, weights, input, communication,
             numerics::RunOptions{.record_layer_outputs = false});
  result.execution = runner.run(order);
  report.run_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  report.vertices = static_cast<std::int64_t>(runner.vertices_run());
  report.peak_tensor_bytes = runner.peak_live_bytes();
  report.peak_rss_bytes = peak_rss_bytes();
  const CommunicationCounters& counters = communication.counters();
  report.collectives = counters.collectives;
  report.transfers = counters.transfers_sent + counters.transfers_received;
  report.bytes_sent = counters.bytes_sent;
  report.communication_seconds = counters.seconds;
  barrier(world, options.timeout_seconds,
          "waiting for every rank to finish its vertices (a rank is stuck or failed)");
  return result;
}

/// Every rank's report, on `root` (empty elsewhere), in rank order.
inline std::vector<RankReport> gather_reports(const RankReport& mine, MPI_Comm world,
                                              int root = 0) {
  int rank = 0, size = 0;
  detail::check_mpi(MPI_Comm_rank(world, &rank), "MPI_Comm_rank");
  detail::check_mpi(MPI_Comm_size(world, &size), "MPI_Comm_size");
  std::vector<RankReport> all(rank == root ? static_cast<std::size_t>(size) : 0);
  detail::check_mpi(MPI_Gather(&mine, sizeof(RankReport), MPI_BYTE, all.data(), sizeof(RankReport),
                               MPI_BYTE, root, world),
                    "MPI_Gather of the rank reports");
  return all;
}

/// Every rank's output tensors, on `root` (empty elsewhere), rank by rank.
template <std::floating_point Scalar>
std::vector<numerics::SequenceTensor<Scalar>>
gather_outputs(const std::vector<numerics::SequenceTensor<Scalar>>& mine, MPI_Comm world,
               int root = 0) {
  int rank = 0, size = 0;
  detail::check_mpi(MPI_Comm_rank(world, &rank), "MPI_Comm_rank");
  detail::check_mpi(MPI_Comm_size(world, &size), "MPI_Comm_size");
  constexpr int fields = 8;
  std::vector<std::int64_t> headers;
  std::vector<Scalar> values;
  for (const numerics::SequenceTensor<Scalar>& t : mine) {
    headers.insert(headers.end(), {t.layer, t.device, t.replica, t.microbatch, t.batch_begin,
                                   t.sequences, static_cast<std::int64_t>(t.value->rows()),
                                   static_cast<std::int64_t>(t.value->cols())});
    values.insert(values.end(), t.value->data(), t.value->data() + t.value->size());
  }
  const std::array<int, 2> counts{detail::message_count(std::ssize(headers), "output headers"),
                                  detail::message_count(std::ssize(values), "this rank's outputs")};
  std::vector<int> all_counts(rank == root ? 2 * static_cast<std::size_t>(size) : 0);
  detail::check_mpi(
      MPI_Gather(counts.data(), 2, MPI_INT, all_counts.data(), 2, MPI_INT, root, world),
      "MPI_Gather of the output sizes");
  std::vector<int> header_counts, value_counts, header_offsets, value_offsets;
  std::int64_t header_total = 0, value_total = 0;
  for (int r = 0; rank == root && r < size; ++r) {
    header_counts.push_back(all_counts[2 * static_cast<std::size_t>(r)]);
    value_counts.push_back(all_counts[2 * static_cast<std::size_t>(r) + 1]);
    header_offsets.push_back(detail::message_count(header_total, "every rank's output headers"));
    value_offsets.push_back(detail::message_count(value_total, "every rank's outputs"));
    header_total += header_counts.back();
    value_total += value_counts.back();
  }
  std::vector<std::int64_t> all_headers(static_cast<std::size_t>(header_total));
  std::vector<Scalar> all_values(static_cast<std::size_t>(value_total));
  detail::check_mpi(MPI_Gatherv(headers.data(), counts[0], MPI_INT64_T, all_headers.data(),
                                header_counts.data(), header_offsets.data(), MPI_INT64_T, root,
                                world),
                    "MPI_Gatherv of the output headers");
  detail::check_mpi(MPI_Gatherv(values.data(), counts[1], detail::datatype<Scalar>(),
                                all_values.data(), value_counts.data(), value_offsets.data(),
                                detail::datatype<Scalar>(), root, world),
                    "MPI_Gatherv of the outputs");
  std::vector<numerics::SequenceTensor<Scalar>> gathered;
  std::size_t at = 0;
  for (std::size_t h = 0; h + fields <= all_headers.size(); h += fields) {
    const std::int64_t* f = &all_headers[h];
    numerics::SequenceTensor<Scalar> t{f[0], f[1], f[2], f[3], f[4], f[5], {}};
    t.value = std::make_shared<const numerics::Matrix<Scalar>>(
        Eigen::Map<const numerics::Matrix<Scalar>>(all_values.data() + at, f[6], f[7]));
    at += static_cast<std::size_t>(f[6] * f[7]);
    gathered.push_back(std::move(t));
  }
  return gathered;
}

} // namespace helix::distributed
