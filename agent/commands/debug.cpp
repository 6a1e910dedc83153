#include "commands/debug.hpp"

#include "pipeline/steps.hpp"
#include "util/json.hpp"

#include <iostream>
#include <string>

namespace airlock::commands {

int print_steps(Output output, std::ostream& out) {
  if (output == Output::json) {
    json::Array rows;
    for (const auto& s : pipeline::steps) {
      json::Value v;
      v["name"] = std::string(s.name);
      v["phase"] = std::string(pipeline::phase_name(s.phase));
      v["on_crash"] = std::string(pipeline::on_crash_name(s.on_crash));
      v["terminal"] = s.terminal;
      v["path"] = std::string(pipeline::path_name(s.path));
      rows.push_back(v);
    }
    out << json::compact(json::Value(rows)) << "\n";
    return 0;
  }
  for (const auto& s : pipeline::steps)
    out << s.name << " " << pipeline::phase_name(s.phase) << " " << pipeline::on_crash_name(s.on_crash) << " "
        << pipeline::path_name(s.path) << "\n";
  return 0;
}

int debug_steps(const util::Args& a) { return print_steps(a.has("json") ? Output::json : Output::text, std::cout); }

} // namespace airlock::commands
