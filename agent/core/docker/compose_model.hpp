// A typed model of a compose project's effective configuration: what `compose config` prints once compose has
// merged the files, interpolated the variables and resolved relative paths. The agent reads it before it stops
// anything, to find the named volumes and bind mounts it must protect or refuse, each service's grace period and
// dependencies, and the settings the host policy judges (privileged, pid, ipc, cap_add, devices, network_mode,
// security_opt, userns_mode).
//
// Both compose versions are read:
// - v2: `docker compose config --format json`, parsed by json::parse. Mounts are long-syntax objects
//   ({"type": "bind", "source": "/abs", "target": "/t", "read_only": true}), depends_on is an object, devices are
//   strings or {"source", "target", "permissions"} objects, every top-level volume has its `name`.
// - v1: `docker-compose config` (1.29.2) prints YAML only; parse it with yaml::parse. Mounts are short-syntax
//   strings ("/abs/src:/target:rw", "pgdata:/var/lib/postgresql/data:rw", "/anonymous") or long-syntax mappings;
//   depends_on is a mapping (a list in old files); a volume's `name` is printed only when the file set one.
// Both print stop_grace_period as a Go-style duration ("30s", "1m30s", "500ms"), and both escape '$' as "$$" in
// what they print (unless called with --no-interpolate): mount sources and targets and volume names are read with
// "$$" turned back into "$".
//
// Not in the model: volumes_from (another service's mounts), secrets and configs (compose v1 bind-mounts the
// file-based ones), networks, ports, and every other field; callers that need them read the document itself.
//
// Errors: a document that does not have the shape compose prints (services not an object, a mount without an
// absolute target, a relative bind source, a mount of a volume the file does not declare, a mount type other than
// bind, volume and tmpfs, a stop_grace_period that is not a duration, a volume name docker would refuse, a field
// of the wrong type) throws Error(bad_input, "<what>: service '<name>': <problem>; <what to do>") (or "volume
// '<key>': "), `what` naming the compose file or the command whose output this is. Names and paths in messages
// have their control characters escaped. An empty `project` is a bug: Error(failure). Fields the model does not
// read are ignored, whatever they hold. Not errors: no services, no volumes, a service without an image (one that
// is built), null for any field (compose v2 prints "command": null), anonymous volumes.
//
// Thread-safety: all functions are pure and may run concurrently.
#pragma once

#include "util/json.hpp"

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace airlock::docker {

struct Mount {
  enum class Type { bind, volume, tmpfs };
  Type type = Type::volume;
  // bind: the absolute host path, lexically normalised (no "." or ".." components, no trailing '/').
  // volume: the key under the top-level `volumes:` (not the docker volume name, see Volume::name); "" for an
  // anonymous volume. tmpfs: "".
  std::string source;
  std::string target; // the path inside the container, as compose printed it
  bool read_only = false;
};

struct Service {
  std::string name;  // the key under `services:`
  std::string image; // "" when the file names none (a service that compose builds)
  // stop_grace_period in whole seconds, rounded up (so a stop never waits less than asked); nullopt when the file
  // sets none (docker's default, 10 s, then applies).
  std::optional<int> stop_grace_seconds;
  bool privileged = false;
  std::string pid, ipc, network_mode;    // "" when not set
  std::vector<std::string> cap_add;      // as printed
  std::vector<std::string> security_opt; // as printed ("seccomp:unconfined", "apparmor=unconfined", ...)
  std::string userns_mode;               // "" when not set
  // "host[:container[:permissions]]", as v1 prints them; v2's objects are written in the same form.
  std::vector<std::string> devices;
  std::vector<std::string> depends_on; // service names, sorted
  // `volumes:` in the order printed, then `tmpfs:` entries (type tmpfs, target only).
  std::vector<Mount> mounts;
};

struct Volume {
  std::string key;    // as in the compose file
  std::string name;   // the docker volume: its `name:`, else the key when external, else <project>_<key>
  std::string driver; // `driver:`, "local" when not set (for an external volume the engine's may differ)
  std::map<std::string, std::string> driver_opts; // `driver_opts:` (the local driver's "device" can bind a host path)
  bool external = false;
};

struct ComposeModel {
  std::map<std::string, Service> services; // by name
  std::map<std::string, Volume> volumes;   // by key
};

// Reads the effective configuration `doc` (v2 JSON or v1 YAML, see above) of compose project `project` (the
// name passed with -p, already sanitised: it prefixes the names of volumes that set none). Throws as above.
ComposeModel parse_compose_config(const json::Value& doc, const std::string& project, const std::string& what);

// A Go-style duration ("30s", "1m30s", "1.5h", "500ms", "0"; units h, m, s, ms, us, µs, ns; upper case units as
// compose v1 accepts them) in whole seconds, rounded up; nullopt when `text` is not one, is negative, or is longer
// than INT_MAX seconds.
std::optional<int> duration_seconds(std::string_view text);

// One line for messages and plans: "bind /srv/static -> /static (read-only)", "volume pgdata -> /var/lib/...",
// "anonymous volume -> /cache", "tmpfs -> /run".
std::string describe(const Mount& m);

// Whether `path` is `dir` or lies below it, compared lexically after normalising both (".", "..", repeated and
// trailing '/'); symlinks are not resolved. An absolute path is never inside a relative directory nor the other
// way round; an empty path or directory is inside nothing.
bool inside(const std::string& path, const std::string& dir);

// The sources of the bind mounts (of every service) that lie inside `dir`, sorted, each once: for "no bind mount
// into the release tree" checks. Empty when there are none.
std::vector<std::string> bind_sources_inside(const ComposeModel& model, const std::string& dir);
// As bind_sources_inside, counting only the mounts that are not read-only: where a service keeps data. A
// read-only bind of a file the release ships (a config file) belongs to the release and changes with it.
std::vector<std::string> writable_bind_sources_inside(const ComposeModel& model, const std::string& dir);
// Throws Error(bad_input) when a writable bind mount of `model` has its source in the release tree `dir`: the
// next release replaces the tree, so that data would be left behind. The message names `what` (the compose file),
// the sources relative to `dir`, says to mount from ${AIRLOCK_DATA} or a named volume, and ends with `outcome`
// ("Nothing was stopped.").
void refuse_writable_binds_inside(const ComposeModel& model, const std::string& dir, const std::string& what,
                                  const std::string& outcome);

} // namespace airlock::docker
