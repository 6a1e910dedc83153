// Resumable, verified download of one TUF target whose length and SHA-256 come from signed metadata.
//
// On disk (in `dir`, normally <state>/downloads):
//   <sha256>.partial   the bytes received so far, never longer than the expected length
//   <sha256>           the complete file, only ever created by renaming a partial whose SHA-256 matched
// and in the state database one `downloads` row per partial (key: the SHA-256) holding the URL the bytes came
// from, the expected length, the bytes done, and that server's ETag and Last-Modified.
//
// fetch() in order:
//  1. <sha256> already present: re-hashed; returned without any request when it matches (else removed).
//  2. A partial with a matching row (same path and length) is resumed: its bytes are re-hashed (so the hash
//     keeps streaming), and the next request asks "Range: bytes=<size>-" with "If-Range" set to the row's
//     strong ETag or else its Last-Modified, when the request goes to the URL the bytes came from. A partial
//     without a row is discarded: nothing says where its bytes came from.
//  3. Each reply is checked before a byte of it is written: a 206 must have a Content-Range that starts at the
//     offset asked for and whose total is the expected length, else (and on a 416) the partial is discarded and
//     the download starts again at 0, which counts as a failed attempt (backoff, retries, deadline); a 200 to a Range
//     request (the server ignored Range, or If-Range saw a changed file) truncates the partial and takes the whole new
//     body, so two versions are never spliced; a Content-Length or a body longer than the expected length is refused
//     (nothing beyond the expected length is ever written).
//  4. Bytes are hashed as they are written (no second read pass). The row's bytes done is updated every
//     second; a resume trusts the partial file's size, so a killed process re-fetches nothing it had written,
//     and the final SHA-256 check catches whatever a power loss may have left in the file.
//  5. At the expected length: a matching SHA-256 renames the partial to <sha256>, fsyncs the directory and
//     deletes the row. A mismatch (or a server file whose length differs) empties the partial, deletes the row
//     and downloads once more from the next mirror (the same one when there is only one); a second mismatch
//     removes the partial and throws Error(verify_failed) naming the target, the URLs and the hashes.
//     The file's data is not fsynced before the rename (the directory is): every use of "<dir>/<sha256>"
//     re-hashes it first (step 1 here; pipeline::fetch_verified; staging and `docker load` check contents too),
//     so what a power loss leaves is found and fetched again, and the download does not pay a full flush of
//     the file (1.6 s of 3.6 s for 1 GiB on the benchmark machine, docs/benchmarks.md).
// Transport failures, stalls (Settings::stall_timeout), transfers below the rate floor (Settings::min_rate) and
// HTTP 5xx/408/429 are retried per the RetryPolicy (net::Attempts), resuming each time. An attempt counts as
// progress (it clears its mirror's failure count) only when the partial grew beyond the furthest byte this fetch
// had reached, so bytes fetched again after a restart are not progress and a mirror that never lets a resume
// succeed is used up after `retries` attempts. Every request is cut at the policy's deadline, and no attempt
// starts after it: fetch() always ends. When the policy gives up, fetch() throws NetError naming the URL and the
// last failure and keeps the partial and its row for the next run. 404 on every mirror throws
// Error(not_found). Progress is reported through log::Progress over the bytes still missing, so its rate and
// ETA are those of this run even after a resume; resumes, retries and restarts are logged (module "net").
// Resuming a partial from a different mirror than the one that sent its bytes sends Range without If-Range:
// target URLs are content-addressed (consistent snapshots), and the final SHA-256 check catches a server
// that breaks that promise.
//
// Thread-safety: one Downloader per thread. Two processes must not download into the same `dir` at once
// (state::RunLock keeps airlock runs apart).
#pragma once

#include "net/http.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace airlock::state {
class StateDb;
}

namespace airlock::net {

struct Target {
  std::string name;              // the TUF target name, for messages and progress
  std::vector<std::string> urls; // the target's URL on each mirror, in order
  std::uint64_t length = 0;      // from signed metadata
  std::string sha256;            // from signed metadata: 64 lowercase hex digits
};

class Downloader {
public:
  // `client` and `db` must outlive the Downloader.
  Downloader(const Client& client, state::StateDb& db);
  // Makes sure "<dir>/<sha256>" holds the verified target and returns that path (see the file comment).
  // Creates `dir` when missing. Throws Error(bad_input) for a malformed SHA-256, Error(verify_failed) after two
  // mismatches, Error(not_found) when no mirror has the file, NetError when the retry policy gives up, and
  // Error(failure) for local I/O errors.
  std::string fetch(const Target& t, const std::string& dir);
  // What the last fetch() did on the wire (counted even when it threw).
  const TransferStats& stats() const { return stats_; }

private:
  const Client& client_;
  state::StateDb& db_;
  TransferStats stats_;
};

} // namespace airlock::net
