// A TUF repository on disk, as airlock-bundle maintains it for one app:
//
//   REPO/airlock-repo.json       app name and expiry per role (not published, not signed)
//   REPO/metadata/N.root.json    every root version (the chain clients walk), plus root.json = the newest
//   REPO/metadata/timestamp.json, N.snapshot.json, N.targets.json   (consistent snapshots)
//   REPO/targets/<dir>/<sha256>.<basename>                          target files
//
// metadata/ and targets/ copied onto any static web server are the online repository (tuf-js reads it too).
// Private keys are never stored in the repository: each command gets them as --key files (a KeyRing), and
// every role that must be re-signed takes the keys of the ring that the root lists for it.
// Every write of metadata is atomic (temp file, fsync, rename); targets are written before the metadata that
// lists them, and timestamp.json last, so a crash leaves the previous published state intact.
// Thread-safety: none; one process per repository at a time.
#pragma once

#include "trust/client.hpp"
#include "trust/keys.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace airlock::bundle_tool {

struct Expiry {
  std::int64_t root_days = 365, targets_days = 365, snapshot_days = 365, timestamp_days = 30;
  std::int64_t days(trust::Role r) const;
  // Parses "role=DAYS" (e.g. "timestamp=7"). Throws Error(usage).
  void set(const std::string& spec);
};

class KeyRing {
public:
  void add(std::unique_ptr<trust::Signer> s);
  void load(const std::vector<std::string>& pem_files);
  // The ring's keys that `root` lists for `role`. Throws Error(usage) naming the role, its threshold and the key
  // IDs it needs when fewer than `threshold` of them are in the ring.
  std::vector<trust::Signer*> for_role(const trust::Root& root, trust::Role role) const;

private:
  std::vector<std::unique_ptr<trust::Signer>> signers_;
};

struct InitOptions {
  std::string app;
  std::vector<trust::PublicKey> root_keys;
  std::int64_t root_threshold = 1;
  trust::PublicKey targets_key, snapshot_key, timestamp_key;
  Expiry expiry;
};

class Repository {
public:
  // Creates a new repository in `dir` (which must not hold one) with root v1 and empty targets.
  static void init(const std::string& dir, const InitOptions& opt, const KeyRing& keys, std::int64_t now);
  // Opens an existing repository and verifies its newest metadata (signatures; expiry is not checked, so an
  // expired repository can still be refreshed).
  explicit Repository(std::string dir);
  // Removes the files of targets staged but never published (a failed command leaves no stray target files).
  ~Repository();
  Repository(const Repository&) = delete;
  Repository& operator=(const Repository&) = delete;

  const std::string& dir() const { return dir_; }
  const std::string& app() const { return app_; }
  const trust::Root& root() const { return root_; }
  const trust::Targets& targets() const { return targets_; }
  const trust::Snapshot& snapshot() const { return snapshot_; }
  const trust::Timestamp& timestamp() const { return timestamp_; }
  Expiry& expiry() { return expiry_; }

  // Copies `src_path` into targets/ under its consistent name and stages a targets entry for `name`.
  // Refuses (Error(usage)) a name that is already published. Nothing is visible until publish().
  void stage_target(const std::string& name, const std::string& src_path, const json::Value& custom);
  // Replaces the custom metadata of published target `name` (its file, length and hash stay): the next publish()
  // signs it. Error(not_found) when no published target has that name.
  void set_custom(const std::string& name, const json::Value& custom);
  // The target `name`, published or staged; nullptr when there is none.
  const trust::TargetFile* find_target(const std::string& name) const;
  // Throws Error(usage) naming the role and its key IDs unless `keys` can sign targets, snapshot and timestamp.
  // Commands call it before they write anything.
  void require_publish_keys(const KeyRing& keys) const;
  // Signs and writes targets v+1 (holding the staged entries), snapshot v+1 and timestamp v+1.
  void publish(const KeyRing& keys, std::int64_t now);
  // Re-signs timestamp (and snapshot when `snapshot_too`) with fresh expiry, versions +1.
  void refresh(const KeyRing& keys, std::int64_t now, bool snapshot_too);
  // Writes root v+1 = `next` (version and expiry set here), signed by a threshold of the current root keys and
  // of its own. Re-signs timestamp and snapshot as well when their keys changed.
  void rotate_root(trust::Root next, const KeyRing& keys, std::int64_t now);
  // Opens the file of a published target (verifying its length and hash as it is read is the caller's job).
  std::string target_file(const trust::TargetFile& t) const;
  // The metadata file names of the newest state, root chain first: for bundles.
  std::vector<std::string> metadata_files() const;

private:
  Repository(std::string dir, const trust::Root& root); // the empty state init() publishes from
  void read_config();
  void write_role(const std::string& name, const json::Value& signed_part, trust::Role role, const KeyRing& keys);
  void write_snapshot_and_timestamp(const KeyRing& keys, std::int64_t now, bool new_snapshot);

  std::string dir_, app_;
  Expiry expiry_;
  trust::Root root_;
  trust::Targets targets_;
  trust::Snapshot snapshot_;
  trust::Timestamp timestamp_;
  std::map<std::string, trust::TargetFile> staged_;
  std::map<std::string, json::Value> recustom_; // set_custom() of published targets, applied by publish()
};

} // namespace airlock::bundle_tool

namespace airlock::bundle_tool {

struct ExportOptions {
  std::string version, arch;
  // A site at this version: the bundle holds every step of the required upgrade path to `version`
  // (upgrade_steps()), each as the patch from the step before where the repository has one (and the full release
  // unless patch_only), and the image blobs such a site lacks.
  std::optional<std::string> from;
  std::optional<std::string> channel; // only releases of this channel are steps; nullopt: any channel
  bool patch_only = false;            // leave the full release's app archive out (images the patch needs stay)
  bool no_deltas = false; // a patch's changed layers as full layers, not as their deltas (release::Layer::delta)
  std::string out;        // FILE.airlock
  // Write a part set FILE.airlock.part-001, -002, ... of at most this many bytes each instead of FILE.airlock
  // (bundle::ZipWriter, bundle/parts.hpp); nullopt: one file.
  std::optional<std::uint64_t> part_size;
};

// Writes a bundle: the metadata with the full root chain, plus the targets of one release (and its patch).
// Each target is verified against the signed metadata while it is copied. Returns the number of targets.
std::size_t export_bundle(const Repository& repo, const ExportOptions& opt);

// The versions a site at opt.from installs, in order, to reach opt.version: each step the newest full release for
// opt.arch (in opt.channel) whose min_upgrade_from the step before satisfies; the same rule as the agent's
// (pipeline::upgrade_path). Error(not_found) when the path cannot reach opt.version.
std::vector<std::string> upgrade_steps(const Repository& repo, const ExportOptions& opt);

} // namespace airlock::bundle_tool
