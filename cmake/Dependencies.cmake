# Static dependencies: Poco from the bootstrap cache, everything else as Debian's static archives for the
# target architecture. Linking the .a files by full path keeps a cross build from ever picking up a host library.
set(_libdir /usr/lib/${AIRLOCK_MULTIARCH})
function(airlock_static_lib var name)
  find_library(${var} NAMES lib${name}.a PATHS ${ARGN} NO_DEFAULT_PATH NO_CMAKE_FIND_ROOT_PATH REQUIRED)
endfunction()

set(_poco_components NetSSL Crypto Net DataSQLite Data Zip Util JSON XML Foundation)
set(AIRLOCK_POCO_LIBS)
foreach(c IN LISTS _poco_components)
  airlock_static_lib(POCO_${c}_LIB Poco${c} ${POCO_PREFIX}/lib)
  list(APPEND AIRLOCK_POCO_LIBS ${POCO_${c}_LIB})
endforeach()
foreach(l ssl crypto sqlite3 mbedcrypto xxhash z pcre expat)
  airlock_static_lib(DEP_${l}_LIB ${l} ${_libdir})
endforeach()

add_library(airlock_deps INTERFACE)
target_include_directories(airlock_deps SYSTEM INTERFACE ${POCO_PREFIX}/include)
target_compile_definitions(airlock_deps INTERFACE POCO_STATIC POCO_NO_AUTOMATIC_LIBS)
target_link_libraries(airlock_deps INTERFACE
  ${AIRLOCK_POCO_LIBS}
  ${DEP_ssl_LIB} ${DEP_crypto_LIB} ${DEP_sqlite3_LIB} ${DEP_mbedcrypto_LIB} ${DEP_xxhash_LIB}
  ${DEP_pcre_LIB} ${DEP_expat_LIB} ${DEP_z_LIB} pthread dl m)
