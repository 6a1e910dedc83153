// Images by layer: taking `docker save` archives apart (both of docker's layouts), the archives written for
// `docker load`, and what a site lacks (by chain).
#include "archive/gzip.hpp"
#include "archive/tar.hpp"
#include "image/archive.hpp"
#include "image/plan.hpp"
#include "util/error.hpp"
#include "util/hash.hpp"
#include "util/io.hpp"

#include "testutil.hpp"
#include <doctest/doctest.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using namespace airlock;

namespace {

std::string tar_of(const std::vector<std::pair<std::string, std::string>>& files) {
  util::StringSink out;
  archive::TarWriter tar(out);
  for (const auto& [name, bytes] : files) {
    archive::Entry e;
    e.path = name;
    e.mode = 0644;
    e.size = bytes.size();
    util::StringSource src(bytes);
    tar.add(e, &src);
  }
  tar.finish();
  return out.data;
}

std::string gunzip(const std::string& path) {
  util::FileSource f(path);
  archive::GzipSource gz(f, path);
  util::StringSink out;
  char buf[65536];
  for (std::size_t n; (n = gz.read(buf, sizeof buf)) > 0;) out.write(buf, n);
  return out.data;
}

std::string digest(const std::string& bytes) { return "sha256:" + util::sha256_hex(bytes); }

std::string config_for(const std::vector<std::string>& layers, const std::string& env) {
  std::string ids;
  for (const auto& l : layers) ids += std::string(ids.empty() ? "" : ",") + "\"" + digest(l) + "\"";
  return R"({"architecture":"amd64","config":{"Env":[")" + env + R"("]},"os":"linux","rootfs":{"type":"layers",)" +
         R"("diff_ids":[)" + ids + "]}}";
}

// Two images sharing a base layer: web (base + app) and worker (base + job). A large base (2 MiB) goes through
// the streaming path of split_archive, the small layers through the in-memory one.
struct Images {
  std::string base = tar_of({{"usr/lib/base.bin", std::string(2u << 20, 'b')}});
  std::string app = tar_of({{"app/VERSION", "1.1.0\n"}});
  std::string job = tar_of({{"job/run", "#!/bin/sh\n"}});
  std::string web_config = config_for({base, app}, "ROLE=web");
  std::string worker_config = config_for({base, job}, "ROLE=worker");
};

struct Entry {
  enum Kind { file, symlink } kind;
  std::string name, bytes;
};

void write_archive(const std::string& path, const std::vector<Entry>& entries) {
  util::AtomicFile out(path);
  archive::TarWriter tar(out);
  for (const auto& e : entries) {
    archive::Entry t;
    t.path = e.name;
    t.mode = 0644;
    if (e.kind == Entry::symlink) {
      t.type = archive::Entry::Type::symlink;
      t.link_target = e.bytes;
      tar.add(t, nullptr);
      continue;
    }
    t.size = e.bytes.size();
    util::StringSource src(e.bytes);
    tar.add(t, &src);
  }
  tar.finish();
  out.commit();
}

// The legacy layout of Docker before 25: <id>/layer.tar, a second use of a layer as a symlink to the first,
// <config hex>.json, manifest.json last.
void write_legacy(const std::string& path, const Images& i) {
  const std::string b = util::sha256_hex(i.base), a = util::sha256_hex(i.app), j = util::sha256_hex(i.job);
  const std::string wc = util::sha256_hex(i.web_config), kc = util::sha256_hex(i.worker_config);
  const std::string manifest = R"([{"Config":")" + wc + R"(.json","RepoTags":["shop/web:1.1.0"],"Layers":[")" + b +
                               "/layer.tar\",\"" + a + R"(/layer.tar"]},{"Config":")" + kc +
                               R"(.json","RepoTags":["shop/worker:1.1.0"],"Layers":["dup/layer.tar",")" + j +
                               "/layer.tar\"]}]";
  write_archive(path, {{Entry::file, b + "/layer.tar", i.base},
                       {Entry::file, a + "/layer.tar", i.app},
                       {Entry::symlink, "dup/layer.tar", "../" + b + "/layer.tar"},
                       {Entry::file, j + "/layer.tar", i.job},
                       {Entry::file, wc + ".json", i.web_config},
                       {Entry::file, kc + ".json", i.worker_config},
                       {Entry::file, "manifest.json", manifest}});
}

// The OCI layout of Docker 25 and later: blobs/sha256/<hex> for layers and configs, index.json, oci-layout, and
// a manifest.json naming the blobs.
void write_oci(const std::string& path, const Images& i) {
  const std::string b = util::sha256_hex(i.base), a = util::sha256_hex(i.app);
  const std::string wc = util::sha256_hex(i.web_config);
  const std::string manifest = R"([{"Config":"blobs/sha256/)" + wc +
                               R"(","RepoTags":["shop/web:1.1.0"],"Layers":["blobs/sha256/)" + b +
                               R"(","blobs/sha256/)" + a + R"("]}])";
  write_archive(path, {{Entry::file, "oci-layout", R"({"imageLayoutVersion":"1.0.0"})"},
                       {Entry::file, "index.json", R"({"schemaVersion":2,"manifests":[]})"},
                       {Entry::file, "blobs/sha256/" + b, i.base},
                       {Entry::file, "blobs/sha256/" + a, i.app},
                       {Entry::file, "blobs/sha256/" + wc, i.web_config},
                       {Entry::file, "manifest.json", manifest}});
}

} // namespace

TEST_CASE("image::split_archive takes a legacy archive apart: each layer once, checked, deterministic gzip") {
  testutil::TempDir tmp;
  const Images i;
  write_legacy(tmp / "save.tar", i);
  fs::create_directories(tmp / "one");
  fs::create_directories(tmp / "two");
  const auto images = image::split_archive(tmp / "save.tar", tmp / "one");
  REQUIRE(images.size() == 2);
  CHECK(images[0].id == digest(i.web_config));
  CHECK(images[0].config == i.web_config);
  CHECK(images[0].tags == std::vector<std::string>{"shop/web:1.1.0"});
  CHECK(images[1].id == digest(i.worker_config));
  REQUIRE(images[0].layers.size() == 2);
  REQUIRE(images[1].layers.size() == 2);
  CHECK(images[0].layers[0].diff_id == digest(i.base));
  CHECK(images[1].layers[0].diff_id == digest(i.base)); // through the symlink
  CHECK(images[1].layers[0].blob_file == images[0].layers[0].blob_file);
  CHECK(images[0].layers[0].uncompressed_size == i.base.size());
  CHECK(gunzip(images[0].layers[0].blob_file) == i.base);
  CHECK(gunzip(images[0].layers[1].blob_file) == i.app);
  CHECK(gunzip(images[1].layers[1].blob_file) == i.job);
  CHECK(images[0].layers[0].size == fs::file_size(images[0].layers[0].blob_file));
  CHECK(images[0].layers[0].size < i.base.size() / 100);
  std::size_t blobs = 0;
  for (const auto& f : fs::directory_iterator(tmp / "one"))
    blobs += f.path().string().find(".layer.tar.gz") != std::string::npos;
  CHECK(blobs == 3);
  // With the base published already, it is hashed and checked but not written again.
  fs::create_directories(tmp / "have");
  const auto known = image::split_archive(tmp / "save.tar", tmp / "have",
                                          [&](const std::string& diff_id) { return diff_id == digest(i.base); });
  CHECK(known[0].layers[0].diff_id == digest(i.base));
  CHECK(known[0].layers[0].blob_file.empty());
  CHECK(known[1].layers[0].blob_file.empty());
  CHECK(gunzip(known[0].layers[1].blob_file) == i.app);
  std::size_t written = 0;
  for (const auto& f : fs::directory_iterator(tmp / "have")) written += f.is_regular_file();
  CHECK(written == 2);
  // The same archive again: the same blob bytes.
  const auto again = image::split_archive(tmp / "save.tar", tmp / "two");
  for (std::size_t k = 0; k < 2; ++k)
    CHECK(util::read_file(again[0].layers[k].blob_file, 1u << 24) ==
          util::read_file(images[0].layers[k].blob_file, 1u << 24));
}

TEST_CASE("image::split_archive reads the OCI layout of Docker 25, plain or gzip") {
  testutil::TempDir tmp;
  const Images i;
  write_oci(tmp / "oci.tar", i);
  {
    util::FileSource in(tmp / "oci.tar");
    util::AtomicFile out(tmp / "oci.tar.gz");
    archive::GzipSink gz(out, 1);
    char buf[65536];
    for (std::size_t n; (n = in.read(buf, sizeof buf)) > 0;) gz.write(buf, n);
    gz.finish();
    out.commit();
  }
  for (const char* name : {"oci.tar", "oci.tar.gz"}) {
    CAPTURE(name);
    const std::string work = tmp / (std::string(name) + ".split");
    fs::create_directories(work);
    const auto images = image::split_archive(tmp / name, work);
    REQUIRE(images.size() == 1);
    CHECK(images[0].id == digest(i.web_config));
    CHECK(images[0].config == i.web_config);
    REQUIRE(images[0].layers.size() == 2);
    CHECK(images[0].layers[0].diff_id == digest(i.base));
    CHECK(gunzip(images[0].layers[0].blob_file) == i.base);
    CHECK(gunzip(images[0].layers[1].blob_file) == i.app);
  }
}

TEST_CASE("image::split_archive refuses a damaged layer, a missing file and a config without its diff IDs") {
  testutil::TempDir tmp;
  fs::create_directories(tmp / "w");
  Images i;
  const std::string b = util::sha256_hex(i.base), wc = util::sha256_hex(i.web_config);
  // A layer whose bytes are not its diff ID (damaged, or compressed).
  std::string damaged = i.app;
  damaged[600] ^= 1;
  const std::string a = util::sha256_hex(i.app);
  const std::string manifest =
      R"([{"Config":")" + wc + R"(.json","RepoTags":[],"Layers":[")" + b + "/layer.tar\",\"" + a + R"(/layer.tar"]}])";
  write_archive(tmp / "damaged.tar", {{Entry::file, b + "/layer.tar", i.base},
                                      {Entry::file, a + "/layer.tar", damaged},
                                      {Entry::file, wc + ".json", i.web_config},
                                      {Entry::file, "manifest.json", manifest}});
  auto e = testutil::error_of([&] { image::split_archive(tmp / "damaged.tar", tmp / "w"); });
  CHECK(e.code() == ExitCode::bad_input);
  CHECK(std::string(e.what()).find("layer 2 of image") != std::string::npos);
  CHECK(std::string(e.what()).find("but its config says " + digest(i.app)) != std::string::npos);
  // A layer named in manifest.json that the archive does not hold.
  write_archive(tmp / "missing.tar", {{Entry::file, b + "/layer.tar", i.base},
                                      {Entry::file, wc + ".json", i.web_config},
                                      {Entry::file, "manifest.json", manifest}});
  e = testutil::error_of([&] { image::split_archive(tmp / "missing.tar", tmp / "w"); });
  CHECK(e.code() == ExitCode::bad_input);
  CHECK(std::string(e.what()).find("which the archive does not hold") != std::string::npos);
  // A config listing one diff ID for two layers.
  const std::string short_config = config_for({i.base}, "X=1");
  const std::string sc = util::sha256_hex(short_config);
  write_archive(tmp / "short.tar",
                {{Entry::file, b + "/layer.tar", i.base},
                 {Entry::file, a + "/layer.tar", i.app},
                 {Entry::file, sc + ".json", short_config},
                 {Entry::file, "manifest.json",
                  R"([{"Config":")" + sc + R"(.json","Layers":[")" + b + "/layer.tar\",\"" + a + R"(/layer.tar"]}])"}});
  e = testutil::error_of([&] { image::split_archive(tmp / "short.tar", tmp / "w"); });
  CHECK(e.code() == ExitCode::bad_input);
  CHECK(std::string(e.what()).find("one diff ID per layer") != std::string::npos);
}

namespace {
// The regular files of a tar held in memory, by path.
std::map<std::string, std::string> tar_files(const std::string& data) {
  util::StringSource in(data);
  archive::TarReader tar(in, "load archive");
  archive::Entry e;
  std::map<std::string, std::string> files;
  while (tar.next(e)) {
    if (e.type != archive::Entry::Type::file) continue;
    std::string bytes(static_cast<std::size_t>(e.size), '\0');
    std::size_t got = 0;
    for (std::size_t n; got < bytes.size() && (n = tar.read(bytes.data() + got, bytes.size() - got)) > 0;) got += n;
    files[e.path] = bytes;
  }
  return files;
}
} // namespace

TEST_CASE("image::write_load_archive: layers go in as layer tars (gzip blobs decompressed), omitted layers stay in "
          "the manifest only") {
  testutil::TempDir tmp;
  const Images i;
  write_legacy(tmp / "save.tar", i);
  fs::create_directories(tmp / "w");
  const auto images = image::split_archive(tmp / "save.tar", tmp / "w");
  const auto& web = images[0];
  const auto& app = web.layers[1];
  std::vector<image::LoadLayer> layers;
  layers.push_back({web.layers[0].diff_id, true, "", 0, 0}); // the engine holds the base
  layers.push_back({app.diff_id, false, app.blob_file, 0, fs::file_size(app.blob_file), app.uncompressed_size});
  util::StringSink out;
  image::write_load_archive(out, web.config, web.tags, layers);
  const auto files = tar_files(out.data);
  const std::string cfg = util::sha256_hex(web.config) + ".json";
  const std::string base_path = web.layers[0].diff_id.substr(7) + "/layer.tar";
  const std::string app_path = app.diff_id.substr(7) + "/layer.tar";
  CHECK(files.size() == 3);
  CHECK(files.at("manifest.json") == R"([{"Config":")" + cfg + R"(","Layers":[")" + base_path + "\",\"" + app_path +
                                         R"("],"RepoTags":["shop/web:1.1.0"]}])");
  CHECK(files.at(cfg) == web.config);
  CHECK(files.at(app_path) == i.app); // the layer tar itself, inflated from the gzip blob
  CHECK(digest(files.at(app_path)) == app.diff_id);
  CHECK(!files.count(base_path));

  SUBCASE("a layer tar (gunzipped_size 0) goes in byte for byte") {
    layers[1] = {app.diff_id, false, app.blob_file, 0, fs::file_size(app.blob_file)};
    util::StringSink raw;
    image::write_load_archive(raw, web.config, web.tags, layers);
    CHECK(tar_files(raw.data).at(app_path) == util::read_file(app.blob_file, 1u << 20));
  }
  SUBCASE("a blob that inflates to another size than the release says is refused") {
    layers[1].gunzipped_size = app.uncompressed_size + 1;
    util::StringSink bad;
    const auto e = testutil::error_of([&] { image::write_load_archive(bad, web.config, web.tags, layers); });
    CHECK(e.code() == ExitCode::failure);
    CHECK(std::string(e.what()).find(app_path) != std::string::npos);
  }
  SUBCASE("a blob that is not gzip is refused") {
    testutil::write_file(tmp / "plain.tar", i.app);
    layers[1] = {app.diff_id, false, tmp / "plain.tar", 0, i.app.size(), i.app.size()};
    util::StringSink bad;
    const auto e = testutil::error_of([&] { image::write_load_archive(bad, web.config, web.tags, layers); });
    CHECK(e.code() == ExitCode::bad_input);
    CHECK(std::string(e.what()).find("plain.tar") != std::string::npos);
  }
}

TEST_CASE("image::saved_layers locates an image's layers inside a `docker save` file, and a complete archive "
          "round-trips") {
  testutil::TempDir tmp;
  const Images i;
  write_legacy(tmp / "save.tar", i);
  const auto layers = image::saved_layers(tmp / "save.tar", digest(i.worker_config));
  REQUIRE(layers.size() == 2);
  util::FileSource f(tmp / "save.tar");
  for (std::size_t k = 0; k < 2; ++k) {
    std::string bytes(static_cast<std::size_t>(layers[k].size), '\0');
    REQUIRE(f.pread(bytes.data(), bytes.size(), layers[k].offset) == bytes.size());
    CHECK(digest(bytes) == layers[k].diff_id);
  }
  CHECK(layers[0].diff_id == digest(i.base)); // through the symlink
  // Written back as a complete archive, it is the same image.
  {
    util::AtomicFile out(tmp / "complete.tar");
    image::write_load_archive(out, i.worker_config, {"shop/worker:1.1.0"}, layers);
    out.commit();
  }
  fs::create_directories(tmp / "w");
  const auto back = image::split_archive(tmp / "complete.tar", tmp / "w");
  REQUIRE(back.size() == 1);
  CHECK(back[0].id == digest(i.worker_config));
  CHECK(back[0].layers[1].diff_id == digest(i.job));
  auto e = testutil::error_of([&] { image::saved_layers(tmp / "save.tar", "sha256:" + std::string(64, 'a')); });
  CHECK(e.code() == ExitCode::bad_input);
}

TEST_CASE("image::needs counts a layer as held only with the layers below it, and blobs() lists each once") {
  auto layer = [](const char* n) { return release::Layer{n, std::string("shop/blobs/") + n, 1, 1, std::nullopt}; };
  release::Manifest m;
  m.images.push_back({"sha256:web", {}, "shop/blobs/web.config.json", {layer("a"), layer("b"), layer("c")}, {}});
  m.images.push_back({"sha256:job", {}, "shop/blobs/job.config.json", {layer("a"), layer("d")}, {}});
  m.images.push_back({"sha256:db", {}, "shop/blobs/db.config.json", {layer("x")}, {}});
  const std::vector<docker::LocalImage> local = {
      {"sha256:old-web", {"a", "b", "z"}}, // shares a and b with web
      {"sha256:other", {"q", "c"}},        // holds c, under another parent
      {"sha256:db", {"x"}},                // db itself is present
  };
  const auto n = image::needs(m, local);
  REQUIRE(n.size() == 2);
  CHECK(n[0].image == &m.images[0]);
  CHECK(n[0].held == 2);
  CHECK(n[0].holder == "sha256:old-web");
  CHECK(n[1].held == 1);
  CHECK(image::blobs(n) == std::vector<std::string>{"shop/blobs/web.config.json", "shop/blobs/c",
                                                    "shop/blobs/job.config.json", "shop/blobs/d"});
  // Nothing local: every config and layer, the shared one once.
  const auto all = image::blobs(image::needs(m, {}));
  CHECK(all == std::vector<std::string>{"shop/blobs/web.config.json", "shop/blobs/a", "shop/blobs/b", "shop/blobs/c",
                                        "shop/blobs/job.config.json", "shop/blobs/d", "shop/blobs/db.config.json",
                                        "shop/blobs/x"});
}
