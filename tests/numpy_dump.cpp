// Writes the numerics dump (io::write_numerics_npy and model.json) of a model no preset covers
// on its own, so tests/numpy_reference.py can recompute it: `swiglu` (SwiGLU MLP, grouped-query
// attention, RMSNorm, no vocabulary), `vocab` (the same with a vocabulary: embedding, final norm,
// LM head) and `parallel` (GPT-J's parallel block, GELU, layernorm, with a vocabulary), each for
// tensor-parallel, hierarchical and pipelined plans. Usage: numpy_dump FOLDER swiglu|vocab|parallel
#include <helix/io/json.hpp>
#include <helix/io/npy.hpp>
#include <helix/plan.hpp>

#include <exception>
#include <filesystem>
#include <iostream>
#include <string_view>
#include <vector>

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: numpy_dump FOLDER swiglu|vocab|parallel\n";
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
    // 250 tokens padded to 256: padded rows exist and are never looked up.
    const helix::Model vocab = swiglu.with_vocab(250);
    const helix::Model parallel = swiglu.with_activation(helix::Activation::gelu)
                                      .with_norm(helix::Norm::layernorm)
                                      .with_kv_heads(8)
                                      .with_parallel_block(true)
                                      .with_vocab(250);
    const std::string_view which = argv[2];
    const helix::Model model = which == "swiglu" ? swiglu : which == "vocab" ? vocab : parallel;
    if (which != "swiglu" && which != "vocab" && which != "parallel") {
      std::cerr << "numpy_dump: unknown model '" << which << "'\n";
      return 2;
    }
    const std::vector<helix::PlanSpec> plans{
        helix::parse_plan("tp=4"), helix::parse_plan("pp=2,tg=2x2"), helix::parse_plan("tg=2x2")};
    const std::filesystem::path folder = argv[1];
    std::filesystem::create_directories(folder);
    static_cast<void>(helix::io::write_numerics_npy(folder, model, plans));
    helix::io::write_json_file(folder / "model.json", helix::io::npy_sizes_json(model, {}));
  } catch (const std::exception& error) {
    std::cerr << "numpy_dump: " << error.what() << '\n';
    return 1;
  }
}
