#!/usr/bin/env bash
# Builds the static Windows (MinGW-w64, x86_64) dependencies of exmsync from
# Debian 12's own packages and source packages, into a prefix that
# tools/windows/toolchain-mingw64.cmake points CMake at (see README.md,
# "On Windows"). Prints the prefix path as the last line of stdout; everything
# else goes to stderr.
#
# The prefix is cached outside the source tree, keyed by the versions of
# everything that goes into it:
#   ${XDG_CACHE_HOME:-$HOME/.cache}/exmsync/win-deps/<key>
# or exactly $EXMSYNC_WIN_DEPS when that is set. A second run with the same
# versions only prints the path. The prefix is built under another name and
# renamed into place when complete, so a cut build is never taken for a
# finished one.
#
# What the prefix holds (all static, all relocatable):
#   libarchive 3.6.2  tar/pax and the zstd filter only: no zlib, bzip2, lzma,
#                     lz4, xml2, openssl, iconv, ACL/xattr; no bsdtar/bsdcpio
#   zstd 1.5.4        libzstd.a (threads on, legacy formats off)
#   utf8proc          libutf8proc.a
#   Boost 1.74        libboost_filesystem.a and the headers it needs, built
#                     with Boost's own CMake support (no b2 needed: Debian's
#                     +ds source lacks b2's generated parser, and b2 would
#                     need bison and its own bootstrap first)
#   GoogleTest 1.12   gtest, gtest_main, gmock, gmock_main
#   xxhash            libxxhash.a, compiled from Debian's xxhash.h
#   headers           spdlog, fmt, nlohmann/json, CLI11, toml++ copied from
#                     Debian's -dev packages, with CMake package files
#
# Options (environment): EXMSYNC_WIN_DEPS (prefix path), XDG_CACHE_HOME,
# JOBS (parallel compile jobs, default: nproc).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
toolchain="$here/windows/toolchain-mingw64.cmake"
jobs=${JOBS:-$(nproc)}

# Bump when the way the prefix is built changes, so old prefixes are not reused.
recipe=2

log() { echo "win-deps: $*" >&2; }
die() { echo "win-deps: $*" >&2; exit 2; }

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    sudo_cmd=(sudo)
  fi
fi
as_root() {
  if [ "$(id -u)" -ne 0 ] && [ ${#sudo_cmd[@]} -eq 0 ]; then
    die "need root to run: $* (run as root or install sudo)"
  fi
  "${sudo_cmd[@]}" "$@"
}

# --- 1. Debian packages ------------------------------------------------------
# Header-only libraries come from Debian's -dev packages: they are copied into
# the prefix (step 6) rather than used from /usr/include, so that a cross
# build never sees the build machine's /usr/include (where glibc headers and
# host-only libraries such as libarchive.h for Linux also live).
header_packages=(libxxhash-dev libspdlog-dev libfmt-dev nlohmann-json3-dev
                 libcli11-dev libtomlplusplus-dev)
packages=(g++-mingw-w64-x86-64-posix cmake make ninja-build wine64 dpkg-dev
          pkg-config xz-utils "${header_packages[@]}")

missing=()
installed=$(dpkg-query -W -f='${Package} ${Status}\n' "${packages[@]}" 2>/dev/null || true)
for p in "${packages[@]}"; do
  grep -qxF "$p install ok installed" <<<"$installed" || missing+=("$p")
done
apt_updated=0
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -qq
  apt_updated=1
  as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- 2. deb-src entries for the machine's own Debian archive ----------------
# apt-get source needs Types: deb-src. Each deb stanza of debian.sources is
# copied with deb-src as its only type, comments dropped, same URIs, Suites,
# Components and Signed-By, into a sibling file.
debian_sources=/etc/apt/sources.list.d/debian.sources
src_sources=/etc/apt/sources.list.d/debian-src.sources
have_deb_src() {  # true when every URI of debian.sources has a deb-src entry
  local u
  [ -f "$src_sources" ] && return 0
  [ -r "$debian_sources" ] || return 1
  for u in $(awk '/^URIs:/ { for (i = 2; i <= NF; i++) print $i }' "$debian_sources" | sort -u); do
    grep -qsE "^[[:space:]]*deb-src([[:space:]]+\[[^]]*\])?[[:space:]]+$u/?[[:space:]]" \
      /etc/apt/sources.list /etc/apt/sources.list.d/*.list && continue
    cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
      awk -v u="${u%/}" 'BEGIN { RS = "" }
        /(^|\n)Types:[^\n]*deb-src/ {
          n = split($0, line, "\n")
          for (i = 1; i <= n; i++) if (line[i] ~ /^URIs:/) {
            m = split(line[i], f, /[ \t]+/)
            for (j = 2; j <= m; j++) { sub(/\/$/, "", f[j]); if (f[j] == u) found = 1 }
          }
        }
        END { exit !found }' &&
      continue
    return 1
  done
}
if ! have_deb_src; then
  [ -r "$debian_sources" ] || die "no deb-src entries and no $debian_sources to derive them from"
  log "adding $src_sources"
  awk 'BEGIN { RS = ""; ORS = "" }
       /(^|\n)Types:[^\n]*deb([ \t\n]|$)/ {
         n = split($0, line, "\n")
         for (i = 1; i <= n; i++) {
           if (line[i] ~ /^#/) continue
           if (line[i] ~ /^Types:/) line[i] = "Types: deb-src"
           print line[i] "\n"
         }
         print "\n"
       }' "$debian_sources" | as_root tee "$src_sources.new" >/dev/null
  as_root mv "$src_sources.new" "$src_sources"
  as_root apt-get update -qq
  apt_updated=1
fi

# --- 3. Versions and the cache key -------------------------------------------
# Source versions are read from apt's local lists (no network), newest first,
# so that a warm run can decide without downloading anything.
source_packages=(libzstd libarchive utf8proc googletest boost1.74)
src_versions() {  # all versions of source package $1 known to apt, newest first
  local v i t out=()
  while read -r v; do
    out+=("$v")
    i=$((${#out[@]} - 1))
    while [ "$i" -gt 0 ] && dpkg --compare-versions "${out[i]}" gt "${out[i-1]}"; do
      t=${out[i]}; out[i]=${out[i-1]}; out[i-1]=$t; i=$((i - 1))
    done
  done < <(apt-cache showsrc "$1" 2>/dev/null |
           awk -v p="$1" '/^Package: /{ pkg = $2 } /^Version: /{ if (pkg == p) print $2 }' | sort -u)
  [ ${#out[@]} -eq 0 ] || printf '%s\n' "${out[@]}"
}
declare -A newest
for p in "${source_packages[@]}"; do
  v=$(src_versions "$p")
  if [ -z "$v" ] && [ $apt_updated -eq 0 ]; then
    as_root apt-get update -qq
    apt_updated=1
    v=$(src_versions "$p")
  fi
  v=${v%%$'\n'*}  # the newest (not `| head -n1`: SIGPIPE under pipefail)
  [ -n "$v" ] || die "apt knows no source package $p (is $src_sources in place?)"
  newest[$p]=$v
done

keyed_packages=(g++-mingw-w64-x86-64-posix mingw-w64-x86-64-dev binutils-mingw-w64-x86-64
                "${header_packages[@]}")
declare -A installed_version
while read -r p v; do
  installed_version[$p]=$v
done < <(dpkg-query -W -f='${Package} ${Version}\n' "${keyed_packages[@]}")
pkg_version() { echo "${installed_version[$1]}"; }
upstream() { echo "$1" | sed -E 's/^[0-9]+://; s/[-+~].*$//'; }  # 1:1.10.0+ds-0.4 -> 1.10.0

key_text="recipe $recipe"$'\n'
for p in "${keyed_packages[@]}"; do
  key_text+="$p $(pkg_version "$p")"$'\n'
done
for p in "${source_packages[@]}"; do
  key_text+="source $p ${newest[$p]}"$'\n'
done
key="la$(upstream "${newest[libarchive]}")-zstd$(upstream "${newest[libzstd]}")-$(printf '%s' "$key_text" | sha256sum | cut -c1-12)"

cache_base="${XDG_CACHE_HOME:-$HOME/.cache}/exmsync"
prefix="${EXMSYNC_WIN_DEPS:-$cache_base/win-deps/$key}"
prefix="$(realpath -m "$prefix")"
stamp_name=exmsync-win-deps.txt

is_complete() { [ -f "$prefix/$stamp_name" ] && grep -qxF "key $key" "$prefix/$stamp_name"; }

if is_complete; then
  echo "$prefix"
  exit 0
fi

# --- 4. Lock, staging folder, work folder -----------------------------------
# One build per prefix at a time; a second run waits, then finds it complete.
mkdir -p "$(dirname "$prefix")"
exec 9>"$prefix.lock"
if ! flock -n 9; then
  log "waiting for another build of $prefix"
  flock 9
fi
if is_complete; then
  echo "$prefix"
  exit 0
fi
if [ -e "$prefix" ] && ! [ -f "$prefix/$stamp_name" ] && [ -n "$(ls -A "$prefix")" ]; then
  die "$prefix exists and was not made by this script: remove it or set EXMSYNC_WIN_DEPS elsewhere"
fi

started=$(date +%s)
staging="$prefix.partial"        # renamed to $prefix when complete
downloads="$cache_base/win-deps-src"   # source packages, kept: apt reuses them
# Unpacked sources and build trees: one folder per prefix, since the lock is.
work="$cache_base/win-deps-work/$key-$(printf '%s' "$prefix" | sha256sum | cut -c1-8)"
rm -rf "$staging" "$work"
mkdir -p "$staging" "$downloads" "$work/logs"
cleanup() {
  rc=$?
  if [ $rc -ne 0 ]; then
    rm -rf "$staging"
    log "failed; logs are in $work/logs"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT   # so that cleanup runs on ^C and kill too
trap 'exit 143' TERM
log "building into $prefix ($jobs jobs; logs in $work/logs)"

run_logged() {  # name command...: runs the command with its output in logs/name.log
  local name=$1; shift
  if ! "$@" >>"$work/logs/$name.log" 2>&1; then
    tail -n 30 "$work/logs/$name.log" >&2
    die "$name failed: $*"
  fi
}

# --- 5. Fetching and unpacking source packages -------------------------------
# `apt-get source --download-only` into a kept folder, then dpkg-source -x
# (which applies Debian's patches) into the work folder. When the newest
# version is listed but cannot be fetched (seen here: a security update of
# libzstd listed in the index but missing from the mirror), the next older
# version is used, and the stamp records both.
declare -A used
fetch_source() {
  local p=$1 v t0; t0=$(date +%s)
  while read -r v; do
    # apt checks files already in $downloads against the index and skips them.
    if (cd "$downloads" && apt-get source --download-only -qq "$p=$v" >>"$work/logs/fetch-$p.log" 2>&1); then
      run_logged "fetch-$p" dpkg-source --no-copy -x "$downloads/${p}_${v#*:}.dsc" "$work/src/$p"
      used[$p]=$v
      echo "$v" >"$work/used/$p"   # for the parent shell: the lanes are subshells
      [ "$v" = "${newest[$p]}" ] || log "warning: $p ${newest[$p]} could not be fetched; using $v"
      log "$p $v unpacked ($(($(date +%s) - t0)) s)"
      return 0
    fi
  done < <(src_versions "$p")
  tail -n 20 "$work/logs/fetch-$p.log" >&2
  die "could not fetch any version of source package $p"
}

# Every CMake build uses the same toolchain file as exmsync, pointed at the
# staging prefix, so each library finds the ones built before it there.
# Ninja, because libarchive's ~400 configure checks are each a small
# try_compile project, and Ninja runs those about twice as fast as make here.
# The file-prefix map keeps the work folder's path out of the libraries
# (GoogleTest prints __FILE__ of gtest_main.cc), so the same versions give
# the same bytes whichever folder they were built in.
prefix_map=()
[[ "$work" == *" "* ]] || prefix_map=(-DCMAKE_C_FLAGS="-ffile-prefix-map=$work/src/=" \
                                      -DCMAKE_CXX_FLAGS="-ffile-prefix-map=$work/src/=")
cmake_configure() {  # name source-dir cmake-args...
  local name=$1 src=$2; shift 2
  run_logged "$name" cmake -S "$src" -B "$work/build/$name" -G Ninja \
    -DCMAKE_TOOLCHAIN_FILE="$toolchain" -DEXMSYNC_WIN_DEPS="$staging" \
    -DCMAKE_INSTALL_PREFIX="$staging" -DCMAKE_BUILD_TYPE=Release \
    -DBUILD_SHARED_LIBS=OFF -DBUILD_TESTING=OFF "${prefix_map[@]}" "$@"
}
cmake_build() {  # name source-dir cmake-args...: configure, build, install
  local name=$1 t0; t0=$(date +%s)
  cmake_configure "$@"
  run_logged "$name" cmake --build "$work/build/$name" -j "$jobs"
  run_logged "$name" cmake --install "$work/build/$name"
  log "$name built ($(($(date +%s) - t0)) s)"
}

# --- 6. Building --------------------------------------------------------------
build_zstd() {
  cmake_build zstd "$work/src/libzstd/build/cmake" \
    -DZSTD_BUILD_STATIC=ON -DZSTD_BUILD_SHARED=OFF -DZSTD_BUILD_PROGRAMS=OFF \
    -DZSTD_BUILD_TESTS=OFF -DZSTD_BUILD_CONTRIB=OFF -DZSTD_LEGACY_SUPPORT=OFF \
    -DZSTD_MULTITHREAD_SUPPORT=ON
}

# libarchive: every optional library off but zstd; no POSIX regex either
# (only bsdtar -s uses it, and AUTO insists on libgcc or pcreposix). Its
# CMake always builds a DLL and a static library from the same sources (3.6
# has no switch) and its install step wants both, so only the static target
# is built (half the compile time) and installed by hand as libarchive.a.
# -O2 as Debian builds it, not CMake's Release -O3: its code waits on I/O and
# zstd, and -O2 compiles it about a quarter faster (110 s against 146 s here).
build_libarchive() {
  local t0 src="$work/src/libarchive" bld="$work/build/libarchive"
  t0=$(date +%s)
  cmake_configure libarchive "$src" -DCMAKE_C_FLAGS_RELEASE="-O2 -DNDEBUG" \
    -DENABLE_ZSTD=ON \
    -DENABLE_ZLIB=OFF -DENABLE_BZip2=OFF -DENABLE_LZMA=OFF -DENABLE_LZ4=OFF \
    -DENABLE_LZO=OFF -DENABLE_LIBB2=OFF -DENABLE_LIBXML2=OFF -DENABLE_EXPAT=OFF \
    -DENABLE_OPENSSL=OFF -DENABLE_MBEDTLS=OFF -DENABLE_NETTLE=OFF -DENABLE_CNG=OFF \
    -DENABLE_PCREPOSIX=OFF -DENABLE_LIBGCC=OFF -DPOSIX_REGEX_LIB=NONE \
    -DENABLE_ICONV=OFF -DENABLE_ACL=OFF -DENABLE_XATTR=OFF \
    -DENABLE_TAR=OFF -DENABLE_CPIO=OFF -DENABLE_CAT=OFF \
    -DENABLE_TEST=OFF -DENABLE_COVERAGE=OFF -DENABLE_WERROR=OFF
  log "libarchive configured ($(($(date +%s) - t0)) s)"
  # Without these two, archive_write_add_filter_zstd falls back to running an
  # external `zstd` program, which a Windows target does not have.
  grep -q '^#define HAVE_ZSTD_H 1' "$bld/config.h" &&
    grep -q '^#define HAVE_LIBZSTD_COMPRESSOR 1' "$bld/config.h" ||
    die "libarchive did not pick up the static libzstd (see $work/logs/libarchive.log)"
  run_logged libarchive cmake --build "$bld" -j "$jobs" --target archive_static
  mkdir -p "$staging/lib/pkgconfig" "$staging/include"
  cp "$bld/libarchive/libarchive_static.a" "$staging/lib/libarchive.a"
  cp "$src/libarchive/archive.h" "$src/libarchive/archive_entry.h" "$staging/include/"
  # LIBARCHIVE_STATIC keeps archive.h from declaring every function
  # __declspec(dllimport); -lzstd is in Libs (not Libs.private) because
  # CMake's pkg_check_modules does not ask pkg-config for --static.
  cat >"$staging/lib/pkgconfig/libarchive.pc" <<EOF
prefix=\${pcfiledir}/../..
libdir=\${prefix}/lib
includedir=\${prefix}/include

Name: libarchive
Description: libarchive, static MinGW-w64 build: tar/pax and zstd only
Version: $(upstream "${used[libarchive]}")
Requires.private: libzstd
Cflags: -I\${includedir} -DLIBARCHIVE_STATIC
Libs: -L\${libdir} -larchive -lzstd
EOF
  log "libarchive built ($(($(date +%s) - t0)) s)"
}

build_utf8proc() {
  cmake_build utf8proc "$work/src/utf8proc" -DUTF8PROC_INSTALL=ON -DUTF8PROC_ENABLE_TESTING=OFF
  # Its .pc says -DUTF8PROC_EXPORTS (meant for building the DLL); a static
  # user needs UTF8PROC_STATIC, or utf8proc.h asks for dllimport.
  sed -i -E 's|^Cflags:.*|Cflags: -I${includedir} -DUTF8PROC_STATIC|' "$staging/lib/pkgconfig/libutf8proc.pc"
}

build_googletest() {
  cmake_build googletest "$work/src/googletest" -DBUILD_GMOCK=ON -DINSTALL_GTEST=ON
}

# Boost: only Boost.Filesystem and the header-only libraries it depends on
# (system, config, core, smart_ptr, iterator, winapi, ...). Boost 1.74's CMake
# support is marked experimental but builds these correctly; the system
# layout gives include/boost and lib/libboost_filesystem.a.
build_boost() {
  cmake_build boost "$work/src/boost1.74" \
    -DBOOST_ENABLE_CMAKE=ON -DBOOST_INCLUDE_LIBRARIES=filesystem \
    -DBOOST_INSTALL_LAYOUT=system
  # Boost's CMake install writes one package per library
  # (lib/cmake/boost_filesystem-1.74.0/...), but find_package(Boost
  # COMPONENTS filesystem), through CMake's FindBoost, looks for
  # BoostConfig.cmake first: this is that entry point, as b2 would write it.
  local v dir
  v=$(upstream "${used[boost1.74]}")
  dir="$staging/lib/cmake/Boost-$v"
  mkdir -p "$dir"
  cat >"$dir/BoostConfig.cmake" <<EOF
# Boost $v for exmsync's Windows build (tools/build-windows-deps.sh): static
# libraries of the components built, and their headers.
set(Boost_VERSION $v)
set(Boost_VERSION_STRING $v)
set(Boost_VERSION_MACRO $(echo "$v" | awk -F. '{ printf "%d%03d%02d", $1, $2, $3 }'))
get_filename_component(_boost_prefix "\${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)
set(Boost_INCLUDE_DIRS "\${_boost_prefix}/include")
set(Boost_INCLUDE_DIR "\${_boost_prefix}/include")
set(Boost_LIBRARY_DIRS "\${_boost_prefix}/lib")
if(NOT TARGET Boost::headers)
  add_library(Boost::headers INTERFACE IMPORTED)
  set_target_properties(Boost::headers PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "\${_boost_prefix}/include"
    INTERFACE_COMPILE_DEFINITIONS "BOOST_ALL_NO_LIB")
  add_library(Boost::boost INTERFACE IMPORTED)
  set_target_properties(Boost::boost PROPERTIES INTERFACE_LINK_LIBRARIES Boost::headers)
endif()
set(Boost_LIBRARIES "")
set(Boost_FOUND TRUE)
foreach(_boost_comp IN LISTS Boost_FIND_COMPONENTS)
  if(_boost_comp STREQUAL "headers" OR _boost_comp STREQUAL "ALL")
    set(Boost_\${_boost_comp}_FOUND TRUE)
    continue()
  endif()
  find_package(boost_\${_boost_comp} $v EXACT CONFIG QUIET
               PATHS "\${CMAKE_CURRENT_LIST_DIR}/.." NO_DEFAULT_PATH NO_CMAKE_FIND_ROOT_PATH)
  if(boost_\${_boost_comp}_FOUND)
    set(Boost_\${_boost_comp}_FOUND TRUE)
    string(TOUPPER "\${_boost_comp}" _boost_upper)
    set(Boost_\${_boost_upper}_FOUND TRUE)
    set(Boost_\${_boost_upper}_LIBRARY Boost::\${_boost_comp})
    list(APPEND Boost_LIBRARIES Boost::\${_boost_comp})
  else()
    set(Boost_\${_boost_comp}_FOUND FALSE)
    if(Boost_FIND_REQUIRED_\${_boost_comp})
      set(Boost_FOUND FALSE)
      set(Boost_NOT_FOUND_MESSAGE "Boost component \${_boost_comp} is not in \${_boost_prefix}: only filesystem and the header-only libraries it uses were built")
    endif()
  endif()
endforeach()
unset(_boost_comp)
unset(_boost_upper)
EOF
  write_version_file "$dir/BoostConfigVersion.cmake" "$v"
}

write_version_file() {  # file version: same major version, not older than asked
  cat >"$1" <<EOF
set(PACKAGE_VERSION $2)
if(PACKAGE_FIND_VERSION AND (PACKAGE_FIND_VERSION VERSION_GREATER PACKAGE_VERSION
   OR NOT PACKAGE_FIND_VERSION_MAJOR STREQUAL "${2%%.*}"))
  set(PACKAGE_VERSION_COMPATIBLE FALSE)
else()
  set(PACKAGE_VERSION_COMPATIBLE TRUE)
  if(PACKAGE_FIND_VERSION STREQUAL PACKAGE_VERSION)
    set(PACKAGE_VERSION_EXACT TRUE)
  endif()
endif()
EOF
}
header_only_config() {  # dir config-file-name body; the body says ${_prefix}
  # Config files share the caller's variable scope (spdlog's loads fmt's), so
  # each one gets a prefix variable of its own name.
  local var="_${1}_prefix"
  mkdir -p "$staging/lib/cmake/$1"
  { echo "# Header-only, for exmsync's Windows build (tools/build-windows-deps.sh)."
    echo "get_filename_component($var \"\${CMAKE_CURRENT_LIST_DIR}/../../..\" ABSOLUTE)"
    echo "${3//_prefix/$var}"
    echo "unset($var)"; } >"$staging/lib/cmake/$1/$2"
}

# Header-only libraries from Debian's -dev packages (see step 1), xxhash, and
# CMake packages for them.
install_headers() {
  local t0 d x; t0=$(date +%s)
  mkdir -p "$staging/include" "$staging/lib/pkgconfig" "$staging/share/cmake"
  for d in spdlog fmt nlohmann CLI toml++; do
    cp -rL "/usr/include/$d" "$staging/include/"
  done
  cp /usr/include/xxhash.h /usr/include/xxh3.h /usr/include/xxh_x86dispatch.h "$staging/include/"

  # xxhash: Debian ships the whole implementation in xxhash.h; compiling it
  # once, as upstream's xxhash.c does, gives the libxxhash.a that pkg-config's
  # libxxhash names, so exmsync's pkg_check_modules(libxxhash) works
  # unchanged. (The other way, XXH_INLINE_ALL in every user, needs no library.)
  x="$work/build/xxhash"
  mkdir -p "$x"
  printf '#define XXH_STATIC_LINKING_ONLY\n#define XXH_IMPLEMENTATION\n#include "xxhash.h"\n' >"$x/xxhash.c"
  run_logged xxhash x86_64-w64-mingw32-gcc-posix -O2 -I"$staging/include" -c "$x/xxhash.c" -o "$x/xxhash.o"
  run_logged xxhash x86_64-w64-mingw32-ar rcs "$staging/lib/libxxhash.a" "$x/xxhash.o"
  cat >"$staging/lib/pkgconfig/libxxhash.pc" <<EOF
prefix=\${pcfiledir}/../..
libdir=\${prefix}/lib
includedir=\${prefix}/include

Name: xxhash
Description: extremely fast hash algorithm (static, from Debian's xxhash.h)
Version: $(upstream "$(pkg_version libxxhash-dev)")
Cflags: -I\${includedir}
Libs: -L\${libdir} -lxxhash
EOF

  # nlohmann_json's and CLI11's CMake packages are relocatable as Debian
  # ships them; spdlog's, fmt's and toml++'s name Debian's shared libraries,
  # so small header-only ones are written instead.
  cp -r /usr/share/cmake/nlohmann_json /usr/share/cmake/CLI11 "$staging/share/cmake/"
  # fmt in header-only mode (FMT_HEADER_ONLY): no compiled libfmt to link.
  header_only_config fmt fmt-config.cmake '
foreach(_t fmt::fmt fmt::fmt-header-only)
  if(NOT TARGET ${_t})
    add_library(${_t} INTERFACE IMPORTED)
    set_target_properties(${_t} PROPERTIES
      INTERFACE_INCLUDE_DIRECTORIES "${_prefix}/include"
      INTERFACE_COMPILE_DEFINITIONS "FMT_HEADER_ONLY=1"
      INTERFACE_COMPILE_FEATURES cxx_std_11)
  endif()
endforeach()
unset(_t)'
  write_version_file "$staging/lib/cmake/fmt/fmt-config-version.cmake" "$(upstream "$(pkg_version libfmt-dev)")"
  # spdlog header-only (no SPDLOG_COMPILED_LIB) on the external fmt. Debian's
  # tweakme.h already defines SPDLOG_FMT_EXTERNAL (its bundled fmt is
  # removed); the define is repeated so this does not hang on that patch.
  header_only_config spdlog spdlogConfig.cmake '
include(CMakeFindDependencyMacro)
find_dependency(fmt CONFIG PATHS "${CMAKE_CURRENT_LIST_DIR}/.." NO_DEFAULT_PATH NO_CMAKE_FIND_ROOT_PATH)
find_dependency(Threads)
foreach(_t spdlog::spdlog spdlog::spdlog_header_only)
  if(NOT TARGET ${_t})
    add_library(${_t} INTERFACE IMPORTED)
    set_target_properties(${_t} PROPERTIES
      INTERFACE_INCLUDE_DIRECTORIES "${_prefix}/include"
      INTERFACE_COMPILE_DEFINITIONS "SPDLOG_FMT_EXTERNAL"
      INTERFACE_LINK_LIBRARIES "fmt::fmt-header-only;Threads::Threads")
  endif()
endforeach()
unset(_t)'
  write_version_file "$staging/lib/cmake/spdlog/spdlogConfigVersion.cmake" "$(upstream "$(pkg_version libspdlog-dev)")"
  header_only_config tomlplusplus tomlplusplusConfig.cmake '
if(NOT TARGET tomlplusplus::tomlplusplus)
  add_library(tomlplusplus::tomlplusplus INTERFACE IMPORTED)
  set_target_properties(tomlplusplus::tomlplusplus PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${_prefix}/include"
    INTERFACE_COMPILE_DEFINITIONS "TOML_HEADER_ONLY=1"
    INTERFACE_COMPILE_FEATURES cxx_std_17)
endif()'
  write_version_file "$staging/lib/cmake/tomlplusplus/tomlplusplusConfigVersion.cmake" "$(upstream "$(pkg_version libtomlplusplus-dev)")"
  log "headers, xxhash and CMake packages done ($(($(date +%s) - t0)) s)"
}

# Two lanes side by side: a configure step (libarchive's takes minutes) keeps
# one core busy, and the other lane's compiles fill the second. libarchive
# needs zstd; nothing else needs anything built here.
lane_archive() {
  fetch_source libzstd
  fetch_source libarchive
  build_zstd
  build_libarchive
}
lane_others() {
  fetch_source utf8proc
  fetch_source googletest
  fetch_source boost1.74
  build_utf8proc
  build_googletest
  build_boost
  install_headers
}
mkdir -p "$work/src" "$work/used"
lane_archive & lane_a=$!
lane_others & lane_b=$!
rc_a=0; wait "$lane_a" || rc_a=$?
rc_b=0; wait "$lane_b" || rc_b=$?
[ $rc_a -eq 0 ] && [ $rc_b -eq 0 ] || exit 2
for p in "${source_packages[@]}"; do
  used[$p]=$(cat "$work/used/$p")
done

# --- 7. Checking, stamping, renaming -----------------------------------------
# .pc files from CMake installs hold the absolute (staging) prefix: make them
# relative to their own place, so the prefix works after the rename, and
# wherever it is moved to.
for f in "$staging"/lib/pkgconfig/*.pc; do
  sed -i -E 's|^prefix=.*|prefix=${pcfiledir}/../..|; s|^exec_prefix=.*|exec_prefix=${prefix}|;
             s|^libdir=.*|libdir=${prefix}/lib|; s|^includedir=.*|includedir=${prefix}/include|' "$f"
done
# Nothing may name the staging folder (it is renamed) or link a DLL.
if grep -rlF "$staging" "$staging" >&2; then
  die "the files above name the staging folder $staging"
fi
if find "$staging" \( -name '*.dll' -o -name '*.dll.a' -o -name '*.exe' \) | grep . >&2; then
  die "the prefix must hold static libraries only"
fi
rm -rf "$staging/share/doc" "$staging/share/man"

{
  echo "# exmsync Windows dependencies, made by tools/build-windows-deps.sh"
  echo "key $key"
  echo "built $(date -u +%Y-%m-%dT%H:%M:%SZ) in $(($(date +%s) - started)) s"
  for p in "${source_packages[@]}"; do
    if [ "${used[$p]}" = "${newest[$p]}" ]; then
      echo "source $p ${used[$p]}"
    else
      echo "source $p ${used[$p]} (newest listed, ${newest[$p]}, could not be fetched)"
    fi
  done
  printf '%s' "$key_text" | grep -v '^source '
} >"$staging/$stamp_name"

if [ -e "$prefix" ]; then          # an older build (other key) under EXMSYNC_WIN_DEPS
  mv -T "$prefix" "$prefix.old.$$"
  mv -T "$staging" "$prefix"
  rm -rf "$prefix.old.$$"
else
  mv -T "$staging" "$prefix"
fi
trap - EXIT INT TERM
rm -rf "$work"
log "done in $(($(date +%s) - started)) s"
echo "$prefix"
