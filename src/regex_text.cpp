#include "src/regex_text.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace labrt {

namespace {

/// The index after the bracket expression that starts at `re[i]` ('[').
size_t skip_bracket(std::string_view re, size_t i) {
  ++i;
  if (i < re.size() && re[i] == '^')
    ++i;
  if (i < re.size() && re[i] == ']')
    ++i;
  while (i < re.size() && re[i] != ']') {
    if (re[i] == '[' && i + 1 < re.size()
      && (re[i + 1] == ':' || re[i + 1] == '.' || re[i + 1] == '=')) {
      auto end = re.find(std::string{re[i + 1]} + "]", i + 2);
      i = end == std::string_view::npos ? re.size() : end + 2;
    } else {
      ++i;
    }
  }
  return i + 1;
}

/// Positions a cmdline regex may unroll to: glibc's regcomp() takes time and
/// memory quadratic in them for optional runs ("a{0,32767}" took 8 GB).
constexpr size_t max_regex_positions = 1024;

} // namespace

std::string costly_construct(std::string_view re) {
  std::vector<size_t> open{0}; // positions in each open group so far
  size_t last = 0;             // positions of the last atom or group
  bool after_quantifier = false;
  for (size_t i = 0; i < re.size(); ++i) {
    char c = re[i];
    bool quantifier = c == '*' || c == '+' || c == '?' || c == '{';
    if (quantifier && after_quantifier)
      return "repeats a repetition at offset " + std::to_string(i)
             + " (e.g. 'a++'), which POSIX leaves undefined";
    after_quantifier = quantifier;
    if (c == '{') {
      auto end = re.find('}', i);
      if (end == std::string_view::npos)
        break; // regcomp() refuses it
      std::string bounds{re.substr(i + 1, end - i - 1)};
      auto comma = bounds.find(',');
      size_t copies = std::max<size_t>(
        {1, std::strtoul(bounds.c_str(), nullptr, 10),
         comma == std::string::npos
           ? 0
           : std::strtoul(bounds.c_str() + comma + 1, nullptr, 10)});
      open.back() += last * (std::min<size_t>(copies, 1u << 16) - 1);
      i = end;
    } else if (c == '(') {
      open.push_back(0);
      last = 0;
    } else if (c == ')' && open.size() > 1) {
      last = open.back();
      open.pop_back();
      open.back() += last;
    } else if (!quantifier && c != '|' && c != '^' && c != '$') {
      if (c == '\\' && i + 1 < re.size() && re[++i] >= '1' && re[i] <= '9')
        return "has a back-reference (\\" + std::string{re[i]}
               + "), whose matching takes exponential time";
      if (c == '[')
        i = skip_bracket(re, i) - 1;
      last = 1;
      open.back() += 1;
    }
    if (open.back() > max_regex_positions)
      return "unrolls to more than " + std::to_string(max_regex_positions)
             + " positions (intervals multiplied out)";
  }
  return {};
}

std::string required_literal(std::string_view re) {
  // A top-level alternation makes every literal optional: prove nothing.
  // (One inside a group is fine: groups are skipped below.)
  int top_depth = 0;
  for (size_t i = 0; i < re.size(); ++i) {
    if (re[i] == '\\') {
      ++i;
    } else if (re[i] == '[') {
      i = skip_bracket(re, i) - 1;
    } else if (re[i] == '(') {
      ++top_depth;
    } else if (re[i] == ')') {
      --top_depth;
    } else if (re[i] == '|' && top_depth <= 0) {
      return {};
    }
  }
  std::string best;
  std::string cur;
  auto flush = [&] {
    if (cur.size() > best.size())
      best = cur;
    cur.clear();
  };
  size_t i = 0;
  while (i < re.size()) {
    char c = re[i];
    if (c == '\\') {
      // An escaped punctuation character is itself, but glibc's \` \' \<
      // \> are anchors, like \w, \b and back-references.
      if (i + 1 < re.size()
        && !std::isalnum(static_cast<unsigned char>(re[i + 1]))
        && std::strchr("`'<>", re[i + 1]) == nullptr) {
        cur += re[i + 1];
      } else {
        flush();
      }
      i += 2;
    } else if (c == '[') {
      flush();
      i = skip_bracket(re, i);
    } else if (c == '(') {
      flush();
      int depth = 0;
      while (i < re.size()) {
        if (re[i] == '[') {
          i = skip_bracket(re, i);
          continue;
        }
        if (re[i] == '\\')
          ++i;
        else if (re[i] == '(')
          ++depth;
        else if (re[i] == ')' && --depth == 0)
          break;
        ++i;
      }
      ++i;
    } else if (c == '*' || c == '?' || c == '{') {
      // The previous character may appear zero times.
      if (!cur.empty())
        cur.pop_back();
      flush();
      if (c == '{') {
        auto end = re.find('}', i);
        i = end == std::string_view::npos ? re.size() : end + 1;
      } else {
        ++i;
      }
    } else if (c == '+' || c == '.' || c == '^' || c == '$' || c == ')') {
      flush();
      ++i;
    } else {
      cur += c;
      ++i;
    }
  }
  // A literal before a trailing quantifier was handled; a trailing run counts.
  flush();
  return best;
}

} // namespace labrt
