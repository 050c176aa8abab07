// The monitor's cmdline prefilter (src/service_rules.hpp): rule_set skips a
// rule's regex when the command line lacks the literal that
// required_literal() says every match contains. Checked against plain
// regexec over fuzzed patterns and command lines: the prefilter may only
// save work, never lose a match.
#include <regex.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <fuzzer/FuzzedDataProvider.h>

#include "src/regex_text.hpp"
#include "src/service_rules.hpp"
#include "tests/fuzz/fuzz_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in{data, size};
  labrt::rule_set rules;
  auto n = in.ConsumeIntegralInRange(1, 4);
  for (int i = 0; i < n; ++i) {
    labrt::service_rule rule{"rule" + std::to_string(i),
                             labrt::match_kind::cmdline,
                             in.ConsumeRandomLengthString(48)};
    // An invalid pattern is refused and left out: nothing to compare.
    static_cast<void>(rules.add(std::move(rule)));
  }
  // The scanner joins the arguments with spaces: a command line has no NUL.
  auto cmdline = in.ConsumeRemainingBytesAsString();
  std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
  std::vector<size_t> hits;
  rules.match_cmdline(cmdline, hits);
  std::sort(hits.begin(), hits.end());
  std::vector<size_t> expected;
  for (size_t i = 0; i < rules.size(); ++i) {
    auto& rule = rules.rules()[i];
    bool match = ::regexec(rule.regex.get(), cmdline.c_str(), 0, nullptr, 0)
                 == 0;
    if (match)
      expected.push_back(i);
    LABRT_FUZZ_CHECK(rule.matches_cmdline(cmdline) == match);
  }
  LABRT_FUZZ_CHECK(hits == expected);
  return 0;
}
