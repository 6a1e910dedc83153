// The site's identity: a stable random site ID (32 lowercase hex digits, 128 bits from getrandom), made once by
// `airlock init` and kept in <state>/site-id. Staged rollouts place a site by a hash of it, and site reports
// carry it. A site initialised before site IDs existed gets one from the first command that changes the site
// (ensure_site_id); read-only commands only read it (read_site_id).
//
// The site key: an ECDSA P-256 key (trust::generate_key) whose private half is <state>/site-key.pem (mode 0600),
// made by `airlock init`, or on a site initialised before site keys existed by the first command that needs it
// (ensure_site_key). Signed site reports (report/report.hpp) are signed with it; the vendor registers its public
// half (`airlock-bundle report register`). It never leaves the state directory and is never replaced by airlock.
// Thread-safety: plain functions; ensure_site_id and ensure_site_key must run under the site's run lock (or in
// init).
#pragma once

#include "site/layout.hpp"
#include "trust/keys.hpp"

#include <memory>
#include <optional>
#include <string>

namespace airlock::site {

// The site ID, or nullopt when the site has none yet. Error(bad_input) when the file holds anything but an ID.
std::optional<std::string> read_site_id(const Layout& l);

// The site ID, made and stored (atomically, 0644) when there is none. Never changes an existing one.
std::string ensure_site_id(const Layout& l);

// The public half of the site key, or nullopt when the site has none yet. Error(bad_input) naming the file when it
// holds no P-256 private key.
std::optional<trust::PublicKey> read_site_key(const Layout& l);
// The public half of the site key, made (0600, atomically) when there is none.
trust::PublicKey ensure_site_key(const Layout& l);
// A signer with the site key (Error(not_found) when there is none: run ensure_site_key first).
std::unique_ptr<trust::Signer> site_signer(const Layout& l);

// True when `id` is 32 lowercase hex digits.
bool is_site_id(const std::string& id);

} // namespace airlock::site
