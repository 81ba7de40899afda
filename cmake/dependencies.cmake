# The system packages the library builds against (Debian: scripts/install-deps), found in one place
# and recorded, so that the installed CMake package (transformersConfig.cmake) and transformers.pc
# ask a consumer's build for exactly these.
find_package(Threads REQUIRED)
find_package(nlohmann_json 3.10 REQUIRED)
find_package(PkgConfig REQUIRED)

# tcpp_pkg_dependency(PREFIX module PUBLIC|PRIVATE) -> imported target PkgConfig::PREFIX.
# PUBLIC: installed headers include the module's headers, so every consumer needs it; PRIVATE:
# only the link of the static libraries needs it. Prefixes start with TCPP_ so that the variables
# pkg_check_modules sets never collide with a parent project's. GLOBAL: a parent project that
# add_subdirectory's this one links them through transformers::transformers from its own folder.
function(tcpp_pkg_dependency prefix module visibility)
  pkg_check_modules(${prefix} REQUIRED IMPORTED_TARGET GLOBAL ${module})
  set_property(GLOBAL APPEND PROPERTY TCPP_PKG_DEPENDENCIES "${prefix}|${module}|${visibility}")
endfunction()

tcpp_pkg_dependency(TCPP_OPENBLAS openblas PRIVATE)
tcpp_pkg_dependency(TCPP_ONIG oniguruma PRIVATE)
tcpp_pkg_dependency(TCPP_UTF8PROC libutf8proc PRIVATE)
tcpp_pkg_dependency(TCPP_SENTENCEPIECE sentencepiece PRIVATE)
# simdjson parses multi-megabyte tokenizer.json files (vocab + merges) an order of magnitude
# faster than nlohmann's DOM; nlohmann still reads the small component objects.
tcpp_pkg_dependency(TCPP_SIMDJSON simdjson PRIVATE)
# GMP: Python's ints beyond 64 bits in the chat template engine; chat/bigint.h includes gmp.h.
tcpp_pkg_dependency(TCPP_GMP gmp PUBLIC)
# libcurl and libcrypto: `transformers download` (the transformers_hub library only, when built).
if(TCPP_BUILD_HUB)
  tcpp_pkg_dependency(TCPP_CURL libcurl PRIVATE)
  tcpp_pkg_dependency(TCPP_CRYPTO libcrypto PRIVATE)
endif()
