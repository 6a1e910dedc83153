// Files airlock writes where a local user might have planted a link (issue 14 item 8): temp files, the run lock,
// the log. Each test plants a symlink or a hard link to a "victim" file and checks that the victim's bytes are
// untouched; and text from untrusted input is escaped before it reaches a terminal.
#include "log/log.hpp"
#include "state/lock.hpp"
#include "util/error.hpp"
#include "util/io.hpp"
#include "util/text.hpp"

#include "testutil.hpp"
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <sys/stat.h>
#include <unistd.h>

namespace fs = std::filesystem;
using namespace airlock;

namespace {

struct Planted {
  testutil::TempDir dir;
  std::string victim = dir / "victim";
  Planted() { testutil::write_file(victim, "keep me\n"); }
  void symlink(const std::string& at) const { fs::create_symlink(victim, at); }
  void hardlink(const std::string& at) const { fs::create_hard_link(victim, at); }
};

} // namespace

TEST_CASE("util::AtomicFile never writes through a symlink or a hard link planted at its temp name") {
  for (bool soft : {true, false}) {
    CAPTURE(soft);
    Planted p;
    const std::string path = p.dir / "state.json";
    const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
    soft ? p.symlink(tmp) : p.hardlink(tmp);
    util::write_file_atomic(path, "new\n", 0600);
    CHECK(testutil::read_file(path) == "new\n");
    CHECK(fs::is_regular_file(fs::symlink_status(path)));
    CHECK(fs::hard_link_count(path) == 1);
    CHECK(!fs::exists(fs::symlink_status(tmp)));
    CHECK(testutil::read_file(p.victim) == "keep me\n");
    CHECK(fs::hard_link_count(p.victim) == 1);
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0600);
  }
}

TEST_CASE("util::create_new_file makes a new file with exactly its mode, whatever the umask") {
  testutil::TempDir dir;
  const mode_t old = ::umask(0077);
  int fd = util::create_new_file(dir / "f", 0644);
  ::umask(old);
  REQUIRE(fd >= 0);
  ::close(fd);
  struct stat st {};
  REQUIRE(::stat((dir / "f").c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0644);
  // In a directory that does not exist: -1 and errno, no throw.
  CHECK(util::create_new_file(dir / "no/f", 0644) == -1);
  CHECK(errno == ENOENT);
}

TEST_CASE("state::RunLock refuses a lock file that is a symlink or has a second link, and writes nothing") {
  for (bool soft : {true, false}) {
    CAPTURE(soft);
    Planted p;
    const std::string lock = p.dir / "airlock.lock";
    soft ? p.symlink(lock) : p.hardlink(lock);
    auto e = testutil::error_of([&] { state::RunLock l(p.dir.path().string()); });
    CHECK(e.code() == ExitCode::failure);
    CHECK(std::string(e.what()).find(lock) != std::string::npos);
    CHECK(testutil::read_file(p.victim) == "keep me\n");
  }
}

TEST_CASE("log::init does not follow a symlink at the log file's path") {
  Planted p;
  const std::string file = p.dir / "airlock.jsonl";
  p.symlink(file);
  log::init({file, log::Level::info, false, true});
  log::event(log::Level::error, "test", "planted", "must not reach the victim");
  log::init({});
  CHECK(testutil::read_file(p.victim) == "keep me\n");
  // A plain file is appended to.
  fs::remove(file);
  log::init({file, log::Level::info, false, true});
  log::event(log::Level::info, "test", "one", "one line");
  log::event(log::Level::info, "test", "two", "two lines");
  log::init({});
  const std::string text = testutil::read_file(file);
  CHECK(std::count(text.begin(), text.end(), '\n') == 2);
}

TEST_CASE("util::printable and quoted escape every byte that could reach a terminal as a control") {
  CHECK(util::printable("plain name-1.0/x_y") == "plain name-1.0/x_y");
  CHECK(util::printable("\x1b[2J\r\n") == "\\x1b[2J\\x0d\\x0a");
  CHECK(util::printable("\x7f\x9b") == "\\x7f\\x9b");           // DEL and the 8-bit CSI
  CHECK(util::printable("caf\xc3\xa9") == "caf\\xc3\\xa9");     // every byte above ASCII
  CHECK(util::printable("a\"b'c\\d") == "a\\x22b\\x27c\\x5cd"); // quotes cannot be forged
  CHECK(util::printable(std::string("a\0b", 3)) == "a\\x00b");
  CHECK(util::printable("abcdef", 3) == "abc...");
  CHECK(util::quoted("x\ny") == "\"x\\x0ay\"");
  CHECK(util::quoted("abcdef", 4, '\'') == "'abcd...'");
}
