#include "net/repository.hpp"

#include "net/download.hpp"
#include "util/error.hpp"

#include <fmt/format.h>

namespace airlock::net {

HttpRepository::HttpRepository(Settings s) : client_(std::move(s)) {
  if (client_.settings().mirrors.empty())
    fail(ExitCode::usage, "no repository URL is configured: set [repository] urls in the configuration");
}

std::optional<std::string> HttpRepository::fetch(const std::string& name, std::size_t max_bytes) {
  // Metadata names come from our own code ("N.root.json", ...), but refuse anything path-like all the same.
  if (name.empty() || name.find('/') != std::string::npos || name.find("..") != std::string::npos)
    fail(ExitCode::failure, "internal: bad metadata name " + name);
  stats_ = {};
  return client_.get_small("metadata/" + name, max_bytes, &stats_);
}

std::string HttpRepository::describe() const {
  const auto& m = client_.settings().mirrors;
  std::string s = "repository " + m.front();
  for (std::size_t i = 1; i < m.size(); ++i) s += (i == 1 ? " (mirrors: " : ", ") + m[i];
  return m.size() > 1 ? s + ")" : s;
}

std::unique_ptr<util::Source> HttpRepository::open(const std::string&) { return nullptr; }

std::string HttpRepository::download_target(const trust::TargetFile& t, const std::string& dir, state::StateDb& db) {
  Target target{t.name, {}, t.length, t.sha256};
  const std::string path = bundle::target_path(t);
  for (const auto& m : client_.settings().mirrors) target.urls.push_back(join_url(m, path));
  Downloader d(client_, db);
  try {
    std::string out = d.fetch(target, dir);
    stats_ = d.stats();
    return out;
  } catch (...) {
    stats_ = d.stats();
    throw;
  }
}

} // namespace airlock::net
