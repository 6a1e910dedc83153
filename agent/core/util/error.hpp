// One error style for all of airlock: functions throw airlock::Error, and each CLI catches it once at the
// top and turns it into the documented exit code (docs/cli.md) plus a message on stderr.
// A message names the file, URL, version or key it is about and says what the operator can do next.
// Thread-safety: Error is an immutable value type.
#pragma once

#include <stdexcept>
#include <string>

namespace airlock {

// Process exit codes. The numbers are a public contract: scripts and monitoring match on them.
// Keep docs/cli.md in step with this list.
enum class ExitCode : int {
  ok = 0,
  failure = 1,           // an unexpected failure (I/O error, bug); the message says what failed
  usage = 2,             // bad command line or config: nothing was done
  verify_failed = 3,     // signature, hash, length, expiry or rollback check refused the input
  bad_input = 4,         // input is malformed: not a bundle, corrupt zip, unparsable metadata
  busy = 5,              // another airlock holds the lock
  not_found = 6,         // a named file, version or backup does not exist
  rolled_back = 7,       // the upgrade failed after the services stopped and the site is back on the old release
  needs_attention = 8,   // the upgrade and its rollback failed: the site is not healthy; the message says what to run
  not_applicable = 9,    // valid input that is not for this site: another app or architecture, an older version
  update_available = 10, // `airlock check` only: a newer release is available (0 there means up to date)
                         // without --allow-downgrade, a release that needs a newer agent
  hook_refused = 11,     // a pre-upgrade hook failed (non-zero exit, timed out, refused as unsafe): nothing stopped
};

class Error : public std::runtime_error {
public:
  Error(ExitCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ExitCode code() const noexcept { return code_; }

private:
  ExitCode code_;
};

[[noreturn]] inline void fail(ExitCode code, const std::string& message) { throw Error(code, message); }

} // namespace airlock
