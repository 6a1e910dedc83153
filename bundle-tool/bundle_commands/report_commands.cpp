#include "bundle_commands/report_commands.hpp"

#include "report/report.hpp"
#include "trust/metadata.hpp"
#include "util/error.hpp"
#include "util/io.hpp"
#include "util/json.hpp"
#include "util/text.hpp"

#include <fmt/format.h>

#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

namespace airlock::bundle_tool {

int report_register(const util::Args& a) {
  const std::string sites = a.required("sites"), id = a.required("site-id"), key_file = a.required("key");
  if (!a.operands().empty()) fail(ExitCode::usage, "report register takes no operands");
  if (id.size() != 32 || id.find_first_not_of("0123456789abcdef") != std::string::npos)
    fail(ExitCode::usage, fmt::format("--site-id {} is not a site ID (32 lowercase hex digits, as 'airlock init' and "
                                      "'airlock site-key' print it)",
                                      util::quoted(id, 64)));
  const auto key = trust::public_key_from_pem(util::read_file(key_file, 64 * 1024), key_file);
  report::Registry reg;
  if (std::error_code ec; std::filesystem::exists(sites, ec)) reg = report::load_registry(sites);
  auto it = reg.find(id);
  std::string what = "registered";
  if (it != reg.end()) {
    if (!(trust::key_identity(it->second.key) == trust::key_identity(key))) {
      if (!a.has("replace"))
        fail(ExitCode::usage, fmt::format("site {} is registered in {} with another key ({}...); pass --replace to "
                                          "replace it (only when the site really has a new key)",
                                          id, sites, it->second.key.keyid().substr(0, 12)));
      what = "replaced the key of";
    } else {
      what = "updated";
    }
  }
  report::Site site{a.value("name").value_or(it != reg.end() ? it->second.name : ""), key};
  reg[id] = site;
  util::write_file_atomic(sites, report::registry_json(reg), 0644);
  std::cout << fmt::format("{} site {}{} in {} (key {}...; {} site(s) registered)\n", what, id,
                           site.name.empty() ? "" : " (" + site.name + ")", sites, key.keyid().substr(0, 12),
                           reg.size());
  return 0;
}

int report_verify(const util::Args& a, std::int64_t now) {
  if (a.operands().empty()) fail(ExitCode::usage, "report verify needs at least one REPORT file");
  const auto reg = report::load_registry(a.required("sites"));
  std::vector<report::Verified> good;
  std::vector<std::string> files;
  int refused = 0;
  for (const auto& file : a.operands()) {
    try {
      good.push_back(report::verify(util::read_file(file, report::max_report_bytes + 1), file, reg));
      files.push_back(file);
    } catch (const Error& e) {
      std::cerr << "airlock-bundle: refused: " << e.what() << "\n";
      ++refused;
    }
  }
  if (a.has("json")) {
    json::Array out;
    for (std::size_t i = 0; i < good.size(); ++i) {
      const auto& r = good[i].report;
      json::Value v;
      v["file"] = files[i];
      v["site_id"] = r.site_id;
      v["name"] = good[i].name;
      v["app"] = r.app;
      v["version"] = r.version;
      v["health"] = r.health;
      v["generated_at"] = r.generated_at;
      v["age_s"] = now - trust::parse_time(r.generated_at, files[i]);
      v["last_outcome"] = r.runs.empty() ? "" : r.runs.front().outcome;
      out.push_back(v);
    }
    std::cout << json::compact(json::Value(out)) << "\n";
  } else if (!good.empty()) {
    std::cout << report::fleet_table(good, now);
  }
  if (refused)
    std::cerr << fmt::format("airlock-bundle: {} of {} report(s) refused; the table shows only verified ones\n",
                             refused, a.operands().size());
  return refused ? static_cast<int>(ExitCode::verify_failed) : 0;
}

} // namespace airlock::bundle_tool
