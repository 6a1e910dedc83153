// import, check, stage and scan: from a verified source to a staged release with its images loaded, then
// finish() for the downtime steps.
#include "pipeline/choose.hpp"
#include "pipeline/layers.hpp"
#include "pipeline/run.hpp"
#include "pipeline/upgrade.hpp"

#include "about/build_info.hpp"
#include "bundle/verify.hpp"
#include "image/archive.hpp"
#include "log/log.hpp"
#include "release/version.hpp"
#include "site/stage.hpp"
#include "util/error.hpp"
#include "util/io.hpp"
#include "util/names.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <map>
#include <set>

namespace airlock::pipeline {
namespace fs = std::filesystem;
namespace {

struct Sizes {
  std::uint64_t read = 0;       // payload + image archives to verify
  std::uint64_t tree = 0;       // the staged tree
  std::uint64_t state_need = 0; // in the state dir: downloads, the engine's unpacking (2x), the backup
};

Sizes sizes_of(Context& ctx, const trust::TrustedState& st, bundle::Container& source, const Choice& ch,
               const std::vector<image::Need>& needs) {
  Sizes z;
  const auto& m = ch.m;
  std::uint64_t images = 0, rebuilt = 0; // a layer rebuilt from a delta: its tar, and the base image's save
  for (const auto* t : targets_to_fetch(st, m, needs, &source)) z.read += t->length;
  for (const auto& n : needs)
    for (std::size_t i = n.held; i < n.image->layers.size(); ++i)
      if (image::by_delta(n, i, deltas_in(st, &source, m.version))) rebuilt += 2 * n.image->layers[i].uncompressed_size;
  images = z.read - signed_target(st, m.payload, ch.c->release_json->name).length;
  for (const auto& f : m.files) z.tree += f.size;
  const std::uint64_t backup = tree_bytes(ctx.layout().data_dir()) + tree_bytes(ctx.layout().site_dir());
  z.state_need = z.read + images * 2 + rebuilt + backup;
  return z;
}

// --download-only: the targets into downloads/ and nothing else: no journal (the site is not touched), one
// audit row.
Report download_only(Run& run, const trust::TrustedState& st, bundle::Container& source, const Choice& ch,
                     const std::vector<image::Need>& needs, const Sizes& z) {
  check_space(run.ctx(), z.read, 0);
  std::uint64_t bytes = 0;
  int files = 0;
  const auto targets = targets_to_fetch(st, ch.m, needs, &source);
  fetch_all_verified(source, targets, run.layout());
  for (const auto* t : targets) {
    bytes += t->length;
    ++files;
  }
  // release.json too, so that `apply` can import from the downloads without the network.
  const std::string rj = run.layout().download_path(ch.c->release_json->sha256);
  if (!fs::exists(rj)) util::write_file_atomic(rj, ch.release_json);
  Report rep = ch.rep;
  rep.outcome = Outcome::downloaded;
  rep.reason = fmt::format("{} file(s), {}, in {}", files, log::human_bytes(bytes), run.layout().downloads_dir());
  run.audit("download", "downloaded", "", 0, rep.reason);
  return rep;
}

// Step 4: nothing has changed yet. Every config and layer the engine lacks must be in `source`.
void preflight(Run& run, const trust::TrustedState& st, bundle::Container& source, const Choice& ch,
               const std::vector<image::Need>& needs, const Sizes& z) {
  check_space(run.ctx(), z.state_need, z.tree);
  run.engine().ping();
  run.engine().compose_command();
  for (const auto& n : needs) {
    const auto& img = *n.image;
    auto require = [&](const std::string& name, const std::string& what) {
      if (source.holds(signed_target(st, name, ch.c->release_json->name))) return;
      fail(ExitCode::not_applicable,
           fmt::format("{} of image {} ({}) is neither in the docker engine nor in {}; import the full bundle of {} "
                       "(exported without --from), or a patch bundle from the release this site runs. Nothing was "
                       "changed.",
                       what, img.id.substr(0, 19), fmt::join(img.tags, ", "), source.describe(), ch.m.version));
    };
    require(img.config, "the config");
    for (std::size_t i = n.held; i < img.layers.size(); ++i) {
      const auto& l = img.layers[i];
      if (image::by_delta(n, i, deltas_in(st, &source, ch.m.version))) continue;
      require(l.blob,
              fmt::format("layer {} ({}){}", i + 1, l.diff_id.substr(0, 19),
                          !l.delta
                              ? std::string()
                              : fmt::format(" (its delta's base layer {} is not in the engine{})",
                                            l.delta->base.substr(0, 19),
                                            n.delta_holder[i].empty() ? "" : ", and the delta is not in the source")));
    }
  }
}

// The fetched file of target `name`: the fetch step verified it.
const std::string& fetched_file(const std::map<std::string, std::string>& fetched, const std::string& name) {
  auto it = fetched.find(name);
  if (it == fetched.end())
    fail(ExitCode::failure, fmt::format("{} is needed but was not fetched: the docker engine lost layers since the "
                                        "fetch step; run the import again",
                                        name));
  return it->second;
}

// The layers of one load archive: those the engine holds left out (thin) or exported from it (complete), then
// the fetched blobs.
// Passes bytes on to `out`, adding up how long the writes waited (the docker engine reading the pipe) and, when
// destroyed, how long the writer ran from construction.
class WaitingSink : public util::Sink {
public:
  struct Totals {
    std::int64_t writer_ms = 0, blocked_ms = 0;
    std::uint64_t bytes = 0;
  };
  WaitingSink(util::Sink& out, const util::Clock& clock, Totals& totals)
      : out_(out), clock_(clock), totals_(totals), start_(clock.steady()) {}
  ~WaitingSink() override { totals_.writer_ms = ms(clock_.steady() - start_); }
  WaitingSink(const WaitingSink&) = delete;
  WaitingSink& operator=(const WaitingSink&) = delete;
  void write(const void* data, std::size_t size) override {
    const auto t = clock_.steady();
    out_.write(data, size);
    blocked_ += clock_.steady() - t;
    totals_.blocked_ms = ms(blocked_);
    totals_.bytes += size;
  }
  using Sink::write;

private:
  static std::int64_t ms(util::Clock::steady_time::duration d) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  }
  util::Sink& out_;
  const util::Clock& clock_;
  Totals& totals_;
  util::Clock::steady_time start_;
  util::Clock::steady_time::duration blocked_{};
};

std::vector<image::LoadLayer> load_layers(Run& run, const image::Need& n, bool thin,
                                          const std::map<std::string, std::string>& fetched, Scratch& scratch,
                                          const FullLayer& full) {
  std::vector<image::LoadLayer> layers;
  const auto& img = *n.image;
  if (!thin && n.held > 0) {
    layers = image::saved_layers(scratch.save(run, n.holder), n.holder);
    layers.resize(n.held);
  }
  for (std::size_t i = 0; i < img.layers.size(); ++i) {
    if (i < n.held) {
      if (thin) layers.push_back({img.layers[i].diff_id, true, "", 0, 0});
      continue;
    }
    const auto& l = img.layers[i];
    if (const auto d = l.delta ? fetched.find(l.delta->blob) : fetched.end(); d != fetched.end()) {
      layers.push_back(rebuild_layer(run, n, i, d->second, scratch, full));
      continue;
    }
    const std::string& file = fetched_file(fetched, l.blob);
    layers.push_back({l.diff_id, false, file, 0, fs::file_size(file), l.uncompressed_size});
  }
  return layers;
}

std::string load_images(Run& run, const release::Manifest& m, const std::map<std::string, std::string>& fetched,
                        const FullLayer& full) {
  const auto needs = image_needs(run.ctx(), m);
  const bool thin = needs.empty() || run.engine().loads_thin_archives();
  Scratch scratch; // `docker save` files (complete archives, delta bases) and rebuilt layers
  std::size_t layers_held = 0, layers_fetched = 0;
  std::vector<docker::LocalImage> loaded; // by this step: a later image may share their layers
  {
    for (auto n : needs) {
      for (const auto& l : loaded) image::consider(n, l);
      const auto& img = *n.image;
      const auto t0 = run.ctx().clock().steady();
      const std::string config = util::read_file(fetched_file(fetched, img.config), 8u << 20);
      const auto layers = load_layers(run, n, thin, fetched, scratch, full);
      log::event(log::Level::info, "upgrade", "image-load",
                 fmt::format("  loading {} ({}): {} layer(s) fetched, {} in the engine{}", img.id.substr(0, 19),
                             fmt::join(img.tags, ", "), img.layers.size() - n.held, n.held,
                             n.held == 0 ? ""
                             : thin      ? " (left out)"
                                         : " (exported from " + n.holder.substr(0, 19) + ")"));
      // The parts of the time: assembling the archive (reading the blobs, writing headers) runs on the writer
      // thread and overlaps the engine's reading; the time that writer spends blocked on the engine is engine time.
      WaitingSink::Totals parts;
      const auto t_load = run.ctx().clock().steady();
      run.engine().load(
          [&](util::Sink& out) {
            WaitingSink timed(out, run.ctx().clock(), parts);
            image::write_load_archive(timed, config, img.tags, layers);
          },
          img.id, img.tags);
      const std::int64_t load_ms = ms_since(run.ctx(), t_load), assemble_ms = parts.writer_ms - parts.blocked_ms;
      log::event(log::Level::info, "upgrade", "image-loaded",
                 fmt::format("  loaded {} in {} ms: prepare {} ms, assemble {} ms ({} streamed), engine {} ms",
                             img.id.substr(0, 19), ms_since(run.ctx(), t0), ms_since(run.ctx(), t0) - load_ms,
                             assemble_ms, log::human_bytes(parts.bytes), load_ms - assemble_ms),
                 {{"image", img.id},
                  {"prepare_ms", ms_since(run.ctx(), t0) - load_ms},
                  {"assemble_ms", assemble_ms},
                  {"engine_ms", load_ms - assemble_ms},
                  {"archive_bytes", static_cast<std::int64_t>(parts.bytes)}});
      layers_held += n.held;
      layers_fetched += img.layers.size() - n.held;
      loaded.push_back({img.id, {}});
      for (const auto& l : img.layers) loaded.back().layers.push_back(l.diff_id);
    }
  }
  return fmt::format("{} loaded ({} layer(s) from the release, {} from the engine, {} archives), {} already present",
                     needs.size(), layers_fetched, layers_held, thin ? "thin" : "complete",
                     m.images.size() - needs.size());
}

// Steps 5 to 7: fetch, stage, load; the running services are untouched.
void fetch_stage_load(Run& run, const trust::TrustedState& st, bundle::Container& source, const Choice& ch,
                      const std::vector<image::Need>& needs) {
  const auto& l = run.layout();
  const auto& m = ch.m;
  // Composed (and so checked) before anything is written: the cleanup below must not throw.
  const std::string tree = l.release_dir(m.version), manifest = l.manifest_path(m.version);
  std::map<std::string, std::string> fetched; // target name -> file in downloads/
  try {
    run.step(Step::fetch, "verify the release targets into " + l.downloads_dir(), [&] {
      const auto targets = targets_to_fetch(st, m, needs, &source);
      const auto paths = fetch_all_verified(source, targets, l);
      std::uint64_t bytes = 0;
      for (std::size_t i = 0; i < targets.size(); ++i) {
        fetched[targets[i]->name] = paths[i];
        bytes += targets[i]->length;
      }
      const DeltaBytes d = delta_bytes(needs, deltas_in(st, &source, m.version));
      const std::string detail = fmt::format("{} target(s) verified, {}", fetched.size(), log::human_bytes(bytes));
      if (d.layers == 0) return detail;
      const std::string saved =
          fmt::format("{} layer(s) as deltas: {} in place of {}, {} saved", d.layers, log::human_bytes(d.delta),
                      log::human_bytes(d.full), log::human_bytes(d.full - std::min(d.full, d.delta)));
      log::event(log::Level::info, "upgrade", "deltas", "  " + saved);
      return detail + "; " + saved;
    });
    run.step(Step::stage, "releases/" + m.version, [&] {
      fs::create_directories(l.manifests_dir());
      util::write_file_atomic(manifest, release::to_json_text(m));
      util::FileSource payload(fetched.at(m.payload));
      if (m.is_patch)
        site::stage_patch(l.releases_dir(), *ch.current, m, payload);
      else
        site::stage_full(l.releases_dir(), m, payload);
      const auto project = run.project(m.version);
      run.engine().validate(project);
      // A writable bind mount from the release tree would be left behind by the next release; the host policy and
      // the images compose would run are judged on the same effective configuration.
      const auto model = run.engine().model(project);
      docker::refuse_writable_binds_inside(model, tree, m.compose_file, "Nothing was stopped.");
      policy::enforce(model, run.ctx().host_policy(), {l.app_dir()}, m.compose_file, "Nothing was stopped.");
      policy::require_shipped_images(model, m.images, m.compose_file, "Nothing was stopped.");
      return fmt::format("{} entries verified; {} accepts {}", m.files.size(),
                         util::describe_argv(run.engine().compose_command()), m.compose_file);
    });
    run.step(Step::load, fmt::format("{} image(s)", m.images.size()), [&] {
      const FullLayer full = [&](const std::string& blob) -> std::optional<std::string> {
        const auto& t = signed_target(st, blob, m.version);
        if (!source.holds(t)) return std::nullopt;
        return fetched[blob] = fetch_verified(source, t, l);
      };
      auto detail = load_images(run, m, fetched, full);
      for (const auto& [_, path] : fetched) fs::remove(path);
      std::error_code ec;
      fs::remove(l.download_path(ch.c->release_json->sha256), ec); // kept by --download-only
      return detail;
    });
  } catch (const std::exception& e) {
    // Refused or failed: what was fetched will not be used (a kill skips this, so a rerun can reuse it).
    for (const auto& [_, path] : fetched) {
      std::error_code ec;
      fs::remove(path, ec);
    }
    if (std::error_code ec; !fs::is_directory(tree, ec)) fs::remove(manifest, ec);
    run.mark(Step::rollback, state::StepStatus::done,
             std::string("failed before the services stopped; nothing to undo: ") + e.what());
    run.audit(run.plan().action, "failed", "", 0, e.what());
    throw;
  }
}

constexpr util::NameTable<Outcome, 8> outcome_names{{{Outcome::none, "none"},
                                                     {Outcome::planned, "planned"},
                                                     {Outcome::staged, "staged"},
                                                     {Outcome::updated, "updated"},
                                                     {Outcome::rolled_back, "rolled-back"},
                                                     {Outcome::needs_attention, "needs-attention"},
                                                     {Outcome::abandoned, "abandoned"},
                                                     {Outcome::downloaded, "downloaded"}}};

} // namespace

const char* outcome_name(Outcome o) { return util::name_of(outcome_names, o).data(); }

namespace {

// One release: the whole pipeline from `ch` (chosen from `st`), or --plan / --stage-only / --download-only.
Report import_step(Context& ctx, state::StateDb& db, bundle::Container& source, const Options& o,
                   trust::TrustedState& st, Choice& ch) {
  if (!ch.c) return ch.rep;
  if (!o.plan) prune_downloads(ctx, db, st);
  const auto needs = image_needs(ctx, ch.m); // once for the steps before the load; the load asks the engine again
  const Sizes z = sizes_of(ctx, st, source, ch, needs);
  Plan plan{ch.rep.from,
            ch.c->version,
            ch.c->patch ? UpgradeKind::patch : UpgradeKind::full,
            o.bundle_sha256,
            o.source_label,
            "",
            o.action.empty() ? "import" : o.action};
  Run run(ctx, db, state::new_id(), plan);
  Report rep = ch.rep;
  if (o.plan) {
    print_plan(ctx, ch.m, st, ch.current, z.read, z.state_need + z.tree);
    rep.outcome = Outcome::planned;
    return rep;
  }
  if (o.download_only) return download_only(run, st, source, ch, needs, z);
  preflight(run, st, source, ch, needs, z);
  const std::string summary = fmt::format("{} {} -> {} ({}) from {}", ctx.cfg().app_name,
                                          ch.current.value_or("nothing"), ch.m.version, rep.kind, source.describe());
  if (o.confirm && !o.confirm(summary)) {
    rep.outcome = Outcome::none;
    rep.reason = "not confirmed; nothing changed";
    return rep;
  }
  log::event(log::Level::info, "upgrade", "plan", "upgrade " + run.id() + ": " + summary);
  run.begin();
  rep.upgrade_id = run.id();
  if (!o.stage_only) run.pre_upgrade_hooks(); // --stage-only: at `apply`, before the stop
  fetch_stage_load(run, st, source, ch, needs);
  if (o.stage_only) {
    run.mark(Step::staged, state::StepStatus::done, "staged by --stage-only; 'airlock apply' finishes it");
    run.audit(plan.action, "staged", "", 0, "upgrade " + run.id() + " staged; run 'airlock apply'");
    rep.outcome = Outcome::staged;
    return rep;
  }
  return finish(run);
}

} // namespace

std::string path_text(const std::vector<std::string>& path) {
  std::string t;
  for (const auto& v : path) t += (t.empty() ? "" : " -> ") + (v.empty() ? std::string("nothing") : v);
  return t;
}

Report import(Context& ctx, state::StateDb& db, bundle::Container& source, const Options& o) {
  auto st = trust::TrustedState::load(ctx.layout().trust_dir());
  auto ch = choose(ctx, st, source, o, true);
  if (ch.path.empty()) return import_step(ctx, db, source, o, st, ch);
  // An upgrade path: each step a whole upgrade (its own backup, health gate and commit), in order; the first that
  // does not commit ends it. Every step was checked to be there before the first starts (choose()).
  const std::size_t n = ch.path.size() - 1;
  const std::string text = path_text(ch.path);
  log::event(log::Level::info, "upgrade", "path", fmt::format("upgrade path {} ({} steps)", text, n));
  if (o.plan)
    std::cout << fmt::format("upgrade path: {} ({} steps, each with its own backup, health gate and commit; the plan "
                             "of the first step follows)\n",
                             text, n);
  Report rep;
  std::size_t done = 0;
  for (std::size_t i = 0; i < n; ++i) {
    Options step = o;
    step.version = ch.path[i + 1];
    if (o.download_only && i > 0) step.assume_current = ch.path[i]; // fetch what each step will need
    step.confirm = nullptr;
    if (i == 0 && o.confirm)
      step.confirm = [&](const std::string& summary) {
        return o.confirm(
            fmt::format("{}; step 1 of the upgrade path {}, each step committed before the next", summary, text));
      };
    if (i == 0) { // the first step is the choice already made: no second refresh, no second read of release.json
      rep = import_step(ctx, db, source, step, st, ch);
    } else {
      auto step_st = trust::TrustedState::load(ctx.layout().trust_dir());
      auto step_ch = choose(ctx, step_st, source, step, true);
      rep = import_step(ctx, db, source, step, step_st, step_ch);
    }
    if (rep.outcome == Outcome::updated) done = i + 1;
    // --plan: the later steps' plans depend on what the first leaves; --stage-only stages the first step only.
    if (o.plan || o.stage_only) break;
    if (rep.outcome != Outcome::updated && rep.outcome != Outcome::downloaded) break;
  }
  rep.path = ch.path;
  rep.steps_done = done;
  if (done < n && (rep.outcome == Outcome::rolled_back || rep.outcome == Outcome::needs_attention ||
                   rep.outcome == Outcome::staged || rep.outcome == Outcome::none)) {
    const std::string stop =
        fmt::format("upgrade path {}: {} of {} steps committed, stopped at {}", text, done, n, rep.to);
    rep.reason = rep.reason.empty() ? stop : rep.reason + "; " + stop;
  }
  return rep;
}

CheckReport check(Context& ctx, state::StateDb&, bundle::Container& source, const Options& o) {
  auto st = trust::TrustedState::load(ctx.layout().trust_dir());
  Options read_only = o;
  read_only.plan = true; // the refreshed metadata is checked but not saved: check changes nothing
  auto ch = choose(ctx, st, source, read_only, false);
  CheckReport r;
  r.from = ch.rep.from;
  r.skipped = ch.skipped;
  r.reason = ch.rep.reason;
  if (!ch.c) {
    r.to = ch.rep.from;
    return r;
  }
  r.decision = ch.c->patch ? "patch" : "full";
  r.to = ch.c->version;
  std::set<std::string> counted; // a blob two steps need is fetched once
  auto add_bytes = [&](const trust::TrustedState& s, const Choice& c) {
    const auto needs = image_needs(ctx, c.m);
    const DeltaBytes d = delta_bytes(needs, deltas_in(s, &source, c.m.version));
    r.delta_layers += d.layers;
    r.saved_bytes += d.full - std::min(d.full, d.delta);
    for (const auto* t : targets_to_fetch(s, c.m, needs, &source)) {
      if (!counted.insert(t->sha256).second) continue;
      r.total_bytes += t->length;
      std::error_code ec;
      const std::string path = ctx.layout().download_path(t->sha256);
      if (fs::is_regular_file(path, ec) && fs::file_size(path, ec) == t->length) continue; // downloaded already
      const auto partial = fs::file_size(path + ".partial", ec);
      r.download_bytes += t->length - (!ec && partial < t->length ? partial : 0);
    }
  };
  add_bytes(st, ch);
  if (!ch.path.empty()) { // an upgrade path: what every later step reads too, planned from the step before it
    r.path = ch.path;
    r.to = ch.path.back();
    for (std::size_t i = 2; i < ch.path.size(); ++i) {
      Options step = read_only;
      step.version = ch.path[i];
      step.assume_current = ch.path[i - 1];
      auto step_st = trust::TrustedState::load(ctx.layout().trust_dir());
      auto step_ch = choose(ctx, step_st, source, step, false);
      if (step_ch.c) add_bytes(step_st, step_ch);
    }
  }
  return r;
}

} // namespace airlock::pipeline
