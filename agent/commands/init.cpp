#include "commands/init.hpp"

#include "config/config.hpp"
#include "pipeline/context.hpp"
#include "pipeline/upgrade.hpp"
#include "site/identity.hpp"
#include "site/layout.hpp"
#include "site/stage.hpp"
#include "state/db.hpp"
#include "state/lock.hpp"
#include "trust/client.hpp"
#include "util/error.hpp"
#include "util/io.hpp"

#include <fmt/format.h>

#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <sys/stat.h>

namespace airlock::commands {
namespace fs = std::filesystem;
namespace {

void make_dir(const std::string& path, mode_t mode) {
  fs::create_directories(path);
  ::chmod(path.c_str(), mode);
}

// The compose file of a directory to adopt: the last of these names that exists; nullopt when none does.
std::optional<std::string> compose_file_in(const std::string& dir) {
  std::optional<std::string> found;
  for (const char* f : {"compose.yaml", "docker-compose.yaml", "docker-compose.yml"})
    if (fs::exists(dir + "/" + f)) found = f;
  return found;
}

// Copies `dir` into releases/0, points current at it and records it (release.json and an install row).
void adopt(const config::Config& cfg, const site::Layout& layout, state::StateDb& db, const std::string& dir) {
  if (site::current_version(layout.app_dir()))
    fail(ExitCode::usage, layout.app_dir() + " already has a current release; --adopt is for new sites");
  const auto compose_file = compose_file_in(dir);
  if (!compose_file) fail(ExitCode::usage, dir + " holds no docker-compose.yml / compose.yaml: nothing to adopt");
  const std::string partial = layout.release_dir("0") + ".partial";
  fs::remove_all(partial);
  fs::copy(dir, partial, fs::copy_options::recursive | fs::copy_options::copy_symlinks);
  fs::rename(partial, layout.release_dir("0"));
  util::fsync_dir(layout.releases_dir());
  pipeline::Context ctx(cfg);
  try {
    for (const auto& line : pipeline::adopt_relative_data(ctx, *compose_file)) std::cout << line << "\n";
  } catch (...) {
    fs::remove_all(layout.release_dir("0"));
    throw;
  }
  site::switch_current(layout.app_dir(), "0");
  pipeline::record_adopted_release(ctx, *compose_file);
  state::Install inst;
  inst.app = cfg.app_name;
  inst.version = "0";
  inst.kind = state::ReleaseKind::adopted;
  db.install_add(inst);
}

} // namespace

int init(const util::Args& a) {
  const std::string config_path = a.value("config").value_or(config::default_path);
  config::Config cfg = config::load(config_path, true);
  if (auto app = a.value("app")) cfg.app_name = *app;
  if (auto root = a.value("install-root")) cfg.install_root = *root;
  if (auto dir = a.value("state-dir")) cfg.state_dir = *dir;
  if (cfg.app_name.empty()) fail(ExitCode::usage, "init needs --app NAME (or [app] name in the configuration)");
  const std::string trusted = a.required("trusted-root");
  // The trusted root must at least be a well-formed root signed by its own threshold.
  const std::string root_bytes = util::read_file(trusted, trust::max_root_bytes);
  auto st = trust::TrustedState::from_root(root_bytes, trusted);

  const auto layout = site::Layout::of(cfg);
  make_dir(layout.releases_dir(), 0755);
  make_dir(layout.data_dir(), 0750);
  make_dir(layout.site_dir(), 0750);
  make_dir(layout.state_dir(), 0700);
  for (const auto& dir : {layout.trust_dir(), layout.downloads_dir(), layout.backups_dir()}) make_dir(dir, 0700);
  state::RunLock lock(layout.state_dir());
  if (!fs::exists(layout.trusted_root())) util::write_file_atomic(layout.trusted_root(), root_bytes, 0644);
  state::StateDb db(layout.state_dir());

  std::string adopted;
  if (auto dir = a.value("adopt")) {
    adopt(cfg, layout, db, *dir);
    adopted = "0";
  }
  if (!fs::exists(config_path)) {
    if (const auto parent = fs::path(config_path).parent_path(); !parent.empty()) fs::create_directories(parent);
    util::write_file_atomic(config_path, fmt::format("; written by airlock init; see docs/airlock.conf.example\n[app]\n"
                                                     "name = {}\ninstall_root = {}\n\n[state]\ndir = {}\n",
                                                     cfg.app_name, cfg.install_root, cfg.state_dir));
  }
  const std::string site_id = site::ensure_site_id(layout);
  const auto site_key = site::ensure_site_key(layout);
  auto audit = state::audit_who("init");
  audit.to_version = adopted;
  audit.outcome = "ok";
  audit.detail = "trusted root v" + std::to_string(st.root.meta.version) + " from " + trusted;
  db.audit_add(audit);
  std::cout << fmt::format("initialised {} in {} (state in {}, trusted root v{}{})\nsite ID: {}\n"
                           "site key (signs the site's reports; register it with 'airlock-bundle report register "
                           "--site-id {} --key FILE', 'airlock site-key' prints it again):\n{}",
                           cfg.app_name, layout.app_dir(), layout.state_dir(), st.root.meta.version,
                           adopted.empty() ? "" : ", adopted the running compose directory as version 0", site_id,
                           site_id, site_key.public_pem);
  return 0;
}

} // namespace airlock::commands
