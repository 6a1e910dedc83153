# airlock_library(<name> [HOT] [PUBLIC <targets>...] [PRIVATE <targets>...])
# The static library of one folder: every *.cpp file in it (globbed again at each build, so new files are
# picked up), with the folder's parent on the include path, so its headers are included as "<folder>/<file>.hpp".
# PUBLIC: the libraries this folder's headers include; PRIVATE: those only its .cpp files use (vendor libraries
# always are). Static libraries carry their PRIVATE dependencies to the final link, in dependency order.
# HOT: the folder holds the loops that docs/benchmarks.md times (hashing, gzip, tar, image streams, downloads,
# deltas); release builds compile it at -O3, every other folder size-optimised (-Os, docs/build.md "Binary size").
function(airlock_library name)
  cmake_parse_arguments(PARSE_ARGV 1 arg "HOT" "" "PUBLIC;PRIVATE")
  file(GLOB sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cpp)
  add_library(${name} STATIC ${sources})
  get_filename_component(root ${CMAKE_CURRENT_SOURCE_DIR} DIRECTORY)
  target_include_directories(${name} PUBLIC ${root})
  target_link_libraries(${name} PUBLIC airlock_options ${arg_PUBLIC} PRIVATE airlock_warnings ${arg_PRIVATE})
  if(arg_HOT)
    target_compile_options(${name} PRIVATE $<$<CONFIG:Release>:-O3>)
  endif()
endfunction()
