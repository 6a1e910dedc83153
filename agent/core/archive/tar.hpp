// POSIX pax tar, streamed over util::Source / util::Sink (stack a GzipSink/GzipSource for .tar.gz).
// The writer emits ustar headers, preceded by a pax extended header ('x') only for the fields that ustar
// cannot hold. The reader accepts ustar, pax ('x' and 'g') and GNU ('L'/'K' long names, base-256
// numbers), i.e. what GNU tar, bsdtar and `docker save` produce.
// Neither side applies any policy to paths ("..", absolute paths, links leaving the tree): the reader
// reports each path exactly as stored, and checking it is the caller's job.
// Memory is flat for any archive size. Thread-safety: objects are used by one thread at a time.
#pragma once

#include "util/io.hpp"

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace airlock::archive {

struct Entry {
  enum class Type { file, directory, symlink, hardlink, char_device, block_device, fifo };

  std::string path; // as stored; directories written by add_tree end in '/'
  Type type = Type::file;
  std::uint32_t mode = 0; // permission, setuid, setgid and sticky bits only (07777)
  std::uint32_t uid = 0, gid = 0;
  std::string uname, gname;                   // empty when unknown
  std::int64_t mtime = 0;                     // seconds since the epoch (fractions are dropped)
  std::uint64_t size = 0;                     // bytes of data; always 0 for anything but Type::file
  std::string link_target;                    // symlink: its target; hardlink: the archive path of the earlier entry
  std::uint32_t dev_major = 0, dev_minor = 0; // devices only
};

// Writes a tar archive to `out` (which must outlive the writer). Errors from `out` propagate unchanged.
// Once any call has thrown, the archive is incomplete: the writer refuses further calls with
// Error(failure), and the caller must discard `out` (e.g. not commit its AtomicFile).
class TarWriter {
public:
  explicit TarWriter(util::Sink& out);
  TarWriter(const TarWriter&) = delete;
  TarWriter& operator=(const TarWriter&) = delete;

  // Appends one entry. For Type::file, `content` must yield exactly e.size bytes and then end; a source
  // that ends early or has more data (a file that changed while it was read) throws Error(failure)
  // naming e.path. For every other type `content` must be null and e.size 0. An empty path, a missing
  // link target, mode bits outside 07777, or a device number over 2097151 throw Error(failure).
  void add(const Entry& e, util::Source* content);

  // Appends the tree under directory `dir`, depth first, names sorted bytewise, so the same tree always
  // gives the same archive. Paths are "<prefix>/<relative path>" ("<relative path>" when prefix is "");
  // with a non-empty prefix the root itself is stored as "<prefix>/" first. Keeps modes, numeric owners
  // plus user/group names (empty when the lookup finds none), mtimes, symlinks (never followed), empty
  // directories, devices and fifos; the second and later paths of one inode become hard links to the
  // first. A socket is skipped, as GNU tar does ("socket ignored": tar cannot store one, and its server
  // makes a new one when it starts) and its path added to skipped_sockets(). Throws Error(not_found) when
  // `dir` does not exist, Error(failure) for other I/O errors or a file that changed while it was read.
  void add_tree(const std::string& dir, const std::string& prefix);
  // The sockets add_tree() left out, as filesystem paths.
  const std::vector<std::string>& skipped_sockets() const { return skipped_sockets_; }

  // Writes the end-of-archive marker (two zero blocks). Nothing is a valid archive before this; the
  // destructor never writes it. A second call, or add() after it, throws Error(failure).
  void finish();

private:
  std::vector<std::string> skipped_sockets_;
  void check_usable(const char* call) const;
  void add_entry(const Entry& e, util::Source* content);
  void write_header(const Entry& e);
  void walk(int dir_fd, const std::string& fs_path, const std::string& archive_path);
  void add_node(int dir_fd, const std::string& name, const std::string& fs_path, const std::string& archive_path);
  const std::string& user_name(std::uint32_t uid);
  const std::string& group_name(std::uint32_t gid);

  util::Sink& out_;
  std::vector<char> buf_;
  bool finished_ = false;
  bool broken_ = false;
  std::map<std::pair<std::uint64_t, std::uint64_t>, std::string> links_; // (dev, inode) -> first path
  std::map<std::uint32_t, std::string> users_, groups_;
};

// Reads a tar archive from `in` (which must outlive the reader). `what` names the archive in messages.
// Corrupt input throws Error(bad_input, "<what>: ...") naming the entry or byte offset: a truncated
// archive (including one without its end-of-archive marker), a bad header checksum, a block that is not
// a tar header, malformed pax records, negative sizes or sizes over 2^50, unsupported entry types
// (sparse files, multi-volume parts, ...), non-zero data after the end-of-archive marker.
class TarReader {
public:
  TarReader(util::Source& in, std::string what);
  TarReader(const TarReader&) = delete;
  TarReader& operator=(const TarReader&) = delete;

  // Skips what is left of the current entry's data and reads the next entry into `e`. Returns false at
  // the end-of-archive marker, after checking that only zero bytes follow it up to the end of `in` (so a
  // GzipSource underneath has verified its trailer). Keeps returning false after that.
  bool next(Entry& e);
  // Reads up to `n` bytes of the current entry's data; returns 0 at its end (at once for non-files).
  std::size_t read(void* buf, std::size_t n);
  // Discards the rest of the current entry's data.
  void skip();
  // Bytes consumed from `in` so far: right after next(), where the entry's data starts (so, for a plain
  // archive file read from its start, the file offset of the data).
  std::uint64_t offset() const { return offset_; }

private:
  void read_exact(void* buf, std::size_t n, const char* while_doing);
  std::string read_meta(std::uint64_t size, const std::string& kind);
  void drain_end();
  [[noreturn]] void bad(const std::string& why) const;

  util::Source& in_;
  std::string what_;
  std::string current_;      // path of the current entry, for messages
  std::uint64_t offset_ = 0; // bytes consumed from `in_`
  std::uint64_t remaining_ = 0, padding_ = 0;
  bool ended_ = false;
  std::map<std::string, std::string> global_; // pax 'g' records in force
  std::vector<char> buf_;
};

} // namespace airlock::archive
