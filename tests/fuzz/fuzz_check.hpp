// What every harness uses to state an invariant: a broken one is a crash that
// libFuzzer reports with the input that caused it.
#pragma once

#include <cstdio>
#include <cstdlib>

#define LABRT_FUZZ_CHECK(cond)                                                 \
  do {                                                                         \
    if (!(cond)) {                                                             \
      std::fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__,          \
                   __LINE__, #cond);                                           \
      std::abort();                                                            \
    }                                                                          \
  } while (false)
