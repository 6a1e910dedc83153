// The downloads directory as a transport: what `upgrade --download-only` left in <state>/downloads, served to
// the pipeline without the network (`airlock apply`). It serves the trusted timestamp.json from the trust
// directory (so the refresh re-checks expiry and keeps the versions it already trusts) and the verified targets
// as downloads/<sha256>. As every container, it trusts nothing: the pipeline verifies each byte again.
// Thread-safety: one thread at a time.
#pragma once

#include "bundle/container.hpp"
#include "site/layout.hpp"

namespace airlock::bundle {

class DownloadsCache : public Container {
public:
  explicit DownloadsCache(const site::Layout& l);
  std::optional<std::string> fetch(const std::string& name, std::size_t max_bytes) override;
  std::string describe() const override;
  std::vector<std::string> target_files() override { return {}; }
  std::unique_ptr<util::Source> open(const std::string& path) override;
  bool is_bundle() const override { return false; }

private:
  site::Layout layout_;
};

// Whether downloads/ holds any complete download (a file named by a SHA-256).
bool has_downloads(const site::Layout& l);

} // namespace airlock::bundle
