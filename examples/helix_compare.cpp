// helix_compare DIR ACTUAL_DIR: where does another sharded implementation stop computing what the
// plan should? DIR is a dump of `helix_deploy --dump-expected`; ACTUAL_DIR holds that
// implementation's tensors saved in the same layout (any subset). Prints the first op and device,
// in topological order, whose tensor differs beyond tolerance, with its error, placement and what
// feeds it, then how many differ and which were not given. Exit 0: every given tensor matches;
// 1: one differs; 2: bad input (a folder, index.json or .npy file that cannot be read).
#include <helix/io/compare_dump.hpp>

#include <CLI/CLI.hpp>

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace {

std::string scientific(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3g", value);
  return text;
}

std::string shape_text(const std::vector<std::int64_t>& shape) {
  std::string text = "[";
  for (std::size_t i = 0; i < shape.size(); ++i)
    text += (i ? "," : "") + std::to_string(shape[i]);
  return text + "]";
}

/// "sequence 3", "sequences 0–1" of the batch, from [begin, count].
std::string sequences_text(const std::vector<std::int64_t>& sequences) {
  if (sequences.size() != 2)
    return "sequences ?";
  if (sequences[1] == 1)
    return "sequence " + std::to_string(sequences[0]);
  return "sequences " + std::to_string(sequences[0]) + "–" +
         std::to_string(sequences[0] + sequences[1] - 1);
}

std::string dtype_name(const std::string& descr) {
  return descr == "<f4" ? "float32" : "float64";
}

/// "matches", "differs", "not given", or "not in the dump" for a name the index lacks.
std::string verdict_of(const helix::io::DumpComparison& c, const std::string& name) {
  const helix::io::OpComparison* op = c.find(name);
  if (!op)
    return "not in the dump";
  switch (op->verdict) {
  case helix::io::Verdict::missing:
    return "not given";
  case helix::io::Verdict::matches:
    return "matches";
  case helix::io::Verdict::differs:
    return "DIFFERS";
  }
  return "?";
}

/// Names joined by ", " with each one's verdict, "none" when empty.
std::string with_verdicts(const helix::io::DumpComparison& c,
                          const std::vector<std::string>& names) {
  if (names.empty())
    return "none";
  std::string text;
  for (const std::string& name : names)
    text += (text.empty() ? "" : ", ") + name + " (" + verdict_of(c, name) + ")";
  return text;
}

std::string error_text(const helix::io::OpComparison& c, const helix::io::IndexedOp& op) {
  if (c.shape_differs)
    return "shape " + shape_text(c.actual_shape) + " where " + shape_text(op.shape) +
           " is expected";
  return "max abs " + scientific(c.error.max_abs) + ", relative " +
         scientific(c.error.max_relative) + " (tolerance: relative " +
         scientific(c.tolerance.relative) + ", absolute " + scientific(c.tolerance.absolute) +
         "; " + dtype_name(c.actual_dtype) + ")";
}

void print(const helix::io::DumpComparison& c, bool list_all) {
  const helix::io::DumpIndex& index = c.index;
  std::cout << "expected: " << index.model << ", plan " << index.plan << ", " << index.ops.size()
            << " tensors on " << index.world_size << " devices\n";
  std::cout << "compared " << c.compared << " given tensors in topological order\n";
  if (c.first_difference) {
    const helix::io::IndexedOp& op = index.ops[*c.first_difference];
    const helix::io::OpComparison& first = c.ops[*c.first_difference];
    std::cout << "FIRST DIFFERENCE: " << op.name << " (" << op.file << ")\n";
    std::cout << "  error:     " << error_text(first, op) << '\n';
    std::cout << "  op:        " << op.holds << " on device " << op.device
              << (op.layer ? ", layer " + std::to_string(*op.layer) : std::string()) << ", "
              << sequences_text(op.sequences) << ", shape " << shape_text(op.shape) << '\n';
    std::cout << "  computes:  " << op.computes << '\n';
    std::cout << "  placement: " << op.placement << '\n';
    std::cout << "  fed by:    " << with_verdicts(c, op.producers) << '\n';
    std::cout << "  feeds:     " << with_verdicts(c, op.consumers) << '\n';
    std::cout << "differing: " << c.differing << " of " << c.compared << " compared tensors\n";
  } else {
    // How close the closest call was: the matching tensor with the largest relative error.
    std::size_t worst = 0;
    for (std::size_t i = 0; i < c.ops.size(); ++i)
      if (c.ops[i].verdict == helix::io::Verdict::matches &&
          (c.ops[worst].verdict != helix::io::Verdict::matches ||
           c.ops[i].error.max_relative > c.ops[worst].error.max_relative))
        worst = i;
    std::cout << "all " << c.compared << " given tensors match; the largest relative error is "
              << scientific(c.ops[worst].error.max_relative) << " (" << index.ops[worst].name
              << ", tolerance " << scientific(c.ops[worst].tolerance.relative) << ")\n";
  }
  if (list_all)
    for (std::size_t i = 0; i < index.ops.size(); ++i)
      if (c.ops[i].verdict == helix::io::Verdict::differs)
        std::cout << "  differs: " << index.ops[i].name << ": "
                  << error_text(c.ops[i], index.ops[i]) << '\n';
  if (c.missing > 0) {
    std::cout << "not given (not compared): " << c.missing << " tensors";
    std::size_t shown = 0;
    const std::size_t limit = list_all ? c.missing : 5;
    for (std::size_t i = 0; i < index.ops.size() && shown < limit; ++i)
      if (c.ops[i].verdict == helix::io::Verdict::missing)
        std::cout << (shown++ ? ", " : ": ") << index.ops[i].name;
    std::cout << (shown < c.missing ? ", ... (--all lists them)" : "") << '\n';
  }
  if (!c.unknown_files.empty()) {
    std::cout << "ignored: " << c.unknown_files.size()
              << " .npy files the dump does not list (misnamed?):";
    for (std::size_t i = 0; i < c.unknown_files.size() && (list_all || i < 5); ++i)
      std::cout << (i ? ", " : " ") << c.unknown_files[i];
    std::cout << '\n';
  }
}

} // namespace

int main(int argc, char** argv) {
  std::string expected, actual;
  std::optional<double> relative;
  double absolute = 0;
  bool list_all = false;
  CLI::App app{"helix_compare: the first op and device where a sharded implementation's tensors "
               "differ from helix's expected ones"};
  app.add_option("DIR", expected, "a dump written by helix_deploy --dump-expected")->required();
  app.add_option("ACTUAL_DIR", actual,
                 "the implementation's tensors in the same layout: ACTUAL_DIR/devDD/<op>.npy, "
                 "float64 or float32, any subset")
      ->required();
  app.add_option("--rtol", relative,
                 "relative tolerance, max|actual − expected| / max|expected| per tensor "
                 "(default: verify's for the model: 1e-12 for float64 files, 32·ε·√n·layers for "
                 "float32 files, from index.json)")
      ->check(CLI::NonNegativeNumber)
      ->option_text("X");
  app.add_option("--atol", absolute,
                 "absolute tolerance: a tensor within it matches whatever its relative error "
                 "(default: 0)")
      ->check(CLI::NonNegativeNumber)
      ->option_text("X");
  app.add_flag("--all", list_all, "list every differing and every missing tensor");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "helix_compare: " << e.what() << " (see --help)\n";
    return 2;
  }
  try {
    const helix::io::DumpComparison comparison =
        helix::io::compare_dump(expected, actual, {relative, absolute});
    print(comparison, list_all);
    return comparison.first_difference ? 1 : 0;
  } catch (const helix::io::DumpError& e) {
    std::cerr << "helix_compare: " << e.what() << '\n';
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "helix_compare: " << e.what() << '\n';
    return 2;
  }
}
