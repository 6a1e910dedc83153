// The site's paths (DESIGN.md "Site layout"): the only code in airlock that composes them. Everything else asks
// a Layout. Two roots, each configurable: the app directory (<install_root>/<app>) and the state directory.
//
//   <app>/releases/<version>/        immutable app tree of each staged release
//   <app>/current                    symlink "releases/<version>"
//   <app>/data/  <app>/site/         the operator's data and site-local overrides
//   <state>/state.db                 the state database (state/db.hpp)
//   <state>/trust/root.json ...      the trusted TUF metadata
//   <state>/releases/<version>.json  the verified release.json of every staged release
//   <state>/downloads/<sha256>[.partial]   verified (or resumable partial) targets
//   <state>/backups/<id>.tar.gz      backups
//   <state>/site-id                  the site's stable random ID (site/identity.hpp)
//   <state>/site-key.pem             the private key that signs the site's reports (site/identity.hpp)
//
// Versions and IDs that reach a path are checked first: release_dir(), manifest_path() and backup_path() throw
// Error(bad_input) for a name that is empty, ".", "..", or holds a '/' or a NUL, and release_dir() and
// manifest_path() also for a version that is not one (release::is_valid_version), so a signed but hostile
// version such as "../trust/root" can never name a file outside its folder. This is the last line: the
// pipeline refuses such versions where they enter (pipeline::select, release::parse_manifest).
// Thread-safety: an immutable value.
#pragma once

#include "config/config.hpp"

#include <string>

namespace airlock::site {

class Layout {
public:
  Layout(std::string app_dir, std::string state_dir);
  static Layout of(const config::Config& cfg) { return Layout(cfg.app_dir(), cfg.state_dir); }

  const std::string& app_dir() const { return app_; }
  const std::string& state_dir() const { return state_; }
  std::string releases_dir() const { return app_ + "/releases"; }
  std::string release_dir(const std::string& version) const;
  std::string current_link() const { return app_ + "/current"; }
  std::string data_dir() const { return app_ + "/data"; }
  std::string site_dir() const { return app_ + "/site"; }

  std::string state_db() const { return state_ + "/state.db"; }
  std::string default_log_file() const { return state_ + "/airlock.jsonl"; } // when [log] file is not set
  std::string trust_dir() const { return state_ + "/trust"; }
  std::string trusted_root() const { return trusted_metadata("root"); }
  // trust/<role>.json for a top-level TUF role (root, timestamp, snapshot, targets).
  std::string trusted_metadata(const std::string& role) const { return trust_dir() + "/" + role + ".json"; }
  std::string manifests_dir() const { return state_ + "/releases"; }
  std::string manifest_path(const std::string& version) const;
  std::string downloads_dir() const { return state_ + "/downloads"; }
  // downloads/<sha256>; Error(bad_input) unless `sha256` is 64 lowercase hex digits.
  std::string download_path(const std::string& sha256) const;
  std::string backups_dir() const { return state_ + "/backups"; }
  std::string backup_path(const std::string& backup_id) const;
  std::string site_id_file() const { return state_ + "/site-id"; }       // site/identity.hpp
  std::string site_key_file() const { return state_ + "/site-key.pem"; } // site/identity.hpp

private:
  std::string app_, state_;
};

// Throws Error(bad_input) naming `what` unless `name` can be one path component (see above).
void check_path_component(const std::string& name, const std::string& what);
// Throws Error(bad_input) unless `version` is a version and so one path component (see above).
void check_release_version(const std::string& version);

} // namespace airlock::site
