// labrt-bench: the report's figures as text, and the command line.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>

#include "kv_harness.hpp"

namespace labrt::bench::kv {

// -- output -------------------------------------------------------------------

std::string cpu_model() {
  std::ifstream in{"/proc/cpuinfo"};
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0) {
      auto pos = line.find(':');
      if (pos != std::string::npos)
        return line.substr(line.find_first_not_of(" \t", pos + 1));
    }
  return "unknown";
}

std::string fmt_rate(double r) {
  char buf[32];
  if (r >= 1e6)
    std::snprintf(buf, sizeof(buf), "%.2fM", r / 1e6);
  else if (r >= 1e3)
    std::snprintf(buf, sizeof(buf), "%.1fk", r / 1e3);
  else
    std::snprintf(buf, sizeof(buf), "%.0f", r);
  return buf;
}

std::string fmt_us(double us) {
  if (us < 0)
    return "-";
  char buf[32];
  std::snprintf(buf, sizeof(buf), us < 10 ? "%.2f" : "%.0f", us);
  return buf;
}

std::string fmt_ratio(const std::map<std::string, row*>& by_ref,
                      const std::string& ref, double rate) {
  auto i = by_ref.find(ref);
  if (ref.empty() || i == by_ref.end() || i->second->m.rate() <= 0)
    return "-";
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.3fx", rate / i->second->m.rate());
  return buf;
}

options parse_args(int argc, char** argv) {
  options opt;
  for (int i = 1; i < argc; ++i) {
    auto arg = std::string{argv[i]};
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", arg.c_str());
        std::exit(1);
      }
      return argv[++i];
    };
    if (arg == "--seconds")
      opt.seconds = std::strtod(value(), nullptr);
    else if (arg == "--sched-threads")
      opt.sched_threads = std::strtoul(value(), nullptr, 10);
    else if (arg == "--max-msgs")
      opt.max_msgs = std::strtoull(value(), nullptr, 10);
    else if (arg == "--only")
      opt.only = value();
    else if (arg == "--threads")
      opt.threads = std::max(1, std::atoi(value()));
    else if (arg == "--repeat")
      opt.repeat = std::max(1, std::atoi(value()));
    else if (arg == "--spin-polls")
      opt.sched.spin_polls = std::strtoul(value(), nullptr, 10);
    else if (arg == "--sleeping-polls")
      opt.sched.sleeping_polls = std::strtoul(value(), nullptr, 10);
    else if (arg == "--poll-sleep-us")
      opt.sched.poll_sleep = std::chrono::microseconds{
        std::strtoul(value(), nullptr, 10)};
    else {
      std::fprintf(stderr,
        "usage: labrt-bench [--seconds S] [--sched-threads N] "
        "[--max-msgs M] [--only floor,base,a,b,c,diag] [--threads N]\n"
        "                   [--repeat N] [--spin-polls N] [--sleeping-polls N] "
        "[--poll-sleep-us N]\n");
      std::exit(arg == "--help" || arg == "-h" ? 0 : 1);
    }
  }
  if (opt.seconds <= 0 || opt.max_msgs == 0) {
    std::fprintf(stderr, "--seconds and --max-msgs must be positive\n");
    std::exit(1);
  }
  return opt;
}

} // namespace labrt::bench::kv
