// What a POSIX extended regex costs glibc and what every match of it must
// contain: read from the pattern's text, before regcomp() sees it.
#pragma once

#include <string>
#include <string_view>

namespace labrt {

/// Why glibc's regcomp() or regexec() could take seconds or gigabytes over
/// `re`, or "" if nothing does: a duplication symbol right after another
/// ("a++": undefined in POSIX, exponential to compile), a back-reference
/// (exponential to match) or too many positions once intervals unroll.
std::string costly_construct(std::string_view re);

/// The longest literal that every match of the POSIX extended regex `re`
/// must contain ("" if none can be proven, e.g. with alternations). Used to
/// skip the regex for command lines that cannot match.
std::string required_literal(std::string_view re);

} // namespace labrt
