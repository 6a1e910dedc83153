// Keys and signatures for TUF metadata: ECDSA over NIST P-256 with SHA-256 (TUF scheme "ecdsa-sha2-nistp256"),
// through mbedTLS. Public keys travel as PEM SubjectPublicKeyInfo in `keyval.public` (what tuf-js and
// python-tuf read); signatures are the hex of the DER-encoded ECDSA signature.
//
// Signing sits behind the Signer interface so that an HSM or PKCS#11 signer can be added without touching any
// caller: a signer only has to expose its public key and sign bytes. load_pem_signer() is the file-based one.
// Thread-safety: PublicKey and verify_signature are thread-safe; a Signer is used by one thread at a time.
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace airlock::trust {

struct PublicKey {
  std::string keytype = "ecdsa";              // "ecdsa" or "ecdsa-sha2-nistp256" (both accepted on input)
  std::string scheme = "ecdsa-sha2-nistp256"; // the only scheme airlock accepts
  std::string public_pem;                     // "-----BEGIN PUBLIC KEY-----\n..." (SPKI)

  // TUF key ID: hex SHA-256 of the canonical JSON of {"keytype","keyval":{"public"},"scheme"}.
  std::string keyid() const;
  bool operator==(const PublicKey& o) const { return public_pem == o.public_pem && scheme == o.scheme; }
};

// The identity of the key itself: hex SHA-256 of its DER SubjectPublicKeyInfo, the same for every PEM spelling
// (line breaks, headers) and either keytype of one key, whose key IDs differ. "" when the PEM is not a P-256
// public key. Thresholds count distinct identities, so that one key listed under two IDs counts once.
std::string key_identity(const PublicKey& key);

// True when `sig_hex` is a valid signature by `key` over `message`. Any malformed key or signature, a key on
// another curve or an unsupported scheme is simply "false": verification never throws on attacker input.
bool verify_signature(const PublicKey& key, std::string_view message, std::string_view sig_hex);

class Signer {
public:
  virtual ~Signer() = default;
  virtual const PublicKey& public_key() const = 0;
  // Signs `message` and returns the hex DER signature. Throws Error(failure) when the signer cannot sign.
  virtual std::string sign_hex(std::string_view message) = 0;
};

// A signer backed by an unencrypted PEM private key file (SEC1 or PKCS#8, P-256 only).
// Throws Error(not_found) for a missing file and Error(bad_input) for anything that is not a P-256 private key.
std::unique_ptr<Signer> load_pem_signer(const std::string& path);

// Generates a P-256 key and writes it as PEM to `path` with mode 0600 (atomically). Refuses to overwrite an
// existing file (Error(usage)). Returns the public key.
PublicKey generate_key(const std::string& path);

// Parses a PEM public key (SPKI) or private key and returns the public key in airlock's canonical PEM form.
// Throws Error(bad_input) naming `what` when it is not a P-256 key.
PublicKey public_key_from_pem(std::string_view pem, const std::string& what);

} // namespace airlock::trust
