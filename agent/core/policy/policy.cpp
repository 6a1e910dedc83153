#include "policy/policy.hpp"

#include "util/error.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

namespace airlock::policy {
namespace {

bool under(const std::string& path, const std::string& dir) {
  std::string d = dir;
  while (d.size() > 1 && d.back() == '/') d.pop_back();
  return path == d || d == "/" || path.rfind(d + "/", 0) == 0;
}

std::string capability(std::string c) {
  for (auto& ch : c) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  return c.rfind("CAP_", 0) == 0 ? c.substr(4) : c;
}

bool contains(const std::vector<std::string>& list, const std::string& v) {
  return std::find(list.begin(), list.end(), v) != list.end();
}

// docker's reference normalisation, enough to compare tags: "redis" -> "docker.io/library/redis:latest".
std::string normal_ref(std::string r) {
  if (r.rfind("sha256:", 0) == 0) return r;
  const auto slash = r.find('/');
  const std::string first = slash == std::string::npos ? "" : r.substr(0, slash);
  const bool has_registry = !first.empty() && (first.find_first_of(".:") != std::string::npos || first == "localhost");
  if (!has_registry) r = (slash == std::string::npos ? "docker.io/library/" : "docker.io/") + r;
  const auto last = r.rfind('/');
  if (r.find('@') == std::string::npos && r.find(':', last) == std::string::npos) r += ":latest";
  return r;
}

} // namespace

std::vector<std::string> violations(const docker::ComposeModel& model, const Policy& p,
                                    const std::vector<std::string>& own_dirs) {
  std::vector<std::string> out, caps;
  for (const auto& c : p.cap_add) caps.push_back(capability(c));
  for (const auto& [name, s] : model.services) {
    auto add = [&, n = name](const std::string& what) { out.push_back(fmt::format("service '{}': {}", n, what)); };
    if (s.privileged && !p.privileged) add("privileged: true (allow it with [policy] privileged = yes)");
    if (s.pid == "host" && !p.host_pid) add("pid: host (allow it with [policy] host_pid = yes)");
    if (s.ipc == "host" && !p.host_ipc) add("ipc: host (allow it with [policy] host_ipc = yes)");
    if (s.network_mode == "host" && !p.host_network)
      add("network_mode: host (allow it with [policy] host_network = yes)");
    for (const auto& o : s.security_opt) {
      // docker accepts "key:value" and "key=value".
      std::string opt = o;
      std::replace(opt.begin(), opt.end(), ':', '=');
      if (!p.unconfined && (opt == "seccomp=unconfined" || opt == "apparmor=unconfined" || opt == "label=disable" ||
                            opt == "systempaths=unconfined"))
        add(fmt::format("security_opt: {} (allow it with [policy] unconfined = yes)", o));
    }
    if (s.userns_mode == "host" && !p.host_userns) add("userns_mode: host (allow it with [policy] host_userns = yes)");
    for (const auto& c : s.cap_add)
      if (!contains(caps, capability(c)) && !contains(caps, "ALL"))
        add(fmt::format("cap_add: {} (allow it with [policy] cap_add = {})", c, capability(c)));
    for (const auto& d : s.devices) {
      const std::string host = d.substr(0, d.find(':'));
      if (!contains(p.devices, host)) add(fmt::format("device {} (allow it with [policy] devices = {})", host, host));
    }
    for (const auto& m : s.mounts) {
      if (m.type != docker::Mount::Type::bind) continue;
      auto inside = [&](const std::string& dir) { return under(m.source, dir); };
      if (std::any_of(own_dirs.begin(), own_dirs.end(), inside) ||
          std::any_of(p.bind_paths.begin(), p.bind_paths.end(), inside))
        continue;
      add(fmt::format("bind mount of the host's {} at {} (outside the app directory; allow it with [policy] "
                      "bind_paths = {})",
                      m.source, m.target, m.source));
    }
  }
  for (const auto& [key, v] : model.volumes) {
    // The local driver with driver_opts {type: none, o: bind, device: /path} is a bind mount of the host's /path.
    auto device = v.driver_opts.find("device");
    if (v.driver != "local" || device == v.driver_opts.end() || device->second.empty() || device->second[0] != '/')
      continue;
    auto inside = [&](const std::string& dir) { return under(device->second, dir); };
    if (std::any_of(own_dirs.begin(), own_dirs.end(), inside) ||
        std::any_of(p.bind_paths.begin(), p.bind_paths.end(), inside))
      continue;
    out.push_back(fmt::format("volume '{}': driver_opts device {} binds a host path outside the app directory "
                              "(allow it with [policy] bind_paths = {})",
                              key, device->second, device->second));
  }
  return out;
}

void enforce(const docker::ComposeModel& model, const Policy& p, const std::vector<std::string>& own_dirs,
             const std::string& what, const std::string& outcome) {
  const auto v = violations(model, p, own_dirs);
  if (v.empty()) return;
  fail(ExitCode::not_applicable,
       fmt::format("{} asks for what this host's policy refuses (docs/security.md, \"Host policy\"):\n  {}\n{}", what,
                   fmt::join(v, "\n  "), outcome));
}

std::vector<std::string> unshipped_images(const docker::ComposeModel& model,
                                          const std::vector<release::Image>& images) {
  std::vector<std::string> out;
  for (const auto& [name, s] : model.services) {
    if (s.image.empty()) {
      out.push_back(fmt::format("service '{}' names no image: compose would build one", name));
      continue;
    }
    const std::string want = normal_ref(s.image);
    const bool shipped = std::any_of(images.begin(), images.end(), [&](const release::Image& i) {
      return i.id == want ||
             std::any_of(i.tags.begin(), i.tags.end(), [&](const std::string& t) { return normal_ref(t) == want; });
    });
    if (!shipped) out.push_back(fmt::format("service '{}': image {}", name, s.image));
  }
  return out;
}

void require_shipped_images(const docker::ComposeModel& model, const std::vector<release::Image>& images,
                            const std::string& what, const std::string& outcome) {
  const auto u = unshipped_images(model, images);
  if (u.empty()) return;
  fail(ExitCode::bad_input,
       fmt::format("{} runs images that the release does not ship, which compose would pull unsigned from a "
                   "registry:\n  {}\nShip each image with the release (airlock-bundle release add --image NAME). {}",
                   what, fmt::join(u, "\n  "), outcome));
}

} // namespace airlock::policy
