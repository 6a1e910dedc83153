#include "commands/verify.hpp"

#include "bundle/report.hpp"
#include "config/config.hpp"
#include "site/layout.hpp"
#include "util/error.hpp"

#include <fmt/format.h>

#include <filesystem>
#include <iostream>

namespace airlock::commands {
namespace {

// --trusted-root when given; otherwise the site's trusted state (the configuration's state directory), which also
// refuses metadata older than the site has seen and judges expiry no earlier than its last verification.
bundle::TrustAnchor anchor_of(const util::Args& a) {
  if (auto root = a.value("trusted-root")) return bundle::root_file_anchor(*root);
  const std::string conf = a.value("config").value_or(config::default_path);
  if (!std::filesystem::exists(conf))
    fail(ExitCode::usage,
         fmt::format("verify needs --trusted-root ROOT.json on a host without a site (there is no {})", conf));
  const auto layout = site::Layout::of(config::load(conf));
  if (!std::filesystem::exists(layout.trusted_root()))
    fail(ExitCode::usage, fmt::format("the site of {} has no trusted state ({} is missing; run 'airlock init'); or "
                                      "give --trusted-root ROOT.json",
                                      conf, layout.trusted_root()));
  return {trust::TrustedState::load(layout.trust_dir()), "the site's trusted state in " + layout.trust_dir()};
}

} // namespace

int verify(const util::Args& a) {
  if (a.operands().size() != 1) fail(ExitCode::usage, "verify takes one PATH (a bundle file or repository directory)");
  return bundle::report_verify(a.operands()[0], anchor_of(a),
                               a.has("json") ? bundle::Format::json : bundle::Format::text, std::cout);
}

} // namespace airlock::commands
