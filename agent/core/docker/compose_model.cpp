// The effective compose configuration as a typed model: see compose_model.hpp.
#include "docker/compose_model.hpp"

#include "util/error.hpp"
#include "util/text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <filesystem>
#include <set>
#include <utility>

namespace airlock::docker {
namespace {

namespace fs = std::filesystem;
using json::Value;

// A name or path from the document, quoted for a message: control characters escaped, long ones cut.
std::string shown(std::string_view s) { return util::quoted(s, 200, '\''); }

// compose escapes '$' as "$$" in what `config` prints.
std::string unescape_dollars(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    out += s[i];
    if (s[i] == '$' && i + 1 < s.size() && s[i + 1] == '$') ++i;
  }
  return out;
}

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (;;) {
    const std::size_t at = s.find(sep, start);
    parts.emplace_back(s.substr(start, at == std::string_view::npos ? std::string_view::npos : at - start));
    if (at == std::string_view::npos) return parts;
    start = at + 1;
  }
}

// docker's rule for volume names (daemon/names: RestrictedNamePattern).
bool valid_volume_name(std::string_view n) {
  auto ok = [](char c, bool first) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (!first && (c == '_' || c == '.' || c == '-'));
  };
  if (n.size() < 2) return false;
  for (std::size_t i = 0; i < n.size(); ++i)
    if (!ok(n[i], i == 0)) return false;
  return true;
}

// A path's components after lexical normalisation, without the empty and "." ones.
std::vector<std::string> components(const std::string& path) {
  std::vector<std::string> out;
  for (const auto& c : fs::path(path).lexically_normal()) {
    const std::string s = c.string();
    if (!s.empty() && s != ".") out.push_back(s);
  }
  return out;
}

std::string normalised(const std::string& path) {
  std::string s = fs::path(path).lexically_normal().string();
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

class Reader {
public:
  Reader(const std::string& what, const std::string& project) : what_(what), project_(project) {}

  ComposeModel read(const Value& doc) {
    if (!doc.is_object())
      fail(ExitCode::bad_input, what_ + ": expected compose's configuration (an object), found " +
                                    json::type_name(doc.type()) + "; pass the output of `compose config`");
    ComposeModel model;
    const json::Object& volumes = members(doc, "volumes", "the top-level volumes");
    const json::Object& services = members(doc, "services", "services");
    for (const auto& [key, v] : volumes) {
      context_ = "volume " + shown(key) + ": ";
      model.volumes[key] = volume(key, v);
    }
    for (const auto& [name, v] : services) {
      context_ = "service " + shown(name) + ": ";
      model.services[name] = service(name, v, model.volumes);
    }
    return model;
  }

private:
  [[noreturn]] void bad(const std::string& problem) const {
    fail(ExitCode::bad_input, what_ + ": " + context_ + problem);
  }
  [[noreturn]] void bad_type(const std::string& field, const char* expected, const Value& v) const {
    bad(field + " must be " + expected + ", found " + json::type_name(v.type()) + "; fix the compose file");
  }

  // The member `key` of `obj`, or nullptr when absent or null.
  static const Value* field(const Value& obj, const std::string& key) {
    const Value* v = obj.find(key);
    return v && !v->is_null() ? v : nullptr;
  }

  const json::Object& members(const Value& obj, const std::string& key, const std::string& label) const {
    static const json::Object none;
    const Value* v = field(obj, key);
    if (!v) return none;
    if (!v->is_object()) bad_type(label, "a mapping", *v);
    return v->as_object();
  }

  std::string text(const Value& obj, const std::string& key) const {
    const Value* v = field(obj, key);
    if (!v) return {};
    if (!v->is_string()) bad_type(key, "a string", *v);
    return v->as_string();
  }

  bool flag(const Value& obj, const std::string& key) const {
    const Value* v = field(obj, key);
    if (!v) return false;
    if (v->is_bool()) return v->as_bool();
    if (v->is_string() && (v->as_string() == "true" || v->as_string() == "false")) return v->as_string() == "true";
    bad_type(key, "true or false", *v);
  }

  std::vector<std::string> texts(const Value& obj, const std::string& key) const {
    std::vector<std::string> out;
    const Value* v = field(obj, key);
    if (!v) return out;
    if (!v->is_array()) bad_type(key, "a list of strings", *v);
    for (const Value& item : v->as_array()) {
      if (!item.is_string()) bad_type(key + " entries", "strings", item);
      out.push_back(item.as_string());
    }
    return out;
  }

  Volume volume(const std::string& key, const Value& v) {
    Volume vol;
    vol.key = key;
    vol.driver = "local";
    if (!v.is_null()) {
      if (!v.is_object()) bad_type("its definition", "a mapping", v);
      vol.name = unescape_dollars(text(v, "name"));
      if (std::string d = text(v, "driver"); !d.empty()) vol.driver = std::move(d);
      if (const Value* opts = field(v, "driver_opts")) {
        if (!opts->is_object()) bad_type("driver_opts", "a mapping", *opts);
        for (const auto& [k, o] : opts->as_object())
          if (o.is_string()) vol.driver_opts[k] = unescape_dollars(o.as_string());
      }
      if (const Value* ext = field(v, "external")) {
        if (ext->is_object()) { // the old `external: {name: ...}`
          vol.external = true;
          if (vol.name.empty()) vol.name = unescape_dollars(text(*ext, "name"));
        } else {
          vol.external = flag(v, "external");
        }
      }
    }
    if (vol.name.empty()) vol.name = vol.external ? key : project_ + "_" + key;
    if (!valid_volume_name(vol.name))
      bad(shown(vol.name) +
          " is not a valid docker volume name ([a-zA-Z0-9][a-zA-Z0-9_.-]+); rename the volume in the compose file");
    return vol;
  }

  Service service(const std::string& name, const Value& v, const std::map<std::string, Volume>& volumes) {
    if (!v.is_object()) bad_type("its definition", "a mapping", v);
    Service s;
    s.name = name;
    s.image = text(v, "image");
    if (const Value* g = field(v, "stop_grace_period")) {
      if (!g->is_string()) bad_type("stop_grace_period", "a duration such as \"30s\" or \"1m30s\"", *g);
      s.stop_grace_seconds = duration_seconds(g->as_string());
      if (!s.stop_grace_seconds)
        bad("stop_grace_period " + shown(g->as_string()) +
            " is not a duration such as 30s, 1m30s or 500ms (at most 2147483647 s); fix the compose file");
    }
    s.privileged = flag(v, "privileged");
    s.pid = text(v, "pid");
    s.ipc = text(v, "ipc");
    s.network_mode = text(v, "network_mode");
    s.cap_add = texts(v, "cap_add");
    s.security_opt = texts(v, "security_opt");
    s.userns_mode = text(v, "userns_mode");
    s.devices = devices(v);
    s.depends_on = depends_on(v);
    if (const Value* vols = field(v, "volumes")) {
      if (!vols->is_array()) bad_type("volumes", "a list", *vols);
      for (const Value& m : vols->as_array()) s.mounts.push_back(mount(m, volumes));
    }
    if (const Value* t = field(v, "tmpfs")) {
      std::vector<std::string> targets;
      if (t->is_string())
        targets.push_back(t->as_string());
      else
        targets = texts(v, "tmpfs");
      for (const std::string& entry : targets) {
        Mount m;
        m.type = Mount::Type::tmpfs;
        m.target = target(entry.substr(0, entry.find(':')), "tmpfs entry " + shown(entry));
        s.mounts.push_back(std::move(m));
      }
    }
    return s;
  }

  std::vector<std::string> devices(const Value& v) const {
    std::vector<std::string> out;
    const Value* d = field(v, "devices");
    if (!d) return out;
    if (!d->is_array()) bad_type("devices", "a list", *d);
    for (const Value& item : d->as_array()) {
      if (item.is_string()) {
        out.push_back(item.as_string());
      } else if (item.is_object()) {
        std::string entry = text(item, "source");
        if (entry.empty()) bad("a device without a source; fix the compose file");
        if (std::string t = text(item, "target"); !t.empty()) entry += ":" + t;
        if (std::string p = text(item, "permissions"); !p.empty()) entry += ":" + p;
        out.push_back(std::move(entry));
      } else {
        bad_type("devices entries", "strings or mappings", item);
      }
    }
    return out;
  }

  std::vector<std::string> depends_on(const Value& v) const {
    std::vector<std::string> out;
    const Value* d = field(v, "depends_on");
    if (!d) return out;
    if (d->is_object()) {
      for (const auto& [dep, _] : d->as_object()) out.push_back(dep);
      return out;
    }
    out = texts(v, "depends_on");
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
  }

  std::string target(const std::string& raw, const std::string& label) const {
    const std::string t = unescape_dollars(raw);
    if (t.find('\0') != std::string::npos) bad(label + ": the target holds a NUL byte");
    if (t.empty() || t[0] != '/')
      bad(label + ": the target " + shown(t) + " is not an absolute path; fix the compose file");
    return t;
  }

  std::string bind_source(const std::string& raw, const std::string& label) const {
    const std::string src = unescape_dollars(raw);
    if (src.find('\0') != std::string::npos) bad(label + ": the source holds a NUL byte");
    if (src.empty() || src[0] != '/')
      bad(label + ": the bind mount source " + shown(src) +
          " is not an absolute path (compose config prints resolved paths: pass its output, not the file)");
    return normalised(src);
  }

  std::string volume_source(const std::string& key, const std::map<std::string, Volume>& volumes,
                            const std::string& label) const {
    if (!volumes.count(key))
      bad(label + ": mounts the volume " + shown(key) +
          " that the file does not declare under the top-level volumes:; declare it there");
    return key;
  }

  Mount mount(const Value& m, const std::map<std::string, Volume>& volumes) const {
    Mount out;
    if (m.is_string()) { // short syntax: [source:]target[:mode]
      const std::string& spec = m.as_string();
      const std::string label = "volume " + shown(spec);
      const std::vector<std::string> parts = split(spec, ':');
      if (parts.size() > 3) bad(label + ": more than three ':'-separated parts; use the long syntax");
      if (parts.size() == 1) {
        out.target = target(parts[0], label);
        return out; // an anonymous volume
      }
      out.target = target(parts[1], label);
      if (parts.size() == 3) {
        bool ro = false, rw = false;
        for (const std::string& mode : split(parts[2], ',')) {
          static const std::set<std::string> known = {"ro",       "rw",         "z",      "Z",        "nocopy",
                                                      "shared",   "rshared",    "slave",  "rslave",   "private",
                                                      "rprivate", "consistent", "cached", "delegated"};
          if (!known.count(mode)) bad(label + ": unknown mode " + shown(mode));
          ro = ro || mode == "ro";
          rw = rw || mode == "rw";
        }
        if (ro && rw) bad(label + ": both ro and rw");
        out.read_only = ro;
      }
      const std::string& src = parts[0];
      if (src.empty()) bad(label + ": empty source");
      if (src[0] == '/') {
        out.type = Mount::Type::bind;
        out.source = bind_source(src, label);
      } else if (src[0] == '.' || src[0] == '~') {
        bind_source(src, label); // throws: compose resolves relative paths in what it prints
      } else {
        out.source = volume_source(unescape_dollars(src), volumes, label);
      }
      return out;
    }
    if (!m.is_object()) bad_type("volumes entries", "strings or mappings", m);
    const std::string type = text(m, "type");
    const std::string raw_source = text(m, "source");
    const std::string label = "volume " + shown(type + " " + raw_source + " -> " + text(m, "target"));
    out.target = target(text(m, "target"), label);
    out.read_only = flag(m, "read_only");
    if (type == "bind") {
      out.type = Mount::Type::bind;
      out.source = bind_source(raw_source, label);
    } else if (type == "volume") {
      out.type = Mount::Type::volume;
      if (!raw_source.empty()) out.source = volume_source(unescape_dollars(raw_source), volumes, label);
    } else if (type == "tmpfs") {
      out.type = Mount::Type::tmpfs;
    } else {
      bad(label + ": mount type " + shown(type) + " is not supported (bind, volume and tmpfs are)");
    }
    return out;
  }

  const std::string& what_;
  const std::string& project_;
  std::string context_; // "service 'web': ", "volume 'v': " or "": what is being read, for messages
};

} // namespace

ComposeModel parse_compose_config(const json::Value& doc, const std::string& project, const std::string& what) {
  if (project.empty()) fail(ExitCode::failure, what + ": parse_compose_config needs the compose project name");
  return Reader(what, project).read(doc);
}

std::optional<int> duration_seconds(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  if (text.empty() || text.front() == '-') return std::nullopt;
  if (text == "0") return 0;
  constexpr std::uint64_t billion = 1000000000;
  constexpr std::uint64_t limit_ns = static_cast<std::uint64_t>(INT_MAX) * billion;
  auto digit = [&](std::size_t i) { return i < text.size() && text[i] >= '0' && text[i] <= '9'; };
  std::uint64_t total = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    std::uint64_t whole = 0, frac = 0, scale = 1;
    bool any = false, inexact = false;
    for (; digit(i); ++i, any = true) {
      if (whole > limit_ns / 10) return std::nullopt;
      whole = whole * 10 + static_cast<std::uint64_t>(text[i] - '0');
    }
    if (i < text.size() && text[i] == '.') {
      for (++i; digit(i); ++i, any = true) {
        if (scale < billion) {
          frac = frac * 10 + static_cast<std::uint64_t>(text[i] - '0');
          scale *= 10;
        } else if (text[i] != '0') {
          inexact = true;
        }
      }
    }
    if (!any) return std::nullopt;
    std::string unit;
    while (i < text.size() && !digit(i) && text[i] != '.') {
      const char c = text[i++];
      unit += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    }
    std::uint64_t ns = 0;
    if (unit == "ns")
      ns = 1;
    else if (unit == "us" || unit == "\xc2\xb5s" || unit == "\xce\xbcs")
      ns = 1000;
    else if (unit == "ms")
      ns = 1000000;
    else if (unit == "s")
      ns = billion;
    else if (unit == "m")
      ns = 60 * billion;
    else if (unit == "h")
      ns = 3600 * billion;
    else
      return std::nullopt;
    if (whole > limit_ns / ns) return std::nullopt;
    // whole * ns + ceil(frac / scale * ns), exactly: frac < scale <= 10^9, so frac * (ns % scale) < 10^18.
    std::uint64_t add =
        whole * ns + frac * (ns / scale) + (frac * (ns % scale) + scale - 1) / scale + (inexact ? 1 : 0);
    if (add > limit_ns - total) return std::nullopt;
    total += add;
  }
  return static_cast<int>((total + billion - 1) / billion);
}

std::string describe(const Mount& m) {
  const std::string ro = m.read_only ? " (read-only)" : "";
  switch (m.type) {
  case Mount::Type::bind:
    return "bind " + m.source + " -> " + m.target + ro;
  case Mount::Type::volume:
    return (m.source.empty() ? std::string("anonymous volume") : "volume " + m.source) + " -> " + m.target + ro;
  case Mount::Type::tmpfs:
    return "tmpfs -> " + m.target + ro;
  }
  return "mount -> " + m.target;
}

bool inside(const std::string& path, const std::string& dir) {
  if (path.empty() || dir.empty()) return false;
  if ((path[0] == '/') != (dir[0] == '/')) return false;
  const std::vector<std::string> p = components(path), d = components(dir);
  if (p.size() < d.size() || !std::equal(d.begin(), d.end(), p.begin())) return false;
  // What is left of a relative path must not climb out of `dir` (normalisation leaves ".." only at the front).
  return std::find(p.begin() + static_cast<std::ptrdiff_t>(d.size()), p.end(), "..") == p.end();
}

namespace {

std::vector<std::string> binds_inside(const ComposeModel& model, const std::string& dir, bool writable_only) {
  std::set<std::string> found;
  for (const auto& [_, s] : model.services)
    for (const Mount& m : s.mounts)
      if (m.type == Mount::Type::bind && (!writable_only || !m.read_only) && inside(m.source, dir))
        found.insert(m.source);
  return {found.begin(), found.end()};
}

} // namespace

std::vector<std::string> bind_sources_inside(const ComposeModel& model, const std::string& dir) {
  return binds_inside(model, dir, false);
}

std::vector<std::string> writable_bind_sources_inside(const ComposeModel& model, const std::string& dir) {
  return binds_inside(model, dir, true);
}

void refuse_writable_binds_inside(const ComposeModel& model, const std::string& dir, const std::string& what,
                                  const std::string& outcome) {
  const auto inside = writable_bind_sources_inside(model, dir);
  if (inside.empty()) return;
  std::string list;
  for (const auto& p : inside)
    list += (list.empty() ? "" : ", ") + (p.size() > dir.size() ? p.substr(dir.size() + 1) : p);
  fail(ExitCode::bad_input,
       fmt::format("{} bind-mounts {} from the release tree, which the next release replaces: the data would be "
                   "left behind. Mount it from ${{AIRLOCK_DATA}} instead (e.g. \"${{AIRLOCK_DATA}}/pgdata:/var/lib/"
                   "postgresql/data\"), or use a named volume. {}",
                   what, list, outcome));
}

} // namespace airlock::docker
