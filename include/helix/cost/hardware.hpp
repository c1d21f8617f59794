// What a device and its links can do: hardware presets as constexpr aggregates with every number a
// named field, and the mapping of mesh ranks to nodes that decides which link class (NVLink inside
// a node, InfiniBand across nodes) every collective phase and transfer of a Dag uses.
#pragma once

#include "helix/cost/collective_library.hpp"
#include "helix/graph/dag.hpp"
#include "helix/graph/ops.hpp"
#include "helix/model/data_type.hpp"
#include "helix/plan/device_group.hpp"
#include "helix/plan/mesh.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace helix::cost {

/// The two kinds of link a message can take, closest first.
enum class LinkClass : std::uint8_t { nvlink, infiniband };
inline constexpr std::size_t link_class_count = 2;

constexpr std::string_view link_class_name(LinkClass link) {
  constexpr std::array<std::string_view, link_class_count> names{"NVLink", "InfiniBand"};
  return names[static_cast<std::size_t>(link)];
}

/// One link class in the α-β model: a message of n bytes takes latency + n / (bandwidth ·
/// efficiency). Bandwidth is per GPU and per direction, because a ring step sends to one neighbour
/// while it receives from the other.
struct Link {
  double bandwidth_bytes_per_second = 0;
  /// Fraction of the nominal bandwidth a collective library reaches on large messages.
  double efficiency = 1;
  /// α: paid once per step of a ring algorithm (per message of a send/recv).
  double latency_seconds = 0;

  constexpr double effective_bandwidth() const { return bandwidth_bytes_per_second * efficiency; }

  friend constexpr bool operator==(const Link&, const Link&) = default;
};

/// Longest hardware name, in characters. Names live inside `Hardware` so that a hardware read from
/// a file is a plain value like a preset (copyable, comparable, constexpr); 63 characters hold
/// every preset's name with room to spare, and a file's longer name is refused naming the key.
inline constexpr std::size_t hardware_name_capacity = 63;

/// A hardware's name, held in the value itself rather than pointing at storage someone else owns.
class HardwareName {
public:
  constexpr HardwareName() = default;
  /// From a string literal, so presets and tests spell `.name = "h100_sxm_nvl8"`.
  template <std::size_t N>
  constexpr HardwareName(const char (&text)[N]) : HardwareName(std::string_view(text, N - 1)) {}
  /// @throws std::length_error past `hardware_name_capacity` characters (a compile error in a
  /// constant expression).
  constexpr explicit HardwareName(std::string_view text) {
    if (text.size() > hardware_name_capacity)
      throw std::length_error("helix: a hardware name has at most " +
                              std::to_string(hardware_name_capacity) + " characters");
    for (std::size_t i = 0; i < text.size(); ++i)
      characters_[i] = text[i];
    length_ = text.size();
  }

  constexpr std::string_view view() const { return {characters_.data(), length_}; }
  constexpr operator std::string_view() const { return view(); }

  friend constexpr bool operator==(const HardwareName& a, const HardwareName& b) {
    return a.view() == b.view();
  }
  friend constexpr bool operator==(const HardwareName& a, std::string_view b) {
    return a.view() == b;
  }

private:
  std::array<char, hardware_name_capacity> characters_{};
  std::size_t length_ = 0;
};

/// Dense (no 2:4 structured sparsity) peak FLOP/s of one GPU per data type: the rate of a matmul
/// whose operands are in that format. Datasheets quote sparse figures, twice these.
///
/// `fp32` is the plain FP32 (CUDA core) rate, not TF32 tensor cores: TF32 rounds operands to a
/// 10-bit mantissa, a different format from the fp32 a model declares, and PyTorch multiplies fp32
/// matrices in full FP32 unless told otherwise (`torch.backends.cuda.matmul.allow_tf32` is false
/// by default since 1.12). Who runs TF32 puts the TF32 figure in a hardware file.
/// Where a GPU has no tensor cores for a format (fp8 on A100, fp4 before Blackwell), the field
/// holds the rate of the next wider format it runs, as weight-only quantized kernels widen the
/// operands before the multiply; each preset says which.
struct PeakFlops {
  double fp32 = 0;
  double bf16 = 0;
  double fp16 = 0;
  double fp8 = 0;
  double fp4 = 0;

  /// The peak for matmuls in `type`.
  constexpr double of(DataType type) const {
    switch (type) {
    case DataType::fp32:
      return fp32;
    case DataType::bf16:
      return bf16;
    case DataType::fp16:
      return fp16;
    case DataType::fp8:
      return fp8;
    case DataType::fp4:
      return fp4;
    }
    return 0;
  }

  friend constexpr bool operator==(const PeakFlops&, const PeakFlops&) = default;
};

/// The output tile one thread block of a matmul kernel computes: a matmul's output is cut into
/// tiles, each tile runs on one streaming multiprocessor, and a partial tile costs a whole one.
struct GemmTile {
  std::int64_t rows = 128;
  std::int64_t cols = 128;
  friend constexpr bool operator==(const GemmTile&, const GemmTile&) = default;
};

/// A GPU and the links between GPUs. Ranks map to nodes in blocks of `gpus_per_node`, so the
/// innermost mesh axes (the tensor axes) land on NVLink first.
///
/// Fields that a default-constructed `Hardware` leaves alone describe an ideal machine (every
/// efficiency 1, no launch cost, no tile or wave loss, no NVLink SHARP); the presets set measured
/// values with their sources.
struct Hardware {
  HardwareName name;
  std::int64_t gpus_per_node = 8;
  /// Dense tensor-core peak per GPU for each data type; an op runs at the peak of the model's
  /// `dtype`.
  PeakFlops peak_flops_per_second{};
  /// Fraction of the peak a large matmul sustains (whole waves of whole tiles).
  double compute_efficiency = 1;
  /// Streaming multiprocessors: a matmul runs its tiles in waves of this many (0: no wave or tile
  /// loss, every matmul at `compute_efficiency`).
  std::int64_t streaming_multiprocessors = 0;
  GemmTile gemm_tile{};
  /// Fraction of the peak a fused (FlashAttention) kernel sustains on its FLOPs (what bounds a
  /// prefill's attention) ...
  double attention_efficiency = 1;
  /// ... and of the HBM bandwidth it sustains reading keys and values (what bounds decode's).
  double attention_memory_efficiency = 1;
  /// Time between the kernels of one stream that a kernel launch adds: host-side launch and
  /// dispatch, paid once per kernel.
  double kernel_launch_seconds = 0;
  /// Whether the runtime replays each step as a CUDA graph, which launches kernels from the GPU:
  /// then a kernel adds `graph_kernel_launch_seconds` instead.
  bool cuda_graphs = false;
  double graph_kernel_launch_seconds = 0;
  /// Host time of the serving runtime per forward step that no kernel accounts for (scheduling
  /// the batch, preparing inputs, sampling, synchronizing): added once to every step's makespan.
  /// No datasheet gives it; presets take it from calibration (0 where uncalibrated).
  double step_overhead_seconds = 0;
  double memory_bandwidth_bytes_per_second = 0;
  /// Fraction of the HBM bandwidth a streaming kernel sustains.
  double memory_efficiency = 1;
  double memory_capacity_bytes = 0;
  /// Network cards of a node for traffic between nodes (storage and management cards left out),
  /// and what each carries per direction. Today's cost model spreads them evenly over the node's
  /// GPUs: `infiniband.bandwidth_bytes_per_second` is `nics_per_node · nic_bandwidth /
  /// gpus_per_node` (see `nic_bandwidth_per_gpu`).
  std::int64_t nics_per_node = 8;
  double nic_bandwidth_bytes_per_second = 0;
  Link nvlink{};
  Link infiniband{};
  /// NVLink SHARP (NVLS): the fraction of the NVLink bus bandwidth the switch's in-network
  /// reduction reaches (NCCL's `nvlsEfficiency`: Hopper 0.85, Blackwell 0.74); 0 where the switch
  /// has none (A100's NVSwitch), which leaves NVLS algorithms out.
  double nvlink_sharp_efficiency = 0;
  /// NCCL's ceiling on the LL protocol's bus bandwidth inside one node (`llMaxBws`: Ampere
  /// 87.7 GB/s, Hopper 141, Blackwell 282); 0: no ceiling.
  double ll_max_bus_bandwidth_bytes_per_second = 0;
  /// The collective library's latencies and protocol constants.
  CollectiveLibrary collective_library = nccl;

  friend constexpr bool operator==(const Hardware&, const Hardware&) = default;

  constexpr double peak_flops(DataType type) const { return peak_flops_per_second.of(type); }
  constexpr double effective_flops(DataType type) const {
    return peak_flops(type) * compute_efficiency;
  }
  constexpr double effective_memory_bandwidth() const {
    return memory_bandwidth_bytes_per_second * memory_efficiency;
  }
  constexpr const Link& link(LinkClass c) const {
    return c == LinkClass::nvlink ? nvlink : infiniband;
  }
};

/// What the node's NICs give each of its GPUs per direction when all GPUs send at once: the value
/// `infiniband.bandwidth_bytes_per_second` must hold.
///
/// Example: DGX H100, 8 × 400 Gb/s ConnectX-7 for 8 GPUs: 8 · 50 GB/s / 8 = 50 GB/s.
constexpr double nic_bandwidth_per_gpu(std::int64_t gpus_per_node, std::int64_t nics_per_node,
                                       double nic_bandwidth_bytes_per_second) {
  return static_cast<double>(nics_per_node) * nic_bandwidth_bytes_per_second /
         static_cast<double>(gpus_per_node);
}
constexpr double nic_bandwidth_per_gpu(const Hardware& hw) {
  return nic_bandwidth_per_gpu(hw.gpus_per_node, hw.nics_per_node,
                               hw.nic_bandwidth_bytes_per_second);
}

/// `hw` with the InfiniBand bandwidth its NICs give each GPU, so a preset states its NICs once.
constexpr Hardware with_infiniband_from_nics(Hardware hw) {
  hw.infiniband.bandwidth_bytes_per_second = nic_bandwidth_per_gpu(hw);
  return hw;
}

namespace hardware {

/// Efficiencies shared by every preset, for want of measurements per GPU generation: compute 0.7
/// (large BF16 GEMMs reach 650–750 of H100's 989 TFLOP/s; Megatron-LM reports 0.5–0.6 of peak end
/// to end), HBM 0.8 (STREAM-like kernels), NVLink 0.75 (NCCL all-reduce bus bandwidth ≈ 340 of
/// 450 GB/s on H100), InfiniBand 0.9 (NCCL reaches ≈ 45 of 50 GB/s per NIC).
inline constexpr double typical_compute_efficiency = 0.7;
inline constexpr double typical_memory_efficiency = 0.8;
inline constexpr double typical_nvlink_efficiency = 0.75;
inline constexpr double typical_infiniband_efficiency = 0.9;
/// Latencies per ring step: NVLink 3 µs, InfiniBand 6 µs (NCCL small-message latencies).
inline constexpr double nvlink_step_latency_seconds = 3e-6;
inline constexpr double infiniband_step_latency_seconds = 6e-6;

/// FlashAttention kernels on their FLOPs: FlashAttention-2 reaches 50–73% of A100's dense peak in
/// the forward pass (Dao 2023, "FlashAttention-2", Fig. 4), FlashAttention-3 up to 75% of H100's
/// BF16 peak (Shah et al. 2024); 0.6 sits between short and long sequences.
inline constexpr double typical_attention_efficiency = 0.6;
/// FlashAttention decode kernels (split-KV, "Flash-Decoding") stream the KV cache as any
/// bandwidth-bound kernel streams its operands: the HBM efficiency of streaming kernels until a
/// calibration says otherwise.
inline constexpr double typical_attention_memory_efficiency = typical_memory_efficiency;
/// Kernel launch gap: short kernels issued back to back from a stream take 3.8 µs each for 2.9 µs
/// of work, 3.4 µs when replayed from a CUDA graph (NVIDIA Technical Blog, "Getting Started with
/// CUDA Graphs", 2019): about 1 µs per launch from a stream, 0.5 µs from a graph.
inline constexpr double stream_kernel_launch_seconds = 1e-6;
inline constexpr double graph_kernel_launch_seconds = 0.5e-6;
/// NCCL's NVLS efficiency (`nvlsEfficiency` in src/graph/tuning.cc): Hopper 0.85, Blackwell 0.74.
inline constexpr double hopper_nvlink_sharp_efficiency = 0.85;
inline constexpr double blackwell_nvlink_sharp_efficiency = 0.74;
/// NCCL's LL ceiling inside a node (`llMaxBws[compCap][0]`): Ampere 87.7 GB/s, Hopper 141,
/// Blackwell 282.
inline constexpr double ampere_ll_max_bus_bandwidth = 87.7e9;
inline constexpr double hopper_ll_max_bus_bandwidth = 141e9;
inline constexpr double blackwell_ll_max_bus_bandwidth = 282e9;

/// Hopper (H100, and H200 on the same GH100 chip and software) fitted to TensorRT-LLM's published
/// single-GPU H100 FP8 measurements (benchmarks/validation/trtllm_small.json: 8 throughput rows,
/// v0.6.1, and 4 first-token latencies, v0.5) by `helix_deploy --calibrate
/// benchmarks/validation/trtllm_small.json --hardware h100_sxm_nvl8 --fit compute_efficiency,
/// memory_efficiency,attention_efficiency,attention_memory_efficiency,kernel_launch_seconds,
/// step_overhead_seconds` from the typical values above: median |error| 7.9% → 7.0%, max 61.4% →
/// 10.1%. Both memory efficiencies end at their 0.95 bound and the launch at its 0.2 µs bound:
/// decode streams faster than the model's bytes allow, and the batch-1 first tokens (v0.5) take
/// longer than their kernels, which the step overhead (4.3 ms) absorbs.
inline constexpr double hopper_fitted_compute_efficiency = 0.574;
inline constexpr double hopper_fitted_memory_efficiency = 0.95;
inline constexpr double hopper_fitted_attention_efficiency = 0.2123;
inline constexpr double hopper_fitted_attention_memory_efficiency = 0.95;
inline constexpr double hopper_fitted_kernel_launch_seconds = 0.2e-6;
inline constexpr double hopper_fitted_step_overhead_seconds = 4.311e-3;
/// Ampere fitted to TensorRT-LLM's A100 FP16 first-token latencies (the same file's 4 rows, v0.5)
/// by `--calibrate ... --hardware a100_sxm4_80gb_nvl8 --fit compute_efficiency,memory_efficiency,
/// step_overhead_seconds` (four measurements fit three parameters; the others keep the typical
/// values): median |error| 13.9% → 6.7%, max 41.2% → 7.9%; the step overhead fits to 0.
inline constexpr double ampere_fitted_compute_efficiency = 0.7083;
inline constexpr double ampere_fitted_memory_efficiency = 0.4954;

/// A 400 Gb/s NIC/// A 400 Gb/s NIC (ConnectX-7 NDR) carries 50 GB/s per direction; 200 Gb/s
/// (ConnectX-6 HDR) 25.
inline constexpr double ndr_400_nic_bytes_per_second = 400e9 / 8;
inline constexpr double hdr_200_nic_bytes_per_second = 200e9 / 8;

/// DGX/HGX H100 SXM5 (NVIDIA H100 datasheet; figures there are with sparsity, halved here): dense
/// BF16 and FP16 989 TFLOP/s, FP8 1979, plain FP32 67 (TF32 tensor cores: 494.7); Hopper has no
/// FP4 tensor cores, so fp4 runs at the FP8 rate (FP4 weights widened to FP8, as W4A8 kernels do).
/// HBM3 80 GB at 3.35 TB/s. 8 GPUs per node on NVLink 4 (900 GB/s bidirectional = 450 GB/s per
/// direction); DGX H100 has 8 single-port 400 Gb/s ConnectX-7 NICs for the compute fabric (DGX
/// BasePOD reference architecture), one per GPU. 132 SMs (H100 SXM5); NVSwitch 3 has NVLink SHARP.
inline constexpr Hardware h100_sxm_nvl8 = with_infiniband_from_nics({
    .name = "h100_sxm_nvl8",
    .gpus_per_node = 8,
    .peak_flops_per_second =
        {.fp32 = 67e12, .bf16 = 989e12, .fp16 = 989e12, .fp8 = 1979e12, .fp4 = 1979e12},
    .compute_efficiency = hopper_fitted_compute_efficiency,
    .streaming_multiprocessors = 132,
    .gemm_tile = {.rows = 128, .cols = 128},
    .attention_efficiency = hopper_fitted_attention_efficiency,
    .attention_memory_efficiency = hopper_fitted_attention_memory_efficiency,
    .kernel_launch_seconds = hopper_fitted_kernel_launch_seconds,
    .cuda_graphs = false,
    .graph_kernel_launch_seconds = graph_kernel_launch_seconds,
    .step_overhead_seconds = hopper_fitted_step_overhead_seconds,
    .memory_bandwidth_bytes_per_second = 3.35e12,
    .memory_efficiency = hopper_fitted_memory_efficiency,
    .memory_capacity_bytes = 80e9,
    .nics_per_node = 8,
    .nic_bandwidth_bytes_per_second = ndr_400_nic_bytes_per_second,
    .nvlink = {.bandwidth_bytes_per_second = 450e9,
               .efficiency = typical_nvlink_efficiency,
               .latency_seconds = nvlink_step_latency_seconds},
    .infiniband = {.efficiency = typical_infiniband_efficiency,
                   .latency_seconds = infiniband_step_latency_seconds},
    .nvlink_sharp_efficiency = hopper_nvlink_sharp_efficiency,
    .ll_max_bus_bandwidth_bytes_per_second = hopper_ll_max_bus_bandwidth,
});

/// DGX/HGX H200: the H100's GH100 compute (NVIDIA H200 datasheet: same tensor-core figures) with
/// HBM3e 141 GB at 4.8 TB/s; NVLink 4 at 900 GB/s bidirectional; DGX H200 has the DGX H100's
/// 8 × 400 Gb/s ConnectX-7 (DGX BasePOD reference architecture). 132 SMs; NVLink SHARP as H100.
inline constexpr Hardware h200_sxm_nvl8 = [] {
  // Everything but the memory is the H100's: the same chip, NVLink, NICs and calibration.
  Hardware hw = h100_sxm_nvl8;
  hw.name = "h200_sxm_nvl8";
  hw.memory_bandwidth_bytes_per_second = 4.8e12;
  hw.memory_capacity_bytes = 141e9;
  return hw;
}();

/// DGX/HGX A100 SXM4 80GB (NVIDIA A100 datasheet): dense BF16 and FP16 312 TFLOP/s, plain FP32
/// 19.5 (TF32 tensor cores: 156). Ampere has no FP8 or FP4 tensor cores: fp8 and fp4 weights are
/// widened to 16 bits before the multiply (weight-only quantization), so both run at the BF16
/// rate. HBM2e 80 GB at 2.039 TB/s. NVLink 3 at 600 GB/s bidirectional = 300 GB/s per direction;
/// DGX A100 has 8 single-port 200 Gb/s HDR ConnectX-6 NICs for the compute fabric. 108 SMs;
/// NVSwitch 2 has no NVLink SHARP.
inline constexpr Hardware a100_sxm4_80gb_nvl8 = with_infiniband_from_nics({
    .name = "a100_sxm4_80gb_nvl8",
    .gpus_per_node = 8,
    .peak_flops_per_second =
        {.fp32 = 19.5e12, .bf16 = 312e12, .fp16 = 312e12, .fp8 = 312e12, .fp4 = 312e12},
    .compute_efficiency = ampere_fitted_compute_efficiency,
    .streaming_multiprocessors = 108,
    .gemm_tile = {.rows = 128, .cols = 128},
    .attention_efficiency = typical_attention_efficiency,
    .attention_memory_efficiency = typical_attention_memory_efficiency,
    .kernel_launch_seconds = stream_kernel_launch_seconds,
    .cuda_graphs = false,
    .graph_kernel_launch_seconds = graph_kernel_launch_seconds,
    .memory_bandwidth_bytes_per_second = 2.039e12,
    .memory_efficiency = ampere_fitted_memory_efficiency,
    .memory_capacity_bytes = 80e9,
    .nics_per_node = 8,
    .nic_bandwidth_bytes_per_second = hdr_200_nic_bytes_per_second,
    .nvlink = {.bandwidth_bytes_per_second = 300e9,
               .efficiency = typical_nvlink_efficiency,
               .latency_seconds = nvlink_step_latency_seconds},
    .infiniband = {.efficiency = typical_infiniband_efficiency,
                   .latency_seconds = infiniband_step_latency_seconds},
    .nvlink_sharp_efficiency = 0,
    .ll_max_bus_bandwidth_bytes_per_second = ampere_ll_max_bus_bandwidth,
});

/// GB200 NVL72: 72 Blackwell GPUs in one NVLink 5 domain (1.8 TB/s bidirectional = 900 GB/s per
/// direction per GPU). Per GPU, the rack's figures (NVIDIA GB200 NVL72 specifications, with
/// sparsity: FP4 1,440 PFLOP/s, FP8 720, BF16 and FP16 360) over 72 and halved: dense FP4
/// 10 PFLOP/s, FP8 5, BF16 and FP16 2.5; plain FP32 80 TFLOP/s (5,760 TFLOP/s per rack at launch;
/// later revisions list 6,480, i.e. 90); TF32 tensor cores 1.25 PFLOP/s. HBM3e 186 GB and
/// 8 TB/s per GPU (13.4 TB and 576 TB/s per rack). Each compute tray of 4 GPUs has 4 × 400 Gb/s
/// ConnectX-7 for the fabric between racks: 72 NICs per NVLink domain, one per GPU. 148 SMs per
/// B200 (two dies of 74); NVLink 5 switches have NVLink SHARP.
inline constexpr Hardware gb200_nvl72 = with_infiniband_from_nics({
    .name = "gb200_nvl72",
    .gpus_per_node = 72,
    .peak_flops_per_second =
        {.fp32 = 80e12, .bf16 = 2.5e15, .fp16 = 2.5e15, .fp8 = 5e15, .fp4 = 10e15},
    .compute_efficiency = typical_compute_efficiency,
    .streaming_multiprocessors = 148,
    .gemm_tile = {.rows = 128, .cols = 128},
    .attention_efficiency = typical_attention_efficiency,
    .attention_memory_efficiency = typical_attention_memory_efficiency,
    .kernel_launch_seconds = stream_kernel_launch_seconds,
    .cuda_graphs = false,
    .graph_kernel_launch_seconds = graph_kernel_launch_seconds,
    .memory_bandwidth_bytes_per_second = 8e12,
    .memory_efficiency = typical_memory_efficiency,
    .memory_capacity_bytes = 186e9,
    .nics_per_node = 72,
    .nic_bandwidth_bytes_per_second = ndr_400_nic_bytes_per_second,
    .nvlink = {.bandwidth_bytes_per_second = 900e9,
               .efficiency = typical_nvlink_efficiency,
               .latency_seconds = nvlink_step_latency_seconds},
    .infiniband = {.efficiency = typical_infiniband_efficiency,
                   .latency_seconds = infiniband_step_latency_seconds},
    .nvlink_sharp_efficiency = blackwell_nvlink_sharp_efficiency,
    .ll_max_bus_bandwidth_bytes_per_second = blackwell_ll_max_bus_bandwidth,
});

inline constexpr std::array<Hardware, 4> all{a100_sxm4_80gb_nvl8, h100_sxm_nvl8, h200_sxm_nvl8,
                                             gb200_nvl72};

/// The preset called `name`, or nullptr.
constexpr const Hardware* by_name(std::string_view name) {
  for (const Hardware& hw : all)
    if (hw.name == name)
      return &hw;
  return nullptr;
}

/// The presets' names, comma separated, for messages and help text.
inline std::string names() {
  std::string text;
  for (const Hardware& hw : all)
    text += (text.empty() ? "" : ", ") + std::string(hw.name);
  return text;
}

} // namespace hardware

/// The node (NVLink domain) that holds mesh rank `rank`.
constexpr std::int64_t node_of(const Hardware& hw, std::int64_t rank) {
  return rank / hw.gpus_per_node;
}

/// The link class between two ranks.
constexpr LinkClass link_between(const Hardware& hw, std::int64_t a, std::int64_t b) {
  return node_of(hw, a) == node_of(hw, b) ? LinkClass::nvlink : LinkClass::infiniband;
}

/// The slowest link a ring over `group` uses: a ring over members on several nodes has to cross
/// between nodes, and every step of the ring waits for its slowest hop.
constexpr LinkClass link_of(const Hardware& hw, const Mesh& mesh, const DeviceGroup& group) {
  const std::int64_t n = group_size(mesh, group);
  const std::int64_t first = group_member(mesh, group, 0);
  for (std::int64_t i = 1; i < n; ++i)
    if (link_between(hw, first, group_member(mesh, group, i)) == LinkClass::infiniband)
      return LinkClass::infiniband;
  return LinkClass::nvlink;
}

/// The link class a communication vertex uses (NVLink for compute vertices, which use none).
constexpr LinkClass link_of(const Hardware& hw, const Mesh& mesh, const Op& op) {
  if (const step::Collective* c = collective_of(op))
    return link_of(hw, mesh, c->group);
  if (const step::Transfer* t = transfer_of(op))
    return link_between(hw, t->source, t->destination);
  return LinkClass::nvlink;
}

} // namespace helix::cost
