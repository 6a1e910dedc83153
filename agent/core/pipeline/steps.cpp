#include "pipeline/steps.hpp"

#include <cstddef>

namespace airlock::pipeline {
namespace {

constexpr bool in_order() {
  for (std::size_t i = 0; i < steps.size(); ++i)
    if (static_cast<std::size_t>(steps[i].step) != i) return false;
  return true;
}
static_assert(in_order(), "pipeline::steps must list every Step once, in the enum's order");

} // namespace

const StepInfo& info(Step s) { return steps[static_cast<std::size_t>(s)]; }

std::optional<StepInfo> find_step(std::string_view name) {
  for (const auto& s : steps)
    if (s.name == name) return s;
  return std::nullopt;
}

std::string_view phase_name(Phase p) {
  switch (p) {
  case Phase::before_stop:
    return "before-stop";
  case Phase::downtime:
    return "downtime";
  case Phase::after_commit:
    return "after-commit";
  }
  return "?";
}

std::string_view on_crash_name(OnCrash c) {
  switch (c) {
  case OnCrash::abandon:
    return "abandon";
  case OnCrash::roll_back:
    return "roll-back";
  case OnCrash::roll_back_with_data:
    return "roll-back-with-data";
  case OnCrash::roll_forward:
    return "roll-forward";
  }
  return "?";
}

std::string_view path_name(Path p) {
  switch (p) {
  case Path::upgrade:
    return "upgrade";
  case Path::rollback:
    return "rollback";
  case Path::stage_only:
    return "stage-only";
  case Path::apply:
    return "apply";
  case Path::manual_restore:
    return "manual-restore";
  }
  return "?";
}

} // namespace airlock::pipeline
