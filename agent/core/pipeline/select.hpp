// Choosing the release to install from a verified source (a bundle, a repository directory, later the online
// repository) and reading its targets. DESIGN.md pipeline steps 2, 3 and 5.
//
// The source must already have passed trust::refresh(): only targets listed in the trusted targets metadata are
// considered, and every byte read goes through trust::verify_target before anything uses it.
// Thread-safety: plain functions over the caller's objects.
#pragma once

#include "bundle/container.hpp"
#include "fleet/offer.hpp"
#include "release/manifest.hpp"
#include "site/layout.hpp"
#include "trust/client.hpp"

#include <optional>
#include <string>
#include <vector>

namespace airlock::pipeline {

struct Candidate {
  const trust::TargetFile* release_json = nullptr; // the signed release.json target
  std::string version;
  bool patch = false;
  fleet::Offer offer; // its channels, rollout and min_upgrade_from (signed)
};

struct Selection {
  std::optional<Candidate> best;
  // Why other release targets of the source were passed over, one line each ("demo 2.0.0 for aarch64: another
  // architecture"), for --plan, --scan and the error message when nothing fits.
  std::vector<std::string> skipped;
};

struct Wanted {
  std::string app, arch;
  std::optional<std::string> current;           // installed version
  std::optional<std::string> version;           // only this version
  bool allow_patch = true;                      // false: --force-full, or the installed tree does not verify
  std::string channel = fleet::default_channel; // the site's channel: releases outside it are never seen
  std::optional<std::string> site_id;           // rollouts apply when set (online); nullopt: they do not (a USB import)
  bool ignore_required = false;                 // also consider releases whose min_upgrade_from is above `current`
};

// The newest release of w.app for w.arch that `source` holds; for equal versions a patch (which must name
// w.current as its base) is preferred over a full release. Releases of other apps or architectures and patches
// for another base are listed in `skipped`. Versions older than or equal to the current one are candidates too:
// the caller decides between "none", "downgrade" and "upgrade". A candidate (a release target of w.app for w.arch
// that passed the filters above, and is w.version when that is set) whose signed `version` (or a patch's
// `base_version`) is not a version (release::is_valid_version) throws Error(bad_input) naming it: such a name
// could reach a path of the site, so it is refused where it enters. (Asking for a valid version by name still
// installs it from such a source.)
// Releases outside w.channel, not offered to this site by their rollout (fleet::offered, with w.site_id), or
// whose min_upgrade_from is above w.current (unless w.ignore_required; a first install may start anywhere) are
// passed over with the reason in `skipped`.
Selection select(const trust::TrustedState& st, bundle::Container& source, const Wanted& w);

// The releases to install, in order, to go from w.current to the newest release this site is offered (or to
// w.version): each step the newest release that can be installed over the one before it (its min_upgrade_from
// at most that), a patch from it where the source has one. One step when the newest can be installed directly.
// `unreachable` says why the path cannot be completed (a required release missing from the source); steps are
// then empty. `skipped` is the first step's.
struct UpgradePath {
  std::vector<Candidate> steps;
  std::vector<std::string> skipped;
  std::string unreachable;
};
UpgradePath upgrade_path(const trust::TrustedState& st, bundle::Container& source, const Wanted& w);

// Verifies the target into memory (for release.json; at most `max_bytes`).
std::string read_verified(bundle::Container& source, const trust::TargetFile& t, std::size_t max_bytes = 8u << 20);

// Verifies the target into downloads/<sha256> (temp file, rename: nothing unverified appears there; no fsync,
// because a file already there with that name is re-hashed before it is reused, and removed when it does not
// match) with a progress bar. Returns the path. A source that fetches targets itself
// (Container::fetch_target: the online repository) does all of this, with its own resume rules.
std::string fetch_verified(bundle::Container& source, const trust::TargetFile& t, const site::Layout& l);
// fetch_verified of every target of `ts`, returning their paths in the same order. From a source that does not
// fetch targets itself (a bundle, a repository directory, downloads/) they are verified on
// util::worker_threads() threads at once, largest first, under one progress bar; a failure is thrown as
// bundle::verify_all throws it, after the other running copies end (their verified files stay for a rerun).
std::vector<std::string> fetch_all_verified(bundle::Container& source, const std::vector<const trust::TargetFile*>& ts,
                                            const site::Layout& l);

// release.json of `c`, verified and checked against its signed target (same app, arch, version, kind and base);
// its payload and image archives must be signed targets too. Throws Error(verify_failed) otherwise, and
// Error(bad_input) when release.json does not parse (release::parse_manifest: a version that is not one, an
// unsafe path) or its tree breaks the policy of site::check_tree_policy (setuid/setgid or world-writable
// entries, symlinks that leave the tree). `bytes` (optional) gets the verified file as read.
release::Manifest read_manifest(const trust::TrustedState& st, bundle::Container& source, const Candidate& c,
                                std::string* bytes = nullptr);

// The signed target named `name`, or Error(verify_failed) naming `what`.
const trust::TargetFile& signed_target(const trust::TrustedState& st, const std::string& name, const std::string& what);

} // namespace airlock::pipeline
