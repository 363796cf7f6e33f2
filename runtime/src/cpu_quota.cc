#include "sqz/runtime/cpu_quota.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <vector>

namespace sqz::runtime {
namespace {

std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string item; std::getline(in, item, sep);) out.push_back(item);
  return out;
}

bool has_item(const std::string& list, const std::string& item) {
  const std::vector<std::string> items = split(list, ',');
  return std::find(items.begin(), items.end(), item) != items.end();
}

// A cgroup hierarchy mounted here: its root within the hierarchy and its mount point.
struct Mount {
  std::string root, point;
};

// The mount of the v2 hierarchy (controller empty) or of the v1 hierarchy holding
// `controller`, from mountinfo's lines ("ID PARENT DEV ROOT POINT OPTIONS... - TYPE SOURCE
// SUPER_OPTIONS", proc(5)).
bool find_mount(const std::string& mountinfo, const std::string& controller, Mount* out) {
  std::istringstream lines(mountinfo);
  for (std::string line; std::getline(lines, line);) {
    const size_t dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    std::istringstream head(line.substr(0, dash)), tail(line.substr(dash + 3));
    std::string id, parent, dev, root, point, type, source, super_options;
    if (!(head >> id >> parent >> dev >> root >> point) || !(tail >> type >> source)) continue;
    tail >> super_options;
    const bool match = controller.empty() ? type == "cgroup2"
                                          : type == "cgroup" && has_item(super_options, controller);
    if (match) {
      *out = {root, point};
      return true;
    }
  }
  return false;
}

// This process's path in the v2 hierarchy ("0::PATH") or in the v1 hierarchy holding
// `controller` ("ID:CONTROLLERS:PATH"), from /proc/self/cgroup; false when absent.
bool cgroup_path(const std::string& self_cgroup, const std::string& controller, std::string* path) {
  std::istringstream lines(self_cgroup);
  for (std::string line; std::getline(lines, line);) {
    const size_t a = line.find(':'), b = a == std::string::npos ? a : line.find(':', a + 1);
    if (b == std::string::npos) continue;
    const std::string controllers = line.substr(a + 1, b - a - 1);
    const bool match = controller.empty() ? line.compare(0, a, "0") == 0 && controllers.empty()
                                          : has_item(controllers, controller);
    if (match) {
      *path = line.substr(b + 1);
      return true;
    }
  }
  return false;
}

// The folders of the process's cgroup and its ancestors within the mount, deepest first. A
// path outside the mount's root (a cgroup namespace shows the container's cgroup as "/" while
// mountinfo keeps the host's root) is taken from the mount point.
std::vector<std::string> cgroup_dirs(const Mount& m, std::string path) {
  if (path.find("..") != std::string::npos) return {};
  if (m.root != "/") {
    const bool inside = path.compare(0, m.root.size(), m.root) == 0 &&
                        (path.size() == m.root.size() || path[m.root.size()] == '/');
    path = inside ? path.substr(m.root.size()) : "";
  }
  if (path.empty() || path[0] != '/') path.clear();
  std::vector<std::string> dirs;
  while (!path.empty() && path != "/") {
    dirs.push_back(m.point + path);
    path.resize(path.find_last_of('/'));  // found: path starts with '/'
  }
  dirs.push_back(m.point);
  return dirs;
}

int smallest(int a, int b) { return a == 0 ? b : b == 0 ? a : std::min(a, b); }

}  // namespace

int cpus_of_cgroup_quota(const std::string& quota_and_period) {
  std::istringstream in(quota_and_period);
  std::string quota;
  double period = 0;
  if (!(in >> quota >> period) || quota == "max" || !(period > 0)) return 0;
  char* end = nullptr;
  const double q = std::strtod(quota.c_str(), &end);
  if (*end || !(q > 0) || !std::isfinite(q)) return 0;
  return static_cast<int>(std::min(1e6, std::ceil(q / period)));
}

int cgroup_cpu_limit(const std::string& self_cgroup, const std::string& mountinfo,
                     const std::function<std::string(const std::string&)>& read) {
  int limit = 0;
  Mount m;
  std::string path;
  if (find_mount(mountinfo, "", &m) && cgroup_path(self_cgroup, "", &path))
    for (const std::string& dir : cgroup_dirs(m, path))
      limit = smallest(limit, cpus_of_cgroup_quota(read(dir + "/cpu.max")));
  if (find_mount(mountinfo, "cpu", &m) && cgroup_path(self_cgroup, "cpu", &path))
    for (const std::string& dir : cgroup_dirs(m, path))
      limit = smallest(limit, cpus_of_cgroup_quota(read(dir + "/cpu.cfs_quota_us") + " " +
                                                   read(dir + "/cpu.cfs_period_us")));
  return limit;
}

int own_cgroup_cpu_limit() {
  auto read_all = [](const std::string& path) {
    std::ifstream in(path);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
  };
  auto first_line = [](const std::string& path) {
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);
    return line;
  };
  return cgroup_cpu_limit(read_all("/proc/self/cgroup"), read_all("/proc/self/mountinfo"),
                          first_line);
}

}  // namespace sqz::runtime
