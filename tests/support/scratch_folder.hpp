// A fresh folder for a test's files, named after the test and the process: CTest runs test cases
// as processes side by side, and two builds' test runs (a developer's and CI's) can share /tmp.
// The folders a process made are removed when it exits, so per-process names do not pile up.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

namespace helix::testing {

namespace detail {
struct ScratchFolders {
  std::vector<std::filesystem::path> made;
  ScratchFolders() = default;
  ScratchFolders(const ScratchFolders&) = delete;
  ScratchFolders& operator=(const ScratchFolders&) = delete;
  ~ScratchFolders() {
    for (const std::filesystem::path& folder : made) {
      std::error_code ignored; // a folder a test removed itself is fine
      std::filesystem::remove_all(folder, ignored);
    }
  }
};
inline ScratchFolders& scratch_folders() {
  static ScratchFolders folders;
  return folders;
}
} // namespace detail

/// `<temporary folder>/<name>_<process id>`, emptied and made; removed when the process exits.
inline std::filesystem::path scratch_folder(const std::string& name) {
  const std::filesystem::path folder =
      std::filesystem::temp_directory_path() / (name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(folder);
  std::filesystem::create_directories(folder);
  detail::scratch_folders().made.push_back(folder);
  return folder;
}

} // namespace helix::testing
