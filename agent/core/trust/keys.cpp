#include "trust/keys.hpp"

#include "util/error.hpp"
#include "util/hash.hpp"
#include "util/io.hpp"
#include "util/json.hpp"

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>

#include <sys/stat.h>
#include <unistd.h>

#include <vector>

namespace airlock::trust {
namespace {

// RAII holders for the mbedTLS contexts.
struct Pk {
  mbedtls_pk_context ctx;
  Pk() { mbedtls_pk_init(&ctx); }
  ~Pk() { mbedtls_pk_free(&ctx); }
  Pk(const Pk&) = delete;
  Pk& operator=(const Pk&) = delete;
};

struct Rng {
  mbedtls_entropy_context entropy;
  mbedtls_ctr_drbg_context drbg;
  Rng() {
    mbedtls_entropy_init(&entropy);
    mbedtls_ctr_drbg_init(&drbg);
    const char pers[] = "airlock-keys";
    if (mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy, reinterpret_cast<const unsigned char*>(pers),
                              sizeof pers - 1) != 0)
      fail(ExitCode::failure, "cannot seed the random number generator (is getrandom(2) or /dev/urandom available?)");
  }
  ~Rng() {
    mbedtls_ctr_drbg_free(&drbg);
    mbedtls_entropy_free(&entropy);
  }
  Rng(const Rng&) = delete;
  Rng& operator=(const Rng&) = delete;
};

bool is_p256(mbedtls_pk_context& pk) {
  if (mbedtls_pk_get_type(&pk) != MBEDTLS_PK_ECKEY) return false;
  const mbedtls_ecp_keypair* ec = mbedtls_pk_ec(pk);
  return ec != nullptr && ec->grp.id == MBEDTLS_ECP_DP_SECP256R1;
}

std::string public_pem_of(mbedtls_pk_context& pk) {
  std::vector<unsigned char> buf(4096);
  if (mbedtls_pk_write_pubkey_pem(&pk, buf.data(), buf.size()) != 0)
    fail(ExitCode::failure, "mbedTLS cannot encode a public key as PEM");
  return std::string(reinterpret_cast<const char*>(buf.data()));
}

// mbedTLS wants PEM input NUL-terminated, with the NUL counted in the length.
int parse_key(mbedtls_pk_context& pk, std::string_view pem, bool is_private) {
  std::string z(pem);
  const auto* p = reinterpret_cast<const unsigned char*>(z.c_str());
  return is_private ? mbedtls_pk_parse_key(&pk, p, z.size() + 1, nullptr, 0)
                    : mbedtls_pk_parse_public_key(&pk, p, z.size() + 1);
}

bool from_hex(std::string_view hex, std::vector<unsigned char>& out) {
  if (hex.size() % 2) return false;
  out.clear();
  auto nib = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1; // TUF signatures are lowercase hex; anything else is malformed
  };
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    int hi = nib(hex[i]), lo = nib(hex[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out.push_back(static_cast<unsigned char>(hi << 4 | lo));
  }
  return true;
}

std::vector<unsigned char> sha256_bytes(std::string_view message) {
  std::string hex = util::sha256_hex(message);
  std::vector<unsigned char> out;
  from_hex(hex, out);
  return out;
}

class PemSigner : public Signer {
public:
  PemSigner(const std::string& path) {
    std::string pem = util::read_file(path, 64 * 1024);
    if (parse_key(pk_.ctx, pem, true) != 0 || !is_p256(pk_.ctx))
      fail(ExitCode::bad_input, path + " is not an unencrypted ECDSA P-256 private key in PEM form "
                                       "(make one with 'airlock-bundle key generate')");
    pub_.public_pem = public_pem_of(pk_.ctx);
  }
  const PublicKey& public_key() const override { return pub_; }
  std::string sign_hex(std::string_view message) override {
    auto hash = sha256_bytes(message);
    unsigned char sig[MBEDTLS_PK_SIGNATURE_MAX_SIZE];
    std::size_t len = 0;
    if (mbedtls_pk_sign(&pk_.ctx, MBEDTLS_MD_SHA256, hash.data(), hash.size(), sig, &len, mbedtls_ctr_drbg_random,
                        &rng_.drbg) != 0)
      fail(ExitCode::failure, "mbedTLS failed to sign with key " + pub_.keyid());
    return util::to_hex(sig, len);
  }

private:
  Pk pk_;
  Rng rng_;
  PublicKey pub_;
};

} // namespace

std::string PublicKey::keyid() const {
  json::Object keyval{{"public", json::Value(public_pem)}};
  json::Object key{{"keytype", json::Value(keytype)}, {"scheme", json::Value(scheme)}, {"keyval", json::Value(keyval)}};
  return util::sha256_hex(json::canonical(json::Value(key)));
}

std::string key_identity(const PublicKey& key) {
  Pk pk;
  if (parse_key(pk.ctx, key.public_pem, false) != 0 || !is_p256(pk.ctx)) return "";
  unsigned char buf[512];
  // mbedtls_pk_write_pubkey_der writes at the END of the buffer and returns the length.
  int n = mbedtls_pk_write_pubkey_der(&pk.ctx, buf, sizeof buf);
  if (n <= 0) return "";
  return util::sha256_hex(std::string_view(reinterpret_cast<const char*>(buf + sizeof buf - n), std::size_t(n)));
}

bool verify_signature(const PublicKey& key, std::string_view message, std::string_view sig_hex) {
  if (key.scheme != "ecdsa-sha2-nistp256" || (key.keytype != "ecdsa" && key.keytype != "ecdsa-sha2-nistp256"))
    return false;
  std::vector<unsigned char> sig;
  if (!from_hex(sig_hex, sig) || sig.empty() || sig.size() > MBEDTLS_PK_SIGNATURE_MAX_SIZE) return false;
  Pk pk;
  if (parse_key(pk.ctx, key.public_pem, false) != 0 || !is_p256(pk.ctx)) return false;
  auto hash = sha256_bytes(message);
  return mbedtls_pk_verify(&pk.ctx, MBEDTLS_MD_SHA256, hash.data(), hash.size(), sig.data(), sig.size()) == 0;
}

std::unique_ptr<Signer> load_pem_signer(const std::string& path) { return std::make_unique<PemSigner>(path); }

PublicKey generate_key(const std::string& path) {
  if (::access(path.c_str(), F_OK) == 0)
    fail(ExitCode::usage, path + " already exists; airlock-bundle never overwrites a key (move it away first)");
  Rng rng;
  Pk pk;
  mbedtls_ecp_keypair* ec = nullptr;
  if (mbedtls_pk_setup(&pk.ctx, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)) != 0 || !(ec = mbedtls_pk_ec(pk.ctx)) ||
      mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, ec, mbedtls_ctr_drbg_random, &rng.drbg) != 0)
    fail(ExitCode::failure, "mbedTLS failed to generate a P-256 key");
  std::vector<unsigned char> buf(4096);
  if (mbedtls_pk_write_key_pem(&pk.ctx, buf.data(), buf.size()) != 0)
    fail(ExitCode::failure, "mbedTLS cannot encode the private key as PEM");
  std::string pem(reinterpret_cast<const char*>(buf.data()));
  std::fill(buf.begin(), buf.end(), 0);
  util::write_file_atomic(path, pem, 0600);
  PublicKey pub;
  pub.public_pem = public_pem_of(pk.ctx);
  return pub;
}

PublicKey public_key_from_pem(std::string_view pem, const std::string& what) {
  Pk pk;
  bool is_private = pem.find("PRIVATE KEY-----") != std::string_view::npos;
  if (parse_key(pk.ctx, pem, is_private) != 0 || !is_p256(pk.ctx))
    fail(ExitCode::bad_input, what + " is not an ECDSA P-256 key in PEM form");
  PublicKey pub;
  pub.public_pem = public_pem_of(pk.ctx);
  return pub;
}

} // namespace airlock::trust
