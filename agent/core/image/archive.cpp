#include "image/archive.hpp"

#include "archive/gzip.hpp"
#include "archive/tar.hpp"
#include "util/error.hpp"
#include "util/hash.hpp"
#include "util/json.hpp"
#include "util/read_ahead.hpp"

#include <fmt/format.h>

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <set>

namespace airlock::image {
namespace fs = std::filesystem;
namespace {

constexpr std::uint64_t kInMemory = 1u << 20;  // entries up to this size are held in memory while scanning
constexpr std::size_t kMaxConfig = 8u << 20;   // an image config above this is refused
constexpr std::size_t kMaxManifest = 4u << 20; // manifest.json above this is refused

// One regular file of an archive.
struct File {
  std::uint64_t offset = 0, size = 0;
  std::string sha256; // hex, when computed
  std::string bytes;  // small files
  std::string gz;     // large files while splitting: compressed into this file as they were read
};

// What a pass over a `docker save` archive found.
struct Index {
  std::string what;
  std::map<std::string, File> files;
  std::map<std::string, std::string> links; // path -> the archive path it names
  std::string manifest;                     // manifest.json

  // The regular file that `p` names, following links.
  const File& file(std::string p) const {
    for (int hops = 0; hops < 16; ++hops) {
      if (auto f = files.find(p); f != files.end()) return f->second;
      auto l = links.find(p);
      if (l == links.end()) break;
      p = l->second;
    }
    fail(ExitCode::bad_input, fmt::format("{}: manifest.json names {}, which the archive does not hold", what, p));
  }
};

std::string normal(const std::string& p) {
  std::string s = fs::path(p).lexically_normal().generic_string();
  while (!s.empty() && s.back() == '/') s.pop_back();
  return s.rfind("./", 0) == 0 ? s.substr(2) : s;
}

std::string read_entry(archive::TarReader& tar, std::uint64_t size) {
  std::string out(static_cast<std::size_t>(size), '\0');
  std::size_t got = 0;
  while (got < out.size()) {
    const std::size_t n = tar.read(out.data() + got, out.size() - got);
    if (n == 0) break;
    got += n;
  }
  out.resize(got);
  return out;
}

// What a scan does with a large file: only locate it, hash it, or hash it and compress it into work_dir (for a
// gzip archive, which cannot be read a second time at an offset).
enum class Large { locate, hash, compress };

// Reads every entry of `tar`; small files are held in memory and hashed.
Index scan(archive::TarReader& tar, const std::string& what, Large large_files, const std::string& work_dir) {
  Index ix;
  ix.what = what;
  archive::Entry e;
  int large = 0;
  while (tar.next(e)) {
    const std::string path = normal(e.path);
    if (e.type == archive::Entry::Type::symlink) {
      ix.links[path] = normal((fs::path(path).parent_path() / e.link_target).generic_string());
      continue;
    }
    if (e.type == archive::Entry::Type::hardlink) {
      ix.links[path] = normal(e.link_target);
      continue;
    }
    if (e.type != archive::Entry::Type::file) continue;
    File f;
    f.offset = tar.offset();
    f.size = e.size;
    if (e.size <= kInMemory) {
      f.bytes = read_entry(tar, e.size);
      f.sha256 = util::sha256_hex(f.bytes);
    } else if (large_files == Large::hash) {
      util::Sha256 h;
      std::vector<char> buf(1 << 20);
      for (std::size_t n; (n = tar.read(buf.data(), buf.size())) > 0;) h.update(buf.data(), n);
      f.sha256 = h.hex_digest();
    } else if (large_files == Large::compress) {
      f.gz = work_dir + "/entry-" + std::to_string(large++) + ".gz";
      util::Sha256 h;
      util::AtomicFile out(f.gz);
      archive::GzipSink gz(out, 6);
      std::vector<char> buf(1 << 20);
      for (std::size_t n; (n = tar.read(buf.data(), buf.size())) > 0;) {
        h.update(buf.data(), n);
        gz.write(buf.data(), n);
      }
      gz.finish();
      out.commit();
      f.sha256 = h.hex_digest();
    }
    if (path == "manifest.json") {
      if (f.size > kMaxManifest) fail(ExitCode::bad_input, what + ": manifest.json is implausibly large");
      ix.manifest = f.bytes;
    }
    ix.files.emplace(path, std::move(f));
  }
  if (ix.manifest.empty())
    fail(ExitCode::bad_input, what + " holds no manifest.json: it is not a `docker save` archive");
  return ix;
}

// A part of a file, as a stream.
class RangeSource : public util::Source {
public:
  RangeSource(const std::string& path, std::uint64_t offset, std::uint64_t size)
      : file_(path), pos_(offset), end_(offset + size) {}
  std::size_t read(void* buf, std::size_t n) override {
    const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(n, end_ - pos_));
    if (want == 0) return 0;
    const std::size_t got = file_.pread(buf, want, pos_);
    if (got == 0) fail(ExitCode::failure, file_.path() + " ended early while it was read for docker load");
    pos_ += got;
    return got;
  }

private:
  util::FileSource file_;
  std::uint64_t pos_, end_;
};

void compress_to(const std::string& path, util::Source& in) {
  util::AtomicFile out(path);
  archive::GzipSink gz(out, 6);
  std::vector<char> buf(1 << 20);
  for (std::size_t n; (n = in.read(buf.data(), buf.size())) > 0;) gz.write(buf.data(), n);
  gz.finish();
  out.commit();
}

// One image of manifest.json, its config read and checked.
struct Listed {
  std::string id, config;
  std::vector<std::string> tags, layer_paths, diff_ids;
};

std::string config_bytes(const Index& ix, const File& f, const std::string& archive_path) {
  if (f.size > kMaxConfig) fail(ExitCode::bad_input, ix.what + ": an image config is implausibly large");
  if (!f.bytes.empty() || f.size == 0) return f.bytes;
  std::string out(static_cast<std::size_t>(f.size), '\0');
  if (!f.gz.empty()) { // compressed while the archive was split
    util::FileSource file(f.gz);
    archive::GzipSource gz(file, f.gz);
    std::size_t got = 0;
    for (std::size_t n; got < out.size() && (n = gz.read(out.data() + got, out.size() - got)) > 0;) got += n;
  } else {
    util::FileSource(archive_path).pread(out.data(), out.size(), f.offset);
  }
  return out;
}

std::vector<Listed> list_images(const Index& ix, const std::string& archive_path) {
  const json::Value doc = json::parse(ix.manifest, ix.what + " manifest.json");
  if (!doc.is_array() || doc.as_array().empty()) fail(ExitCode::bad_input, ix.what + ": manifest.json lists no image");
  std::vector<Listed> out;
  for (const auto& img : doc.as_array()) {
    const auto* cfg = img.find("Config");
    const auto* layers = img.find("Layers");
    if (!cfg || !cfg->is_string() || !layers || !layers->is_array())
      fail(ExitCode::bad_input, ix.what + ": an image in manifest.json has no Config or no Layers");
    Listed l;
    l.config = config_bytes(ix, ix.file(normal(cfg->as_string())), archive_path);
    l.id = "sha256:" + util::sha256_hex(l.config);
    if (const auto* tags = img.find("RepoTags"); tags && tags->is_array())
      for (const auto& t : tags->as_array())
        if (t.is_string()) l.tags.push_back(t.as_string());
    for (const auto& p : layers->as_array()) {
      if (!p.is_string()) fail(ExitCode::bad_input, ix.what + ": a layer path in manifest.json is not a string");
      l.layer_paths.push_back(normal(p.as_string()));
    }
    const json::Value config = json::parse(l.config, ix.what + " config of " + l.id);
    const auto* rootfs = config.find("rootfs");
    const auto* ids = rootfs ? rootfs->find("diff_ids") : nullptr;
    if (!ids || !ids->is_array() || ids->as_array().size() != l.layer_paths.size())
      fail(ExitCode::bad_input, fmt::format("{}: the config of {} does not list one diff ID per layer of "
                                            "manifest.json",
                                            ix.what, l.id));
    for (const auto& d : ids->as_array()) {
      if (!d.is_string() || d.as_string().rfind("sha256:", 0) != 0 || !util::is_sha256_hex(d.as_string().substr(7)))
        fail(ExitCode::bad_input,
             fmt::format("{}: the config of {} lists a diff ID that is not sha256:<hex>", ix.what, l.id));
      l.diff_ids.push_back(d.as_string());
    }
    out.push_back(std::move(l));
  }
  return out;
}

} // namespace

std::vector<SplitImage> split_archive(const std::string& path, const std::string& work_dir,
                                      const std::function<bool(const std::string&)>& have) {
  util::FileSource file(path);
  unsigned char magic[2] = {0, 0};
  const bool gzip = file.pread(magic, 2, 0) == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
  std::unique_ptr<archive::GzipSource> gz;
  if (gzip) gz = std::make_unique<archive::GzipSource>(file, path);
  archive::TarReader tar(gzip ? static_cast<util::Source&>(*gz) : file, path);
  const Index ix = scan(tar, path, gzip ? Large::compress : Large::hash, work_dir);
  std::vector<SplitImage> out;
  std::set<std::string> written;
  for (auto& l : list_images(ix, gzip ? std::string() : path)) {
    SplitImage img{l.id, l.tags, l.config, {}};
    for (std::size_t i = 0; i < l.layer_paths.size(); ++i) {
      const File& f = ix.file(l.layer_paths[i]);
      if ("sha256:" + f.sha256 != l.diff_ids[i])
        fail(ExitCode::bad_input,
             fmt::format("{}: layer {} of image {} ({}) has SHA-256 {}, but its config says {}: the archive is damaged "
                         "or its layers are compressed; give airlock-bundle the output of `docker save`",
                         path, i + 1, l.id.substr(0, 19), l.layer_paths[i], f.sha256, l.diff_ids[i]));
      SplitLayer layer{l.diff_ids[i], work_dir + "/" + f.sha256 + ".layer.tar.gz", 0, f.size};
      if (have && have(layer.diff_id)) {
        layer.blob_file.clear();
        img.layers.push_back(std::move(layer));
        continue;
      }
      if (written.insert(f.sha256).second) {
        if (!f.gz.empty()) {
          fs::rename(f.gz, layer.blob_file);
        } else if (f.size <= kInMemory) {
          util::StringSource bytes(f.bytes);
          compress_to(layer.blob_file, bytes);
        } else {
          RangeSource range(path, f.offset, f.size);
          compress_to(layer.blob_file, range);
        }
      }
      layer.size = fs::file_size(layer.blob_file);
      img.layers.push_back(std::move(layer));
    }
    out.push_back(std::move(img));
  }
  return out;
}

void write_load_archive(util::Sink& out, const std::string& config, const std::vector<std::string>& tags,
                        const std::vector<LoadLayer>& layers) {
  const std::string config_name = util::sha256_hex(config) + ".json";
  json::Value m;
  m["Config"] = config_name;
  json::Array t, paths;
  for (const auto& tag : tags) t.emplace_back(tag);
  for (const auto& l : layers) paths.emplace_back(l.diff_id.substr(7) + "/layer.tar");
  m["RepoTags"] = t;
  m["Layers"] = paths;
  const std::string manifest = json::compact(json::Array{m});

  archive::TarWriter tar(out);
  auto add_bytes = [&](const std::string& name, const std::string& bytes) {
    archive::Entry e;
    e.path = name;
    e.mode = 0644;
    e.size = bytes.size();
    util::StringSource src(bytes);
    tar.add(e, &src);
  };
  add_bytes("manifest.json", manifest);
  add_bytes(config_name, config);
  std::set<std::string> added;
  for (const auto& l : layers) {
    if (l.omit || !added.insert(l.diff_id).second) continue;
    archive::Entry dir;
    dir.path = l.diff_id.substr(7) + "/";
    dir.type = archive::Entry::Type::directory;
    dir.mode = 0755;
    tar.add(dir, nullptr);
    archive::Entry e;
    e.path = dir.path + "layer.tar";
    e.mode = 0644;
    RangeSource src(l.file, l.offset, l.size);
    if (l.gunzipped_size == 0) {
      e.size = l.size;
      tar.add(e, &src);
      continue;
    }
    // Inflated on a thread of its own, so that this writer is always ready when the engine reads.
    e.size = l.gunzipped_size;
    archive::GzipSource inflate(src, fmt::format("layer {} ({})", l.diff_id.substr(0, 19), l.file));
    util::ReadAheadSource layer(inflate);
    tar.add(e, &layer);
  }
  tar.finish();
}

std::vector<LoadLayer> saved_layers(const std::string& path, const std::string& id) {
  util::FileSource file(path);
  archive::TarReader tar(file, path);
  const Index ix = scan(tar, path, Large::locate, "");
  for (const auto& l : list_images(ix, path)) {
    if (l.id != id) continue;
    std::vector<LoadLayer> out;
    for (std::size_t i = 0; i < l.layer_paths.size(); ++i) {
      const File& f = ix.file(l.layer_paths[i]);
      out.push_back({l.diff_ids[i], false, path, f.offset, f.size});
    }
    return out;
  }
  fail(ExitCode::bad_input, fmt::format("{} does not hold image {}", path, id));
}

} // namespace airlock::image
