# airlock_library(<name> [PUBLIC <targets>...] [PRIVATE <targets>...])
# The static library of one folder: every *.cpp file in it (globbed again at each build, so new files are
# picked up), with the folder's parent on the include path, so its headers are included as "<folder>/<file>.hpp".
# PUBLIC: the libraries this folder's headers include; PRIVATE: those only its .cpp files use (vendor libraries
# always are). Static libraries carry their PRIVATE dependencies to the final link, in dependency order.
function(airlock_library name)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "" "PUBLIC;PRIVATE")
  file(GLOB sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cpp)
  add_library(${name} STATIC ${sources})
  get_filename_component(root ${CMAKE_CURRENT_SOURCE_DIR} DIRECTORY)
  target_include_directories(${name} PUBLIC ${root})
  target_link_libraries(${name} PUBLIC airlock_options ${arg_PUBLIC} PRIVATE airlock_warnings ${arg_PRIVATE})
endfunction()
