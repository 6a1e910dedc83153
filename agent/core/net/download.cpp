#include "net/download.hpp"

#include "log/log.hpp"
#include "state/db.hpp"
#include "util/error.hpp"
#include "util/hash.hpp"
#include "util/io.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <sys/stat.h>
#include <unistd.h>

namespace airlock::net {
namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

// The mirror's file is not the signed one (wrong length, or more bytes than allowed): handled like a hash
// mismatch.
class Mismatch : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

[[noreturn]] void io_fail(const std::string& what, const std::string& path) {
  const int e = errno;
  fail(ExitCode::failure, fmt::format("cannot {} {}: {}{}", what, path, std::strerror(e),
                                      e == ENOSPC ? " (no space left: free space in the downloads directory)" : ""));
}

// The partial file, opened read-write.
class PartialFile {
public:
  explicit PartialFile(std::string path) : path_(std::move(path)) {
    // A partial file is resumed, so it may exist: never through a symlink, and only a plain file of its own
    // (a hard link would let the download overwrite the file it shares with another name).
    fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd_ < 0) io_fail("open", path_);
    struct stat st {};
    if (::fstat(fd_, &st) != 0) io_fail("stat", path_);
    if (!S_ISREG(st.st_mode) || st.st_nlink != 1 || st.st_uid != ::geteuid()) {
      close();
      fail(ExitCode::failure, fmt::format("{} is not a plain file of airlock's own (another file type, more than one "
                                          "link, or another owner); remove it and run again",
                                          path_));
    }
  }
  ~PartialFile() { close(); }
  PartialFile(const PartialFile&) = delete;
  PartialFile& operator=(const PartialFile&) = delete;

  std::uint64_t size() const {
    struct stat st {};
    if (::fstat(fd_, &st) != 0) io_fail("stat", path_);
    return static_cast<std::uint64_t>(st.st_size);
  }
  // Empties the file. Not called on an empty file: ext4 (auto_da_alloc) flushes a file that was truncated to 0
  // and rewritten when it is closed, which cost a 1 GiB download a second for nothing.
  void truncate() {
    if (size() != 0 && ::ftruncate(fd_, 0) != 0) io_fail("truncate", path_);
  }
  void write_at(const char* data, std::size_t size, std::uint64_t offset) {
    while (size > 0) {
      const ssize_t n = ::pwrite(fd_, data, size, static_cast<off_t>(offset));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) io_fail("write", path_);
      data += n;
      size -= static_cast<std::size_t>(n);
      offset += static_cast<std::uint64_t>(n);
    }
  }
  void hash_prefix(util::BackgroundSha256& h, std::uint64_t n, std::vector<char>& buf) {
    std::uint64_t off = 0;
    while (off < n) {
      const ssize_t got =
          ::pread(fd_, buf.data(), std::min<std::uint64_t>(buf.size(), n - off), static_cast<off_t>(off));
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) io_fail("read", path_);
      h.update(buf.data(), static_cast<std::size_t>(got));
      off += static_cast<std::uint64_t>(got);
    }
  }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  const std::string& path() const { return path_; }

private:
  std::string path_;
  int fd_ = -1;
};

// One fetch() of one target: the partial file, its running hash and its state row.
class Job {
public:
  Job(const Target& t, const std::string& partial, state::StateDb& db, TransferStats& stats)
      : t_(t), file_(partial), db_(db), stats_(stats), buf_(256 * 1024) {}

  std::uint64_t done() const { return done_; }
  // The furthest byte this fetch has had in the partial: bytes fetched again after a restart are no progress.
  std::uint64_t furthest() const { return furthest_; }
  int last_status() const { return last_status_; }
  const std::string& source_url() const { return row_.url; }

  // Keeps a partial that its row vouches for (re-hashing its bytes), or starts from an empty file.
  void open_or_resume() {
    const auto row = db_.download_get(t_.sha256);
    const std::uint64_t size = file_.size();
    if (row && row->path == file_.path() && row->expected_length == static_cast<std::int64_t>(t_.length) && size > 0 &&
        size <= t_.length) {
      row_ = *row;
      file_.hash_prefix(hash_, size, buf_);
      done_ = size;
      furthest_ = size;
      stats_.resumed_at = size;
      log::event(log::Level::info, "net", "resume",
                 fmt::format("{}: resuming at {} of {} ({})", t_.name, log::human_bytes(size),
                             log::human_bytes(t_.length), row_.url),
                 {{"target", t_.name}, {"offset", size}, {"url", row_.url}});
    } else {
      if (size > 0)
        log::event(log::Level::info, "net", "discard",
                   fmt::format("{}: discarding {} (no usable download record)", t_.name, file_.path()));
      file_.truncate();
      row_ = state::Download{};
      row_.path = file_.path();
      row_.expected_length = static_cast<std::int64_t>(t_.length);
      row_.sha256 = t_.sha256;
    }
    save();
    new_progress();
  }

  // One request to `url`, bounded by `deadline` and the rate floor (Client::get). Returns when the body was read
  // to its end (then done() is the expected length). Throws NetError for transport failures and unusable
  // statuses, and NetError(transfer) after emptying the partial when the reply to a Range request showed that
  // the download must start again at 0 (a failed attempt like any other: counted, backed off, bounded by the
  // deadline); Mismatch when the mirror's file is not the signed one.
  void attempt(const Client& client, const std::string& url, Clock::time_point deadline) {
    Headers h;
    if (done_ > 0) {
      h.emplace_back("Range", fmt::format("bytes={}-", done_));
      if (url == row_.url) {
        if (!row_.etag.empty() && row_.etag.rfind("W/", 0) != 0)
          h.emplace_back("If-Range", row_.etag);
        else if (!row_.last_modified.empty())
          h.emplace_back("If-Range", row_.last_modified);
      }
    }
    last_status_ = 0;
    auto r = client.get(url, h, &stats_, deadline);
    last_status_ = r->status();
    const std::int64_t cl = r->content_length();
    if (r->status() == 200) {
      if (cl >= 0 && static_cast<std::uint64_t>(cl) != t_.length)
        throw Mismatch(fmt::format("{} is {} bytes long, the signed metadata says {}", url, cl, t_.length));
      if (done_ > 0)
        restart(url, "the server sent the whole file instead of the range asked for (Range ignored, or the file "
                     "changed since the partial download)");
    } else if (r->status() == 206) {
      const std::string cr = r->header("Content-Range");
      const auto range = parse_content_range(cr);
      if (!range) restart_and_fail(url, fmt::format("unusable Content-Range '{}'", cr));
      if ((range->total && *range->total != t_.length) || range->last >= t_.length)
        throw Mismatch(
            fmt::format("{} answers Content-Range '{}', but the signed metadata says {} bytes", url, cr, t_.length));
      if (range->first != done_)
        restart_and_fail(url, fmt::format("Content-Range '{}' does not start at byte {} as asked", cr, done_));
    } else if (r->status() == 416 && done_ > 0) {
      restart_and_fail(url, fmt::format("HTTP 416 for a range from byte {}", done_));
    } else if (r->status() == 404 || r->status() == 410) {
      throw NetError(Failure::refused,
                     fmt::format("GET {}: HTTP {} (this mirror does not have the target)", url, r->status()));
    } else if (r->status() >= 500 || r->status() == 408 || r->status() == 429) {
      throw NetError(Failure::server, fmt::format("GET {}: HTTP {}", url, r->status()));
    } else {
      throw NetError(Failure::refused, fmt::format("GET {}: HTTP {} (check the repository URL and the server's "
                                                   "permissions)",
                                                   url, r->status()));
    }
    row_.url = url;
    row_.etag = r->header("ETag");
    row_.last_modified = r->header("Last-Modified");
    save();

    for (;;) {
      const std::size_t n = r->read(buf_.data(), buf_.size());
      if (n == 0) break;
      if (n > t_.length - done_)
        throw Mismatch(fmt::format("{} sent more than the {} bytes the signed metadata allows", url, t_.length));
      file_.write_at(buf_.data(), n, done_);
      hash_.update(buf_.data(), n);
      done_ += n;
      furthest_ = std::max(furthest_, done_);
      progress_->update(done_ - progress_base_);
      if (Clock::now() - last_save_ >= std::chrono::seconds(1)) save();
    }
    if (done_ < t_.length)
      throw NetError(Failure::transfer, fmt::format("GET {}: the reply ended at byte {} of {}", url, done_, t_.length));
  }

  // The SHA-256 of the complete partial file. Ends the running hash.
  std::string digest() { return hash_.hex_digest(); }

  // Renames the verified partial to `final_path` and forgets the row. The data is deliberately not fsynced (see
  // the file comment of download.hpp): whatever a power loss leaves under that name fails the re-hash of the
  // next use. The directory is, so the rename itself is not lost.
  void commit(const std::string& final_path, const std::string& dir) {
    file_.close();
    if (::rename(file_.path().c_str(), final_path.c_str()) != 0) io_fail("rename into place", file_.path());
    util::fsync_dir(dir);
    db_.download_delete(t_.sha256);
    progress_->finish();
  }

  // Empties the partial after a mismatch and forgets the row; the next attempt starts at 0 without If-Range.
  void discard() {
    file_.truncate();
    hash_.reset();
    done_ = 0;
    row_.url.clear();
    row_.etag.clear();
    row_.last_modified.clear();
    db_.download_delete(t_.sha256);
    new_progress();
  }

  // Removes the partial and the row for good.
  void remove() {
    file_.close();
    ::unlink(file_.path().c_str());
    db_.download_delete(t_.sha256);
  }

  // Records the bytes done in the row (the file size is what a resume trusts; this is for `status`).
  void save() {
    row_.bytes_done = static_cast<std::int64_t>(done_);
    db_.download_put(row_);
    last_save_ = Clock::now();
  }

private:
  [[noreturn]] void restart_and_fail(const std::string& url, const std::string& why) {
    restart(url, why);
    throw NetError(Failure::transfer,
                   fmt::format("GET {}: {}; the partial download was started again at byte 0", url, why));
  }

  void restart(const std::string& url, const std::string& why) {
    log::event(log::Level::warning, "net", "restart",
               fmt::format("{}: {}: {}; starting again at byte 0", t_.name, url, why),
               {{"target", t_.name}, {"url", url}, {"discarded", done_}});
    file_.truncate();
    hash_.reset();
    done_ = 0;
    ++stats_.restarts;
    row_.url.clear();
    row_.etag.clear();
    row_.last_modified.clear();
    save();
    new_progress();
  }

  void new_progress() {
    progress_.reset();
    progress_.emplace("download " + t_.name, t_.length - done_);
    progress_base_ = done_;
  }

  const Target& t_;
  PartialFile file_;
  state::StateDb& db_;
  TransferStats& stats_;
  std::vector<char> buf_;
  util::BackgroundSha256 hash_; // hashed on its own thread while the next bytes are received and written
  std::uint64_t done_ = 0, furthest_ = 0;
  int last_status_ = 0;
  state::Download row_;
  std::optional<log::Progress> progress_;
  std::uint64_t progress_base_ = 0;
  Clock::time_point last_save_;
};

// True when `path` already holds the target; a file there that does not match is removed.
bool present(const std::string& path, const Target& t) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return false;
  if (S_ISREG(st.st_mode) && static_cast<std::uint64_t>(st.st_size) == t.length &&
      util::sha256_file_hex(path) == t.sha256)
    return true;
  log::event(log::Level::warning, "net", "stale",
             fmt::format("{}: {} does not match the signed SHA-256; removing it and downloading again", t.name, path));
  std::error_code ec;
  fs::remove(path, ec);
  return false;
}

} // namespace

Downloader::Downloader(const Client& client, state::StateDb& db) : client_(client), db_(db) {}

std::string Downloader::fetch(const Target& t, const std::string& dir) {
  stats_ = {};
  if (!util::is_sha256_hex(t.sha256))
    fail(ExitCode::bad_input,
         fmt::format("target {}: '{}' is not a SHA-256 (64 lowercase hex digits)", t.name, t.sha256));
  if (t.urls.empty())
    fail(ExitCode::usage, fmt::format("target {}: no URL to download it from ([repository] urls is empty)", t.name));
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) fail(ExitCode::failure, fmt::format("cannot create {}: {}", dir, ec.message()));
  const std::string final_path = dir + "/" + t.sha256;
  if (present(final_path, t)) return final_path;

  Job job(t, final_path + ".partial", db_, stats_);
  job.open_or_resume();
  Attempts attempts(client_.settings().retry, t.urls.size());
  std::vector<std::string> mismatches;
  for (;;) {
    std::string url = job.source_url();
    std::optional<std::string> mismatch;
    if (job.done() < t.length) {
      url = t.urls[attempts.mirror()];
      const std::uint64_t before = job.furthest();
      try {
        job.attempt(client_, url, attempts.deadline());
      } catch (const Mismatch& m) {
        mismatch = m.what();
      } catch (const NetError& e) {
        ++stats_.failures;
        job.save();
        const GotBytes got = job.furthest() > before ? GotBytes::yes : GotBytes::no;
        if (!attempts.failed(e, got)) {
          if (e.kind() == Failure::refused && (job.last_status() == 404 || job.last_status() == 410))
            fail(ExitCode::not_found, fmt::format("target {}: not found on any mirror ({}); check that the "
                                                  "repository is completely published",
                                                  t.name, e.what()));
          throw NetError(e.kind(), fmt::format("downloading {}: {}; gave up {}; the partial download is kept and "
                                               "the next run resumes it",
                                               t.name, e.what(), attempts.summary()));
        }
        log::event(log::Level::warning, "net", "retry", fmt::format("{}: {}; retrying", t.name, e.what()),
                   {{"target", t.name}, {"url", url}, {"done", job.done()}});
        continue;
      }
    }
    if (!mismatch) {
      const std::string got = job.digest();
      if (got == t.sha256) {
        job.commit(final_path, dir);
        return final_path;
      }
      mismatch = fmt::format("{} gave SHA-256 {}", url.empty() ? "the partial download" : url, got);
    }
    mismatches.push_back(*mismatch);
    // The mirror's file is not the signed one.
    if (mismatches.size() >= 2) {
      job.remove();
      std::string all;
      for (const auto& m : mismatches) all += (all.empty() ? "" : "; ") + m;
      fail(ExitCode::verify_failed,
           fmt::format("target {}: the downloaded file does not match the signed metadata ({} bytes, SHA-256 {}): {}; "
                       "the repository's mirrors serve a file that is not the signed one: check the repository",
                       t.name, t.length, t.sha256, all));
    }
    log::event(
        log::Level::warning, "net", "mismatch",
        fmt::format("{}: {}; discarding it and downloading once more from the next mirror", t.name, mismatches.back()),
        {{"target", t.name}, {"url", url}});
    job.discard();
    attempts.next_mirror();
  }
}

} // namespace airlock::net
