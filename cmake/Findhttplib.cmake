# Findhttplib: cpp-httplib as Debian packages it (libcpp-httplib-dev: a shared
# library and a header, a pkg-config file, no CMake config). Defines the
# imported target httplib::httplib with the feature macros the library was
# built with (they change its ABI, so they must match).

find_package(PkgConfig QUIET)
if(PkgConfig_FOUND)
  pkg_check_modules(PC_HTTPLIB QUIET cpp-httplib)
endif()

find_path(HTTPLIB_INCLUDE_DIR NAMES httplib.h HINTS ${PC_HTTPLIB_INCLUDE_DIRS})
find_library(HTTPLIB_LIBRARY NAMES cpp-httplib HINTS ${PC_HTTPLIB_LIBRARY_DIRS})
set(httplib_VERSION ${PC_HTTPLIB_VERSION})

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(httplib
  REQUIRED_VARS HTTPLIB_LIBRARY HTTPLIB_INCLUDE_DIR
  VERSION_VAR httplib_VERSION)

if(httplib_FOUND AND NOT TARGET httplib::httplib)
  add_library(httplib::httplib UNKNOWN IMPORTED)
  set_target_properties(httplib::httplib PROPERTIES
    IMPORTED_LOCATION "${HTTPLIB_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${HTTPLIB_INCLUDE_DIR}")
  # -DCPPHTTPLIB_OPENSSL_SUPPORT and friends, from the .pc file.
  foreach(flag IN LISTS PC_HTTPLIB_CFLAGS_OTHER)
    if(flag MATCHES "^-D(.+)$")
      set_property(TARGET httplib::httplib APPEND PROPERTY
        INTERFACE_COMPILE_DEFINITIONS "${CMAKE_MATCH_1}")
    endif()
  endforeach()
endif()
mark_as_advanced(HTTPLIB_INCLUDE_DIR HTTPLIB_LIBRARY)
