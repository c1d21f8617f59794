// How KV-parallel decode deals the KV cache to its shards: contiguous blocks, or fixed-size chunks
// round robin (NVIDIA's Helix appends new tokens in 16-token chunks so the shards stay balanced
// while the cache grows). Plain constexpr arithmetic shared by the rules, the lowering (shard
// shapes), the executor (which cached rows a shard reads) and the cost model.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace helix {

enum class KVLayout : std::uint8_t { contiguous, interleaved };

constexpr std::string_view kv_layout_name(KVLayout layout) {
  return layout == KVLayout::contiguous ? "contiguous" : "interleaved";
}

/// The workload's KV placement: `contiguous` gives shard k of K the cached positions
/// [⌊k·n/K⌋, ⌊(k+1)·n/K⌋) and appends new tokens to the last shard; `interleaved` deals
/// `chunk`-token chunks round robin (position p on shard ⌊p / chunk⌋ mod K), new tokens included.
/// Numerically the two are the same (the merge is exact); they differ in balance.
struct KVPlacement {
  KVLayout layout = KVLayout::contiguous;
  /// Tokens per chunk of the interleaved layout; Helix's default is 16 (Bhatia et al. 2025, §3).
  std::int64_t chunk = 16;
  friend constexpr bool operator==(const KVPlacement&, const KVPlacement&) = default;
};

/// The placement `text` names: "contiguous", or "interleaved:N" with N a whole number from 1 to
/// 10^9; nothing for anything else.
constexpr std::optional<KVPlacement> kv_placement_named(std::string_view text) {
  if (text == "contiguous")
    return KVPlacement{KVLayout::contiguous, KVPlacement{}.chunk};
  constexpr std::string_view prefix = "interleaved:";
  if (!text.starts_with(prefix) || text.size() == prefix.size() || text.size() > prefix.size() + 10)
    return std::nullopt;
  std::int64_t chunk = 0;
  for (char c : text.substr(prefix.size())) {
    if (c < '0' || c > '9')
      return std::nullopt;
    chunk = chunk * 10 + (c - '0');
  }
  if (chunk < 1 || chunk > 1'000'000'000)
    return std::nullopt;
  return KVPlacement{KVLayout::interleaved, chunk};
}

/// "contiguous" or "interleaved:16": what `kv_placement_named` reads.
inline std::string to_string(const KVPlacement& placement) {
  return placement.layout == KVLayout::contiguous
             ? std::string("contiguous")
             : "interleaved:" + std::to_string(placement.chunk);
}

/// Shard `index` of `count` under a placement: which positions of a cache of `n` cached tokens it
/// holds, and whether the new token at position n lands on it.
///
/// Example: interleaved:16 over 4 shards with 100 cached tokens: shard 1 holds positions 16–31
/// and 80–95 (32 tokens); the new token (position 100, chunk 6) lands on shard 6 mod 4 = 2.
struct KVShard {
  std::int64_t index = 0;
  std::int64_t count = 1;
  KVPlacement placement{};
  friend constexpr bool operator==(const KVShard&, const KVShard&) = default;

  constexpr bool interleaved() const { return placement.layout == KVLayout::interleaved; }

  /// Cached positions (of n) this shard holds.
  constexpr std::int64_t cached(std::int64_t n) const {
    if (!interleaved())
      return (index + 1) * n / count - index * n / count;
    const std::int64_t c = placement.chunk, cycle = c * count;
    const std::int64_t rest = n % cycle - index * c;
    return n / cycle * c + (rest < 0 ? 0 : rest > c ? c : rest);
  }
  /// The shard the token at position `n` (the new one, after n cached) is appended to.
  constexpr std::int64_t owner_of_new(std::int64_t n) const {
    return interleaved() ? n / placement.chunk % count : count - 1;
  }
  constexpr bool owns_new(std::int64_t n) const { return owner_of_new(n) == index; }
  /// The position of this shard's `i`-th cached token. @pre 0 <= i < cached(n).
  constexpr std::int64_t position(std::int64_t i, std::int64_t n) const {
    if (!interleaved())
      return index * n / count + i;
    const std::int64_t c = placement.chunk;
    return i / c * c * count + index * c + i % c;
  }
  /// Keys this shard attends to in a decode step after n cached tokens: its cached ones and,
  /// on the owner, the new one.
  constexpr std::int64_t keys(std::int64_t n) const { return cached(n) + (owns_new(n) ? 1 : 0); }
};

} // namespace helix
