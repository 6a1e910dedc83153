// User and group names for numeric IDs, read straight from /etc/passwd and /etc/group.
//
// airlock is a static glibc binary, and getpwuid()/getgrgid() in a static binary dlopen() the NSS modules
// that /etc/nsswitch.conf names (e.g. libnss_systemd), which load a second, dynamic glibc into the process
// and crash it. So airlock never calls NSS for names: it reads the two files itself. Names that exist only in
// LDAP or systemd-homed are reported as empty, and callers fall back to the numeric ID (as GNU tar does
// when a lookup fails).
// Thread-safety: thread-safe (each call reads the file).
#pragma once

#include <cstdint>
#include <string>

namespace airlock::util {

// The name of `id` in a passwd- or group-format file (first field, third field = id); "" when absent or
// unreadable. `file` defaults are /etc/passwd and /etc/group.
std::string user_name(std::uint32_t uid, const std::string& file = "/etc/passwd");
std::string group_name(std::uint32_t gid, const std::string& file = "/etc/group");

} // namespace airlock::util
