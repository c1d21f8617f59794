// A communication backend that lacks a communicate() for one communication step (a collective or
// transfer kind) must not compile into the DAG runner: that is what makes a new collective kind
// impossible to slip past a backend (the in-process rings, MPI). HELIX_MISSING 0 handles every
// communication step (must compile); 1 leaves out step::AllGather.
#include "helix/model/presets.hpp"
#include "helix/numerics/execute.hpp"
#include "helix/plan/parse.hpp"

#include <cstdint>
#include <vector>

namespace {

using helix::numerics::Arrival;
using helix::numerics::Placed;

struct Backend {
  bool is_local(std::int64_t) const { return true; }
  std::vector<Placed<double>> communicate(helix::Vertex, const helix::Op&,
                                          const helix::step::Transfer&,
                                          const std::vector<Arrival<double>>&) {
    return {};
  }
  std::vector<Placed<double>> communicate(helix::Vertex, const helix::Op&,
                                          const helix::step::AllReduce&,
                                          const std::vector<Arrival<double>>&) {
    return {};
  }
  std::vector<Placed<double>> communicate(helix::Vertex, const helix::Op&,
                                          const helix::step::ReduceScatter&,
                                          const std::vector<Arrival<double>>&) {
    return {};
  }
  std::vector<Placed<double>> communicate(helix::Vertex, const helix::Op&,
                                          const helix::step::AllToAll&,
                                          const std::vector<Arrival<double>>&) {
    return {};
  }
#if HELIX_MISSING == 0
  std::vector<Placed<double>> communicate(helix::Vertex, const helix::Op&,
                                          const helix::step::AllGather&,
                                          const std::vector<Arrival<double>>&) {
    return {};
  }
#endif
};

} // namespace

int main() {
  const helix::Dag dag = helix::build_dag(helix::models::helix_seed, helix::parse_plan("tp=2"));
  const helix::numerics::Weights<double> weights;
  const helix::numerics::Input<double> input;
  const helix::numerics::FullWeights<double> full(weights);
  const helix::numerics::FullInput<double> batch(
      boost::get_property(dag, boost::graph_bundle).model, input);
  Backend backend;
  return static_cast<int>(
      helix::numerics::run_dag<double>(dag, full, batch, backend).outputs.size());
}
