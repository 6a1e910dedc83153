#include "commands/verify.hpp"

#include "bundle/report.hpp"
#include "util/error.hpp"

#include <iostream>

namespace airlock::commands {

int verify(const util::Args& a) {
  if (a.operands().size() != 1) fail(ExitCode::usage, "verify takes one PATH (a bundle file or repository directory)");
  return bundle::report_verify(a.operands()[0], a.required("trusted-root"),
                               a.has("json") ? bundle::Format::json : bundle::Format::text, std::cout);
}

} // namespace airlock::commands
