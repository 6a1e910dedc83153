#include "bundle_commands/airlock_bundle.hpp"

#include "about/build_info.hpp"
#include "about/selftest.hpp"
#include "bundle/parts.hpp"
#include "bundle/report.hpp"
#include "bundle_commands/report_commands.hpp"
#include "log/log.hpp"
#include "publish/builder.hpp"
#include "repo/offers.hpp"
#include "repo/repository.hpp"
#include "tool/table.hpp"
#include "util/args.hpp"
#include "util/clock.hpp"
#include "util/error.hpp"
#include "util/io.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <functional>
#include <iostream>
#include <limits>
#include <map>
#include <set>
#include <string>

namespace airlock::bundle_tool {
namespace {

// Bytes of the regular files under `dir`.
std::uint64_t tree_bytes(const std::string& dir) {
  std::uint64_t n = 0;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec))
    if (it->is_regular_file(ec)) n += it->file_size(ec);
  return n;
}

const char* const usage_text = R"(usage: airlock-bundle [--version] [--help] <command> [options]

Builds signed airlock repositories (TUF 1.0) and offline bundles, for CI pipelines.

commands:
  key generate --out FILE         new ECDSA P-256 private key (PEM, mode 0600); prints its key ID
  key public FILE                 print the public key (PEM) and key ID of a key file
  repo init REPO ...              new repository for one app (root, targets, snapshot, timestamp keys)
  release add REPO SRC_DIR ...    publish a release from a source directory and docker images
  patch add REPO --from V1 --to V2 --arch A --key ...   publish a patch between two releases
  repo refresh REPO --key ...     re-sign timestamp (and snapshot) before they expire
  root rotate REPO ...            write root N+1: add or remove root keys, replace role keys
  bundle export REPO --version V --arch A [--from V1] --out FILE.airlock [--max-part-size SIZE]
  channel add|remove REPO --version V --channel NAME --key ...   publish a release to a channel, or take it out
  rollout set|pause|resume REPO --version V [--percent N] --key ...   staged rollout of a release
  verify PATH --trusted-root ROOT.json [--json]    verify a bundle or repository
  inspect PATH [--json]           describe a bundle or repository
  report register --sites SITES.json --site-id ID --key PUB.pem [--name N]
                                  register a site's report key (airlock site-key prints it)
  report verify REPORT... --sites SITES.json [--json]
                                  check signed site reports and print the fleet table
  self-test                       known-answer checks of every linked library

Run 'airlock-bundle <command> --help' for its options. Exit codes: docs/cli.md. Guide: docs/repository.md.
)";

std::int64_t now() {
  // AIRLOCK_NOW (seconds since the epoch) pins the clock, for reproducible test repositories.
  return util::pinned_now().value_or(static_cast<std::int64_t>(std::time(nullptr)));
}

// A root threshold beyond any sensible number of root keys is a typo (the key count check follows).
constexpr long max_threshold = 1000;

bundle::Format format_of(const util::Args& a) { return a.has("json") ? bundle::Format::json : bundle::Format::text; }

std::string operand(const util::Args& a, std::size_t i, const char* what) {
  if (a.operands().size() <= i) fail(ExitCode::usage, std::string("missing ") + what + " (see --help)");
  return a.operands()[i];
}

trust::PublicKey key_of(const std::string& file) {
  return trust::public_key_from_pem(util::read_file(file, 64 * 1024), file);
}

int key_generate(const util::Args& a) {
  const std::string out = a.required("out");
  auto pub = trust::generate_key(out);
  std::cout << pub.keyid() << "\n";
  std::cerr << "wrote " << out << " (mode 0600); keep it offline if it is a root key\n";
  return 0;
}

int key_public(const util::Args& a) {
  auto pub = key_of(operand(a, 0, "key FILE"));
  if (a.has("keyid"))
    std::cout << pub.keyid() << "\n";
  else
    std::cout << pub.public_pem << "# keyid " << pub.keyid() << "\n";
  return 0;
}

int repo_init(const util::Args& a) {
  InitOptions o;
  o.root_threshold = a.number("root-threshold", 1, max_threshold).value_or(1);
  o.app = a.required("app");
  for (const auto& f : a.values("root-key")) o.root_keys.push_back(key_of(f));
  o.targets_key = key_of(a.required("targets-key"));
  o.snapshot_key = key_of(a.required("snapshot-key"));
  o.timestamp_key = key_of(a.required("timestamp-key"));
  for (const auto& e : a.values("expires")) o.expiry.set(e);
  KeyRing ring;
  // The private keys that sign now: root keys (threshold) and the three online roles.
  std::vector<std::string> files = a.values("root-key");
  for (const char* r : {"targets-key", "snapshot-key", "timestamp-key"}) files.push_back(*a.value(r));
  for (const auto& f : files) {
    try {
      ring.add(trust::load_pem_signer(f));
    } catch (const Error&) {
      // a public key only: fine if enough private ones are given (for_role says otherwise)
    }
  }
  const std::string dir = operand(a, 0, "REPO directory");
  Repository::init(dir, o, ring, now());
  Repository repo(dir);
  std::cout << fmt::format("created repository {} for app {}: root v{}, trusted root file {}/metadata/1.root.json\n",
                           dir, repo.app(), repo.root().version, dir);
  return 0;
}

int release_add(const util::Args& a) {
  Repository repo(operand(a, 0, "REPO directory"));
  ReleaseInput in;
  in.source_dir = operand(a, 1, "SRC_DIR");
  in.arch = a.required("arch");
  in.image_archives = a.values("image-archive");
  in.image_names = a.values("image");
  in.channels = a.values("channel");
  KeyRing ring;
  ring.load(a.values("key"));
  ImageStats stats;
  auto m = add_release(repo, in, ring, now(), &stats);
  std::size_t layers = 0;
  for (const auto& i : m.images) layers += i.layers.size();
  std::cout << fmt::format("published {} {} for {}: {} files, {} images ({} layers); blobs: {} new ({}), {} already in "
                           "the repository; the repository holds {} of targets; targets v{}\n",
                           m.app, m.version, m.arch, m.files.size(), m.images.size(), layers, stats.added,
                           log::human_bytes(stats.added_bytes), stats.reused,
                           log::human_bytes(tree_bytes(repo.dir() + "/targets")), repo.targets().version);
  return 0;
}

// --delta-threshold: a share from 0 to 1.
double delta_share(const std::string& text) {
  std::size_t used = 0;
  double v = -1;
  try {
    v = std::stod(text, &used);
  } catch (const std::exception&) {
  }
  if (used != text.size() || !(v >= 0 && v <= 1))
    fail(ExitCode::usage, fmt::format("--delta-threshold must be a share from 0 to 1 (such as 0.5), got '{}'", text));
  return v;
}

int patch_add(const util::Args& a) {
  Repository repo(operand(a, 0, "REPO directory"));
  KeyRing ring;
  ring.load(a.values("key"));
  ImageStats stats;
  DeltaOptions d;
  if (const auto t = a.value("delta-threshold")) d.max_share = delta_share(*t);
  d.level = static_cast<int>(a.number("delta-level", 1, 22).value_or(d.level));
  auto m = add_patch(repo, a.required("from"), a.required("to"), a.required("arch"), ring, now(), &stats, d);
  std::cout << fmt::format("published patch {} -> {} for {}: {} deletions; a site running {} lacks {} image blob(s), "
                           "{}; {} layer delta(s) kept of {} made ({} in place of {}); targets v{}\n",
                           m.base_version, m.version, m.arch, m.deletes.size(), m.base_version, stats.added,
                           log::human_bytes(stats.added_bytes), stats.deltas.kept, stats.deltas.made,
                           log::human_bytes(stats.deltas.delta_bytes), log::human_bytes(stats.deltas.layer_bytes),
                           repo.targets().version);
  return 0;
}

int repo_refresh(const util::Args& a) {
  Repository repo(operand(a, 0, "REPO directory"));
  for (const auto& e : a.values("expires")) repo.expiry().set(e);
  KeyRing ring;
  ring.load(a.values("key"));
  repo.refresh(ring, now(), a.has("snapshot"));
  std::cout << fmt::format("timestamp v{} expires {}; snapshot v{} expires {}\n", repo.timestamp().version,
                           trust::format_time(repo.timestamp().expires_at), repo.snapshot().version,
                           trust::format_time(repo.snapshot().expires_at));
  return 0;
}

int root_rotate(const util::Args& a) {
  const auto threshold = a.number("root-threshold", 1, max_threshold);
  Repository repo(operand(a, 0, "REPO directory"));
  trust::Root next = repo.root();
  auto& root_ids = next.roles[trust::Role::root].keyids;
  for (const auto& f : a.values("add-root-key")) {
    auto k = key_of(f);
    next.keys[k.keyid()] = k;
    if (std::find(root_ids.begin(), root_ids.end(), k.keyid()) == root_ids.end()) root_ids.push_back(k.keyid());
  }
  for (const auto& id : a.values("remove-root-key")) {
    std::vector<std::string> matches;
    for (const auto& k : root_ids)
      if (id.size() >= 8 && k.rfind(id, 0) == 0) matches.push_back(k);
    if (matches.size() != 1)
      fail(ExitCode::usage,
           fmt::format("--remove-root-key '{}' matches {} root keys; give at least 8 leading hex digits "
                       "of exactly one key ID ('airlock-bundle inspect {}' lists them)",
                       id, matches.size(), repo.dir()));
    root_ids.erase(std::find(root_ids.begin(), root_ids.end(), matches.front()));
  }
  if (threshold) next.roles[trust::Role::root].threshold = *threshold;
  const std::map<std::string, trust::Role> role_opts = {{"targets-key", trust::Role::targets},
                                                        {"snapshot-key", trust::Role::snapshot},
                                                        {"timestamp-key", trust::Role::timestamp}};
  for (const auto& [opt, role] : role_opts)
    if (auto f = a.value(opt)) {
      auto k = key_of(*f);
      next.keys[k.keyid()] = k;
      next.roles[role] = {{k.keyid()}, 1};
    }
  if (root_ids.empty()) fail(ExitCode::usage, "a root needs at least one root key");
  if (next.roles[trust::Role::root].threshold > static_cast<std::int64_t>(root_ids.size()))
    fail(ExitCode::usage, "the root threshold is larger than the number of root keys");
  // Drop keys that no role uses any more.
  std::set<std::string> used;
  for (const auto& [r, rk] : next.roles) used.insert(rk.keyids.begin(), rk.keyids.end());
  for (auto it = next.keys.begin(); it != next.keys.end();)
    it = used.count(it->first) ? std::next(it) : next.keys.erase(it);
  for (const auto& e : a.values("expires")) repo.expiry().set(e);
  KeyRing ring;
  ring.load(a.values("key"));
  repo.rotate_root(next, ring, now());
  std::cout << fmt::format("wrote root v{} ({} root keys, threshold {})\n", repo.root().version, root_ids.size(),
                           repo.root().roles.at(trust::Role::root).threshold);
  return 0;
}

int bundle_export(const util::Args& a) {
  Repository repo(operand(a, 0, "REPO directory"));
  ExportOptions o;
  o.version = a.required("version");
  o.arch = a.required("arch");
  o.from = a.value("from");
  o.patch_only = a.has("patch-only");
  o.no_deltas = a.has("no-deltas");
  o.channel = a.value("channel");
  o.out = a.required("out");
  if (const auto max = a.bytes("max-part-size", bundle::kMinPartBytes, std::numeric_limits<std::uint64_t>::max()))
    o.part_size = bundle::part_size_for(*max);
  auto n = export_bundle(repo, o);
  if (!o.part_size) {
    std::cout << fmt::format("wrote {} with {} targets\n", o.out, n);
    return 0;
  }
  unsigned parts = 1; // the writer removed any later parts of an earlier export
  while (parts < bundle::kMaxParts && std::filesystem::exists(bundle::part_path(o.out, parts + 1))) ++parts;
  std::cout << fmt::format("wrote {} to part-{:03} ({} part{} of at most {} bytes) with {} targets\n",
                           bundle::part_path(o.out, 1), parts, parts, parts == 1 ? "" : "s", *o.part_size, n);
  return 0;
}

std::string channels_text(const fleet::Offer& o) {
  std::string t;
  for (const auto& c : o.channels) t += (t.empty() ? "" : ", ") + c;
  return t;
}

std::string rollout_text(const fleet::Offer& o) {
  if (!o.in_rollout()) return "offered to every site";
  return fmt::format("in a staged rollout to {}% of sites{}", o.percent, o.paused ? ", paused" : "");
}

// channel add|remove REPO --version V --channel C --key ...
int channel_change(const util::Args& a, bool add) {
  Repository repo(operand(a, 0, "REPO directory"));
  const std::string channel = a.required("channel");
  if (!fleet::is_channel_name(channel))
    fail(ExitCode::usage, "--channel '" + channel + "' is not a channel name (a-z, 0-9, '-', '_', '.')");
  KeyRing ring;
  ring.load(a.values("key"));
  const std::string version = a.required("version");
  auto o = change_offer(
      repo, version,
      [&](fleet::Offer& offer) {
        auto it = std::find(offer.channels.begin(), offer.channels.end(), channel);
        if (add && it == offer.channels.end()) offer.channels.push_back(channel);
        if (!add && it != offer.channels.end()) offer.channels.erase(it);
        if (offer.channels.empty())
          fail(ExitCode::usage, fmt::format("{} {} would be in no channel at all; add it to another channel first",
                                            repo.app(), version));
      },
      ring, now());
  std::cout << fmt::format("{} {}: channels {}; targets v{}\n", repo.app(), version, channels_text(o),
                           repo.targets().version);
  return 0;
}

// rollout set|pause|resume REPO --version V [--percent N] --key ...
int rollout_change(const util::Args& a, const char* what) {
  Repository repo(operand(a, 0, "REPO directory"));
  const std::string version = a.required("version");
  const std::string verb = what;
  const std::optional<long> percent = a.number("percent", 0, 100, "a whole number 0..100");
  if (verb == "set" && !percent) fail(ExitCode::usage, "rollout set needs --percent N (0..100)");
  KeyRing ring;
  ring.load(a.values("key"));
  auto o = change_offer(
      repo, version,
      [&](fleet::Offer& offer) {
        if (verb == "set") {
          if (offer.in_rollout() && *percent < offer.percent)
            std::cerr << fmt::format("warning: lowering the rollout of {} from {}% to {}%: sites that installed it "
                                     "keep it; only sites that did not are held back\n",
                                     version, offer.percent, *percent);
          offer.percent = static_cast<int>(*percent);
        }
        if (verb == "pause") offer.paused = true;
        if (verb == "resume") offer.paused = false;
      },
      ring, now());
  std::cout << fmt::format("{} {}: {}; targets v{}\n", repo.app(), version, rollout_text(o), repo.targets().version);
  return 0;
}

const tool::CommandTable& commands() {
  static const tool::CommandTable c = {
      {"key generate",
       {"key generate --out FILE\n  Writes a new ECDSA P-256 private key (PEM, mode 0600) and prints its key ID.",
        {"out"},
        {},
        key_generate}},
      {"key public",
       {"key public FILE [--keyid]\n  Prints the public key (PEM) of a private or public key file, and its key ID.",
        {},
        {"keyid"},
        key_public}},
      {"repo init",
       {"repo init REPO --app NAME --root-key FILE [--root-key FILE ...] [--root-threshold N]\n"
        "          --targets-key FILE --snapshot-key FILE --timestamp-key FILE [--expires ROLE=DAYS ...]\n"
        "  Creates a repository. Root keys may be public-key files as long as a threshold of them are private.\n"
        "  One key may serve several roles in small setups. Default expiry: root, targets and snapshot 365 days,\n"
        "  timestamp 30 days.",
        {"app", "root-key", "root-threshold", "targets-key", "snapshot-key", "timestamp-key", "expires"},
        {},
        repo_init}},
      {"release add",
       {"release add REPO SRC_DIR --arch x86_64|aarch64 [--image-archive FILE ...] [--image NAME ...]\n"
        "          [--channel NAME ...] --key FILE ...\n"
        "  Publishes SRC_DIR (compose file, app files, airlock-release.json) and its docker images as release\n"
        "  targets, then re-signs targets, snapshot and timestamp with the --key files. --channel (repeatable)\n"
        "  publishes it to those channels (default: airlock-release.json's \"channels\", else stable).",
        {"arch", "image-archive", "image", "key", "channel"},
        {},
        release_add}},
      {"channel add",
       {"channel add REPO --version V --channel NAME --key FILE ...\n"
        "  Publishes release V (every architecture, and its patches) to channel NAME as well, e.g. to promote it\n"
        "  from beta to stable. Sites follow one channel ([app] channel) and never see releases outside it.",
        {"version", "channel", "key"},
        {},
        [](const util::Args& a) { return channel_change(a, true); }}},
      {"channel remove",
       {"channel remove REPO --version V --channel NAME --key FILE ...\n"
        "  Takes release V out of channel NAME (sites that installed it keep it). A release stays in one channel at\n"
        "  least.",
        {"version", "channel", "key"},
        {},
        [](const util::Args& a) { return channel_change(a, false); }}},
      {"rollout set",
       {"rollout set REPO --version V --percent N --key FILE ...\n"
        "  Offers release V to N% of sites (0..100), chosen by a hash of each site's ID and the release: raising N\n"
        "  only adds sites. 100 ends the rollout. Applies to online sites; a bundle imported by an operator ignores\n"
        "  it.",
        {"version", "percent", "key"},
        {},
        [](const util::Args& a) { return rollout_change(a, "set"); }}},
      {"rollout pause",
       {"rollout pause REPO --version V --key FILE ...\n"
        "  Stops offering release V to sites that do not run it yet; 'rollout resume' goes on where it stopped.",
        {"version", "key"},
        {},
        [](const util::Args& a) { return rollout_change(a, "pause"); }}},
      {"rollout resume",
       {"rollout resume REPO --version V --key FILE ...\n  Resumes a paused rollout at its percentage.",
        {"version", "key"},
        {},
        [](const util::Args& a) { return rollout_change(a, "resume"); }}},
      {"patch add",
       {"patch add REPO --from V1 --to V2 --arch A --key FILE ... [--delta-threshold SHARE] [--delta-level N]\n"
        "  Publishes a patch from release V1 to release V2: changed and added files, a delete list, new images.\n"
        "  Each layer V1 lacks gets a zstd delta from the most similar layer of V1, kept when it is below SHARE\n"
        "  (0 to 1, default 0.5; 0: no deltas) of the compressed layer; N: zstd level 1 to 22 (default 9).",
        {"from", "to", "arch", "key", "delta-threshold", "delta-level"},
        {},
        patch_add}},
      {"repo refresh",
       {"repo refresh REPO --key FILE ... [--snapshot] [--expires ROLE=DAYS ...]\n"
        "  Re-signs timestamp.json (and the snapshot with --snapshot) with fresh expiry dates.",
        {"key", "expires"},
        {"snapshot"},
        repo_refresh}},
      {"root rotate",
       {"root rotate REPO --key FILE ... [--add-root-key FILE ...] [--remove-root-key KEYID ...]\n"
        "          [--root-threshold N] [--targets-key F] [--snapshot-key F] [--timestamp-key F]\n"
        "  Writes root N+1, signed by a threshold of the current root keys and of the new ones (give both as\n"
        "  --key). A new targets/snapshot/timestamp key replaces the old one for that role; the roles it signs\n"
        "  are re-signed, so --key must include the new online keys too.",
        {"key", "add-root-key", "remove-root-key", "root-threshold", "targets-key", "snapshot-key", "timestamp-key",
         "expires"},
        {},
        root_rotate}},
      {"bundle export",
       {"bundle export REPO --version V --arch A [--from V1 [--patch-only] [--no-deltas]] --out FILE.airlock\n"
        "          [--max-part-size SIZE] [--channel NAME]\n"
        "  Writes an offline bundle: all metadata with the full root chain plus the targets of release V.\n"
        "  --from V1: for a site at V1, every step of the required upgrade path from V1 to V (releases with\n"
        "  min_upgrade_from; --channel: steps of that channel only), each as the patch from the step before where\n"
        "  there is one; --patch-only leaves the full app archives out. A patch's changed layers go as their\n"
        "  deltas where it has them (with --patch-only, only so; --no-deltas: as full layers instead).\n"
        "  --max-part-size writes FILE.airlock.part-001, -002, ... of SIZE bytes each (the last one smaller)\n"
        "  instead, for media with a file size limit: give the agent the first part, the rest beside it.\n"
        "  SIZE: bytes, or with K, M, G, T (powers of 1024; KB, MB, GB: powers of 1000), at least 64K.\n"
        "  4G means 4 GiB - 1 byte, the largest file FAT32 holds.",
        {"version", "arch", "from", "out", "max-part-size", "channel"},
        {"patch-only", "no-deltas"},
        bundle_export}},
      {"verify",
       {"verify PATH --trusted-root ROOT.json [--json]\n  Verifies a bundle file or repository directory: exit 0 when "
        "the TUF chain and every contained target verify.",
        {"trusted-root"},
        {"json"},
        [](const util::Args& a) {
          return bundle::report_verify(operand(a, 0, "PATH"), bundle::root_file_anchor(a.required("trusted-root")),
                                       format_of(a), std::cout);
        }}},
      {"self-test",
       {"self-test\n  Runs known-answer checks of every linked library on this host.",
        {},
        {},
        [](const util::Args&) { return about::run_self_test(std::cout) ? 0 : static_cast<int>(ExitCode::failure); }}},
      {"version",
       {"version\n  Prints the version, git revision, architecture and libraries.",
        {},
        {},
        [](const util::Args&) {
          std::cout << about::version_text("airlock-bundle");
          return 0;
        }}},
      {"report register",
       {"report register --sites SITES.json --site-id ID --key PUB.pem [--name NAME] [--replace]\n"
        "  Registers the public key that signs a site's reports ('airlock site-key' prints it on the site)\n"
        "  in SITES.json (created when missing). A site registered with another key needs --replace.",
        {"sites", "site-id", "key", "name"},
        {"replace"},
        report_register}},
      {"report verify",
       {"report verify REPORT... --sites SITES.json [--json]\n"
        "  Checks each site report's signature against the key registered for its site and prints the\n"
        "  fleet table (site, name, app, version, health, last outcome, age) of those that verify. Exit 0\n"
        "  when all verify; 3 when any is refused (tampered, signed by another key, unregistered site),\n"
        "  each named on stderr.",
        {"sites"},
        {"json"},
        [](const util::Args& a) { return report_verify(a, now()); }}},
      {"inspect",
       {"inspect PATH [--json]\n  Describes a bundle or repository: roles, versions, expiry, keys and targets.",
        {},
        {"json"},
        [](const util::Args& a) { return bundle::report_inspect(operand(a, 0, "PATH"), format_of(a), std::cout); }}},
  };
  return c;
}

// "key frobnicate": an unknown command is named with its second word, unless that is an option.
std::string describe_unknown(int argc, const char* const* argv) {
  return std::string(argv[1]) +
         (argc >= 3 && std::string(argv[2]).rfind("-", 0) != 0 ? std::string(" ") + argv[2] : "");
}

} // namespace

int run(int argc, const char* const* argv) {
  return tool::run_tool({"airlock-bundle", usage_text, commands(), describe_unknown}, argc, argv);
}

} // namespace airlock::bundle_tool
