#include "commands/import.hpp"

#include "bundle/container.hpp"
#include "commands/options.hpp"
#include "commands/outcome.hpp"
#include "commands/report.hpp"
#include "commands/session.hpp"
#include "pipeline/upgrade.hpp"
#include "util/error.hpp"

#include <fmt/format.h>

#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

namespace airlock::commands {
namespace fs = std::filesystem;

namespace {

int import_in(Session& s, const util::Args& a, std::string path) {
  if (a.has("scan")) {
    std::vector<std::string> skipped;
    auto best = pipeline::scan(s.ctx(), path, skipped);
    for (const auto& k : skipped) std::cerr << "skipped " << k << "\n";
    if (!best) {
      std::cout << fmt::format("no bundle in {} updates {}\n", path, s.cfg().app_name);
      return 0;
    }
    std::cerr << "chose " << *best << "\n";
    path = *best;
  }
  auto source = bundle::open_container(path);
  auto o = update_options(a);
  o.download_only = false;
  if (source->is_bundle()) o.bundle_sha256 = bundle::bundle_sha256(path); // a part set: of its parts joined
  o.source_label = source->describe();
  const auto r = pipeline::import(s.ctx(), s.db(), *source, o);
  return print_outcome(r, a.has("json") && !o.plan ? Output::json : Output::text);
}

} // namespace

int import(const util::Args& a) {
  Session s(a);
  const bool scan = a.has("scan");
  if (a.operands().size() != 1)
    fail(ExitCode::usage, scan ? "import --scan takes one DIR" : "import takes one BUNDLE (or --scan DIR)");
  const std::string path = a.operands()[0];
  if (!a.has("report")) {
    s.open_for_change();
    return import_in(s, a, path);
  }
  // --report: onto the medium the bundle came from, after the import (and the recovery before it) whatever its
  // outcome.
  std::string dir = scan ? path : fs::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  const Output output = a.has("json") ? Output::json : Output::text;
  int rc = 0;
  try {
    s.open_for_change();
    rc = import_in(s, a, path);
  } catch (const std::exception&) {
    write_report_after(s, dir, output);
    throw;
  }
  write_report_after(s, dir, output);
  return rc;
}

} // namespace airlock::commands
