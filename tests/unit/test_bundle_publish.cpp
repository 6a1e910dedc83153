// airlock-bundle's release builder (bundle-tool/publish): what it refuses to publish.
#include "publish/builder.hpp"
#include "repo/repository.hpp"
#include "trust/keys.hpp"
#include "util/error.hpp"
#include "util/io.hpp"

#include "image_archive.hpp"
#include "testutil.hpp"
#include <doctest/doctest.h>

#include <ctime>
#include <filesystem>
#include <map>
#include <string>
#include <sys/stat.h>
#include <vector>

namespace fs = std::filesystem;
using namespace airlock;

namespace {

// An empty repository of app "demo" with its four role keys in the ring.
struct EmptyRepo {
  testutil::TempDir tmp;
  std::string dir = tmp / "repo";
  bundle_tool::KeyRing ring;
  EmptyRepo() {
    std::vector<std::string> keys;
    for (const char* k : {"root", "targets", "snapshot", "timestamp"}) keys.push_back(tmp / (std::string(k) + ".pem"));
    for (const auto& k : keys) trust::generate_key(k);
    ring.load(keys);
    auto pub = [](const std::string& pem) { return trust::public_key_from_pem(util::read_file(pem, 65536), pem); };
    bundle_tool::InitOptions o;
    o.app = "demo";
    o.root_keys = {pub(keys[0])};
    o.targets_key = pub(keys[1]);
    o.snapshot_key = pub(keys[2]);
    o.timestamp_key = pub(keys[3]);
    bundle_tool::Repository::init(dir, o, ring, std::time(nullptr));
  }
  // A release source directory of `version`: a compose file and one app file.
  std::string source(const std::string& version) {
    const std::string src = tmp / ("src-" + version);
    fs::create_directories(src + "/bin");
    testutil::write_file(src + "/docker-compose.yml", "services:\n  web:\n    image: demo/web:1\n");
    testutil::write_file(src + "/bin/tool", "#!/bin/sh\n");
    testutil::write_file(src + "/airlock-release.json", R"({"version": ")" + version + R"("})");
    for (const char* p : {"", "/bin"}) REQUIRE(::chmod((src + p).c_str(), 0755) == 0);
    for (const char* p : {"/docker-compose.yml", "/bin/tool"}) REQUIRE(::chmod((src + p).c_str(), 0644) == 0);
    return src;
  }
  // Every file of the repository with its size: what a refused command must leave as it was.
  std::map<std::string, std::uintmax_t> files() const {
    std::map<std::string, std::uintmax_t> out;
    for (const auto& e : fs::recursive_directory_iterator(dir))
      if (e.is_regular_file()) out[fs::relative(e.path(), dir).string()] = e.file_size();
    return out;
  }
};

std::string arch() {
#if defined(__aarch64__)
  return "aarch64";
#else
  return "x86_64";
#endif
}

} // namespace

TEST_CASE("bundle_tool::add_release refuses setuid, setgid and world-writable entries and publishes nothing") {
  struct Case {
    const char* name;
    const char* path;
    mode_t mode;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"setuid file", "/bin/tool", 04755, "bin/tool is setuid or setgid (mode 04755)"},
      {"setgid file", "/bin/tool", 02755, "bin/tool is setuid or setgid (mode 02755)"},
      {"world-writable compose file", "/docker-compose.yml", 0666,
       "docker-compose.yml is writable by others (mode 0666)"},
      {"world-writable directory", "/bin", 0777, "bin is writable by others (mode 0777)"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    EmptyRepo r;
    const std::string src = r.source("1.0.0");
    REQUIRE(::chmod((src + c.path).c_str(), c.mode) == 0);
    const auto before = r.files();
    bundle_tool::Repository repo(r.dir);
    auto e = testutil::error_of([&] {
      bundle_tool::add_release(repo, {src, arch(), {}, {}, {}}, r.ring, std::time(nullptr));
    });
    CHECK(e.code() == ExitCode::bad_input);
    CHECK_MESSAGE(std::string(e.what()).find(c.message) != std::string::npos, e.what());
    CHECK(r.files() == before);
  }
}

TEST_CASE("bundle_tool::add_release refuses a link that leaves the tree through another link, and a bad "
          "min_agent_version") {
  EmptyRepo r;
  const std::string src = r.source("1.0.0");
  fs::create_symlink("..", src + "/bin/up");
  fs::create_symlink("bin/up/../../etc/passwd", src + "/escape");
  const auto before = r.files();
  {
    bundle_tool::Repository repo(r.dir);
    auto e = testutil::error_of([&] {
      bundle_tool::add_release(repo, {src, arch(), {}, {}, {}}, r.ring, std::time(nullptr));
    });
    CHECK(e.code() == ExitCode::bad_input);
    CHECK_MESSAGE(std::string(e.what()).find("escape") != std::string::npos, e.what());
    CHECK(r.files() == before);
  }
  fs::remove(src + "/escape");
  testutil::write_file(src + "/airlock-release.json", R"({"version": "1.0.0", "min_agent_version": "../x"})");
  {
    bundle_tool::Repository repo(r.dir);
    auto e = testutil::error_of([&] {
      bundle_tool::add_release(repo, {src, arch(), {}, {}, {}}, r.ring, std::time(nullptr));
    });
    CHECK(e.code() == ExitCode::bad_input);
    CHECK_MESSAGE(std::string(e.what()).find("'min_agent_version' is '../x', which is not a version") !=
                      std::string::npos,
                  e.what());
    CHECK(r.files() == before);
  }
  // The control: the same tree without them publishes (with the image its compose file runs).
  testutil::write_file(src + "/airlock-release.json", R"({"version": "1.0.0"})");
  testutil::write_image_archive(r.tmp / "web.tar", "demo/web:1", "1");
  bundle_tool::Repository repo(r.dir);
  const auto m = bundle_tool::add_release(repo, {src, arch(), {r.tmp / "web.tar"}, {}, {}}, r.ring, std::time(nullptr));
  CHECK(m.version == "1.0.0");
}
