// Option parsing shared by the benchmark programs: an argument is taken only when the whole
// of it is a number within the option's limits (atoi would read "abc" as 0 and "5x" as 5).
#pragma once

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace sqz::bench {

// The whole of `text` as an integer in [lo, hi], or false.
inline bool parse_int(const char* text, int64_t lo, int64_t hi, int64_t* out) {
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || v < lo || v > hi) return false;
  *out = v;
  return true;
}

// The whole of `text` as a finite number in [lo, hi], or false.
inline bool parse_real(const char* text, double lo, double hi, double* out) {
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(text, &end);
  if (errno != 0 || end == text || *end != '\0' || !std::isfinite(v) || v < lo || v > hi)
    return false;
  *out = v;
  return true;
}

// Prints "PROGRAM: WHAT takes LIMITS, not 'TEXT'" on stderr and returns 2 (the exit status of
// a bad option).
inline int bad_option(const char* program, const char* what, const char* limits,
                      const char* text) {
  std::fprintf(stderr, "%s: %s takes %s, not '%s'\n", program, what, limits, text);
  return 2;
}

}  // namespace sqz::bench
