#include "commands/stage.hpp"

#include "bundle/container.hpp"
#include "commands/session.hpp"
#include "pipeline/upgrade.hpp"
#include "util/error.hpp"

#include <fmt/format.h>

#include <iostream>
#include <string>

namespace airlock::commands {

int stage(const util::Args& a) {
  Session s(a);
  if (a.operands().size() != 1) fail(ExitCode::usage, "stage takes one PATH (a bundle file or repository directory)");
  s.open_for_change();
  auto source = bundle::open_container(a.operands()[0]);
  const auto m = pipeline::stage_release(s.ctx(), s.db(), *source, a.value("version"));
  std::cout << fmt::format("staged {} {} ({}) in {}: {} entries verified\n", m.app, m.version,
                           m.is_patch ? "patch from " + m.base_version : std::string("full"),
                           s.layout().release_dir(m.version), m.files.size());
  return 0;
}

} // namespace airlock::commands
