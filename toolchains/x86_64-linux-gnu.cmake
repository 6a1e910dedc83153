# Native x86_64 build with Debian's g++; the libraries come from /usr/lib/x86_64-linux-gnu.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR x86_64)
set(CMAKE_C_COMPILER gcc)
set(CMAKE_CXX_COMPILER g++)
set(AIRLOCK_MULTIARCH x86_64-linux-gnu)
set(CMAKE_LIBRARY_ARCHITECTURE x86_64-linux-gnu)
