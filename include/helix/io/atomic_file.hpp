// Writing a file so that readers see either the old file or the whole new one, never a part:
// the content goes to a temporary file in the same folder (same file system), which is then
// renamed over the destination.
#pragma once

#include <cerrno>
#include <chrono>
#include <concepts>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

namespace helix::io {

/// Text to write as is, or a callable that writes the content to the stream it is given.
template <class Content>
concept FileContent = std::convertible_to<const Content&, std::string_view> ||
    std::invocable<Content&, std::ostream&>;

namespace detail {

/// A name in `path`'s folder that no other writer picks: hidden, derived from the file name, with
/// a random suffix (two processes writing the same file must not share a temporary).
inline std::filesystem::path temporary_beside(const std::filesystem::path& path) {
  static thread_local std::mt19937_64 generator{
      std::random_device{}() ^
      static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count())};
  std::filesystem::path temporary = path.parent_path();
  temporary /= "." + path.filename().string() + ".tmp-" + std::to_string(generator());
  return temporary;
}

[[noreturn]] inline void cannot_write(const std::filesystem::path& path, const std::string& why) {
  throw std::runtime_error("helix: cannot write '" + path.string() + "': " + why);
}

} // namespace detail

/// Writes `content` (text, or a writer `void(std::ostream&)`) to `path` atomically.
/// @throws std::runtime_error naming `path` when the folder is missing, the file cannot be written
/// or renamed, or the writer throws; no temporary is left behind and an existing file is kept.
///
/// Example: `write_file_atomically("view.dot", [&](std::ostream& out) { write_dot(out, view); })`.
template <FileContent Content>
void write_file_atomically(const std::filesystem::path& path, Content&& content) {
  if (path.filename().empty())
    detail::cannot_write(path, "not a file name");
  const std::filesystem::path folder = path.parent_path().empty() ? "." : path.parent_path();
  std::error_code error;
  if (!std::filesystem::is_directory(folder, error))
    detail::cannot_write(path, "folder '" + folder.string() + "' does not exist");
  const std::filesystem::path temporary = detail::temporary_beside(path);
  const auto discard = [&] {
    std::error_code ignored;
    std::filesystem::remove(temporary, ignored);
  };
  std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
  if (!out) {
    const int cause = errno;
    discard();
    detail::cannot_write(path, cause != 0 ? std::generic_category().message(cause)
                                          : std::string("cannot create a temporary file"));
  }
  try {
    if constexpr (std::convertible_to<const Content&, std::string_view>) {
      const std::string_view text = content;
      out.write(text.data(), static_cast<std::streamsize>(text.size()));
    } else {
      content(static_cast<std::ostream&>(out));
    }
  } catch (const std::exception& e) {
    out.close();
    discard();
    detail::cannot_write(path, std::string("the writer failed: ") + e.what());
  } catch (...) {
    out.close();
    discard();
    throw;
  }
  out.close();
  if (!out) {
    discard();
    detail::cannot_write(path, "writing failed (disk full?)");
  }
  std::filesystem::rename(temporary, path, error);
  if (error) {
    discard();
    detail::cannot_write(path, error.message());
  }
}

} // namespace helix::io
