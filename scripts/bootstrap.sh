#!/usr/bin/env bash
# Installs everything airlock's build and tests need, from Debian only, and builds static Poco into a cache
# outside the tree. Idempotent: a second run checks, finds everything present, and returns in seconds.
#
#   scripts/bootstrap.sh            packages + Poco for x86_64 and aarch64
#   AIRLOCK_ARCHES=x86_64 scripts/bootstrap.sh   only one architecture
#
# Cache: ${AIRLOCK_CACHE:-/var/cache/airlock-build}/poco-<version>-<arch>-<flags-hash>/
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=../third_party/poco.env
. "$here/third_party/poco.env"
cache=${AIRLOCK_CACHE:-/var/cache/airlock-build}
arches=${AIRLOCK_ARCHES:-"x86_64 aarch64"}
log() { printf '[bootstrap] %s\n' "$*" >&2; }
# One bootstrap at a time per cache (two would race on apt and on Poco's build directory); a second one waits.
mkdir -p "$cache"
exec 9>"$cache/.bootstrap.lock"
flock 9

need_root() { [ "$(id -u)" = 0 ] || { log "must run as root (apt-get install)"; exit 1; }; }

enable_deb_src() {
  local f=/etc/apt/sources.list.d/debian.sources changed=0
  if [ -f "$f" ] && grep -q '^Types: deb$' "$f"; then
    sed -i 's/^Types: deb$/Types: deb deb-src/' "$f"; changed=1
  elif [ -f /etc/apt/sources.list ] && ! grep -q '^deb-src' /etc/apt/sources.list && grep -q '^deb ' /etc/apt/sources.list; then
    grep '^deb ' /etc/apt/sources.list | sed 's/^deb /deb-src /' >> /etc/apt/sources.list; changed=1
  fi
  return $((1 - changed))
}

PKGS_HOST=(build-essential cmake ninja-build pkg-config git file ca-certificates dpkg-dev xz-utils
  g++-aarch64-linux-gnu qemu-user-static binfmt-support
  libssl-dev zlib1g-dev libsqlite3-dev libmbedtls-dev libxxhash-dev libzstd-dev libfmt-dev doctest-dev libpcre3-dev
  docker.io docker-compose nginx-light openssl curl unzip zip nodejs npm procps psmisc util-linux sqlite3
  mmdebstrap xfsprogs pigz ccache
  python3 time strace clang-format clang libclang-rt-14-dev prometheus)
PKGS_ARM64=(libpcre3-dev:arm64 libssl-dev:arm64 zlib1g-dev:arm64 libsqlite3-dev:arm64 libmbedtls-dev:arm64 libxxhash-dev:arm64 libzstd-dev:arm64 libc6-dev:arm64)

install_packages() {
  local missing=() p update=0
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then dpkg --add-architecture arm64; update=1; fi
  enable_deb_src && update=1
  for p in "${PKGS_HOST[@]}" "${PKGS_ARM64[@]}"; do
    # npm and nodejs may come from another source; accept the commands instead of the Debian packages.
    case $p in nodejs) command -v node >/dev/null && continue;; npm) command -v npm >/dev/null && continue;; esac
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ] && [ $update = 0 ]; then log "packages: all present"; return; fi
  need_root
  log "packages: installing ${missing[*]:-(sources changed)}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  [ ${#missing[@]} -eq 0 ] || apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

pinned() {
  printf '%s  %s\n' "$POCO_DSC_SHA256" "$POCO_DSC_FILE" "$POCO_ORIG_SHA256" "$POCO_ORIG_FILE" \
    "$POCO_DEBIAN_SHA256" "$POCO_DEBIAN_FILE"
}

# Debian's poco source package, checked against the pinned SHA-256 values, with Debian's patches applied.
fetch_poco_source() {
  local src=$cache/src/poco-$POCO_VERSION
  if [ -f "$src/.airlock-ok" ]; then echo "$src"; return; fi
  mkdir -p "$cache/src/dl"
  ( cd "$cache/src/dl"
    if ! pinned | sha256sum -c --status - 2>/dev/null; then
      log "poco: apt-get source --download-only poco=$POCO_DEBIAN_VERSION"
      apt-get source -qq --download-only "poco=$POCO_DEBIAN_VERSION" >&2
    fi
    pinned | sha256sum -c --quiet - >&2 || { log "poco: source archives do not match third_party/poco.env; refusing to build"; exit 1; }
    rm -rf "$src.tmp"
    dpkg-source --no-check -x "$POCO_DSC_FILE" "$src.tmp" >&2   # applies debian/patches (3.0 quilt)
  )
  rm -rf "$src"; mv "$src.tmp" "$src"; touch "$src/.airlock-ok"
  echo "$src"
}

poco_flags() { # everything that changes the build output goes into the cache key; one cmake argument per line
  # Size-optimised, one section per function and object, so the final link's --gc-sections drops what airlock
  # never calls (docs/build.md "Binary size"). XML and Zip are left out: airlock uses neither (Util then builds
  # without XMLConfiguration).
  printf '%s\n' -DBUILD_SHARED_LIBS=OFF -DCMAKE_BUILD_TYPE=MinSizeRel -DCMAKE_POSITION_INDEPENDENT_CODE=OFF \
    "-DCMAKE_C_FLAGS_MINSIZEREL=-Os -DNDEBUG -ffunction-sections -fdata-sections" \
    "-DCMAKE_CXX_FLAGS_MINSIZEREL=-Os -DNDEBUG -ffunction-sections -fdata-sections" \
    -DENABLE_FOUNDATION=ON -DENABLE_UTIL=ON -DENABLE_XML=OFF -DENABLE_JSON=ON -DENABLE_NET=ON -DENABLE_CRYPTO=ON \
    -DENABLE_NETSSL=ON -DENABLE_DATA=ON -DENABLE_DATA_SQLITE=ON -DENABLE_ZIP=OFF \
    -DENABLE_ENCODINGS=OFF -DENABLE_JWT=OFF -DENABLE_MONGODB=OFF -DENABLE_REDIS=OFF -DENABLE_PDF=OFF \
    -DENABLE_DATA_MYSQL=OFF -DENABLE_DATA_POSTGRESQL=OFF -DENABLE_DATA_ODBC=OFF -DENABLE_SEVENZIP=OFF \
    -DENABLE_APACHECONNECTOR=OFF -DENABLE_CPPPARSER=OFF -DENABLE_POCODOC=OFF -DENABLE_PAGECOMPILER=OFF \
    -DENABLE_PAGECOMPILER_FILE2PAGE=OFF -DENABLE_ACTIVERECORD=OFF -DENABLE_ACTIVERECORD_COMPILER=OFF \
    -DENABLE_PROMETHEUS=OFF -DENABLE_TESTS=OFF -DENABLE_SAMPLES=OFF -DENABLE_NETSSL_WIN=OFF -DPOCO_UNBUNDLED=ON \
    -DPOCO_STATIC=ON -DCMAKE_INSTALL_LIBDIR=lib "source=$(sha256sum < "$here/third_party/poco.env" | cut -c1-16)"
}

# The Poco libraries airlock links (cmake/Dependencies.cmake lists the same), checked after every build.
POCO_LIBS="Foundation Util JSON Net Crypto NetSSL Data DataSQLite"

build_poco() { # $1 = x86_64 | aarch64
  local arch=$1 key prefix src bld multi
  key=$(poco_flags | sha256sum | cut -c1-12)
  prefix=$cache/poco-$POCO_VERSION-$arch-$key
  if [ -f "$prefix/.airlock-ok" ]; then log "poco $arch: cached at $prefix"; return; fi
  src=$(fetch_poco_source)
  multi=$arch-linux-gnu
  bld=$cache/build/poco-$POCO_VERSION-$arch-$key
  rm -rf "$bld" "$prefix"; mkdir -p "$bld"
  log "poco $arch: building into $prefix (about 5 minutes per architecture on 2 cores)"
  local flags; mapfile -t flags < <(poco_flags | grep -v '^source=')
  cmake -S "$src" -B "$bld" -G Ninja "${flags[@]}" \
    -DCMAKE_TOOLCHAIN_FILE="$here/toolchains/$arch-linux-gnu.cmake" \
    -DCMAKE_INSTALL_PREFIX="$prefix" \
    -DOPENSSL_ROOT_DIR=/usr -DOPENSSL_USE_STATIC_LIBS=ON \
    -DOPENSSL_INCLUDE_DIR=/usr/include \
    -DOPENSSL_SSL_LIBRARY="/usr/lib/$multi/libssl.a" \
    -DOPENSSL_CRYPTO_LIBRARY="/usr/lib/$multi/libcrypto.a" \
    -DSQLite3_INCLUDE_DIR=/usr/include -DSQLite3_LIBRARY="/usr/lib/$multi/libsqlite3.a" \
    -DPCRE_INCLUDE_DIR=/usr/include -DPCRE_LIBRARY="/usr/lib/$multi/libpcre.a" \
    -DZLIB_INCLUDE_DIR=/usr/include -DZLIB_LIBRARY="/usr/lib/$multi/libz.a" \
    > "$bld/configure.log" 2>&1 || { tail -40 "$bld/configure.log" >&2; exit 1; }
  cmake --build "$bld" -j"${AIRLOCK_JOBS:-2}" > "$bld/build.log" 2>&1 || { tail -40 "$bld/build.log" >&2; exit 1; }
  cmake --install "$bld" > "$bld/install.log" 2>&1
  # Poco's CMake silently drops Crypto/NetSSL when it cannot find the target's OpenSSL: check every library.
  local lib
  for lib in $POCO_LIBS; do
    [ -f "$prefix/lib/libPoco$lib.a" ] || { log "poco $arch: libPoco$lib.a was not built; see $bld/configure.log"; exit 1; }
  done
  touch "$prefix/.airlock-ok"
  rm -rf "$bld"
  log "poco $arch: done"
}

# tuf-js and @tufjs/canonical-json, the independent TUF implementation the interop tests compare against.
install_interop() {
  local dir=$here/tests/interop
  if [ -f "$dir/node_modules/.package-lock.json" ] && cmp -s "$dir/package-lock.json" "$dir/node_modules/.airlock-lock"; then
    log "npm: interop packages present"; return
  fi
  log "npm: installing tuf-js into tests/interop (npm ci)"
  npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error >&2
  cp "$dir/package-lock.json" "$dir/node_modules/.airlock-lock"
}

poco_prefix() { echo "$cache/poco-$POCO_VERSION-$1-$(poco_flags | sha256sum | cut -c1-12)"; }

case ${1:-all} in
  packages) install_packages ;;
  poco-prefix) poco_prefix "${2:?arch}" ;;
  all)
    install_packages
    install_interop
    for a in $arches; do build_poco "$a"; done ;;
  *) echo "usage: $0 [all|packages|poco-prefix ARCH]" >&2; exit 2 ;;
esac
