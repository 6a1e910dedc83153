#include "docker/docker.hpp"

#include "util/error.hpp"
#include "util/json.hpp"
#include "util/yaml.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <set>
#include <sstream>

namespace airlock::docker {
namespace fs = std::filesystem;
namespace {

// The variables of the agent's environment that reach the docker and compose CLIs: what they need to find the
// engine, their own configuration and a locale. Anything else (a secret in the service manager's environment, a
// variable that would change how compose interpolates the compose file) stays out; the compose files get their
// variables from AIRLOCK_DATA, AIRLOCK_SITE, AIRLOCK_RELEASE and site/.env only.
const std::vector<std::string> cli_environment = {"PATH",
                                                  "HOME",
                                                  "USER",
                                                  "LOGNAME",
                                                  "LANG",
                                                  "LC_*",
                                                  "TZ",
                                                  "TMPDIR",
                                                  "DOCKER_HOST",
                                                  "DOCKER_CONFIG",
                                                  "DOCKER_CERT_PATH",
                                                  "DOCKER_TLS_VERIFY",
                                                  "DOCKER_CONTEXT",
                                                  "DOCKER_API_VERSION",
                                                  "XDG_RUNTIME_DIR"};

std::string tail(const std::string& s, std::size_t n = 2000) {
  std::string t = s.size() > n ? "..." + s.substr(s.size() - n) : s;
  while (!t.empty() && (t.back() == '\n' || t.back() == ' ')) t.pop_back();
  return t;
}

std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> v;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);)
    if (!l.empty()) v.push_back(l);
  return v;
}

} // namespace

std::string project_name(const std::string& name) {
  std::string p;
  for (char c : name) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-') p += c;
  }
  return p.empty() ? "airlock" : p;
}

Docker::Docker(Settings s, Observer on_call) : s_(std::move(s)), on_call_(std::move(on_call)) {}

util::ProcessResult Docker::call(const std::vector<std::string>& argv, int timeout_s, bool check,
                                 const std::vector<std::string>& extra_env, const ArchiveWriter& input) {
  util::ProcessOptions o;
  o.timeout_seconds = timeout_s;
  o.extra_env = extra_env;
  o.env_allow = cli_environment;
  o.stdin_writer = input;
  if (!s_.docker_host.empty()) o.extra_env.push_back("DOCKER_HOST=" + s_.docker_host);
  auto r = util::run_process(argv, o);
  if (on_call_) on_call_(argv, r);
  if (check && (r.timed_out || r.exit_code != 0))
    fail(ExitCode::failure, fmt::format("'{}' {}: {}", util::describe_argv(argv),
                                        r.timed_out ? fmt::format("timed out after {} s", timeout_s)
                                                    : fmt::format("failed with exit code {}", r.exit_code),
                                        tail(r.output)));
  return r;
}

void Docker::ping() {
  auto r = call({"docker", "version", "--format", "{{.Server.Version}}"}, std::min(s_.timeout_s, 30), false);
  if (r.timed_out || r.exit_code != 0) {
    const char* host = std::getenv("DOCKER_HOST");
    fail(ExitCode::failure,
         fmt::format("the docker engine is not reachable at {}: {}; start dockerd (or set DOCKER_HOST / [docker] "
                     "host) and run again",
                     !s_.docker_host.empty() ? s_.docker_host
                     : host                  ? host
                                             : "the default socket",
                     tail(r.output)));
  }
}

const std::vector<std::string>& Docker::compose_command() {
  if (!compose_cmd_.empty()) return compose_cmd_;
  std::vector<std::vector<std::string>> tries;
  if (s_.compose != "v1") tries.push_back({"docker", "compose"});
  if (s_.compose != "v2") tries.push_back({"docker-compose"});
  std::string tried;
  for (const auto& cmd : tries) {
    auto argv = cmd;
    argv.push_back("version");
    util::ProcessResult r;
    try {
      r = call(argv, 30, false);
    } catch (const Error& e) { // the program is not installed at all
      tried += fmt::format("\n  {}: {}", util::describe_argv(cmd), e.what());
      continue;
    }
    if (r.exit_code == 0 && !r.timed_out) {
      compose_cmd_ = cmd;
      return compose_cmd_;
    }
    tried += fmt::format("\n  {}: {}", util::describe_argv(cmd), tail(r.output, 300));
  }
  fail(ExitCode::failure, fmt::format("no usable docker compose ([docker] compose = {}); tried:{}\ninstall the "
                                      "compose plugin (v2) or docker-compose (v1)",
                                      s_.compose, tried));
}

std::vector<std::string> Docker::env_for(const Project& p) const {
  return {"AIRLOCK_DATA=" + p.layout.data_dir(), "AIRLOCK_SITE=" + p.layout.site_dir(),
          "AIRLOCK_RELEASE=" + p.layout.release_dir(p.release)};
}

std::vector<std::string> Docker::compose_argv(const Project& p, const std::vector<std::string>& args) {
  std::vector<std::string> argv = compose_command();
  const std::string rel = p.layout.release_dir(p.release);
  argv.insert(argv.end(), {"--project-name", p.name, "--project-directory", rel, "-f", rel + "/" + p.compose_file});
  const std::string override_file = p.layout.site_dir() + "/docker-compose.override.yml";
  if (fs::exists(override_file)) argv.insert(argv.end(), {"-f", override_file});
  const std::string env_file = p.layout.site_dir() + "/.env";
  if (fs::exists(env_file)) argv.insert(argv.end(), {"--env-file", env_file});
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

std::string Docker::compose(const Project& p, const std::vector<std::string>& args) {
  return call(compose_argv(p, args), s_.timeout_s, true, env_for(p)).out;
}

void Docker::validate(const Project& p) {
  auto r = call(compose_argv(p, {"config", "-q"}), std::min(s_.timeout_s, 120), false, env_for(p));
  if (r.timed_out || r.exit_code != 0)
    fail(ExitCode::bad_input,
         fmt::format("releases/{}/{} is refused by {}: {}; nothing was stopped", p.release, p.compose_file,
                     util::describe_argv(compose_command()), tail(r.output, 1500)));
}

std::vector<std::string> Docker::services(const Project& p) {
  auto v = lines(compose(p, {"config", "--services"}));
  std::sort(v.begin(), v.end());
  return v;
}

ComposeModel Docker::model(const Project& p) {
  const std::string what = "releases/" + p.release + "/" + p.compose_file;
  auto r = call(compose_argv(p, {"config", "--format", "json"}), std::min(s_.timeout_s, 120), false, env_for(p));
  // v1 knows no --format: it prints its usage (and exits 0), so only an object counts as v2's answer.
  if (r.exit_code == 0 && !r.timed_out && r.out.find_first_not_of(" \n") != std::string::npos &&
      r.out[r.out.find_first_not_of(" \n")] == '{')
    return parse_compose_config(json::parse(r.out, what), p.name, what);
  r = call(compose_argv(p, {"config"}), std::min(s_.timeout_s, 120), false, env_for(p)); // compose v1: YAML only
  if (r.timed_out || r.exit_code != 0)
    fail(ExitCode::bad_input,
         fmt::format("{} is refused by {}: {}", what, util::describe_argv(compose_command()), tail(r.output, 1500)));
  return parse_compose_config(yaml::parse(r.out, what), p.name, what);
}

std::optional<std::vector<std::string>> Docker::image_tags(const std::string& id) {
  auto r = call({"docker", "image", "inspect", "--format", "{{.Id}}{{range .RepoTags}} {{.}}{{end}}", id},
                std::min(s_.timeout_s, 60), false);
  if (r.exit_code != 0 || r.timed_out) return std::nullopt;
  std::istringstream in(r.out);
  std::string got;
  in >> got;
  if (got != id) return std::nullopt;
  std::vector<std::string> tags;
  for (std::string t; in >> t;) tags.push_back(t);
  return tags;
}

bool Docker::image_present(const std::string& id) { return image_tags(id).has_value(); }

std::vector<LocalImage> Docker::images() {
  const auto ids = lines(call({"docker", "image", "ls", "-aq", "--no-trunc"}, std::min(s_.timeout_s, 60), true).out);
  std::vector<LocalImage> out;
  if (ids.empty()) return out;
  std::vector<std::string> argv = {"docker", "image", "inspect", "--format",
                                   "{{.Id}}{{range .RootFS.Layers}} {{.}}{{end}}"};
  std::set<std::string> unique(ids.begin(), ids.end());
  argv.insert(argv.end(), unique.begin(), unique.end());
  // An image removed between the two calls makes inspect exit 1 but still print the others.
  for (const auto& line : lines(call(argv, std::min(s_.timeout_s, 120), false).out)) {
    std::istringstream in(line);
    LocalImage img;
    in >> img.id;
    for (std::string l; in >> l;) img.layers.push_back(l);
    if (img.id.rfind("sha256:", 0) == 0) out.push_back(std::move(img));
  }
  return out;
}

bool Docker::loads_thin_archives() {
  if (thin_ < 0) {
    if (s_.image_load == "thin" || s_.image_load == "complete") {
      thin_ = s_.image_load == "thin";
    } else {
      auto r = call({"docker", "info", "--format", "{{json .DriverStatus}}"}, std::min(s_.timeout_s, 60), true);
      thin_ = r.out.find("io.containerd.snapshotter") == std::string::npos;
    }
  }
  return thin_ == 1;
}

void Docker::load(const ArchiveWriter& write, const std::string& id, const std::vector<std::string>& tags) {
  auto r = call({"docker", "load", "-q"}, s_.timeout_s, false, {}, write);
  if (r.timed_out || r.exit_code != 0)
    fail(ExitCode::failure,
         fmt::format("the docker engine refused image {}: {}{}", id, r.timed_out ? "timed out" : tail(r.output, 1500),
                     r.input_error.empty() ? "" : " (while airlock was writing the archive: " + r.input_error + ")"));
  auto have = image_tags(id);
  if (!have)
    fail(ExitCode::failure, fmt::format("'docker load' succeeded but image {} is not in the engine ({}); the layers "
                                        "and config do not make the image release.json names",
                                        id, tail(r.output, 500)));
  for (const auto& t : tags) // docker load restores the archive's tags; add only what is missing
    if (std::find(have->begin(), have->end(), t) == have->end())
      call({"docker", "tag", id, t}, std::min(s_.timeout_s, 60), true);
}

void Docker::save(const std::string& id, const std::string& path) {
  call({"docker", "save", "-o", path, id}, s_.timeout_s, true);
}

bool Docker::remove_image(const std::string& id) {
  auto r = call({"docker", "image", "rm", id}, std::min(s_.timeout_s, 120), false);
  return r.exit_code == 0 && !r.timed_out;
}

std::vector<std::string> Docker::project_containers(const std::string& project, bool all) {
  std::vector<std::string> argv = {"docker",     "ps",       "-q",
                                   "--no-trunc", "--filter", "label=com.docker.compose.project=" + project};
  if (all) argv.push_back("-a");
  return lines(call(argv, std::min(s_.timeout_s, 60), true).out);
}

std::vector<Stopped> Docker::stop(const Project* running, const std::string& project) {
  auto ids = project_containers(project, false);
  if (ids.empty()) return {};
  if (running) call(compose_argv(*running, {"stop"}), s_.timeout_s, true, env_for(*running));
  auto left = project_containers(project, false);
  if (!left.empty()) { // containers of the project that this compose file does not name: their own StopTimeout
    std::vector<std::string> argv = {"docker", "stop"};
    argv.insert(argv.end(), left.begin(), left.end());
    call(argv, s_.timeout_s, true);
  }
  std::vector<std::string> argv = {
      "docker",
      "inspect",
      "--type",
      "container",
      "--format",
      R"({"id":{{json .Id}},"service":{{json (index .Config.Labels "com.docker.compose.service")}},"exit":{{.State.ExitCode}}})"};
  argv.insert(argv.end(), ids.begin(), ids.end());
  auto r = call(argv, std::min(s_.timeout_s, 60), false);
  std::vector<Stopped> out;
  for (const auto& line : lines(r.out)) {
    auto c = json::parse(line, "docker inspect output");
    Stopped k;
    k.id = json::string_or(c, "id", "");
    k.service = json::string_or(c, "service", "");
    if (const auto* v = c.find("exit")) k.exit_code = static_cast<int>(v->as_int());
    k.killed = k.exit_code == 137;
    out.push_back(k);
  }
  return out;
}

std::vector<EngineVolume> Docker::volumes(const std::string& project) {
  auto names = lines(call({"docker", "volume", "ls", "-q", "--filter", "label=com.docker.compose.project=" + project},
                          std::min(s_.timeout_s, 60), true)
                         .out);
  std::vector<EngineVolume> out;
  if (names.empty()) return out;
  std::vector<std::string> argv = {
      "docker", "volume", "inspect", "--format",
      R"({"name":{{json .Name}},"driver":{{json .Driver}},"mountpoint":{{json .Mountpoint}},"key":{{json (index .Labels "com.docker.compose.volume")}}})"};
  argv.insert(argv.end(), names.begin(), names.end());
  for (const auto& line : lines(call(argv, std::min(s_.timeout_s, 60), true).out)) {
    auto v = json::parse(line, "docker volume inspect output");
    out.push_back({json::string_or(v, "name", ""), json::string_or(v, "key", ""), json::string_or(v, "driver", ""),
                   json::string_or(v, "mountpoint", "")});
  }
  std::sort(out.begin(), out.end(), [](const EngineVolume& a, const EngineVolume& b) { return a.name < b.name; });
  return out;
}

std::vector<Container> Docker::containers(const std::string& project) {
  auto ids = project_containers(project, true);
  std::vector<Container> out;
  if (ids.empty()) return out;
  // One JSON object per line, holding only what the health gate reads (no floats, nothing version-dependent).
  std::vector<std::string> argv = {
      "docker",
      "inspect",
      "--type",
      "container",
      "--format",
      R"({"id":{{json .Id}},"service":{{json (index .Config.Labels "com.docker.compose.service")}},)"
      R"("restarts":{{.RestartCount}},"state":{{json .State}}})"};
  argv.insert(argv.end(), ids.begin(), ids.end());
  auto r = call(argv, std::min(s_.timeout_s, 60), false);
  // A container removed between ps and inspect makes inspect exit 1 but still print the others.
  if (r.timed_out || (r.exit_code != 0 && r.out.empty()))
    fail(ExitCode::failure, "docker inspect of the containers of project " + project + " failed: " + tail(r.output));
  for (const auto& line : lines(r.out)) {
    auto c = json::parse(line, "docker inspect output");
    Container k;
    k.id = c.find("id") ? c.find("id")->as_string() : "";
    if (const auto* v = c.find("service"); v && v->is_string()) k.service = v->as_string();
    if (const auto* v = c.find("restarts")) k.restart_count = v->as_int();
    if (const auto* st = c.find("state")) {
      if (const auto* v = st->find("Status")) k.status = v->as_string();
      if (const auto* v = st->find("ExitCode")) k.exit_code = static_cast<int>(v->as_int());
      if (const auto* v = st->find("OOMKilled")) k.oom_killed = v->as_bool();
      if (const auto* h = st->find("Health"); h && h->is_object())
        if (const auto* v = h->find("Status")) k.health = v->as_string();
    }
    out.push_back(k);
  }
  return out;
}

} // namespace airlock::docker
