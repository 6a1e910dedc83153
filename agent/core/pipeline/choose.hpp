// Internal to pipeline/: the start that import, check and stage share (refresh, choose, read release.json),
// and the preflight helpers.
// Thread-safety: as the pipeline.
#pragma once

#include "image/plan.hpp"
#include "pipeline/context.hpp"
#include "pipeline/select.hpp"
#include "pipeline/upgrade.hpp"
#include "state/db.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace airlock::pipeline {

// Refreshes the trusted metadata from `source` (saved unless o.plan), chooses the release and reads its
// release.json. c empty: nothing to do (rep.reason says why); an older release is an Error when
// `older_is_error`, else a reason.
struct Choice {
  std::optional<std::string> current;
  std::optional<Candidate> c;
  Report rep;
  release::Manifest m;
  std::string release_json; // the verified bytes of m's release.json
  std::vector<std::string> skipped;
  // When the newest release needs intermediate ones (min_upgrade_from): the current version, then every step's
  // (c is the first step). Every step's release.json was verified. Empty for one step.
  std::vector<std::string> path;
};
Choice choose(Context& ctx, trust::TrustedState& st, bundle::Container& source, const Options& o, bool older_is_error);

// Does the installed tree still match its release.json? (A patch applies only to an intact base.)
bool installed_tree_intact(const site::Layout& l, const std::string& version);

// Sums what each filesystem must hold (the state dir and releases/ may share one) and compares it with its free
// space (the context's disk probe). Error(failure) saying what to free; nothing was changed.
void check_space(const Context& ctx, std::uint64_t state_bytes, std::uint64_t release_bytes);

// What the engine lacks of m's images (image/plan.hpp); with no engine reachable, all of them.
std::vector<image::Need> image_needs(Context& ctx, const release::Manifest& m);

// The targets an upgrade to `m` reads: the payload, and the configs and layer blobs of `needs` (image_needs()),
// a layer's delta in place of its blob where its base is in the engine and `source` (nullptr: any) holds it.
std::vector<const trust::TargetFile*> targets_to_fetch(const trust::TrustedState& st, const release::Manifest& m,
                                                       const std::vector<image::Need>& needs,
                                                       bundle::Container* source);

// Bytes of the regular files under `dir` (0 when it does not exist).
std::uint64_t tree_bytes(const std::string& dir);

// Removes from downloads/ what no signed target names any more (complete and .partial files, with their resume
// rows): left by a run that was given up, or by --download-only of a release that was superseded.
void prune_downloads(const Context& ctx, state::StateDb& db, const trust::TrustedState& st);

// --plan: what an import would change, on stdout.
void print_plan(Context& ctx, const release::Manifest& m, const trust::TrustedState& st,
                const std::optional<std::string>& current, std::uint64_t read_bytes, std::uint64_t disk_bytes);

} // namespace airlock::pipeline
