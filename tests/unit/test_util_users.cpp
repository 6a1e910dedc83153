#include "util/users.hpp"

#include "testutil.hpp"
#include <doctest/doctest.h>

TEST_CASE("util::user_name reads passwd-format files without NSS") {
  testutil::TempDir dir;
  testutil::write_file(dir / "passwd", "# comment\nroot:x:0:0:root:/root:/bin/bash\nsvc:x:1001:1001::/:/bin/false\n"
                                       "bad-line\nlong:x:10011:1:::\n");
  CHECK(airlock::util::user_name(0, dir / "passwd") == "root");
  CHECK(airlock::util::user_name(1001, dir / "passwd") == "svc");
  CHECK(airlock::util::user_name(10011, dir / "passwd") == "long");
  CHECK(airlock::util::user_name(1, dir / "passwd") == "");
  CHECK(airlock::util::group_name(0, dir / "missing") == "");
  CHECK(airlock::util::user_name(0) == "root"); // the real /etc/passwd of the test host
}
