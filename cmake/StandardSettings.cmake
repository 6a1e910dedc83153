# Warning, sanitizer and link flags, carried by INTERFACE targets so that third-party code is exempt.
add_library(airlock_warnings INTERFACE)
target_compile_options(airlock_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion -Wnon-virtual-dtor
  -Wold-style-cast -Wcast-align -Woverloaded-virtual -Wformat=2 -Wimplicit-fallthrough
  $<$<CXX_COMPILER_ID:GNU>:-Wno-restrict>)
# -Wnull-dereference is left out and -Wrestrict turned off: GCC 12 reports false positives inside libstdc++
# (streambuf, char_traits memcpy; GCC bug 105329) at -O3.
if(AIRLOCK_WERROR)
  target_compile_options(airlock_warnings INTERFACE -Werror)
endif()

add_library(airlock_options INTERFACE)
target_compile_definitions(airlock_options INTERFACE FMT_HEADER_ONLY _FILE_OFFSET_BITS=64)
if(AIRLOCK_FUZZ)
  # libFuzzer builds (clang): every airlock object gets coverage instrumentation plus ASan and UBSan, and any UB
  # aborts, so the fuzzer reports it as a crash. The fuzz targets add -fsanitize=fuzzer (libFuzzer's main) at
  # their link. Dynamic, like every sanitizer build.
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "AIRLOCK_FUZZ needs clang (toolchains/x86_64-linux-clang.cmake); scripts/fuzz.sh sets it")
  endif()
  target_compile_options(airlock_options INTERFACE -fsanitize=fuzzer-no-link,address,undefined
    -fno-sanitize-recover=all -fno-omit-frame-pointer -gline-tables-only)
  target_link_options(airlock_options INTERFACE -fsanitize=address,undefined)
elseif(AIRLOCK_SANITIZE)
  # Sanitizer runtimes cannot be linked fully static: these builds are dynamic and used for tests only.
  target_compile_options(airlock_options INTERFACE -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all)
  target_link_options(airlock_options INTERFACE -fsanitize=address,undefined)
else()
  target_link_options(airlock_options INTERFACE -static)
endif()

# Release binaries ship stripped (the build ID stays, so a crash can still be matched to a debug build) and small
# (docs/build.md "Binary size"): size-optimised code except the HOT folders (cmake/AirlockLibrary.cmake), one
# section per function and object so that the link drops whatever nothing calls, in airlock's code and in Poco's
# (built the same way by scripts/bootstrap.sh).
if(CMAKE_BUILD_TYPE STREQUAL "Release" AND NOT AIRLOCK_SANITIZE AND NOT AIRLOCK_FUZZ)
  set(CMAKE_C_FLAGS_RELEASE "-Os -DNDEBUG")
  set(CMAKE_CXX_FLAGS_RELEASE "-Os -DNDEBUG")
  target_compile_options(airlock_options INTERFACE -ffunction-sections -fdata-sections)
  target_link_options(airlock_options INTERFACE -s -Wl,--gc-sections)
endif()
