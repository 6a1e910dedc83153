// image/archive: `docker save` archives (manifest.json, image configs, layers, symlinks between them), read by
// airlock-bundle when it publishes a release (split_archive) and by the agent when it loads images
// (saved_layers). Checksums would stop mutations at the first tar header, so an input is a list of entries that
// this target writes as a tar archive itself:
//   === f <path>\n<content>     a file       === l <path>\n<target>   a symlink
//   === h <path>\n<target>      a hard link  === d <path>\n           a directory
// (an input that does not start with "=== " is taken as the archive's bytes, checksums fixed). Odd-sized
// inputs are also split in their gzip form. Invariants: each image's ID is the digest of its config, and the
// byte range that saved_layers() names for each layer hashes to that layer's diff ID.
#include "archive/gzip.hpp"
#include "archive/tar.hpp"
#include "fuzz.hpp"
#include "image/archive.hpp"
#include "util/hash.hpp"

#include <filesystem>

using namespace airlock;
namespace fs = std::filesystem;

namespace {

std::string build_tar(std::string_view input) {
  util::StringSink out;
  archive::TarWriter tar(out);
  std::size_t pos = 0;
  while (pos < input.size() && input.compare(pos, 4, "=== ") == 0 && pos + 6 <= input.size()) {
    const char type = input[pos + 4];
    const std::size_t nl = input.find('\n', pos);
    if (nl == std::string_view::npos) break;
    archive::Entry e;
    e.path = std::string(input.substr(std::min(pos + 6, nl), nl - std::min(pos + 6, nl)));
    std::size_t end = input.find("\n=== ", nl);
    end = end == std::string_view::npos ? input.size() : end;
    const std::string content(input.substr(nl + 1, end - std::min(end, nl + 1)));
    pos = end + 1;
    e.mode = 0644;
    switch (type) {
    case 'l':
      e.type = archive::Entry::Type::symlink, e.link_target = content;
      break;
    case 'h':
      e.type = archive::Entry::Type::hardlink, e.link_target = content;
      break;
    case 'd':
      e.type = archive::Entry::Type::directory, e.mode = 0755;
      break;
    default:
      e.size = content.size();
    }
    util::StringSource src(content);
    // An entry TarWriter refuses (an empty name, a NUL byte, ...) ends the archive there, without its end marker.
    if (fuzz::refused([&] { tar.add(e, e.type == archive::Entry::Type::file ? &src : nullptr); })) return out.data;
  }
  tar.finish();
  return out.data;
}

std::string gzip(const std::string& bytes) {
  util::StringSink out;
  archive::GzipSink gz(out, 1);
  gz.write(bytes);
  gz.finish();
  return out.data;
}

void check_ranges(const std::string& path, const std::string& bytes, const std::string& id,
                  const std::vector<image::SplitLayer>& split) {
  std::vector<image::LoadLayer> layers;
  if (fuzz::refused([&] { layers = image::saved_layers(path, id); }))
    fuzz::broken("saved_layers() refuses an image that split_archive() accepted");
  if (layers.size() != split.size()) fuzz::broken("saved_layers() and split_archive() count different layers");
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const auto& l = layers[i];
    if (l.diff_id != split[i].diff_id) fuzz::broken("saved_layers() names another diff ID");
    if (l.offset > bytes.size() || l.size > bytes.size() - l.offset) fuzz::broken("a layer lies outside the archive");
    if ("sha256:" + util::sha256_hex(std::string_view(bytes).substr(l.offset, l.size)) != l.diff_id)
      fuzz::broken("the bytes saved_layers() names do not hash to the layer's diff ID");
  }
}

void split(const std::string& bytes, bool plain) {
  const std::string dir = fuzz::scratch_dir();
  const std::string path = dir + "/image.tar";
  const std::string work = dir + "/work";
  std::error_code ec;
  fs::remove_all(work, ec);
  fs::create_directories(work);
  util::write_file_atomic(path, bytes);
  std::vector<image::SplitImage> images;
  bool odd = false;
  if (fuzz::refused([&] { images = image::split_archive(path, work, [&](const std::string&) { return odd = !odd; }); }))
    return;
  for (const auto& img : images) {
    if (img.id != "sha256:" + util::sha256_hex(img.config)) fuzz::broken("an image ID is not its config's digest");
    for (const auto& l : img.layers)
      if (!l.blob_file.empty() && fs::file_size(l.blob_file) != l.size) fuzz::broken("a blob's size is wrong");
    if (plain) check_ranges(path, bytes, img.id, img.layers);
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::string tar = input.rfind("=== ", 0) == 0 ? build_tar(input) : fuzz::with_checksums(std::string(input));
  split(tar, true);
  if (size % 2) split(gzip(tar), false);
  return 0;
}
