// What the example programs' command lines share: whole numbers read as text, so that a value
// past the range is named as typed instead of clamped by the option parser; and the proof that a
// folder or a file can be written before anything is.
#pragma once

#include <charconv>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <string>
#include <system_error>
#include <vector>

namespace helix::examples {

/// `text` as a whole number from 0 to 10^15, or nothing (not a number, trailing characters,
/// negative, too large).
inline std::optional<std::int64_t> parse_count(const std::string& text) {
  std::int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc{} || end != text.data() + text.size() || value < 0 ||
      value > 1'000'000'000'000'000)
    return std::nullopt;
  return value;
}

/// Creates `folder` if needed and proves a file can be made in it; the reason when not.
/// Appends the folders it created to `created`, deepest last, so a later bad path can take them
/// back.
inline std::optional<std::string> unwritable_folder(const std::filesystem::path& folder,
                                                    std::vector<std::filesystem::path>& created) {
  std::error_code error;
  std::vector<std::filesystem::path> missing;
  for (std::filesystem::path p = std::filesystem::absolute(folder, error).lexically_normal();
       !error && !p.empty() && !std::filesystem::exists(p, error) && p != p.parent_path();
       p = p.parent_path())
    missing.insert(missing.begin(), p);
  std::filesystem::create_directories(folder, error);
  for (const std::filesystem::path& p : missing)
    if (std::error_code ignored; std::filesystem::is_directory(p, ignored))
      created.push_back(p);
  if (error)
    return "cannot create the folder: " + error.message();
  if (!std::filesystem::is_directory(folder))
    return "it is not a folder";
  // A name no one else uses, so the probe never replaces or removes somebody's file.
  const std::filesystem::path probe =
      folder / (".helix_write_probe_" + std::to_string(std::random_device{}()) + "_" +
                std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
  {
    std::ofstream file(probe);
    if (!file)
      return "cannot write in it";
  }
  std::filesystem::remove(probe, error);
  return std::nullopt;
}

/// Whether a file can be written at `file`, whose folder must exist (a file name is not a request
/// for folders: a typo in the folder should not make one); the reason when not.
inline std::optional<std::string> unwritable_file(const std::filesystem::path& file) {
  std::error_code error;
  if (std::filesystem::is_directory(file, error))
    return "it is a folder, not a file";
  const std::filesystem::path parent =
      file.has_parent_path() ? file.parent_path() : std::filesystem::path(".");
  if (!std::filesystem::is_directory(parent, error))
    return "its folder '" + parent.string() + "' does not exist";
  std::vector<std::filesystem::path> none_created;
  if (const auto why = unwritable_folder(parent, none_created))
    return "its folder '" + parent.string() + "': " + *why;
  return std::nullopt;
}

} // namespace helix::examples
