# CMake toolchain file: static MinGW-w64 cross-build of exmsync for 64-bit
# Windows, on Debian 12 (see README.md, "On Windows").
#
#   cmake -S . -B build-win \
#     -DCMAKE_TOOLCHAIN_FILE=tools/windows/toolchain-mingw64.cmake \
#     -DEXMSYNC_WIN_DEPS="$(bash tools/build-windows-deps.sh | tail -n1)" \
#     -DEXMSYNC_WINEPREFIX="$HOME/.cache/exmsync/wineprefix"
#
# Cache variables read here:
#   EXMSYNC_WIN_DEPS     prefix made by tools/build-windows-deps.sh (static
#                        libarchive, zstd, utf8proc, Boost.Filesystem,
#                        GoogleTest, xxhash, and the header-only libraries).
#                        Falls back to the environment variable of the same name.
#   EXMSYNC_WINEPREFIX   Wine prefix the tests run in (optional; default: the
#                        WINEPREFIX environment variable at configure time, else
#                        Wine's own ~/.wine).
#   EXMSYNC_WINE64       the wine64 loader (found on its own).
#
# CMake reads this file more than once (once per language, again in every
# try_compile project), so everything below must be safe to repeat.

set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)

# The posix thread model: std::thread, std::mutex and friends work (through
# winpthreads, linked statically below). The win32 model lacks them in GCC 12.
set(_exmsync_triple x86_64-w64-mingw32)
set(CMAKE_C_COMPILER   ${_exmsync_triple}-gcc-posix)
set(CMAKE_CXX_COMPILER ${_exmsync_triple}-g++-posix)
set(CMAKE_RC_COMPILER  ${_exmsync_triple}-windres)

# One self-contained .exe: no libstdc++-6.dll, libgcc_s_seh-1.dll or
# libwinpthread-1.dll to ship next to it. -static also makes -lpthread (which
# the posix compilers add on their own) pick libwinpthread.a, not the DLL.
set(CMAKE_EXE_LINKER_FLAGS_INIT    "-static -static-libgcc -static-libstdc++")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "-static-libgcc -static-libstdc++")
set(CMAKE_MODULE_LINKER_FLAGS_INIT "-static-libgcc -static-libstdc++")

# The deps prefix: a cache variable, with the environment as a fallback, and
# handed on to try_compile projects (which do not see the outer cache).
if(NOT EXMSYNC_WIN_DEPS AND DEFINED ENV{EXMSYNC_WIN_DEPS})
  set(EXMSYNC_WIN_DEPS "$ENV{EXMSYNC_WIN_DEPS}")
endif()
set(EXMSYNC_WIN_DEPS "${EXMSYNC_WIN_DEPS}" CACHE PATH
    "Prefix with the static Windows dependencies (tools/build-windows-deps.sh)")
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES EXMSYNC_WIN_DEPS)

# Look for libraries, headers and CMake packages only in the deps prefix and
# the MinGW sysroot, never in the build machine's /usr: a host header or a
# host libfoo.so found by accident would make a broken .exe, or fail late.
# Programs (pkg-config, wine64, ...) are the build machine's.
set(CMAKE_FIND_ROOT_PATH ${EXMSYNC_WIN_DEPS} /usr/${_exmsync_triple})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# pkg-config (pkg_check_modules) must read the prefix's .pc files only: the
# host's libarchive.pc would otherwise be found first. The prefix's .pc files
# are relocatable (prefix=${pcfiledir}/../..), so no sysroot is needed.
if(EXMSYNC_WIN_DEPS)
  set(ENV{PKG_CONFIG_LIBDIR} "${EXMSYNC_WIN_DEPS}/lib/pkgconfig:${EXMSYNC_WIN_DEPS}/share/pkgconfig")
else()
  set(ENV{PKG_CONFIG_LIBDIR} "/nonexistent")
endif()
set(ENV{PKG_CONFIG_PATH} "")
set(ENV{PKG_CONFIG_SYSROOT_DIR} "")

# Run test executables (ctest, gtest_discover_tests, try_run) under Wine.
# Debian 12 installs the loader as /usr/lib/wine/wine64 (package wine64), not
# in PATH. `env` sets WINEDEBUG=-all so Wine's fixme lines stay out of test
# output, and WINEPREFIX when one is given, so ctest needs no environment.
if(NOT CMAKE_CROSSCOMPILING_EMULATOR)
  find_program(EXMSYNC_WINE64 NAMES wine64 PATHS /usr/lib/wine /usr/lib64/wine
               NO_CMAKE_FIND_ROOT_PATH)
  if(NOT EXMSYNC_WINEPREFIX AND DEFINED ENV{WINEPREFIX})
    set(EXMSYNC_WINEPREFIX "$ENV{WINEPREFIX}")
  endif()
  set(EXMSYNC_WINEPREFIX "${EXMSYNC_WINEPREFIX}" CACHE PATH
      "WINEPREFIX for running Windows test executables (empty: Wine's default)")
  if(EXMSYNC_WINE64)
    set(_exmsync_wine_env WINEDEBUG=-all)
    if(EXMSYNC_WINEPREFIX)
      list(APPEND _exmsync_wine_env "WINEPREFIX=${EXMSYNC_WINEPREFIX}")
    endif()
    set(CMAKE_CROSSCOMPILING_EMULATOR /usr/bin/env ${_exmsync_wine_env} ${EXMSYNC_WINE64})
  endif()
endif()
