// Writes the numerics dump (io::write_numerics_npy and model.json) of a model no preset has yet:
// a SwiGLU MLP with grouped-query attention and RMSNorm, for tensor-parallel and hierarchical
// plans, so tests/numpy_reference.py can recompute it. Usage: numpy_dump FOLDER
#include <helix/io/json.hpp>
#include <helix/io/npy.hpp>
#include <helix/plan.hpp>

#include <exception>
#include <filesystem>
#include <iostream>
#include <vector>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: numpy_dump FOLDER\n";
    return 2;
  }
  try {
    const helix::Model swiglu{.layers = 2,
                              .hidden = 64,
                              .heads = 8,
                              .kv_heads = 2,
                              .head_dim = 8,
                              .ffn_hidden = 256,
                              .batch = 2,
                              .seq_len = 16,
                              .norm = helix::Norm::rmsnorm,
                              .activation = helix::Activation::swiglu};
    const std::vector<helix::PlanSpec> plans{helix::parse_plan("tp=4"),
                                             helix::parse_plan("pp=2,tg=2x2")};
    const std::filesystem::path folder = argv[1];
    std::filesystem::create_directories(folder);
    static_cast<void>(helix::io::write_numerics_npy(folder, swiglu, plans));
    helix::io::write_json_file(folder / "model.json", helix::io::npy_sizes_json(swiglu, {}));
  } catch (const std::exception& error) {
    std::cerr << "numpy_dump: " << error.what() << '\n';
    return 1;
  }
}
