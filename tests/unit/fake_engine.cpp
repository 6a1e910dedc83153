#include "fake_engine.hpp"

#include "archive/gzip.hpp"
#include "archive/tar.hpp"
#include "image/archive.hpp"
#include "util/error.hpp"
#include "util/hash.hpp"
#include "util/io.hpp"
#include "util/json.hpp"
#include "util/yaml.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

namespace testutil {
namespace fs = std::filesystem;
namespace json = airlock::json;
using airlock::ExitCode;
using airlock::fail;

namespace {

json::Value load_state(const std::string& file) {
  if (!fs::exists(file)) {
    json::Value v;
    v["images"] = json::Value(json::Object{});
    v["containers"] = json::Value(json::Array{});
    v["calls"] = json::Value(json::Array{});
    v["next_id"] = 1;
    return v;
  }
  return json::parse(airlock::util::read_file(file, 64u << 20), file);
}

void save_state(const std::string& file, const json::Value& v) {
  airlock::util::write_file_atomic(file, json::pretty(v));
}

std::string compose_path(const airlock::docker::Project& p) {
  return p.layout.release_dir(p.release) + "/" + p.compose_file;
}

} // namespace

FakeEngine::FakeEngine(std::string state_file) : file_(std::move(state_file)) {}

void FakeEngine::record(const std::string& line) {
  auto v = load_state(file_);
  v["calls"].as_array().push_back(json::Value(line));
  save_state(file_, v);
  if (observer_) {
    airlock::util::ProcessResult r;
    r.output = "ok\n";
    observer_({"fake", line}, r);
  }
}

void FakeEngine::ping() { record("ping"); }

const std::vector<std::string>& FakeEngine::compose_command() {
  static const std::vector<std::string> cmd = {"fake-compose"};
  return cmd;
}

void FakeEngine::validate(const airlock::docker::Project& p) {
  record("validate " + p.release);
  const std::string text = airlock::util::read_file(compose_path(p), 1 << 20);
  if (text.find("invalid: true") != std::string::npos)
    fail(ExitCode::bad_input, "releases/" + p.release + "/" + p.compose_file + " is refused by fake-compose");
}

std::vector<std::string> FakeEngine::services(const airlock::docker::Project& p) {
  std::istringstream in(airlock::util::read_file(compose_path(p), 1 << 20));
  std::vector<std::string> out;
  bool in_services = false;
  for (std::string l; std::getline(in, l);) {
    if (l == "services:") {
      in_services = true;
      continue;
    }
    if (!l.empty() && l[0] != ' ') in_services = false;
    if (in_services && l.size() > 3 && l.rfind("  ", 0) == 0 && l[2] != ' ' && l.back() == ':')
      out.push_back(l.substr(2, l.size() - 3));
  }
  std::sort(out.begin(), out.end());
  return out;
}

airlock::docker::ComposeModel FakeEngine::model(const airlock::docker::Project& p) {
  record("config " + p.release);
  return airlock::docker::parse_compose_config(
      airlock::yaml::parse(airlock::util::read_file(compose_path(p), 1 << 20), compose_path(p)), p.name,
      compose_path(p));
}

void FakeEngine::up(const airlock::docker::Project& p) {
  const auto svcs = services(p);
  record("up " + p.name + " " + p.release);
  auto v = load_state(file_);
  json::Array kept;
  for (const auto& c : v["containers"].as_array())
    if (c.find("project")->as_string() != p.name) kept.push_back(c);
  const bool crash = crashing.count(p.release) > 0;
  for (const auto& s : svcs) {
    json::Value c;
    c["id"] = "c" + std::to_string(v["next_id"].as_int());
    v["next_id"] = v["next_id"].as_int() + 1;
    c["project"] = p.name;
    c["service"] = s;
    c["release"] = p.release;
    c["status"] = crash ? "exited" : "running";
    c["exit_code"] = crash ? 3 : 0;
    kept.push_back(c);
  }
  v["containers"] = json::Value(kept);
  save_state(file_, v);
  airlock::util::write_file_atomic(p.layout.data_dir() + "/written-by-" + p.release, "data of " + p.release + "\n");
  for (const auto& vol : project_volumes)
    if (vol.driver == "local" && fs::is_directory(vol.mountpoint))
      airlock::util::write_file_atomic(vol.mountpoint + "/written-by-" + p.release, "volume of " + p.release + "\n");
}

bool FakeEngine::image_present(const std::string& id) {
  auto v = load_state(file_);
  return v["images"].find(id) != nullptr;
}

std::vector<airlock::docker::LocalImage> FakeEngine::images() {
  std::vector<airlock::docker::LocalImage> out;
  const auto state = load_state(file_); // a range-for over a temporary's member would dangle
  for (const auto& [id, img] : state.find("images")->as_object()) {
    airlock::docker::LocalImage l{id, {}};
    if (const auto* layers = img.find("layers"))
      for (const auto& d : layers->as_array()) l.layers.push_back(d.as_string());
    out.push_back(std::move(l));
  }
  return out;
}

void FakeEngine::load(const airlock::docker::ArchiveWriter& write, const std::string& id,
                      const std::vector<std::string>& tags) {
  airlock::util::StringSink archive;
  write(archive);
  // The archive's regular files, as the legacy loader untars them first.
  std::map<std::string, std::string> files;
  {
    airlock::util::StringSource in(archive.data);
    airlock::archive::TarReader tar(in, "fake load archive");
    airlock::archive::Entry e;
    while (tar.next(e)) {
      std::string bytes(static_cast<std::size_t>(e.size), '\0');
      std::size_t got = 0;
      for (std::size_t n; got < bytes.size() && (n = tar.read(bytes.data() + got, bytes.size() - got)) > 0;) got += n;
      if (e.type == airlock::archive::Entry::Type::file) files[e.path] = bytes;
    }
  }
  const auto manifest = json::parse(files.at("manifest.json"), "manifest.json").as_array().at(0);
  const std::string config = files.at(manifest.find("Config")->as_string());
  const std::string image_id = "sha256:" + airlock::util::sha256_hex(config);
  const auto diff_ids = json::parse(config, "config").find("rootfs")->find("diff_ids")->as_array();
  auto v = load_state(file_);
  json::Array chain;
  int shipped = 0;
  for (std::size_t i = 0; i < diff_ids.size(); ++i) {
    const std::string diff_id = diff_ids[i].as_string();
    chain.push_back(json::Value(diff_id));
    const auto path = manifest.find("Layers")->as_array().at(i).as_string();
    auto f = files.find(path);
    if (f == files.end()) { // thin: the engine must hold this chain
      bool held = false;
      for (const auto& [_, img] : v["images"].as_object()) {
        const auto& l = img.find("layers")->as_array();
        held = held || (l.size() >= chain.size() && std::equal(chain.begin(), chain.end(), l.begin()));
      }
      if (!held || complete_only)
        fail(ExitCode::failure, "fake engine: the archive of " + image_id + " lacks layer " + diff_id);
      continue;
    }
    std::string bytes = f->second;
    if (bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0x1f &&
        static_cast<unsigned char>(bytes[1]) == 0x8b) {
      airlock::util::StringSource in(bytes);
      airlock::archive::GzipSource gz(in, path);
      airlock::util::StringSink raw;
      char buf[65536];
      for (std::size_t n; (n = gz.read(buf, sizeof buf)) > 0;) raw.write(buf, n);
      bytes = raw.data;
    }
    if ("sha256:" + airlock::util::sha256_hex(bytes) != diff_id)
      fail(ExitCode::failure, "fake engine: layer " + path + " does not match diff ID " + diff_id);
    v["layer_bytes"][diff_id] = airlock::util::to_hex(bytes.data(), bytes.size());
    ++shipped;
  }
  json::Array t;
  for (const auto& tag : manifest.find("RepoTags")->as_array()) t.push_back(tag);
  for (const auto& tag : tags) t.push_back(json::Value(tag));
  v["images"][image_id]["tags"] = json::Value(t);
  v["images"][image_id]["layers"] = json::Value(chain);
  v["images"][image_id]["config"] = config;
  save_state(file_, v);
  record("load " + image_id + " " + std::to_string(shipped) + "/" + std::to_string(diff_ids.size()) + " layers");
  if (image_id != id) fail(ExitCode::failure, "fake engine: the archive holds image " + image_id + ", not " + id);
}

void FakeEngine::save(const std::string& id, const std::string& path) {
  record("save " + id);
  auto v = load_state(file_);
  const auto* img = v["images"].find(id);
  if (!img) fail(ExitCode::failure, "fake engine: no image " + id);
  std::vector<std::string> layer_files;
  std::vector<airlock::image::LoadLayer> layers;
  const std::string dir = file_ + ".layers"; // its layer store
  fs::create_directories(dir);
  for (const auto& d : img->find("layers")->as_array()) {
    const std::string hex = v["layer_bytes"].find(d.as_string())->as_string();
    std::string bytes;
    for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
      bytes += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
    const std::string file = dir + "/" + d.as_string().substr(7);
    airlock::util::write_file_atomic(file, bytes);
    layers.push_back({d.as_string(), false, file, 0, bytes.size()});
  }
  airlock::util::AtomicFile out(path);
  airlock::image::write_load_archive(out, img->find("config")->as_string(), {}, layers);
  out.commit();
}

void FakeEngine::prune_image(const std::string& id) {
  record("rmi -f " + id);
  auto v = load_state(file_);
  v["images"].as_object().erase(id);
  save_state(file_, v);
}

bool FakeEngine::remove_image(const std::string& id) {
  record("rmi " + id);
  auto v = load_state(file_);
  if (!v["images"].find(id)) return false;
  for (const auto& c : v["containers"].as_array())
    if (c.find("status")->as_string() == "running" && c.find("image") && c.find("image")->as_string() == id)
      return false;
  v["images"].as_object().erase(id);
  save_state(file_, v);
  return true;
}

std::vector<airlock::docker::Stopped> FakeEngine::stop(const airlock::docker::Project* running,
                                                       const std::string& project) {
  record("stop " + project + (running ? " " + running->release : std::string()));
  auto v = load_state(file_);
  std::vector<airlock::docker::Stopped> out;
  for (auto& c : v["containers"].as_array())
    if (c.find("project")->as_string() == project && c.find("status")->as_string() == "running") {
      c["status"] = "exited";
      out.push_back({c.find("id")->as_string(), c.find("service")->as_string(), 0, false});
    }
  save_state(file_, v);
  return out;
}

std::vector<airlock::docker::EngineVolume> FakeEngine::volumes(const std::string&) { return project_volumes; }

std::vector<airlock::docker::Container> FakeEngine::containers(const std::string& project) {
  auto v = load_state(file_);
  std::vector<airlock::docker::Container> out;
  for (const auto& c : v["containers"].as_array()) {
    if (c.find("project")->as_string() != project) continue;
    airlock::docker::Container k;
    k.id = c.find("id")->as_string();
    k.service = c.find("service")->as_string();
    k.status = c.find("status")->as_string();
    k.exit_code = static_cast<int>(c.find("exit_code")->as_int());
    out.push_back(k);
  }
  return out;
}

std::string FakeEngine::running_release(const std::string& project) {
  auto v = load_state(file_);
  std::string r;
  for (const auto& c : v["containers"].as_array())
    if (c.find("project")->as_string() == project && c.find("status")->as_string() == "running")
      r = c.find("release")->as_string();
  return r;
}

std::vector<std::string> FakeEngine::calls() {
  std::vector<std::string> out;
  const auto state = load_state(file_);
  for (const auto& c : state.find("calls")->as_array()) out.push_back(c.as_string());
  return out;
}

} // namespace testutil
