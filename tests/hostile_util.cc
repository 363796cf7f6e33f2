#include "hostile_util.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zstd.h>

#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <thread>

#include "sqz/core/crc32c.h"

namespace sqz::test {
namespace {

uint32_t get32(const std::string& s, size_t at) {
  if (at + 4 > s.size()) throw std::runtime_error("truncated");
  return uint32_t{static_cast<uint8_t>(s[at])} | uint32_t{static_cast<uint8_t>(s[at + 1])} << 8 |
         uint32_t{static_cast<uint8_t>(s[at + 2])} << 16 |
         uint32_t{static_cast<uint8_t>(s[at + 3])} << 24;
}
uint16_t get16(const std::string& s, size_t at) {
  if (at + 2 > s.size()) throw std::runtime_error("truncated");
  return static_cast<uint16_t>(static_cast<uint8_t>(s[at]) | static_cast<uint8_t>(s[at + 1]) << 8);
}
void put16(std::string* s, uint16_t v) {
  s->push_back(static_cast<char>(v & 0xFF));
  s->push_back(static_cast<char>(v >> 8));
}
void put32(std::string* s, uint32_t v) {
  for (int i = 0; i < 4; ++i) s->push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

// A SPEC `str` at `at`: returns the offset after it.
size_t skip_str(const std::string& g, size_t at) { return at + 2 + get16(g, at); }

}  // namespace

void poke_u8(std::string* s, size_t at, uint8_t v) { (*s)[at] = static_cast<char>(v); }
void poke_u16(std::string* s, size_t at, uint16_t v) {
  (*s)[at] = static_cast<char>(v & 0xFF);
  (*s)[at + 1] = static_cast<char>(v >> 8);
}
void poke_u32(std::string* s, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) (*s)[at + i] = static_cast<char>((v >> (8 * i)) & 0xFF);
}

SqzParts take_apart(const std::string& b) {
  SqzParts p;
  p.major = get16(b, 8);
  p.minor = get16(b, 10);
  const uint32_t n = get32(b, 12);
  size_t at = 16 + 12 * size_t{n};
  for (uint32_t i = 0; i < n; ++i) {
    SqzParts::Section s;
    s.type = get16(b, 16 + 12 * i);
    s.flags = get16(b, 16 + 12 * i + 2);
    const uint32_t size = get32(b, 16 + 12 * i + 8);
    const std::string stored = b.substr(at, size);
    at += size;
    s.zstd = s.flags & 2;
    if (s.zstd) {
      s.plain.resize(ZSTD_getFrameContentSize(stored.data(), stored.size()));
      ZSTD_decompress(s.plain.data(), s.plain.size(), stored.data(), stored.size());
    } else {
      s.plain = stored;
    }
    p.sections.push_back(std::move(s));
  }
  return p;
}

std::string assemble(const SqzParts& p) {
  std::vector<std::string> stored;
  for (const SqzParts::Section& s : p.sections) {
    if (!s.raw.empty() || !s.zstd) {
      stored.push_back(s.raw.empty() ? s.plain : s.raw);
      continue;
    }
    std::string z(ZSTD_compressBound(s.plain.size()), '\0');
    z.resize(ZSTD_compress(z.data(), z.size(), s.plain.data(), s.plain.size(), 3));
    stored.push_back(z);
  }
  std::string out("\x89SQZ\r\n\x1a\n", 8);
  put16(&out, p.major);
  put16(&out, p.minor);
  put32(&out, static_cast<uint32_t>(p.sections.size()));
  for (size_t i = 0; i < p.sections.size(); ++i) {
    put16(&out, p.sections[i].type);
    put16(&out, p.sections[i].flags);
    put32(&out, crc32c(stored[i].data(), stored[i].size()));
    put32(&out, static_cast<uint32_t>(stored[i].size()));
  }
  for (const std::string& s : stored) out += s;
  put32(&out, crc32c(out.data(), out.size()));
  return out;
}

GraphLayout read_graph_layout(const std::string& g) {
  GraphLayout l;
  size_t at = skip_str(g, 0);  // name
  at = skip_str(g, at);        // input blob
  l.input_rank = at;
  const uint8_t rank = static_cast<uint8_t>(g[at++]);
  l.input_dims = at;
  at += 4 * size_t{rank};
  at = skip_str(g, at);  // output blob
  l.layer_count = at;
  const uint32_t count = get32(g, at);
  at += 4;
  for (uint32_t i = 0; i < count; ++i) {
    GraphLayout::Record r;
    r.start = r.op = at;
    const uint8_t op = static_cast<uint8_t>(g[at++]);
    r.name = at;
    at = skip_str(g, at);
    r.input_count = at;
    const uint8_t inputs = static_cast<uint8_t>(g[at++]);
    for (uint8_t k = 0; k < inputs; ++k) at = skip_str(g, at);
    r.output = at;
    at = skip_str(g, at);
    r.params = at;
    if (op == 1) at += 8 * 4 + 1 + ((g[at + 32] & 2) ? 8 : 0);
    else if (op == 3 || op == 4) at += 6 * 4 + 1 + ((g[at + 24] & 8) ? 8 : 0);
    else if (op == 5 || op == 7 || op == 8) at += 4;
    r.end = at;
    l.records.push_back(r);
  }
  return l;
}

CappedRun run_capped(const std::vector<std::string>& command, int64_t as_mib,
                     double timeout_s) {
  CappedRun out;
  int err_pipe[2], rss_pipe[2];
  if (::pipe(err_pipe) != 0 || ::pipe(rss_pipe) != 0) return out;
  // Through peak_rss (see tests/peak_rss.cc), so that the peak is the command's own.
  std::vector<std::string> argv{SQZ_PEAK_RSS_PATH};
  argv.insert(argv.end(), command.begin(), command.end());
  const auto t0 = std::chrono::steady_clock::now();
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::setpgid(0, 0);  // the time cap kills the whole group
    ::close(err_pipe[0]);  // first: a read end may be fd 3, which dup2 below reuses
    ::close(rss_pipe[0]);
    ::dup2(err_pipe[1], 2);
    ::dup2(rss_pipe[1], 3);
    const int null = ::open("/dev/null", O_RDWR);
    ::dup2(null, 0);
    ::dup2(null, 1);
#if !defined(__SANITIZE_ADDRESS__)
    rlimit as{static_cast<rlim_t>(as_mib) << 20, static_cast<rlim_t>(as_mib) << 20};
    ::setrlimit(RLIMIT_AS, &as);
#else
    (void)as_mib;
#endif
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(err_pipe[1]);
  ::close(rss_pipe[1]);
  ::fcntl(err_pipe[0], F_SETFL, O_NONBLOCK);
  int status = 0;
  rusage usage{};
  for (;;) {
    char buf[4096];
    for (ssize_t n; (n = ::read(err_pipe[0], buf, sizeof buf)) > 0;)
      out.err.append(buf, static_cast<size_t>(n));
    if (::wait4(pid, &status, WNOHANG, &usage) == pid) break;
    if (std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() > timeout_s) {
      ::kill(-pid, SIGKILL);
      ::wait4(pid, &status, 0, &usage);
      out.timed_out = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  char buf[4096];
  for (ssize_t n; (n = ::read(err_pipe[0], buf, sizeof buf)) > 0;)
    out.err.append(buf, static_cast<size_t>(n));
  ::close(err_pipe[0]);
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  char report[64] = {0};
  const ssize_t got = ::read(rss_pipe[0], report, sizeof report - 1);
  ::close(rss_pipe[0]);
  long rss_kib = 0;
  int code = -1, sig = 0;
  if (got > 0 && std::sscanf(report, "%ld %d %d", &rss_kib, &code, &sig) == 3) {
    out.peak_rss_mib = static_cast<double>(rss_kib) / 1024.0;
    out.exit_code = code;
    out.signal = sig;
  } else if (WIFSIGNALED(status)) {
    out.signal = WTERMSIG(status);
  }
  return out;
}

}  // namespace sqz::test
