#include "pipeline/layers.hpp"

#include "delta/delta.hpp"
#include "log/log.hpp"
#include "pipeline/select.hpp"
#include "util/error.hpp"

#include <fmt/format.h>

#include <filesystem>

namespace airlock::pipeline {
namespace fs = std::filesystem;

image::TakeDelta deltas_in(const trust::TrustedState& st, bundle::Container* source, const std::string& version) {
  return [&st, source, version](const std::string& blob) {
    return !source || source->holds(signed_target(st, blob, version));
  };
}

DeltaBytes delta_bytes(const std::vector<image::Need>& needs, const image::TakeDelta& take) {
  DeltaBytes b;
  for (const auto& n : needs)
    for (std::size_t i = n.held; i < n.image->layers.size(); ++i)
      if (image::by_delta(n, i, take)) {
        ++b.layers;
        b.delta += n.image->layers[i].delta->size;
        b.full += n.image->layers[i].size;
      }
  return b;
}

Scratch::~Scratch() {
  std::error_code ec;
  for (const auto& [_, path] : saved) fs::remove(path, ec);
  for (const auto& path : files) fs::remove(path, ec);
}

const std::string& Scratch::save(Run& run, const std::string& id) {
  auto& path = saved[id];
  if (path.empty()) {
    path = run.layout().downloads_dir() + "/save-" + id.substr(7, 12) + ".tar";
    run.engine().save(id, path);
  }
  return path;
}

namespace {

// The base layer of a delta inside the `docker save` file of the local image that holds it.
delta::Range base_range(Run& run, const std::string& holder, const std::string& base, Scratch& scratch) {
  const std::string& path = scratch.save(run, holder);
  for (const auto& l : image::saved_layers(path, holder))
    if (l.diff_id == base) return {l.file, l.offset, l.size};
  fail(ExitCode::failure, fmt::format("docker save of {} does not hold layer {}", holder.substr(0, 19), base));
}

} // namespace

image::LoadLayer rebuild_layer(Run& run, const image::Need& n, std::size_t i, const std::string& delta_file,
                               Scratch& scratch, const FullLayer& full) {
  const auto& l = n.image->layers[i];
  const std::string what =
      fmt::format("layer {} ({}) of image {}", i + 1, l.diff_id.substr(0, 19), n.image->id.substr(0, 19));
  const std::string out = run.layout().downloads_dir() + "/" + l.diff_id.substr(7) + ".layer.tar";
  try {
    if (i >= n.delta_holder.size() || n.delta_holder[i].empty())
      fail(ExitCode::not_applicable,
           fmt::format("{}: no local image holds the delta's base layer {} any more", what, l.delta->base));
    const auto t0 = run.ctx().clock().steady();
    const delta::Range base = base_range(run, n.delta_holder[i], l.delta->base, scratch);
    scratch.files.push_back(out);
    delta::apply(base, delta_file, out, l.uncompressed_size, l.diff_id.substr(7), what);
    log::event(log::Level::info, "upgrade", "layer-delta",
               fmt::format("  rebuilt {} from a delta of {} (in place of {}) against {} in {} ms", what,
                           log::human_bytes(l.delta->size), log::human_bytes(l.size), l.delta->base.substr(0, 19),
                           ms_since(run.ctx(), t0)));
    return {l.diff_id, false, out, 0, l.uncompressed_size};
  } catch (const Error& e) {
    const auto file = full(l.blob);
    if (!file)
      fail(e.code(), fmt::format("{}; the full layer {} is not in the source either: import a bundle exported "
                                 "without --patch-only (or with --no-deltas), or upgrade from the repository. "
                                 "Nothing was stopped.",
                                 e.what(), l.blob));
    log::event(log::Level::warning, "upgrade", "layer-delta-fallback",
               fmt::format("  {}; took the full layer ({}) instead", e.what(), log::human_bytes(l.size)));
    return {l.diff_id, false, *file, 0, fs::file_size(*file), l.uncompressed_size};
  }
}

} // namespace airlock::pipeline
