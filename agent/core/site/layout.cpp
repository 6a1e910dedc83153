#include "site/layout.hpp"

#include "release/version.hpp"
#include "util/error.hpp"
#include "util/hash.hpp"

namespace airlock::site {

Layout::Layout(std::string app_dir, std::string state_dir) : app_(std::move(app_dir)), state_(std::move(state_dir)) {}

void check_path_component(const std::string& name, const std::string& what) {
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos ||
      name.find('\0') != std::string::npos)
    fail(ExitCode::bad_input, "refused " + what + " '" + name + "': it cannot name a directory of the site");
}

void check_release_version(const std::string& version) {
  check_path_component(version, "release version");
  if (!release::is_valid_version(version))
    fail(ExitCode::bad_input, "refused release version '" + version +
                                  "': it is not a version (dotted numbers such as 1.2.3 or v2.0-rc.1), so it cannot "
                                  "name a directory of the site");
}

std::string Layout::release_dir(const std::string& version) const {
  check_release_version(version);
  return releases_dir() + "/" + version;
}

std::string Layout::manifest_path(const std::string& version) const {
  check_release_version(version);
  return manifests_dir() + "/" + version + ".json";
}

std::string Layout::download_path(const std::string& sha256) const {
  if (!util::is_sha256_hex(sha256)) fail(ExitCode::bad_input, "refused download name '" + sha256 + "': not a SHA-256");
  return downloads_dir() + "/" + sha256;
}

std::string Layout::backup_path(const std::string& backup_id) const {
  check_path_component(backup_id, "backup ID");
  return backups_dir() + "/" + backup_id + ".tar.gz";
}

} // namespace airlock::site
