#include "net/repository.hpp"

#include "metrics/metrics.hpp"
#include "net/download.hpp"
#include "state/db.hpp"
#include "util/error.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

namespace airlock::net {

namespace {

constexpr std::size_t max_small_target = 16u << 20;

// Runs fn, then adds the bytes it received (`stats`, which fn fills) to the state database's counter of
// downloaded bytes, also when fn throws (a failed attempt's bytes crossed the wire too).
template <class Fn> auto counting(state::StateDb* db, const TransferStats& stats, Fn fn) {
  auto count = [&] {
    if (db && stats.wire_bytes > 0) db->fact_add(metrics::downloaded_fact, static_cast<std::int64_t>(stats.wire_bytes));
  };
  try {
    auto r = fn();
    count();
    return r;
  } catch (...) {
    try {
      count();
    } catch (...) { // the transfer's own error is the one to report
    }
    throw;
  }
}

} // namespace

HttpRepository::HttpRepository(Settings s, state::StateDb* db) : client_(std::move(s)), db_(db) {
  if (client_.settings().mirrors.empty())
    fail(ExitCode::usage, "no repository URL is configured: set [repository] urls in the configuration");
}

std::optional<std::string> HttpRepository::fetch(const std::string& name, std::size_t max_bytes) {
  // Metadata names come from our own code ("N.root.json", ...), but refuse anything path-like all the same.
  if (name.empty() || name.find('/') != std::string::npos || name.find("..") != std::string::npos)
    fail(ExitCode::failure, "internal: bad metadata name " + name);
  stats_ = {};
  return counting(db_, stats_, [&] { return client_.get_small("metadata/" + name, max_bytes, &stats_); });
}

std::string HttpRepository::describe() const {
  const auto& m = client_.settings().mirrors;
  std::string s = "repository " + m.front();
  for (std::size_t i = 1; i < m.size(); ++i) s += (i == 1 ? " (mirrors: " : ", ") + m[i];
  return m.size() > 1 ? s + ")" : s;
}

std::unique_ptr<util::Source> HttpRepository::open(const std::string& path) {
  if (path.rfind("targets/", 0) != 0 || path.find("..") != std::string::npos) return nullptr;
  stats_ = {};
  auto body = counting(db_, stats_, [&] { return client_.get_small(path, max_small_target, &stats_); });
  if (!body) return nullptr;
  return std::make_unique<util::StringSource>(std::move(*body));
}

std::optional<std::string> HttpRepository::fetch_target(const trust::TargetFile& t, const std::string& dir) {
  if (!db_) fail(ExitCode::failure, "internal: HttpRepository::fetch_target without a state database");
  return download_target(t, dir, *db_);
}

std::string HttpRepository::download_target(const trust::TargetFile& t, const std::string& dir, state::StateDb& db) {
  Target target{t.name, {}, t.length, t.sha256};
  const std::string path = bundle::target_path(t);
  for (const auto& m : client_.settings().mirrors) target.urls.push_back(join_url(m, path));
  Downloader d(client_, db);
  return counting(&db, stats_, [&] {
    try {
      std::string out = d.fetch(target, dir);
      stats_ = d.stats();
      return out;
    } catch (...) {
      stats_ = d.stats();
      throw;
    }
  });
}

} // namespace airlock::net
