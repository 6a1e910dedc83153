// The online transport: an airlock repository (metadata/ + targets/, as airlock-bundle publishes it and
// docs/repository.md describes) served over HTTP(S) by any static web server, on one or more mirrors.
//
// As a bundle::Container it serves TUF metadata to trust::refresh(): fetch(name) GETs "<mirror>/metadata/<name>"
// from the mirrors in order (Client::get_small: bounded by max_bytes, retried per the policy, nullopt on 404).
// It lists no targets (target_files() is empty: a web server has no directory listing to trust) but holds()
// every signed target. open() GETs a small target (release.json, at most 16 MiB) into memory; fetch_target()
// downloads large ones with download_target(), which is resumable and hashes while streaming. With a state
// database, every request adds the bytes it received to its fact "downloaded_bytes" (airlock metrics).
// Thread-safety: one thread at a time.
#pragma once

#include "bundle/container.hpp"
#include "net/http.hpp"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace airlock::state {
class StateDb;
}

namespace airlock::net {

class HttpRepository : public bundle::Container {
public:
  // Throws Error(usage) when `s` has no mirror or its TLS files cannot be used (see Client). `db` (which must
  // outlive the repository) keeps the resume state of fetch_target(); without it fetch_target() throws.
  explicit HttpRepository(Settings s, state::StateDb* db = nullptr);

  std::optional<std::string> fetch(const std::string& name, std::size_t max_bytes) override;
  std::string describe() const override; // "repository https://a/repo (mirrors: https://b/repo)"
  std::vector<std::string> target_files() override { return {}; }
  std::unique_ptr<util::Source> open(const std::string& path) override;
  bool is_bundle() const override { return false; }
  bool holds(const trust::TargetFile&) override { return true; }
  std::optional<std::string> fetch_target(const trust::TargetFile& t, const std::string& dir) override;
  bool fetches_targets() const override { return true; }

  // Downloads the target `t` (from signed metadata) into "<dir>/<sha256>" and returns that path, from
  // "<mirror>/" + bundle::target_path(t) ("targets/<dir>/<sha256>.<basename>", consistent snapshots) on each
  // mirror in order. Resumable across runs through the `downloads` rows of `db`; an existing verified
  // "<dir>/<sha256>" is returned without a request. Errors as net::Downloader::fetch.
  std::string download_target(const trust::TargetFile& t, const std::string& dir, state::StateDb& db);

  // What the last fetch() or download_target() did on the wire.
  const TransferStats& last_stats() const { return stats_; }
  const Client& client() const { return client_; }

private:
  Client client_;
  state::StateDb* db_;
  TransferStats stats_;
};

} // namespace airlock::net
