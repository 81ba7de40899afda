# `cmake --install` lays out the library for other projects:
#   lib/libtransformers_{engine,tokenization,chat,c,hub}.a (or .so.<version> with BUILD_SHARED_LIBS)
#   include/transformers/...                 every header, as included today ("transformers/...")
#   lib/cmake/transformers/                  find_package(transformers CONFIG): transformers::transformers
#   lib/pkgconfig/transformers.pc            pkg-config --cflags --libs transformers
#   bin/transformers                         the command, when built
# Everything is relocatable: the prefix is found from where the files lie, so
# `cmake --install build/release --prefix DIR` works for any DIR.
include(CMakePackageConfigHelpers)

set(TCPP_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/transformers)
set(TCPP_LAYER_LIBRARIES transformers_engine transformers_tokenization transformers_chat transformers_training transformers_c)
if(TARGET transformers_hub)
  list(APPEND TCPP_LAYER_LIBRARIES transformers_hub)
endif()

install(TARGETS ${TCPP_LAYER_LIBRARIES} transformers_all EXPORT transformersTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} NAMELINK_COMPONENT Development
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/transformers DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.h")
install(EXPORT transformersTargets NAMESPACE transformers:: DESTINATION ${TCPP_CMAKE_DIR})
if(TARGET transformers_cli)
  # With shared libraries the installed command finds them beside it, wherever the prefix is.
  set_target_properties(transformers_cli PROPERTIES INSTALL_RPATH "$ORIGIN/../${CMAKE_INSTALL_LIBDIR}")
  install(TARGETS transformers_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()

# The pkg-config modules the libraries were built against (cmake/dependencies.cmake): the CMake
# package finds them again in the consumer's build; the .pc file requires them. A static library
# needs all of them at the consumer's link, so they are plain Requires then (a bare
# `pkg-config --libs transformers` links); a shared one needs only the public ones.
get_property(tcpp_pkg_dependencies GLOBAL PROPERTY TCPP_PKG_DEPENDENCIES)
set(TCPP_CONFIG_PKG_MODULES "")
set(TCPP_PC_REQUIRES nlohmann_json)
set(TCPP_PC_REQUIRES_PRIVATE "")
foreach(dep ${tcpp_pkg_dependencies})
  string(REPLACE "|" ";" fields "${dep}")
  list(GET fields 0 prefix)
  list(GET fields 1 module)
  list(GET fields 2 visibility)
  string(APPEND TCPP_CONFIG_PKG_MODULES "_transformers_pkg_module(${prefix} ${module} ${visibility})\n")
  if(visibility STREQUAL "PUBLIC" OR NOT BUILD_SHARED_LIBS)
    list(APPEND TCPP_PC_REQUIRES ${module})
  else()
    list(APPEND TCPP_PC_REQUIRES_PRIVATE ${module})
  endif()
endforeach()
list(JOIN TCPP_PC_REQUIRES ", " TCPP_PC_REQUIRES)
list(JOIN TCPP_PC_REQUIRES_PRIVATE ", " TCPP_PC_REQUIRES_PRIVATE)
if(BUILD_SHARED_LIBS)
  set(TCPP_SHARED ON)
  set(TCPP_PC_LIBS_THREADS_PRIVATE "-pthread")
else()
  set(TCPP_SHARED OFF)
  set(TCPP_PC_LIBS_THREADS "-pthread")
endif()

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/transformersConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/transformersConfig.cmake INSTALL_DESTINATION ${TCPP_CMAKE_DIR})
# 0.x: a minor release may change the API, so only the same minor version is compatible.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/transformersConfigVersion.cmake
                                 VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/transformersConfig.cmake ${PROJECT_BINARY_DIR}/transformersConfigVersion.cmake
        DESTINATION ${TCPP_CMAKE_DIR})

# transformers.pc finds its prefix from its own folder (${pcfiledir}), so it is relocatable too.
file(RELATIVE_PATH TCPP_PC_TO_PREFIX /prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig /prefix)
string(REGEX REPLACE "/$" "" TCPP_PC_TO_PREFIX "${TCPP_PC_TO_PREFIX}")
configure_file(${PROJECT_SOURCE_DIR}/cmake/transformers.pc.in ${PROJECT_BINARY_DIR}/transformers.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/transformers.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
