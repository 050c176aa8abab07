// labrt-bench-http's wrk runs (see http_procs.hpp).
#include "http_procs.hpp"

#include <sys/wait.h>

#include <cstdlib>
#include <sstream>
#include <string>

namespace labrt::bench::http {

namespace {

/// "1.23ms" -> 1.23; "870.00us" -> 0.87; "1.02s" -> 1020.
double to_ms(const std::string& text) {
  double value = std::atof(text.c_str());
  if (text.find("us") != std::string::npos)
    return value / 1000.0;
  if (text.find("ms") != std::string::npos)
    return value;
  if (text.find('m') != std::string::npos)
    return value * 60'000.0;
  return value * 1000.0; // "s"
}

} // namespace

wrk_result run_wrk(const options& opt, const std::string& url) {
  proc wrk{{"wrk", "-t2", "-c" + std::to_string(opt.connections),
            "-d" + std::to_string(opt.seconds) + "s", "--latency", url}};
  auto until = clock_type::now() + std::chrono::seconds{opt.seconds + 30};
  if (!wrk.read_until(until, [] { return false; }, true))
    die("wrk did not finish");
  auto status = wrk.reap(until);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    die("wrk failed: " + wrk.err + wrk.out);
  wrk_result r;
  std::istringstream lines{wrk.out};
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words{line};
    std::string first;
    std::string second;
    words >> first >> second;
    if (first == "Requests/sec:")
      r.rps = std::atof(second.c_str());
    else if (first == "50%")
      r.p50_ms = to_ms(second);
    else if (first == "90%")
      r.p90_ms = to_ms(second);
    else if (first == "99%")
      r.p99_ms = to_ms(second);
    else if (first == "Socket" || first == "Non-2xx")
      r.errors += line + "; ";
  }
  if (r.rps <= 0)
    die("cannot read wrk's output:\n" + wrk.out);
  return r;
}

wrk_result best_of(const options& opt, const std::string& url) {
  wrk_result best;
  for (int i = 0; i < opt.repeat; ++i) {
    auto r = run_wrk(opt, url);
    if (r.rps > best.rps)
      best = r;
  }
  return best;
}

std::string url_of(int port) {
  return "http://127.0.0.1:" + std::to_string(port) + "/api/test/status";
}

} // namespace labrt::bench::http
