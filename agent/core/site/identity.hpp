// The site's identity: a stable random site ID (32 lowercase hex digits, 128 bits from getrandom), made once by
// `airlock init` and kept in <state>/site-id. Staged rollouts place a site by a hash of it, and site reports
// carry it. A site initialised before site IDs existed gets one from the first command that changes the site
// (ensure_site_id); read-only commands only read it (read_site_id).
// Thread-safety: plain functions; ensure_site_id must run under the site's run lock (or in init).
#pragma once

#include "site/layout.hpp"

#include <optional>
#include <string>

namespace airlock::site {

// The site ID, or nullopt when the site has none yet. Error(bad_input) when the file holds anything but an ID.
std::optional<std::string> read_site_id(const Layout& l);

// The site ID, made and stored (atomically, 0644) when there is none. Never changes an existing one.
std::string ensure_site_id(const Layout& l);

// True when `id` is 32 lowercase hex digits.
bool is_site_id(const std::string& id);

} // namespace airlock::site
