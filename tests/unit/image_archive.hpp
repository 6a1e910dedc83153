// A small but real `docker save` archive for tests that publish releases (bundle_tool::add_release splits it).
#pragma once

#include "archive/tar.hpp"
#include "util/hash.hpp"
#include "util/io.hpp"

#include <string>
#include <vector>

namespace testutil {

// A layer tar holding one file.
inline std::string layer_tar(const std::string& name, const std::string& content) {
  airlock::util::StringSink out;
  airlock::archive::TarWriter tar(out);
  airlock::archive::Entry e;
  e.path = name;
  e.mode = 0644;
  e.size = content.size();
  airlock::util::StringSource src(content);
  tar.add(e, &src);
  tar.finish();
  return out.data;
}

// A `docker save` archive (legacy layout) of image `tag`: a base layer that every version shares, and a layer
// holding `version`.
inline void write_image_archive(const std::string& path, const std::string& tag, const std::string& version) {
  const std::vector<std::string> layers = {layer_tar("base", "the shared base\n"), layer_tar("VERSION", version)};
  std::string diff_ids, paths;
  for (const auto& l : layers) {
    const std::string hex = airlock::util::sha256_hex(l);
    diff_ids += std::string(diff_ids.empty() ? "" : ",") + "\"sha256:" + hex + "\"";
    paths += std::string(paths.empty() ? "" : ",") + "\"" + hex + "/layer.tar\"";
  }
  const std::string config = R"({"architecture":"amd64","config":{"Env":["V=)" + version +
                             R"("]},"os":"linux","rootfs":{"type":"layers","diff_ids":[)" + diff_ids + "]}}";
  const std::string config_hex = airlock::util::sha256_hex(config);
  const std::string manifest =
      R"([{"Config":")" + config_hex + R"(.json","RepoTags":[")" + tag + R"("],"Layers":[)" + paths + "]}]";
  airlock::util::AtomicFile f(path);
  airlock::archive::TarWriter tar(f);
  auto add = [&](const std::string& name, const std::string& bytes) {
    airlock::archive::Entry e;
    e.path = name;
    e.mode = 0644;
    e.size = bytes.size();
    airlock::util::StringSource src(bytes);
    tar.add(e, &src);
  };
  for (const auto& l : layers) add(airlock::util::sha256_hex(l) + "/layer.tar", l);
  add(config_hex + ".json", config);
  add("manifest.json", manifest);
  tar.finish();
  f.commit();
}

} // namespace testutil
