// Script path resolution (resolve_script, src/script_path.hpp) over a small
// real tree with symlinks in and out of the roots: whatever it returns is a
// regular file inside a root, named by its real path, and any refusal is one
// of the three codes it documents.
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <fuzzer/FuzzedDataProvider.h>

#include "labrt/errc.hpp"
#include "src/script_path.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace {

namespace fs = std::filesystem;

std::string tree; // <tmp>/labrt-fuzz-XXXXXX

//  root/   a.sh sub/b.sh sub/deeper/c.sh dir/ fifo, and links:
//          in -> sub/b.sh, subdir -> sub, out -> ../outside/secret.sh,
//          out-dir -> ../outside, abs-out -> /etc/passwd, loop -> loop,
//          dangling -> nowhere, other -> ../root2/d.sh
//  root2/  d.sh
//  outside/secret.sh, root-sibling.sh, link-to-root -> root
void make_tree() {
  tree = labrt::fuzz::make_temp_dir();
  fs::path t{tree};
  fs::create_directories(t / "root" / "sub" / "deeper");
  fs::create_directories(t / "root" / "dir");
  fs::create_directories(t / "root2");
  fs::create_directories(t / "outside");
  for (auto file : {"root/a.sh", "root/sub/b.sh", "root/sub/deeper/c.sh",
                    "root2/d.sh", "outside/secret.sh", "root-sibling.sh"})
    std::ofstream{t / file} << "#!/bin/sh\n";
  LABRT_FUZZ_CHECK(::mkfifo((t / "root" / "fifo").c_str(), 0600) == 0);
  struct link {
    const char* at;
    const char* to;
  };
  for (auto [at, to] : {link{"root/in", "sub/b.sh"}, link{"root/subdir", "sub"},
                        link{"root/out", "../outside/secret.sh"},
                        link{"root/out-dir", "../outside"},
                        link{"root/abs-out", "/etc/passwd"},
                        link{"root/loop", "loop"},
                        link{"root/dangling", "nowhere"},
                        link{"root/other", "../root2/d.sh"},
                        link{"link-to-root", "root"}})
    fs::create_symlink(to, t / at);
}

/// A name: raw bytes, or path components of the tree joined by '/'.
std::string pick_name(FuzzedDataProvider& in) {
  if (in.ConsumeBool())
    return in.ConsumeRandomLengthString(64);
  static const char* parts[]
    = {"a.sh",   "sub",     "b.sh",     "deeper",      "c.sh",  "..",
       ".",      "",        "in",       "subdir",      "out",   "out-dir",
       "abs-out", "loop",   "dangling", "other",       "dir",   "fifo",
       "secret.sh", "outside", "root",  "root2",       "d.sh",  "root-sibling.sh",
       "link-to-root", "etc", "passwd"};
  std::string name = in.ConsumeBool() ? tree : "";
  auto n = in.ConsumeIntegralInRange(1, 6);
  for (int i = 0; i < n; ++i) {
    if (i > 0 || !name.empty())
      name += '/';
    name += parts[in.ConsumeIntegralInRange<size_t>(0, std::size(parts) - 1)];
  }
  return name;
}

std::vector<std::string> pick_roots(FuzzedDataProvider& in) {
  switch (in.ConsumeIntegralInRange(0, 3)) {
    case 0: return {tree + "/root"};
    case 1: return {tree + "/root", tree + "/root2"};
    case 2: return {tree + "/link-to-root"};
    default: return {tree + "/root/sub/"};
  }
}

std::string real_path(const std::string& path) {
  char buf[PATH_MAX];
  return ::realpath(path.c_str(), buf) == nullptr ? std::string{} : buf;
}

bool inside(const std::string& path, const std::string& dir) {
  return path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0
         && path[dir.size()] == '/';
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (tree.empty())
    make_tree();
  FuzzedDataProvider in{data, size};
  auto roots = pick_roots(in);
  auto name = pick_name(in);
  auto resolved = labrt::resolve_script(roots, name);
  if (!resolved) {
    auto code = labrt::code_of(resolved.error());
    LABRT_FUZZ_CHECK(code == labrt::errc::forbidden
                     || code == labrt::errc::not_found
                     || code == labrt::errc::invalid_argument);
    return 0;
  }
  auto& path = *resolved;
  LABRT_FUZZ_CHECK(real_path(path) == path);
  struct stat st;
  LABRT_FUZZ_CHECK(::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode));
  bool in_a_root = false;
  for (auto& root : roots)
    in_a_root = in_a_root || inside(path, real_path(root));
  LABRT_FUZZ_CHECK(in_a_root);
  return 0;
}
