// Internal to pipeline/: the data set an upgrade protects (DESIGN.md "What an upgrade protects") and its
// point-in-time snapshots: data/, site/ and every named volume of the compose project with the local driver.
// Thread-safety: as the pipeline.
#pragma once

#include "dataset/snapshot.hpp"
#include "pipeline/run.hpp"

#include <string>
#include <vector>

namespace airlock::pipeline {

struct DataDir {
  std::string name;     // in the backup archive: "data", "site", "volumes/<compose key>"
  std::string path;     // on disk: <app>/data, <app>/site, a volume's mountpoint
  bool reflink = false; // its filesystem clones files: the snapshot is taken in the window, no pre-copy
};

// The data set now: data/, site/, and the project's named volumes (engine labels) minus [backup] exclude_volumes.
// A volume of another driver than "local" is refused with Error(not_applicable) naming it and the setting that
// excludes it. A volume the operator removed by hand is simply not in the set.
std::vector<DataDir> data_set_now(Run& run);

// The data set an upgrade journaled in its pre-copy row (empty when it had none).
std::vector<DataDir> journaled_data_set(state::StateDb& db, const std::string& upgrade_id);

// The pre-copy step: the data set and, where there is no reflink, a full copy of each directory next to it while
// the old release still runs (space checked first). Returns the snapshots for take_snapshot().
std::vector<dataset::Snapshot> pre_copy(Run& run);
// The snapshot step (after the stop): the pre-copies brought up to date, or reflink clones taken now.
void take_snapshot(Run& run, std::vector<dataset::Snapshot>& snaps, const std::vector<DataDir>& set);
// rb-restore: each directory of the journaled data set gets its snapshot back by rename.
std::string swap_snapshots_in(Run& run);
// Removes the snapshots this upgrade made (after a rollback, an abandoned upgrade, or once archived).
void discard_snapshots(Run& run);
// The archive step: the tar.gz pre-upgrade backup written from the snapshots, verified, then the snapshots
// beyond [backup] snapshots_keep removed. Returns the backup's ID.
std::string archive_snapshots(Run& run);

} // namespace airlock::pipeline
