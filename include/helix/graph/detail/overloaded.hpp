// The `overloaded` idiom for std::visit: one lambda per step alternative, no fallback, so a visit
// that misses an alternative does not compile.
#pragma once

namespace helix::detail {

template <class... Handlers>
struct overloaded : Handlers... {
  using Handlers::operator()...;
};
template <class... Handlers>
overloaded(Handlers...) -> overloaded<Handlers...>;

} // namespace helix::detail
