#include "publish/deltas.hpp"

#include "archive/gzip.hpp"
#include "archive/tar.hpp"
#include "delta/delta.hpp"
#include "delta/select.hpp"
#include "log/log.hpp"
#include "trust/target.hpp"
#include "util/error.hpp"
#include "util/io.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <set>

namespace airlock::bundle_tool {
namespace fs = std::filesystem;
namespace {

// The verified layer blob of `diff_id`, as a stream of its tar.
struct LayerTar {
  util::FileSource file;
  archive::GzipSource gz;
  LayerTar(Repository& repo, const release::Layer& l)
      : file(verified(repo, l)), gz(file, repo.target_file(*repo.find_target(l.blob))) {}
  static std::string verified(Repository& repo, const release::Layer& l) {
    const auto* t = repo.find_target(l.blob);
    if (!t) fail(ExitCode::not_found, fmt::format("layer blob {} is not in repository {}", l.blob, repo.dir()));
    util::FileSource check(repo.target_file(*t));
    trust::verify_target(*t, check, "repository " + repo.dir());
    return repo.target_file(*t);
  }
};

delta::LayerShape shape_of(Repository& repo, const release::Layer& l) {
  LayerTar in(repo, l);
  archive::TarReader tar(in.gz, l.blob);
  delta::LayerShape s{l.uncompressed_size, {}};
  archive::Entry e;
  while (tar.next(e)) {
    std::string p = fs::path(e.path).lexically_normal().generic_string();
    while (!p.empty() && p.back() == '/') p.pop_back();
    s.paths.insert(p);
  }
  return s;
}

std::string unpacked(Repository& repo, const release::Layer& l, const std::string& work) {
  const std::string path = work + "/" + l.diff_id.substr(7) + ".tar";
  if (fs::exists(path)) return path;
  LayerTar in(repo, l);
  util::AtomicFile out(path);
  std::vector<char> buf(1 << 20);
  for (std::size_t n; (n = in.gz.read(buf.data(), buf.size())) > 0;) out.write(buf.data(), n);
  out.commit();
  return path;
}

// The repository name of an image's first tag ("demo/web" of "demo/web:1.2"): what makes two releases' images
// the same image.
std::string repository_of(const release::Image& img) {
  if (img.tags.empty()) return "";
  const std::string& t = img.tags.front();
  const auto colon = t.rfind(':');
  return colon == std::string::npos || t.find('/', colon) != std::string::npos ? t : t.substr(0, colon);
}

struct Candidates {
  std::vector<const release::Layer*> layers;
  std::vector<delta::LayerShape> shapes;
  std::map<std::string, std::size_t> index; // diff ID -> position
};

} // namespace

DeltaStats add_deltas(Repository& repo, const release::Manifest& base, release::Manifest& patch, const DeltaOptions& o,
                      const std::string& work) {
  DeltaStats stats;
  if (o.max_share <= 0) return stats;
  std::set<std::string> base_ids, new_ids;
  for (const auto& img : base.images)
    for (const auto& l : img.layers) base_ids.insert(l.diff_id);
  for (const auto& img : patch.images)
    for (const auto& l : img.layers) new_ids.insert(l.diff_id);
  Candidates c; // the base release's layers the new release drops: what changed layers may be diffed against
  for (const auto& img : base.images)
    for (const auto& l : img.layers)
      if (!new_ids.count(l.diff_id) && c.index.emplace(l.diff_id, c.layers.size()).second) {
        c.layers.push_back(&l);
        c.shapes.push_back(shape_of(repo, l));
      }
  std::map<std::string, std::optional<release::Delta>> done; // diff ID -> its delta (nullopt: none)
  for (auto& img : patch.images) {
    const release::Image* same = nullptr;
    for (const auto& b : base.images)
      if (repository_of(b) == repository_of(img) || (base.images.size() == 1 && patch.images.size() == 1)) same = &b;
    for (std::size_t i = 0; i < img.layers.size(); ++i) {
      auto& layer = img.layers[i];
      if (base_ids.count(layer.diff_id) || c.layers.empty()) continue;
      if (auto d = done.find(layer.diff_id); d != done.end()) {
        layer.delta = d->second;
        continue;
      }
      std::optional<std::size_t> same_position;
      if (same && i < same->layers.size())
        if (auto it = c.index.find(same->layers[i].diff_id); it != c.index.end()) same_position = it->second;
      const auto pick = delta::choose_base(shape_of(repo, layer), c.shapes, same_position);
      auto& result = done[layer.diff_id];
      if (!pick) continue;
      const release::Layer& from = *c.layers[*pick];
      const std::string target_tar = unpacked(repo, layer, work);
      const std::string file = work + "/" + layer.diff_id.substr(7) + ".zst";
      const auto t0 = std::chrono::steady_clock::now();
      const std::uint64_t size =
          delta::create({unpacked(repo, from, work), 0, from.uncompressed_size}, target_tar, file, o.level);
      fs::remove(target_tar);
      const auto ms =
          std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
      ++stats.made;
      const bool keep = delta::worth_shipping(size, layer.size, o.max_share);
      std::cout << fmt::format(
          "delta {} from {}: {} against {} compressed ({:.1f}%, {} ms){}\n", layer.diff_id.substr(0, 19),
          from.diff_id.substr(0, 19), log::human_bytes(size), log::human_bytes(layer.size),
          100.0 * static_cast<double>(size) / static_cast<double>(std::max<std::uint64_t>(layer.size, 1)), ms,
          keep ? "" : fmt::format("; not kept: above {:.0f}%", 100 * o.max_share));
      if (!keep) continue;
      const std::string name = release::delta_blob_name(repo.app(), layer.diff_id, from.diff_id);
      json::Value custom;
      custom["app"] = repo.app();
      custom["role"] = "delta";
      if (!repo.find_target(name)) repo.stage_target(name, file, custom);
      result = release::Delta{name, from.diff_id, repo.find_target(name)->length};
      layer.delta = result;
      ++stats.kept;
      stats.delta_bytes += result->size;
      stats.layer_bytes += layer.size;
    }
  }
  return stats;
}

} // namespace airlock::bundle_tool
