#include "bundle/parts.hpp"

#include "bundle/zip.hpp"
#include "util/error.hpp"

#include <fmt/format.h>

#include <filesystem>
#include <map>
#include <sys/stat.h>

namespace airlock::bundle {
namespace fs = std::filesystem;
namespace {

constexpr std::string_view kPartInfix = ".part-";

std::string number3(unsigned n) { return fmt::format("{:03}", n); }

[[noreturn]] void refuse_set(const std::string& base, const std::string& what) {
  fail(ExitCode::bad_input, fmt::format("bundle part set {}.part-*: {}; nothing was changed. Copy the whole set again "
                                        "(every part, from the same export, into one directory) and run again",
                                        base, what));
}

} // namespace

std::string part_path(const std::string& base, unsigned number) {
  return base + std::string(kPartInfix) + number3(number);
}

std::optional<PartName> parse_part_name(const std::string& path) {
  const std::size_t suffix = kPartInfix.size() + 3;
  if (path.size() <= suffix) return std::nullopt;
  const std::size_t at = path.size() - suffix;
  if (path.compare(at, kPartInfix.size(), kPartInfix) != 0 || path[at - 1] == '/') return std::nullopt;
  unsigned n = 0;
  for (std::size_t i = path.size() - 3; i < path.size(); ++i) {
    if (path[i] < '0' || path[i] > '9') return std::nullopt;
    n = n * 10 + static_cast<unsigned>(path[i] - '0');
  }
  if (n == 0) return std::nullopt;
  return PartName{path.substr(0, at), n};
}

std::uint64_t part_size_for(std::uint64_t max_part_size) {
  return max_part_size == (4ull << 30) ? kFat32MaxFileBytes : max_part_size;
}

PartSet::PartSet(std::string base, std::vector<Part> parts) : base_(std::move(base)), parts_(std::move(parts)) {
  part_size_ = parts_.front().size; // every part but the last has this size (checked by open())
  for (const auto& p : parts_) total_ += p.size;
}

std::shared_ptr<PartSet> PartSet::open(const std::string& first_part) {
  const auto name = parse_part_name(first_part);
  if (!name) fail(ExitCode::failure, "internal error: " + first_part + " is not named like a part (.part-NNN)");
  const std::string& base = name->base;
  const std::string first = part_path(base, 1);
  std::error_code ec;
  const bool have_first = fs::exists(first, ec);
  if (name->number != 1)
    fail(ExitCode::usage,
         fmt::format("{} is part {} of a part set: give its first part, {}{}", first_part, name->number, first,
                     have_first ? "" : " (it is not there either: copy the whole set again)"));
  if (!have_first) fail(ExitCode::not_found, first + " does not exist (give a bundle file or its first part)");

  // Every "<base>.part-NNN" beside the first part.
  const fs::path base_path(base);
  const fs::path dir = base_path.has_parent_path() ? base_path.parent_path() : fs::path(".");
  const std::string prefix = base_path.filename().string() + std::string(kPartInfix);
  std::map<unsigned, std::string> found;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string f = e.path().filename().string();
    if (f.size() != prefix.size() + 3 || f.compare(0, prefix.size(), prefix) != 0) continue;
    if (const auto p = parse_part_name(f)) found.emplace(p->number, part_path(base, p->number));
  }
  if (ec)
    fail(ExitCode::failure, fmt::format("cannot list {} for the parts of {}: {}", dir.string(), base, ec.message()));
  if (found.empty() || found.begin()->first != 1) fail(ExitCode::failure, "internal error: " + first + " not listed");

  const unsigned last = found.rbegin()->first;
  std::vector<Part> parts;
  for (unsigned n = 1; n <= last; ++n) {
    const std::string path = part_path(base, n);
    if (!found.count(n))
      refuse_set(base,
                 fmt::format("{} is missing ({} of the parts 001 to {} are there)", path, found.size(), number3(last)));
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) refuse_set(base, path + " is not a regular file");
    parts.push_back({path, static_cast<std::uint64_t>(st.st_size)});
  }
  for (const auto& p : parts)
    if (p.size == 0) refuse_set(base, p.path + " is empty (an incomplete copy?)");
  // The part size is the largest of the parts before the last: a smaller one is short.
  std::size_t full = 0;
  for (std::size_t i = 1; i + 1 < parts.size(); ++i)
    if (parts[i].size > parts[full].size) full = i;
  const std::uint64_t size = parts[full].size;
  for (std::size_t i = 0; i + 1 < parts.size(); ++i)
    if (parts[i].size != size)
      refuse_set(base, fmt::format("{} is {} bytes, but every part except the last must be {} bytes, like {}: it is "
                                   "an incomplete copy, or the parts after it are from another export",
                                   parts[i].path, parts[i].size, size, parts[full].path));
  if (parts.back().size > size)
    refuse_set(base, fmt::format("the last part, {}, is {} bytes, larger than the {} bytes of {}: that part is an "
                                 "incomplete copy, or the parts are from different exports",
                                 parts.back().path, parts.back().size, size, parts[full].path));

  std::shared_ptr<PartSet> set(new PartSet(base, std::move(parts)));
  if (!ends_with_zip_end_record(*set)) {
    const auto& tail = set->parts_.back();
    refuse_set(base, set->count() > 1 && tail.size == size
                         ? fmt::format("the last part there, {}, does not end the bundle (no zip end record): {} or "
                                       "later parts are missing, or {} is damaged or left from another export",
                                       tail.path, part_path(base, last + 1), tail.path)
                         : fmt::format("the last part, {}, does not end the bundle (no zip end record): it is damaged "
                                       "or from another export",
                                       tail.path));
  }
  return set;
}

util::FileSource& PartSet::file(std::size_t index) {
  std::lock_guard<std::mutex> lock(open_mutex_);
  if (opened_.size() != parts_.size()) opened_.resize(parts_.size());
  if (!opened_[index]) opened_[index] = std::make_unique<util::FileSource>(parts_[index].path);
  return *opened_[index];
}

std::size_t PartSet::pread(void* buf, std::size_t size, std::uint64_t offset) {
  std::size_t done = 0;
  while (done < size && offset + done < total_) {
    const std::uint64_t at = offset + done;
    // Every part but the last is part_size_ bytes (checked by open()).
    const auto index = static_cast<std::size_t>(std::min<std::uint64_t>(at / part_size_, parts_.size() - 1));
    const std::uint64_t within = at - index * part_size_;
    const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(size - done, parts_[index].size - within));
    const std::size_t n = file(index).pread(static_cast<char*>(buf) + done, want, within);
    done += n;
    if (n < want) break; // the part got shorter since open()
  }
  return done;
}

std::string PartSet::damage_hint() const {
  if (parts_.size() == 1)
    return fmt::format(" This bundle is a set of 1 part ({}): it may be damaged or incomplete; copy it again.",
                       first());
  return fmt::format(" This bundle is a set of {} parts ({}.part-001 to part-{}): a part may be missing, short, "
                     "damaged or in the wrong place (renamed); copy the whole set again.",
                     parts_.size(), base_, number3(static_cast<unsigned>(parts_.size())));
}

} // namespace airlock::bundle
