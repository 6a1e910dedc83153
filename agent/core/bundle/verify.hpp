// Verifies a bundle file or repository directory without installing anything: the TUF chain from a trusted root
// (trust::refresh), then every target file the container holds against the signed length and SHA-256. Used by
// `airlock verify` and `airlock-bundle verify`, so both give the same answer.
// Thread-safety: one call at a time per container; verify_all uses threads of its own.
#pragma once

#include "bundle/container.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace airlock::bundle {

struct VerifiedTarget {
  trust::TargetFile target;
  std::string path; // inside the container
};

struct VerifyReport {
  trust::TrustedState state;
  std::vector<VerifiedTarget> verified; // present in the container and matching
  std::vector<std::string> absent;      // listed in targets metadata, not in this container (fine for a bundle)
  std::vector<std::string> unlisted;    // files of a repository directory no metadata lists (not used, reported)
  std::uint64_t bytes = 0;              // payload bytes hashed
};

// Throws Error(verify_failed) for any signature, hash, length, expiry or rollback failure, naming the role,
// file or target; Error(bad_input) for malformed input. A bundle holding a file that no signed target lists is
// refused; in a repository directory such files are only reported.
// trust::verify_target of bytes read from `c` (`src`, from c.open()), naming c.describe(); any Error it or the read
// throws is thrown again with c.damage_hint() appended (a part set then says to copy the whole set again).
std::uint64_t verify_target_in(Container& c, const trust::TargetFile& t, util::Source& src, util::Sink* copy = nullptr);

// Hashes every target of `targets` (paths inside `c`) against its signed length and SHA-256, on
// util::worker_threads() threads (largest targets first; each thread reads with its own positioned reads, so
// memory is one 1 MiB buffer per thread). Returns the bytes hashed. A failure stops the jobs not yet started and
// is thrown as verify_target_in throws it; with several bad targets, the largest of those hashed is reported.
// `c.open()` is called under a lock; the Sources it returns must be readable from any thread (a repository's files, a
// bundle's zip entries and part sets are).
std::uint64_t verify_all(Container& c, const std::vector<VerifiedTarget>& targets);

// The chain is followed from `start`: a trusted root alone (TrustedState::from_root), or a site's whole trusted
// state (TrustedState::load), which also refuses metadata older than what the site has seen and judges expiry no
// earlier than the site's last verification. `start` is not saved: verifying changes nothing.
VerifyReport verify_container(Container& c, trust::TrustedState start, std::int64_t now);

} // namespace airlock::bundle
