// Binary deltas of layer tars: DESIGN.md "Images by layer", issue 17.
//
// A delta is one zstd frame made with the base tar as a raw-content prefix (zstd's `--patch-from`, long-distance
// matching on, a window covering the base and the result, the content size and the XXH64 checksum in the frame).
// `zstd -d --long=31 --patch-from=<base.tar> <delta>` decodes it too, so an operator can check one by hand.
// Creation is deterministic for the same inputs, level and libzstd version (single-threaded).
//
// Memory: both sides map their files (base, result or delta) instead of reading them, so the bytes are page
// cache the kernel may drop or write back, not anonymous memory. The encoder's own tables grow with the level
// and the window (about 200 MiB at level 19 for a 300 MiB layer: CI's side). The decoder decodes in one pass
// straight into the mapped output file, so it needs no window buffer: its own state is about 200 KiB whatever
// the layer's size.
// Thread-safety: plain functions; nothing is shared.
#pragma once

#include <cstdint>
#include <string>

namespace airlock::delta {

// `size` bytes at `offset` of `file`: a base tar, alone in its file or inside a `docker save` archive.
struct Range {
  std::string file;
  std::uint64_t offset = 0, size = 0;
};

// Writes to `out_path` (atomically) the delta that turns `base` into the bytes of file `target_path`; returns its
// size. `level` is zstd's (1 to 22). Throws Error(failure) naming the file for an I/O or libzstd failure.
std::uint64_t create(const Range& base, const std::string& target_path, const std::string& out_path, int level);

// Decodes the delta `delta_path` against `base` into `out_path` (atomically: nothing is left at `out_path` on
// failure) and checks the result: exactly `size` bytes whose SHA-256 is `sha256_hex`. Throws Error(verify_failed)
// naming `what` when the delta is not a zstd frame of that content size, is damaged (zstd's checksum), was made
// from another base, or decodes to other bytes; Error(failure) for an I/O failure.
void apply(const Range& base, const std::string& delta_path, const std::string& out_path, std::uint64_t size,
           const std::string& sha256_hex, const std::string& what);

} // namespace airlock::delta
