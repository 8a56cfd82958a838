// Whether the Windows test suites are running under Wine (as CI runs them):
// a few Windows behaviours that exmsync relies on are not in Wine 8, and the
// tests of exactly those say so and skip (README, "On Windows").
#pragma once

#ifdef _WIN32
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
#endif

namespace exmsync::testing {

inline bool under_wine() {
#ifdef _WIN32
    HMODULE ntdll = ::GetModuleHandleW(L"ntdll.dll");
    return ntdll && ::GetProcAddress(ntdll, "wine_get_version");
#else
    return false;
#endif
}

}  // namespace exmsync::testing
