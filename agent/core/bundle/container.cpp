#include "bundle/container.hpp"

#include "bundle/parts.hpp"
#include "bundle/zip.hpp"
#include "util/error.hpp"
#include "util/hash.hpp"
#include "util/text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <sys/stat.h>

namespace airlock::bundle {
namespace fs = std::filesystem;

std::string target_path(const trust::TargetFile& t) {
  auto slash = t.name.rfind('/');
  std::string dir = slash == std::string::npos ? "" : t.name.substr(0, slash + 1);
  std::string base = slash == std::string::npos ? t.name : t.name.substr(slash + 1);
  return "targets/" + dir + t.sha256 + "." + base;
}

namespace {

// Metadata names come from our own code ("N.root.json", ...), but refuse anything path-like all the same.
void check_meta_name(const std::string& name) {
  if (name.empty() || name.find('/') != std::string::npos || name.find("..") != std::string::npos)
    fail(ExitCode::failure, "internal: bad metadata name " + name);
}

class DirectoryContainer : public Container {
public:
  explicit DirectoryContainer(std::string dir) : dir_(std::move(dir)) {
    if (!fs::is_directory(dir_ + "/metadata"))
      fail(ExitCode::bad_input, dir_ + " is a directory without metadata/: not an airlock repository");
  }
  std::optional<std::string> fetch(const std::string& name, std::size_t max_bytes) override {
    check_meta_name(name);
    const std::string path = dir_ + "/metadata/" + name;
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return std::nullopt;
    if (static_cast<std::uint64_t>(st.st_size) > max_bytes)
      fail(ExitCode::verify_failed, fmt::format("{}: {} bytes exceeds the {} bytes allowed for this metadata "
                                                "(endless-data defence)",
                                                path, st.st_size, max_bytes));
    return util::read_file(path, max_bytes);
  }
  std::string describe() const override { return "repository " + dir_; }
  std::vector<std::string> target_files() override {
    std::vector<std::string> out;
    const fs::path root = dir_ + "/targets";
    if (!fs::is_directory(root)) return out;
    for (const auto& e : fs::recursive_directory_iterator(root))
      if (e.is_regular_file()) out.push_back("targets/" + e.path().lexically_relative(root).generic_string());
    std::sort(out.begin(), out.end());
    return out;
  }
  std::unique_ptr<util::Source> open(const std::string& path) override {
    if (path.find("..") != std::string::npos) return nullptr;
    struct stat st {};
    if (::stat((dir_ + "/" + path).c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return nullptr;
    return std::make_unique<util::FileSource>(dir_ + "/" + path);
  }
  bool is_bundle() const override { return false; }

private:
  std::string dir_;
};

// `message` as a sentence, then `hint` (which starts with a space, or is empty).
std::string with_hint(const std::string& message, const std::string& hint) {
  if (hint.empty() || message.empty() || message.back() == '.') return message + hint;
  return message + "." + hint;
}

// A bundle file, or a part set read as one (bundle/parts.hpp). For a part set every message about bytes that
// fail a check ends with the set's damage hint: a part may be missing, short or in the wrong place.
class BundleContainer : public Container {
public:
  explicit BundleContainer(const std::string& path, std::shared_ptr<PartSet> parts = nullptr)
      : path_(path), parts_(std::move(parts)), zip_(read_zip(path_, parts_)) {
    for (const auto& e : zip_.entries()) {
      if (e.name.rfind("metadata/", 0) == 0 || e.name.rfind("targets/", 0) == 0 || e.name == "metadata/" ||
          e.name == "targets/")
        continue;
      fail(ExitCode::bad_input, fmt::format("bundle {}: unexpected entry {} (a bundle holds only metadata/ and "
                                            "targets/); refusing it",
                                            path_, util::quoted(e.name, 200, '\'')));
    }
  }
  std::optional<std::string> fetch(const std::string& name, std::size_t max_bytes) override {
    check_meta_name(name);
    const ZipEntry* e = zip_.find("metadata/" + name);
    if (!e) return std::nullopt;
    if (e->size > max_bytes)
      fail(ExitCode::verify_failed, fmt::format("metadata/{} in bundle {}: {} bytes exceeds the {} bytes allowed "
                                                "(endless-data defence)",
                                                name, path_, e->size, max_bytes));
    try {
      return zip_.read_small(*e, max_bytes);
    } catch (const Error& err) {
      fail(err.code(), with_hint(err.what(), damage_hint()));
    }
  }
  std::string describe() const override {
    if (!parts_) return "bundle " + path_;
    return fmt::format("bundle {} (a set of {} part{})", path_, parts_->count(), parts_->count() == 1 ? "" : "s");
  }
  std::vector<std::string> target_files() override {
    std::vector<std::string> out;
    for (const auto& e : zip_.entries())
      if (e.name.rfind("targets/", 0) == 0 && e.name.back() != '/') out.push_back(e.name);
    std::sort(out.begin(), out.end());
    return out;
  }
  std::unique_ptr<util::Source> open(const std::string& path) override {
    const ZipEntry* e = zip_.find(path);
    // Target bytes are always checked against their signed SHA-256 (Container contract), which makes the zip
    // CRC-32 redundant; skipping it takes a third off the CPU time of verifying a bundle.
    return e ? zip_.open(*e, ZipReader::Crc::skip) : nullptr;
  }
  bool is_bundle() const override { return true; }
  std::string damage_hint() const override { return parts_ ? parts_->damage_hint() : std::string(); }

private:
  static ZipReader read_zip(const std::string& path, const std::shared_ptr<PartSet>& parts) {
    if (!parts) return ZipReader(path);
    try {
      return ZipReader(path, parts);
    } catch (const Error& e) {
      fail(e.code(), with_hint(e.what(), parts->damage_hint()));
    }
  }

  std::string path_;
  std::shared_ptr<PartSet> parts_;
  ZipReader zip_;
};

// What `path` names: a directory, a bundle file, or a part set (its first part, or its base name when only the
// parts exist).
struct Resolved {
  bool directory = false;
  std::string path;
  std::shared_ptr<PartSet> parts;
};

Resolved resolve(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (!parse_part_name(path) && ::stat(part_path(path, 1).c_str(), &st) == 0) return resolve(part_path(path, 1));
    if (parse_part_name(path)) return {false, path, PartSet::open(path)}; // names the first part, or says it is gone
    fail(ExitCode::not_found, path + " does not exist (give a bundle file, the first part of a part set, or a "
                                     "repository directory)");
  }
  if (S_ISDIR(st.st_mode)) return {true, path, nullptr};
  if (parse_part_name(path)) {
    auto parts = PartSet::open(path);
    return {false, parts->first(), parts};
  }
  return {false, path, nullptr};
}

} // namespace

std::unique_ptr<Container> open_container(const std::string& path) {
  auto r = resolve(path);
  if (r.directory) return std::make_unique<DirectoryContainer>(r.path);
  return std::make_unique<BundleContainer>(r.path, r.parts);
}

std::string bundle_sha256(const std::string& path) {
  auto r = resolve(path);
  if (r.directory) fail(ExitCode::failure, "internal error: bundle_sha256 of the directory " + path);
  if (!r.parts) return util::sha256_file_hex(r.path);
  util::Sha256 hash;
  std::vector<char> buf(1 << 20);
  for (std::uint64_t at = 0; at < r.parts->size();) {
    const std::size_t n = r.parts->pread(buf.data(), buf.size(), at);
    if (n == 0)
      fail(ExitCode::bad_input, "bundle " + r.path + " got shorter while it was read." + r.parts->damage_hint());
    hash.update(buf.data(), n);
    at += n;
  }
  return hash.hex_digest();
}

} // namespace airlock::bundle
