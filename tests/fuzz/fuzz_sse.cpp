// The SSE codec (labrt/sse.hpp): what format() writes parses back to the same
// events, and any bytes in any chunking parse to the same events without a
// crash. The first byte picks the mode.
#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <fuzzer/FuzzedDataProvider.h>

#include "labrt/sse.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace {

bool same(const std::vector<labrt::event>& xs,
          const std::vector<labrt::event>& ys) {
  if (xs.size() != ys.size())
    return false;
  for (size_t i = 0; i < xs.size(); ++i)
    if (xs[i].id != ys[i].id || xs[i].kind != ys[i].kind
        || xs[i].data != ys[i].data)
      return false;
  return true;
}

/// `wire` fed to a new parser in chunks of random sizes (1 to 64 bytes).
std::vector<labrt::event> parse_chunked(std::string_view wire, uint32_t seed) {
  std::minstd_rand rng{seed};
  std::uniform_int_distribution<size_t> len{1, 64};
  labrt::sse::parser p;
  std::vector<labrt::event> result;
  while (!wire.empty()) {
    auto chunk = wire.substr(0, len(rng));
    wire.remove_prefix(chunk.size());
    for (auto& ev : p.feed(chunk))
      result.push_back(std::move(ev));
  }
  return result;
}

std::string one_line(FuzzedDataProvider& in) {
  auto s = in.ConsumeRandomLengthString(64);
  for (auto& c : s)
    if (c == '\n')
      c = ' ';
  return s;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in{data, size};
  auto round_trip = in.ConsumeBool();
  auto seed = in.ConsumeIntegral<uint32_t>();
  if (round_trip) {
    std::vector<labrt::event> sent;
    std::string wire;
    while (in.remaining_bytes() > 0) {
      labrt::event ev;
      ev.id = in.ConsumeBool() ? 0 : in.ConsumeIntegral<uint64_t>();
      ev.kind = one_line(in);
      ev.data = one_line(in);
      wire += labrt::sse::format(ev);
      sent.push_back(std::move(ev));
    }
    LABRT_FUZZ_CHECK(same(labrt::sse::parser{}.feed(wire), sent));
    LABRT_FUZZ_CHECK(same(parse_chunked(wire, seed), sent));
  } else {
    auto bytes = in.ConsumeRemainingBytesAsString();
    auto whole = labrt::sse::parser{}.feed(bytes);
    for (auto& ev : whole)
      LABRT_FUZZ_CHECK(ev.kind.find('\n') == std::string::npos
                       && ev.data.find('\n') == std::string::npos);
    LABRT_FUZZ_CHECK(same(parse_chunked(bytes, seed), whole));
  }
  return 0;
}
