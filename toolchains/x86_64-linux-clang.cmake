# x86_64 build with Debian's clang (native), for the libFuzzer targets only (scripts/fuzz.sh, docs/fuzzing.md):
# libFuzzer ships with clang, not with g++. Same libraries as the g++ build (/usr/lib/x86_64-linux-gnu and the
# static Poco that scripts/bootstrap.sh builds with g++; clang links against the same libstdc++).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR x86_64)
set(CMAKE_C_COMPILER clang)
set(CMAKE_CXX_COMPILER clang++)
set(AIRLOCK_MULTIARCH x86_64-linux-gnu)
set(CMAKE_LIBRARY_ARCHITECTURE x86_64-linux-gnu)
