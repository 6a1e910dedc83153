#include "release/manifest.hpp"

#include "release/version.hpp"
#include "util/error.hpp"
#include "util/hash.hpp"

#include <fmt/format.h>

namespace airlock::release {
namespace {

using T = json::Value::Type;

const json::Value& need(const json::Value& o, const std::string& key, T type, const std::string& what) {
  const json::Value* v = o.find(key);
  if (!v || v->type() != type)
    fail(ExitCode::bad_input, fmt::format("{}: field '{}' is missing or has the wrong type", what, key));
  return *v;
}

std::string need_str(const json::Value& o, const std::string& key, const std::string& what) {
  return need(o, key, T::string, what).as_string();
}

// A version names directories and files of a site (releases/<version>/, <state>/releases/<version>.json): only a
// well-formed version, which can be nothing but one harmless path component, gets through.
std::string need_version(const json::Value& o, const std::string& key, const std::string& what) {
  std::string v = need_str(o, key, what);
  if (!is_valid_version(v))
    fail(ExitCode::bad_input, fmt::format("{}: '{}' is '{}', which is not a version (dotted numbers such as 1.2.3 or "
                                          "v2.0-rc.1); the release is refused",
                                          what, key, v));
  return v;
}

std::string safe_path(const json::Value& o, const std::string& key, const std::string& what) {
  std::string p = need_str(o, key, what);
  if (!is_safe_relative_path(p))
    fail(ExitCode::bad_input, fmt::format("{}: path '{}' is absolute, contains '..' or is otherwise unsafe", what, p));
  return p;
}

std::string need_digest(const json::Value& o, const std::string& key, const std::string& what) {
  std::string d = need_str(o, key, what);
  if (d.size() != 71 || d.rfind("sha256:", 0) != 0 || !util::is_sha256_hex(d.substr(7)))
    fail(ExitCode::bad_input, fmt::format("{}: {} '{}' is not sha256:<64 hex>", what, key, d));
  return d;
}

std::uint64_t need_size(const json::Value& o, const std::string& key, const std::string& what) {
  const auto n = need(o, key, T::integer, what).as_int();
  if (n < 0) fail(ExitCode::bad_input, fmt::format("{}: negative {}", what, key));
  return static_cast<std::uint64_t>(n);
}

void parse_layers(const json::Value& i, Image& img, const std::string& what) {
  img.config = safe_path(i, "config", what);
  for (const auto& l : need(i, "layers", T::array, what).as_array()) {
    if (!l.is_object()) fail(ExitCode::bad_input, what + ": an entry of 'layers' is not an object");
    Layer layer;
    layer.diff_id = need_digest(l, "diff_id", what);
    layer.blob = safe_path(l, "blob", what);
    layer.size = need_size(l, "size", what);
    layer.uncompressed_size = need_size(l, "uncompressed_size", what);
    if (const auto* d = l.find("delta")) {
      if (!d->is_object()) fail(ExitCode::bad_input, what + ": a layer's 'delta' is not an object");
      layer.delta = Delta{safe_path(*d, "blob", what), need_digest(*d, "base", what), need_size(*d, "size", what)};
    }
    img.layers.push_back(std::move(layer));
  }
}

json::Value layers_json(const Image& i) {
  json::Array layers;
  for (const auto& l : i.layers) {
    json::Value e;
    e["diff_id"] = l.diff_id;
    e["blob"] = l.blob;
    e["size"] = static_cast<std::int64_t>(l.size);
    e["uncompressed_size"] = static_cast<std::int64_t>(l.uncompressed_size);
    if (l.delta) {
      json::Value d;
      d["blob"] = l.delta->blob;
      d["base"] = l.delta->base;
      d["size"] = static_cast<std::int64_t>(l.delta->size);
      e["delta"] = d;
    }
    layers.push_back(e);
  }
  return layers;
}

} // namespace

bool is_safe_relative_path(const std::string& p) {
  if (p.empty() || p.size() > 4096 || p.front() == '/' || p.find('\\') != std::string::npos ||
      p.find('\0') != std::string::npos)
    return false;
  std::size_t start = 0;
  while (start <= p.size()) {
    std::size_t end = p.find('/', start);
    if (end == std::string::npos) end = p.size();
    std::string part = p.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") return false;
    start = end + 1;
  }
  return true;
}

Manifest parse_manifest(std::string_view bytes, const std::string& what) {
  json::Value doc = json::parse(bytes, what, {8u << 20, 32});
  if (!doc.is_object()) fail(ExitCode::bad_input, what + ": release.json must be an object");
  const auto format = need(doc, "format", T::integer, what).as_int();
  if (format != 1 && format != 2)
    fail(ExitCode::bad_input, fmt::format("{}: release.json format {} is newer than this airlock reads (1 and 2); "
                                          "update airlock first",
                                          what, format));
  Manifest m;
  m.format = static_cast<int>(format);
  m.app = need_str(doc, "app", what);
  m.version = need_version(doc, "version", what);
  m.arch = need_str(doc, "arch", what);
  const std::string kind = need_str(doc, "kind", what);
  if (kind != "full" && kind != "patch") fail(ExitCode::bad_input, fmt::format("{}: unknown kind '{}'", what, kind));
  m.is_patch = kind == "patch";
  if (m.is_patch) m.base_version = need_version(doc, "base_version", what);
  m.compose_file = safe_path(doc, "compose_file", what);
  m.min_agent_version = need_version(doc, "min_agent_version", what);
  if (const auto* h = doc.find("health")) m.health = *h;
  m.payload = safe_path(doc, "payload", what);
  for (const auto& f : need(doc, "files", T::array, what).as_array()) {
    if (!f.is_object()) fail(ExitCode::bad_input, what + ": an entry of 'files' is not an object");
    FileEntry e;
    e.path = safe_path(f, "path", what);
    const std::string type = need_str(f, "type", what);
    if (type == "file") {
      e.type = FileEntry::Type::file;
      auto size = need(f, "size", T::integer, what).as_int();
      if (size < 0) fail(ExitCode::bad_input, fmt::format("{}: negative size for {}", what, e.path));
      e.size = static_cast<std::uint64_t>(size);
      e.sha256 = need_str(f, "sha256", what);
    } else if (type == "dir") {
      e.type = FileEntry::Type::dir;
    } else if (type == "symlink") {
      e.type = FileEntry::Type::symlink;
      e.target = need_str(f, "target", what);
    } else {
      fail(ExitCode::bad_input,
           fmt::format("{}: {} has type '{}'; only file, dir and symlink are allowed", what, e.path, type));
    }
    if (e.type != FileEntry::Type::symlink) {
      auto mode = need(f, "mode", T::integer, what).as_int();
      if (mode < 0 || mode > 07777) fail(ExitCode::bad_input, fmt::format("{}: bad mode for {}", what, e.path));
      e.mode = static_cast<std::uint32_t>(mode);
    }
    m.files.push_back(std::move(e));
  }
  if (const auto* d = doc.find("delete")) {
    if (!d->is_array()) fail(ExitCode::bad_input, what + ": 'delete' must be an array");
    for (const auto& p : d->as_array()) {
      if (!p.is_string() || !is_safe_relative_path(p.as_string()))
        fail(ExitCode::bad_input, what + ": 'delete' holds an unsafe or non-string path");
      m.deletes.push_back(p.as_string());
    }
  }
  for (const auto& i : need(doc, "images", T::array, what).as_array()) {
    if (!i.is_object()) fail(ExitCode::bad_input, what + ": an entry of 'images' is not an object");
    Image img;
    img.id = need_digest(i, "id", what);
    for (const auto& t : need(i, "tags", T::array, what).as_array()) {
      if (!t.is_string()) fail(ExitCode::bad_input, what + ": an image tag is not a string");
      img.tags.push_back(t.as_string());
    }
    if (m.format == 1) {
      if (const auto* a = i.find("archive"); a && !a->is_null()) img.archive = safe_path(i, "archive", what);
    } else {
      parse_layers(i, img, what);
    }
    m.images.push_back(std::move(img));
  }
  return m;
}

std::string to_json_text(const Manifest& m) {
  json::Value d;
  d["format"] = m.format;
  d["app"] = m.app;
  d["version"] = m.version;
  d["arch"] = m.arch;
  d["kind"] = m.is_patch ? "patch" : "full";
  if (m.is_patch) d["base_version"] = m.base_version;
  d["compose_file"] = m.compose_file;
  d["min_agent_version"] = m.min_agent_version;
  d["health"] = m.health;
  d["payload"] = m.payload;
  json::Array files;
  for (const auto& f : m.files) {
    json::Value e;
    e["path"] = f.path;
    switch (f.type) {
    case FileEntry::Type::file:
      e["type"] = "file";
      e["size"] = static_cast<std::int64_t>(f.size);
      e["sha256"] = f.sha256;
      e["mode"] = static_cast<std::int64_t>(f.mode);
      break;
    case FileEntry::Type::dir:
      e["type"] = "dir";
      e["mode"] = static_cast<std::int64_t>(f.mode);
      break;
    case FileEntry::Type::symlink:
      e["type"] = "symlink";
      e["target"] = f.target;
      break;
    }
    files.push_back(e);
  }
  d["files"] = files;
  if (m.is_patch) {
    json::Array del;
    for (const auto& p : m.deletes) del.emplace_back(p);
    d["delete"] = del;
  }
  json::Array images;
  for (const auto& i : m.images) {
    json::Value e;
    e["id"] = i.id;
    json::Array tags;
    for (const auto& t : i.tags) tags.emplace_back(t);
    e["tags"] = tags;
    if (m.format == 1) {
      e["archive"] = i.archive ? json::Value(*i.archive) : json::Value(nullptr);
    } else {
      e["config"] = i.config;
      e["layers"] = layers_json(i);
    }
    images.push_back(e);
  }
  d["images"] = images;
  return json::pretty(d);
}

std::string layer_blob_name(const std::string& app, const std::string& diff_id) {
  return app + "/blobs/" + diff_id.substr(diff_id.find(':') + 1) + ".layer.tar.gz";
}

std::string delta_blob_name(const std::string& app, const std::string& diff_id, const std::string& base) {
  return app + "/blobs/" + diff_id.substr(diff_id.find(':') + 1) + ".from-" + base.substr(base.find(':') + 1) + ".zst";
}

std::string config_blob_name(const std::string& app, const std::string& image_id) {
  return app + "/blobs/" + image_id.substr(image_id.find(':') + 1) + ".config.json";
}

std::string release_dir(const std::string& app, const std::string& version, const std::string& arch) {
  return app + "/" + version + "/" + arch;
}

std::string patch_dir(const std::string& app, const std::string& version, const std::string& arch,
                      const std::string& base) {
  return release_dir(app, version, arch) + "/patch-from-" + base;
}

} // namespace airlock::release
