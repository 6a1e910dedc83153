#include "bundle/downloads.hpp"

#include "util/hash.hpp"

#include <filesystem>

namespace airlock::bundle {
namespace fs = std::filesystem;

DownloadsCache::DownloadsCache(const site::Layout& l) : layout_(l) {}

std::optional<std::string> DownloadsCache::fetch(const std::string& name, std::size_t max_bytes) {
  const std::string path = layout_.trusted_metadata("timestamp");
  if (name != "timestamp.json" || !fs::is_regular_file(path)) return std::nullopt;
  return util::read_file(path, max_bytes);
}

std::string DownloadsCache::describe() const { return "the downloads in " + layout_.downloads_dir(); }

std::unique_ptr<util::Source> DownloadsCache::open(const std::string& path) {
  const std::string sha = path.substr(path.rfind('/') + 1, 64);
  if (!util::is_sha256_hex(sha) || !fs::is_regular_file(layout_.download_path(sha))) return nullptr;
  return std::make_unique<util::FileSource>(layout_.download_path(sha));
}

bool has_downloads(const site::Layout& l) {
  std::error_code ec;
  if (!fs::is_directory(l.downloads_dir(), ec)) return false;
  for (const auto& e : fs::directory_iterator(l.downloads_dir()))
    if (util::is_sha256_hex(e.path().filename().string())) return true;
  return false;
}

} // namespace airlock::bundle
