// Binary layer deltas (issue 17): the codec (round trip, a base inside a larger file, damaged delta, wrong base),
// which base a layer takes, and which layers an upgrade fetches as deltas.
#include "delta/delta.hpp"
#include "delta/select.hpp"
#include "image/plan.hpp"
#include "util/error.hpp"
#include "util/hash.hpp"

#include "testutil.hpp"
#include <doctest/doctest.h>

#include <filesystem>
#include <random>
#include <string>

namespace fs = std::filesystem;
using namespace airlock;

namespace {

std::string noise(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

// A 4 MiB "layer" and the same with one 256 KiB "binary" rebuilt.
struct Pair {
  std::string base = noise(4u << 20, 1);
  std::string target = base;
  Pair() { target.replace(1u << 20, 256u << 10, noise(256u << 10, 2)); }
};

} // namespace

TEST_CASE("delta::create and apply rebuild a changed layer from its base, far smaller than the layer") {
  testutil::TempDir tmp;
  const Pair p;
  testutil::write_file(tmp / "base.tar", p.base);
  testutil::write_file(tmp / "target.tar", p.target);
  const auto size = delta::create({tmp / "base.tar", 0, p.base.size()}, tmp / "target.tar", tmp / "d.zst", 19);
  CHECK(size == fs::file_size(tmp / "d.zst"));
  CHECK(size < p.target.size() / 10); // the new 256 KiB are noise, the rest is found in the base
  CHECK(size > 200u << 10);
  // Deterministic: the same inputs give the same bytes.
  delta::create({tmp / "base.tar", 0, p.base.size()}, tmp / "target.tar", tmp / "d2.zst", 19);
  CHECK(testutil::read_file(tmp / "d2.zst") == testutil::read_file(tmp / "d.zst"));
  delta::apply({tmp / "base.tar", 0, p.base.size()}, tmp / "d.zst", tmp / "out.tar", p.target.size(),
               util::sha256_hex(p.target), "layer 1");
  CHECK(testutil::read_file(tmp / "out.tar") == p.target);
}

TEST_CASE("delta::apply reads its base from inside a larger file, at an offset that is not page-aligned") {
  testutil::TempDir tmp;
  const Pair p;
  testutil::write_file(tmp / "base.tar", p.base);
  testutil::write_file(tmp / "target.tar", p.target);
  delta::create({tmp / "base.tar", 0, p.base.size()}, tmp / "target.tar", tmp / "d.zst", 3);
  const std::string save = std::string(1536, 'x') + p.base + std::string(700, 'y'); // as in a `docker save` tar
  testutil::write_file(tmp / "save.tar", save);
  delta::apply({tmp / "save.tar", 1536, p.base.size()}, tmp / "d.zst", tmp / "out.tar", p.target.size(),
               util::sha256_hex(p.target), "layer 1");
  CHECK(testutil::read_file(tmp / "out.tar") == p.target);
  auto e = testutil::error_of([&] {
    delta::apply({tmp / "save.tar", 1536, save.size()}, tmp / "d.zst", tmp / "x.tar", p.target.size(),
                 util::sha256_hex(p.target), "layer 1");
  });
  CHECK(e.code() == ExitCode::failure); // the range runs past the end of the file
}

TEST_CASE("delta::apply refuses a damaged delta, a wrong base and a wrong size, and leaves no output") {
  testutil::TempDir tmp;
  const Pair p;
  testutil::write_file(tmp / "base.tar", p.base);
  testutil::write_file(tmp / "target.tar", p.target);
  delta::create({tmp / "base.tar", 0, p.base.size()}, tmp / "target.tar", tmp / "d.zst", 19);
  const std::string good = testutil::read_file(tmp / "d.zst");
  const std::string sha = util::sha256_hex(p.target);
  auto apply = [&](const std::string& base_file, std::uint64_t size) {
    return testutil::error_of([&] {
      delta::apply({base_file, 0, fs::file_size(base_file)}, tmp / "d.zst", tmp / "out.tar", size, sha, "layer 2");
    });
  };
  SUBCASE("a flipped byte in the middle: zstd's checksum or its block checks refuse it") {
    std::string bad = good;
    bad[bad.size() / 2] ^= 0x40;
    testutil::write_file(tmp / "d.zst", bad);
    auto e = apply(tmp / "base.tar", p.target.size());
    CHECK(e.code() == ExitCode::verify_failed);
    CHECK(std::string(e.what()).find("layer 2") != std::string::npos);
  }
  SUBCASE("a truncated delta") {
    testutil::write_file(tmp / "d.zst", good.substr(0, good.size() - 100));
    CHECK(apply(tmp / "base.tar", p.target.size()).code() == ExitCode::verify_failed);
  }
  SUBCASE("another base of the same size") {
    testutil::write_file(tmp / "other.tar", noise(p.base.size(), 3));
    CHECK(apply(tmp / "other.tar", p.target.size()).code() == ExitCode::verify_failed);
  }
  SUBCASE("a size other than the frame's") {
    CHECK(apply(tmp / "base.tar", p.target.size() + 1).code() == ExitCode::verify_failed);
  }
  SUBCASE("the right bytes, but not the diff ID's") {
    auto e = testutil::error_of([&] {
      delta::apply({tmp / "base.tar", 0, p.base.size()}, tmp / "d.zst", tmp / "out.tar", p.target.size(),
                   std::string(64, 'a'), "layer 2");
    });
    CHECK(e.code() == ExitCode::verify_failed);
    CHECK(std::string(e.what()).find(sha) != std::string::npos);
  }
  CHECK_FALSE(fs::exists(tmp / "out.tar"));
  for (const auto& entry : fs::directory_iterator(tmp.path()))
    CHECK(entry.path().filename().string().find(".tmp-") == std::string::npos);
}

TEST_CASE("delta::create and apply handle an empty base and an empty result") {
  testutil::TempDir tmp;
  testutil::write_file(tmp / "empty", "");
  testutil::write_file(tmp / "some", "some bytes");
  delta::create({tmp / "empty", 0, 0}, tmp / "some", tmp / "d1.zst", 19);
  delta::apply({tmp / "empty", 0, 0}, tmp / "d1.zst", tmp / "o1", 10, util::sha256_hex("some bytes"), "l");
  CHECK(testutil::read_file(tmp / "o1") == "some bytes");
  delta::create({tmp / "some", 0, 10}, tmp / "empty", tmp / "d2.zst", 19);
  delta::apply({tmp / "some", 0, 10}, tmp / "d2.zst", tmp / "o2", 0, util::sha256_hex(""), "l");
  CHECK(fs::file_size(tmp / "o2") == 0);
}

TEST_CASE("delta::choose_base takes the same position when it shares half the paths, else the most similar") {
  const delta::LayerShape target{1000, {"usr/bin/app", "usr/lib/a.so", "etc/app.conf", "srv/web/index.html"}};
  const std::vector<delta::LayerShape> c = {
      {900, {"usr/bin/app", "usr/lib/a.so"}},                        // 2 shared
      {5000, {"usr/bin/app", "usr/lib/a.so", "etc/app.conf"}},       // 3 shared, far in size
      {1100, {"usr/bin/app", "usr/lib/a.so", "srv/web/index.html"}}, // 3 shared, close in size
      {1000, {"other"}},                                             // none shared
  };
  CHECK(delta::choose_base(target, c, 0) == std::optional<std::size_t>(0)); // half of the target's paths
  CHECK(delta::choose_base(target, c, 3) == std::optional<std::size_t>(2)); // same position shares nothing
  CHECK(delta::choose_base(target, c, std::nullopt) == std::optional<std::size_t>(2));
  CHECK_FALSE(delta::choose_base(target, {c[3]}, 0));
  CHECK_FALSE(delta::choose_base(target, {}, std::nullopt));
  CHECK_FALSE(delta::choose_base({0, {}}, c, 0)); // an empty layer: nothing to diff against
}

TEST_CASE("delta::worth_shipping keeps a delta only below the share of the compressed layer") {
  CHECK(delta::worth_shipping(49, 100, 0.5));
  CHECK_FALSE(delta::worth_shipping(50, 100, 0.5));
  CHECK_FALSE(delta::worth_shipping(1, 100, 0)); // 0: no deltas
  CHECK(delta::worth_shipping(99, 100, 1));
}

TEST_CASE("image::blobs fetches a layer as its delta only when the engine holds the base and the source the delta") {
  release::Manifest m;
  release::Layer a{"sha256:a", "shop/blobs/a", 10, 10, std::nullopt};
  release::Layer b{"sha256:b", "shop/blobs/b", 1000, 4000,
                   release::Delta{"shop/blobs/b.from-old.zst", "sha256:old", 30}};
  m.images.push_back({"sha256:web", {}, "shop/blobs/web.config.json", {a, b}, {}});
  const auto with_base = image::needs(m, {{"sha256:web1", {"sha256:a", "sha256:old"}}});
  REQUIRE(with_base.size() == 1);
  CHECK(with_base[0].held == 1);
  CHECK(with_base[0].delta_holder[1] == "sha256:web1");
  CHECK(image::by_delta(with_base[0], 1));
  CHECK(image::blobs(with_base) == std::vector<std::string>{"shop/blobs/web.config.json", "shop/blobs/b.from-old.zst"});
  // The source lacks the delta (a bundle exported with --no-deltas): the layer.
  CHECK(image::blobs(with_base, [](const std::string&) { return false; }) ==
        std::vector<std::string>{"shop/blobs/web.config.json", "shop/blobs/b"});
  // The engine lost the base: the layer.
  const auto without = image::needs(m, {{"sha256:web1", {"sha256:a"}}});
  CHECK_FALSE(image::by_delta(without[0], 1));
  CHECK(image::blobs(without) == std::vector<std::string>{"shop/blobs/web.config.json", "shop/blobs/b"});
}
