// Compile-time baseline: only the third-party headers helix builds on, each used once so a few of
// their templates instantiate. helix.hpp's include cost is compared with this TU's.
#include <Eigen/Dense>
#include <boost/graph/adjacency_list.hpp>
#include <boost/graph/topological_sort.hpp>

#include <iterator>
#include <vector>

double baseline_eigen(const Eigen::MatrixXd& a) {
  return a.sum();
}

std::size_t baseline_boost() {
  boost::adjacency_list<boost::vecS, boost::vecS, boost::directedS> g(3);
  boost::add_edge(0, 1, g);
  boost::add_edge(1, 2, g);
  std::vector<std::size_t> order;
  boost::topological_sort(g, std::back_inserter(order));
  return order.size();
}
