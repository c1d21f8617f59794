// A visit over an op's step that forgets one alternative must not compile: that is what makes a
// new step kind impossible to slip past an interpreter. HELIX_MISSING 0 handles every
// alternative (must compile); 1 leaves out step::Output.
#include "helix/graph/detail/overloaded.hpp"
#include "helix/graph/ops.hpp"
#include "helix/graph/steps.hpp"

int main() {
  const helix::Op op;
  using namespace helix::step;
  return helix::visit_step(
      op, helix::detail::overloaded {
        [](const Input&) { return 0; }, [](const KVCache&) { return 1; },
            [](const Norm&) { return 2; }, [](const QProjection&) { return 3; },
            [](const KProjection&) { return 4; }, [](const VProjection&) { return 5; },
            [](const KVAppend&) { return 6; }, [](const AttentionScores&) { return 7; },
            [](const Softmax&) { return 8; }, [](const AttentionContext&) { return 9; },
            [](const OutProjection&) { return 10; }, [](const ResidualAdd&) { return 11; },
            [](const Fc1&) { return 12; }, [](const GateProjection&) { return 20; },
            [](const Gelu&) { return 13; }, [](const SwiGlu&) { return 21; },
            [](const Fc2&) { return 14; }, [](const AllReduce&) { return 15; },
            [](const ReduceScatter&) { return 16; }, [](const AllGather&) { return 17; },
            [](const Transfer&) { return 18; }, [](const Embedding&) { return 22; },
            [](const ParallelSum&) { return 23; }, [](const LastToken&) { return 24; },
            [](const LmHead&) { return 25; }, [](const PartialAttention&) { return 26; },
            [](const LogSumExpMerge&) { return 27; }, [](const AllToAll&) { return 28; },
#if HELIX_MISSING == 0
            [](const Output&) { return 19; },
#endif
      });
}
