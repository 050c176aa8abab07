// What the harnesses share: stating an invariant (a broken one is a crash
// that libFuzzer reports with the input that caused it) and scratch
// directories on the real file system.
#pragma once

#include <stdlib.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#define LABRT_FUZZ_CHECK(cond)                                                 \
  do {                                                                         \
    if (!(cond)) {                                                             \
      std::fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__,          \
                   __LINE__, #cond);                                           \
      std::abort();                                                            \
    }                                                                          \
  } while (false)

namespace labrt::fuzz {

/// A new directory <tmp>/labrt-fuzz-XXXXXX, removed when the fuzzer exits
/// normally (a crash leaves it for a look).
inline std::string make_temp_dir() {
  struct remover {
    std::vector<std::string> dirs;
    ~remover() {
      std::error_code ec;
      for (auto& dir : dirs)
        std::filesystem::remove_all(dir, ec);
    }
  };
  static remover made;
  auto dir = (std::filesystem::temp_directory_path() / "labrt-fuzz-XXXXXX")
               .string();
  LABRT_FUZZ_CHECK(::mkdtemp(dir.data()) != nullptr);
  made.dirs.push_back(dir);
  return dir;
}

} // namespace labrt::fuzz
