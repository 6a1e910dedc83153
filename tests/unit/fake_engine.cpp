#include "fake_engine.hpp"

#include "publish/builder.hpp"
#include "repo/repository.hpp"
#include "util/error.hpp"
#include "util/io.hpp"
#include "util/json.hpp"
#include "util/yaml.hpp"

#include <filesystem>
#include <fstream>
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

void FakeEngine::load(const std::string& archive, const std::string& id, const std::vector<std::string>& tags) {
  record("load " + id);
  const auto images = airlock::bundle_tool::read_image_archive(archive);
  auto v = load_state(file_);
  for (const auto& i : images) {
    json::Array t;
    for (const auto& tag : i.tags) t.push_back(json::Value(tag));
    for (const auto& tag : tags) t.push_back(json::Value(tag));
    v["images"][i.id] = json::Value(t);
  }
  save_state(file_, v);
  if (!v["images"].find(id)) fail(ExitCode::failure, "fake engine: " + archive + " does not hold image " + id);
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
  for (const auto& c : load_state(file_)["calls"].as_array()) out.push_back(c.as_string());
  return out;
}

} // namespace testutil
