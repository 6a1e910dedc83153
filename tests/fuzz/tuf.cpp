// trust/: TUF metadata parsing and verification. An input is either one metadata file, or a small repository
// of several, each introduced by a line "--- <name>\n" ("--- 1.root.json", "--- timestamp.json",
// "--- 1.snapshot.json", ...; the first file is the trusted root). A single file goes through parse_envelope,
// every parse_<role>, and (when it parses as a root) verify_role for each role against itself plus
// TrustedState::from_root. A repository goes through the whole client workflow, trust::refresh.
// Invariants: a root that parses survives to_json() and parses again to the same keys and roles, and every
// accepted date prints back as itself (format_time(parse_time(d)) == d: a date is read one way only).
#include "fuzz.hpp"
#include "trust/client.hpp"
#include "trust/metadata.hpp"

#include <map>

using namespace airlock;

namespace {

constexpr std::int64_t kNow = 1700000000; // 2023-11-14: before the seeds' expiry dates

class Files : public trust::MetadataSource {
public:
  std::map<std::string, std::string> files;
  std::optional<std::string> fetch(const std::string& name, std::size_t max_bytes) override {
    auto f = files.find(name);
    if (f == files.end()) return std::nullopt;
    if (f->second.size() > max_bytes) fail(ExitCode::verify_failed, name + " is too large");
    return f->second;
  }
  std::string describe() const override { return "fuzz repository"; }
};

void check_date(const trust::Common& c) {
  if (trust::format_time(c.expires_at) != c.expires) fuzz::broken("date '" + c.expires + "' does not print back");
}

void one_file(std::string_view bytes) {
  trust::Envelope e;
  if (fuzz::refused([&] { e = trust::parse_envelope(bytes, "fuzz.json", trust::max_root_bytes); })) return;
  fuzz::refused([&] { check_date(trust::parse_timestamp(e, "fuzz.json")); });
  fuzz::refused([&] { check_date(trust::parse_snapshot(e, "fuzz.json")); });
  fuzz::refused([&] {
    const trust::Targets t = trust::parse_targets(e, "fuzz.json");
    check_date(t);
    trust::to_json(t);
  });
  trust::Root root;
  if (fuzz::refused([&] { root = trust::parse_root(e, "fuzz.json"); })) return;
  check_date(root);
  for (auto role : {trust::Role::root, trust::Role::timestamp, trust::Role::snapshot, trust::Role::targets}) {
    fuzz::refused([&] { trust::verify_role(e, root, role, "fuzz.json"); });
    fuzz::refused([&] { trust::count_valid_signatures(e, root, role); });
  }
  trust::Root again;
  if (fuzz::refused([&] { again = trust::parse_root(trust::Envelope{trust::to_json(root), {}}, "to_json"); }))
    fuzz::broken("a parsed root does not parse again after to_json()");
  if (again.version != root.version || again.keys.size() != root.keys.size() || again.roles.size() != root.roles.size())
    fuzz::broken("to_json() changed a root");
  for (const auto& [role, keys] : root.roles)
    if (again.roles.at(role).keyids != keys.keyids || again.roles.at(role).threshold != keys.threshold)
      fuzz::broken("to_json() changed a root's role keys");
  fuzz::refused([&] { trust::TrustedState::from_root(std::string(bytes), "fuzz.json"); });
}

void repository(std::string_view input) {
  Files src;
  std::string first;
  std::size_t pos = 0;
  while (pos < input.size() && input.compare(pos, 4, "--- ") == 0) {
    const std::size_t nl = input.find('\n', pos);
    if (nl == std::string_view::npos) break;
    const std::string name(input.substr(pos + 4, nl - pos - 4));
    std::size_t end = input.find("\n--- ", nl);
    end = end == std::string_view::npos ? input.size() : end + 1;
    src.files[name] = std::string(input.substr(nl + 1, end - nl - 1));
    if (first.empty()) first = name;
    pos = end;
  }
  if (first.empty()) return;
  trust::TrustedState state;
  if (fuzz::refused([&] { state = trust::TrustedState::from_root(src.files[first], first); })) return;
  trust::RefreshOptions opt;
  opt.now = kNow;
  opt.max_root_rotations = 4;
  if (fuzz::refused([&] { trust::refresh(state, src, opt); })) return;
  if (!state.timestamp || !state.snapshot || !state.targets) fuzz::broken("refresh() succeeded without every role");
  fuzz::refused([&] { trust::check_unexpired(state, kNow); });
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  if (input.rfind("--- ", 0) == 0)
    repository(input);
  else
    one_file(input);
  return 0;
}
