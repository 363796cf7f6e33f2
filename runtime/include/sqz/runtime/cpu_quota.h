// The CPU time a Linux cgroup lets this process use, as a count of CPUs: a container limited
// to 1.5 CPUs runs 2 threads at once at most usefully. Both cgroup versions are read (Docker on
// a cgroup v1 or hybrid host, Kubernetes and systemd on v2), each limit of the process's cgroup
// and of its ancestors, the smallest winning (a quota set on a parent slice binds its children
// too; Go's and the JVM's runtimes read them the same way).
#pragma once

#include <functional>
#include <string>

namespace sqz::runtime {

// The CPUs a cgroup v2 cpu.max line ("QUOTA PERIOD", microseconds) or a cgroup v1 pair written
// the same way ("cpu.cfs_quota_us cpu.cfs_period_us") allows, rounded up; 0 for no limit
// ("max ...", v1's "-1 ...") or a line that does not parse.
int cpus_of_cgroup_quota(const std::string& quota_and_period);

// The smallest quota of the process's cgroups, in CPUs (0: none), from the texts of
// /proc/self/cgroup and /proc/self/mountinfo; read(path) returns a file's first line, "" when
// it cannot be read. A cgroup path with ".." is not followed.
int cgroup_cpu_limit(const std::string& self_cgroup, const std::string& mountinfo,
                     const std::function<std::string(const std::string&)>& read);

// cgroup_cpu_limit of this process (0 off Linux or without a quota).
int own_cgroup_cpu_limit();

}  // namespace sqz::runtime
