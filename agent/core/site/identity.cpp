#include "site/identity.hpp"

#include "util/error.hpp"
#include "util/io.hpp"
#include "util/text.hpp"

#include <sys/random.h>

#include <cerrno>
#include <filesystem>

namespace airlock::site {

bool is_site_id(const std::string& id) {
  return id.size() == 32 && id.find_first_not_of("0123456789abcdef") == std::string::npos;
}

std::optional<std::string> read_site_id(const Layout& l) {
  const std::string path = l.site_id_file();
  if (std::error_code ec; !std::filesystem::exists(path, ec)) return std::nullopt;
  std::string text = util::read_file(path, 128);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  if (!is_site_id(text))
    fail(ExitCode::bad_input, path + " does not hold a site ID (32 lowercase hex digits) but " +
                                  util::quoted(text, 64) +
                                  "; restore it from a backup of the state directory, or remove it to make a new one "
                                  "(the site then counts as another site in rollouts and reports)");
  return text;
}

std::string ensure_site_id(const Layout& l) {
  if (auto id = read_site_id(l)) return *id;
  unsigned char raw[16];
  std::size_t got = 0;
  while (got < sizeof raw) {
    const ssize_t n = ::getrandom(raw + got, sizeof raw - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail(ExitCode::failure, "cannot get random bytes for the site ID (getrandom failed)");
    got += static_cast<std::size_t>(n);
  }
  static const char hex[] = "0123456789abcdef";
  std::string id;
  for (unsigned char c : raw) {
    id += hex[c >> 4];
    id += hex[c & 15];
  }
  util::write_file_atomic(l.site_id_file(), id + "\n", 0644);
  return id;
}

std::optional<trust::PublicKey> read_site_key(const Layout& l) {
  const std::string path = l.site_key_file();
  if (std::error_code ec; !std::filesystem::exists(path, ec)) return std::nullopt;
  return trust::public_key_from_pem(util::read_file(path, 64 * 1024), path);
}

trust::PublicKey ensure_site_key(const Layout& l) {
  if (auto key = read_site_key(l)) return *key;
  return trust::generate_key(l.site_key_file());
}

std::unique_ptr<trust::Signer> site_signer(const Layout& l) { return trust::load_pem_signer(l.site_key_file()); }

} // namespace airlock::site
