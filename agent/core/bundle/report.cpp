#include "bundle/report.hpp"

#include "bundle/verify.hpp"
#include "util/error.hpp"
#include "util/io.hpp"
#include "util/json.hpp"

#include <fmt/format.h>

#include <ctime>

namespace airlock::bundle {
namespace {

json::Value target_json(const trust::TargetFile& t) {
  json::Value v;
  v["name"] = t.name;
  v["length"] = static_cast<std::int64_t>(t.length);
  v["sha256"] = t.sha256;
  if (!t.custom.is_null()) v["custom"] = t.custom;
  return v;
}

std::string custom_str(const json::Value& c, const char* key) { return json::string_or(c, key, ""); }

json::Value role_summary(const trust::Common& c) {
  json::Value v;
  v["version"] = c.version;
  v["expires"] = c.expires;
  return v;
}

} // namespace

TrustAnchor root_file_anchor(const std::string& trusted_root) {
  return {trust::TrustedState::from_root(util::read_file(trusted_root, trust::max_root_bytes), trusted_root),
          "trusted root " + trusted_root};
}

int report_verify(const std::string& path, const TrustAnchor& anchor, Format format, std::ostream& out) {
  const bool as_json = format == Format::json;
  auto container = open_container(path);
  auto r = verify_container(*container, anchor.state, static_cast<std::int64_t>(std::time(nullptr)));
  const auto& st = r.state;
  if (as_json) {
    json::Value v;
    v["path"] = path;
    v["verified"] = true;
    v["trusted_by"] = anchor.source;
    v["root"] = role_summary(st.root.meta);
    v["timestamp"] = role_summary(st.timestamp->meta);
    v["snapshot"] = role_summary(st.snapshot->meta);
    v["targets"] = role_summary(st.targets->meta);
    json::Array files;
    for (const auto& t : r.verified) files.push_back(target_json(t.target));
    v["verified_targets"] = files;
    v["verified_bytes"] = static_cast<std::int64_t>(r.bytes);
    json::Array absent;
    for (const auto& a : r.absent) absent.emplace_back(a);
    v["absent_targets"] = absent;
    out << json::compact(v) << "\n";
    return 0;
  }
  out << fmt::format("{}: verified from {}\n", path, anchor.source);
  out << fmt::format("  root v{} (expires {}), timestamp v{} ({}), snapshot v{} ({}), targets v{} ({})\n",
                     st.root.meta.version, st.root.meta.expires, st.timestamp->meta.version, st.timestamp->meta.expires,
                     st.snapshot->meta.version, st.snapshot->meta.expires, st.targets->meta.version,
                     st.targets->meta.expires);
  for (const auto& t : r.verified) out << fmt::format("  ok  {:>12}  {}\n", t.target.length, t.target.name);
  out << fmt::format("  {} targets, {} bytes verified against their signed SHA-256", r.verified.size(), r.bytes);
  if (!r.absent.empty())
    out << fmt::format("; {} listed targets are not in this {}", r.absent.size(),
                       container->is_bundle() ? "bundle" : "repository");
  out << "\n";
  for (const auto& u : r.unlisted) out << "  note: " << u << " is not listed by any signed target (ignored)\n";
  return 0;
}

int report_inspect(const std::string& path, Format format, std::ostream& out) {
  const bool as_json = format == Format::json;
  auto c = open_container(path);
  // Find the newest root in the container and take it as its own anchor: inspect describes, it does not trust.
  std::int64_t n = 1;
  while (c->fetch(std::to_string(n + 1) + ".root.json", trust::max_root_bytes)) ++n;
  auto first = c->fetch(std::to_string(n) + ".root.json", trust::max_root_bytes);
  if (!first) fail(ExitCode::bad_input, c->describe() + " holds no 1.root.json: not an airlock repository or bundle");
  trust::TrustedState st = trust::TrustedState::from_root(*first, std::to_string(n) + ".root.json in " + c->describe());
  // Expiry is reported below rather than enforced, so an expired repository can still be described.
  std::string problem;
  try {
    trust::refresh(st, *c, trust::RefreshOptions{0});
  } catch (const Error& e) {
    problem = e.what();
  }
  if (!st.targets) {
    if (as_json) {
      json::Value v;
      v["path"] = path;
      v["problem"] = problem;
      out << json::compact(v) << "\n";
    } else {
      out << path << ": cannot be described: " << problem << "\n";
    }
    return static_cast<int>(ExitCode::verify_failed);
  }
  const auto now = static_cast<std::int64_t>(std::time(nullptr));
  for (const trust::Common* m :
       {static_cast<const trust::Common*>(&st.root.meta), static_cast<const trust::Common*>(&st.timestamp->meta),
        static_cast<const trust::Common*>(&st.snapshot->meta), static_cast<const trust::Common*>(&st.targets->meta)})
    if (m->expires_at <= now) problem += (problem.empty() ? "" : "; ") + m->type + " expired at " + m->expires;
  const auto& root = st.root.meta;
  if (as_json) {
    json::Value v;
    v["path"] = path;
    v["kind"] = c->is_bundle() ? "bundle" : "repository";
    v["problem"] = problem;
    v["root"] = role_summary(root);
    v["timestamp"] = role_summary(st.timestamp->meta);
    v["snapshot"] = role_summary(st.snapshot->meta);
    v["targets"] = role_summary(st.targets->meta);
    for (const auto& [role, rk] : root.roles) {
      json::Array ids;
      for (const auto& id : rk.keyids) ids.emplace_back(id);
      v["keys"][trust::role_name(role)]["keyids"] = ids;
      v["keys"][trust::role_name(role)]["threshold"] = rk.threshold;
    }
    json::Array ts;
    for (const auto& [name, t] : st.targets->meta.targets) {
      json::Value tj = target_json(t);
      tj["present"] = static_cast<bool>(c->open(target_path(t)));
      ts.push_back(tj);
    }
    v["target_files"] = ts;
    out << json::compact(v) << "\n";
    return 0;
  }
  out << fmt::format("{} ({})\n", path, c->is_bundle() ? "bundle" : "repository");
  if (!problem.empty()) out << "  WARNING: " << problem << "\n";
  out << fmt::format("  root       v{:<4} expires {}\n", root.version, root.expires);
  out << fmt::format("  timestamp  v{:<4} expires {}\n", st.timestamp->meta.version, st.timestamp->meta.expires);
  out << fmt::format("  snapshot   v{:<4} expires {}\n", st.snapshot->meta.version, st.snapshot->meta.expires);
  out << fmt::format("  targets    v{:<4} expires {}\n", st.targets->meta.version, st.targets->meta.expires);
  out << "  keys:\n";
  for (const auto& [role, rk] : root.roles) {
    out << fmt::format("    {:<10} threshold {} of", trust::role_name(role), rk.threshold);
    for (const auto& id : rk.keyids) out << " " << id.substr(0, 16);
    out << "\n";
  }
  out << "  targets:\n";
  for (const auto& [name, t] : st.targets->meta.targets) {
    bool present = static_cast<bool>(c->open(target_path(t)));
    out << fmt::format("    {} {:>12}  {}  {} {} {}\n", present ? "*" : " ", t.length, name,
                       custom_str(t.custom, "kind"), custom_str(t.custom, "version"), custom_str(t.custom, "arch"));
  }
  out << "  (* = file present here)\n";
  return 0;
}

} // namespace airlock::bundle
