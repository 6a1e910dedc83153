#include "pipeline/steps.hpp"

#include "util/names.hpp"

#include <cstddef>

namespace airlock::pipeline {
namespace {

constexpr bool in_order() {
  for (std::size_t i = 0; i < steps.size(); ++i)
    if (static_cast<std::size_t>(steps[i].step) != i) return false;
  return true;
}
static_assert(in_order(), "pipeline::steps must list every Step once, in the enum's order");

constexpr util::NameTable<Phase, 3> phase_names{
    {{Phase::before_stop, "before-stop"}, {Phase::downtime, "downtime"}, {Phase::after_commit, "after-commit"}}};
constexpr util::NameTable<OnCrash, 4> on_crash_names{{{OnCrash::abandon, "abandon"},
                                                      {OnCrash::roll_back, "roll-back"},
                                                      {OnCrash::roll_back_with_data, "roll-back-with-data"},
                                                      {OnCrash::roll_forward, "roll-forward"}}};
constexpr util::NameTable<Path, 5> path_names{{{Path::upgrade, "upgrade"},
                                               {Path::rollback, "rollback"},
                                               {Path::stage_only, "stage-only"},
                                               {Path::apply, "apply"},
                                               {Path::manual_restore, "manual-restore"}}};

} // namespace

const StepInfo& info(Step s) { return steps[static_cast<std::size_t>(s)]; }

std::optional<StepInfo> find_step(std::string_view name) {
  for (const auto& s : steps)
    if (s.name == name) return s;
  return std::nullopt;
}

std::string_view phase_name(Phase p) { return util::name_of(phase_names, p); }
std::string_view on_crash_name(OnCrash c) { return util::name_of(on_crash_names, c); }
std::string_view path_name(Path p) { return util::name_of(path_names, p); }

} // namespace airlock::pipeline
