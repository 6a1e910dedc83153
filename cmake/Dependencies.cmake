# Static dependencies: Poco from the bootstrap cache, everything else as Debian's static archives for the
# target architecture. Linking the .a files by full path keeps a cross build from ever picking up a host library.
set(_libdir /usr/lib/${AIRLOCK_MULTIARCH})
function(airlock_static_lib var name)
  find_library(${var} NAMES lib${name}.a PATHS ${ARGN} NO_DEFAULT_PATH NO_CMAKE_FIND_ROOT_PATH REQUIRED)
endfunction()

set(_poco_components NetSSL Crypto Net DataSQLite Data Util JSON Foundation)
set(AIRLOCK_POCO_LIBS)
foreach(c IN LISTS _poco_components)
  airlock_static_lib(POCO_${c}_LIB Poco${c} ${POCO_PREFIX}/lib)
  list(APPEND AIRLOCK_POCO_LIBS ${POCO_${c}_LIB})
endforeach()
foreach(l ssl crypto sqlite3 mbedcrypto xxhash zstd z pcre)
  airlock_static_lib(DEP_${l}_LIB ${l} ${_libdir})
endforeach()

# One target per vendor library, so each folder links only what its .cpp files use (PRIVATE: no core header
# includes a vendor header). The order inside each list is the static-link order (users before providers).
function(airlock_vendor name)
  add_library(airlock_vendor_${name} INTERFACE)
  target_link_libraries(airlock_vendor_${name} INTERFACE ${ARGN})
  add_library(airlock::${name} ALIAS airlock_vendor_${name})
endfunction()
airlock_vendor(zlib ${DEP_z_LIB})
airlock_vendor(xxhash ${DEP_xxhash_LIB})
airlock_vendor(zstd ${DEP_zstd_LIB})
airlock_vendor(mbedtls ${DEP_mbedcrypto_LIB})
airlock_vendor(openssl ${DEP_ssl_LIB} ${DEP_crypto_LIB} pthread dl)
airlock_vendor(sqlite ${DEP_sqlite3_LIB} pthread dl m)
airlock_vendor(poco ${AIRLOCK_POCO_LIBS} airlock::openssl airlock::sqlite ${DEP_pcre_LIB} airlock::zlib
  pthread dl m)
target_include_directories(airlock_vendor_poco SYSTEM INTERFACE ${POCO_PREFIX}/include)
target_compile_definitions(airlock_vendor_poco INTERFACE POCO_STATIC POCO_NO_AUTOMATIC_LIBS POCO_UTIL_NO_XMLCONFIGURATION)

# All of them, for code that uses several directly (the unit tests).
add_library(airlock_deps INTERFACE)
target_link_libraries(airlock_deps INTERFACE airlock::poco airlock::openssl airlock::mbedtls airlock::sqlite
  airlock::xxhash airlock::zstd airlock::zlib)
