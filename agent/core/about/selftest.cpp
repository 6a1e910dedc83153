#include "about/selftest.hpp"

#include "util/hash.hpp"

#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/Session.h>
#include <Poco/Dynamic/Var.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/IPAddress.h>
#include <fmt/format.h>
#include <mbedtls/sha256.h>
#include <zlib.h>

#include <functional>
#include <string>
#include <vector>

namespace airlock::about {
namespace {

using Check = std::function<std::string()>; // returns "" on success, else what differed

std::string expect(const std::string& what, const std::string& got, const std::string& want) {
  return got == want ? "" : fmt::format("{}: got {}, want {}", what, got, want);
}

const char* const abc_sha256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

std::string check_openssl() { return expect("SHA-256(abc)", util::sha256_hex("abc"), abc_sha256); }

std::string check_mbedtls() {
  unsigned char md[32];
  if (mbedtls_sha256_ret(reinterpret_cast<const unsigned char*>("abc"), 3, md, 0) != 0) return "mbedtls_sha256 failed";
  return expect("SHA-256(abc)", util::to_hex(md, sizeof md), abc_sha256);
}

std::string check_xxhash() {
  return expect("XXH3-64(\"\")", fmt::format("{:016x}", util::xxh3_64("")), "2d06800538d394c2");
}

std::string check_zlib() {
  std::string input(100000, 'a');
  for (std::size_t i = 0; i < input.size(); i += 7) input[i] = static_cast<char>('a' + i % 26);
  uLongf clen = compressBound(static_cast<uLong>(input.size()));
  std::vector<Bytef> comp(clen);
  if (compress2(comp.data(), &clen, reinterpret_cast<const Bytef*>(input.data()), static_cast<uLong>(input.size()),
                6) != Z_OK)
    return "compress2 failed";
  std::string back(input.size(), '\0');
  uLongf blen = static_cast<uLongf>(back.size());
  if (uncompress(reinterpret_cast<Bytef*>(back.data()), &blen, comp.data(), clen) != Z_OK) return "uncompress failed";
  return back == input ? "" : "round trip differs";
}

std::string check_sqlite() {
  Poco::Data::SQLite::Connector::registerConnector();
  Poco::Data::Session s("SQLite", ":memory:");
  using Poco::Data::Keywords::into;
  using Poco::Data::Keywords::now;
  s << "CREATE TABLE t (v INTEGER)", now;
  s << "INSERT INTO t VALUES (40), (2)", now;
  int sum = 0;
  s << "SELECT sum(v) FROM t", into(sum), now;
  return expect("sum", std::to_string(sum), "42");
}

std::string check_poco_json() {
  Poco::JSON::Parser p;
  auto obj = p.parse(R"({"a":[1,2,"\u00e9"]})").extract<Poco::JSON::Object::Ptr>();
  auto arr = obj->getArray("a");
  return expect("a[1]", arr->getElement<std::string>(1), "2") +
         expect("a[2]", arr->getElement<std::string>(2), "\xc3\xa9");
}

std::string check_poco_net() {
  Poco::Net::IPAddress ip("127.0.0.1");
  if (!ip.isLoopback()) return "127.0.0.1 is not loopback";
  Poco::Net::Context::Ptr ctx =
      new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, "", Poco::Net::Context::VERIFY_RELAXED, 9, false);
  return ctx->sslContext() ? "" : "no SSL_CTX";
}

} // namespace

bool run_self_test(std::ostream& out) {
  const std::vector<std::pair<const char*, Check>> checks = {
      {"OpenSSL SHA-256", check_openssl}, {"mbedTLS SHA-256", check_mbedtls}, {"xxHash XXH3", check_xxhash},
      {"zlib round trip", check_zlib},    {"SQLite via Poco", check_sqlite},  {"Poco JSON", check_poco_json},
      {"Poco Net/NetSSL", check_poco_net}};
  bool all_ok = true;
  for (const auto& [name, check] : checks) {
    std::string problem;
    try {
      problem = check();
    } catch (const std::exception& e) {
      problem = std::string("exception: ") + e.what();
    }
    out << fmt::format("{:<18} {}\n", name, problem.empty() ? "ok" : "FAILED: " + problem);
    all_ok = all_ok && problem.empty();
  }
  return all_ok;
}

} // namespace airlock::about
