#include "transport/smb_library.hpp"

#include <string>
#include <type_traits>

#include "platform/process.hpp"
#include "transport/transport.hpp"

namespace exmsync::transport::smbc {
namespace {

// The soname of Debian's libsmbclient (package libsmbclient, ABI 0 since
// Samba 3).
constexpr const char* kSoname = "libsmbclient.so.0";

Library load() {
    std::string why;
    void* handle = platform::load_library(kSoname, why);
    if (!handle) {
        throw Error("smb:// targets need libsmbclient, which cannot be loaded (" + why +
                    "); install it (Debian: apt-get install libsmbclient)");
    }
    Library lib;
    auto bind = [&](auto& function, const char* name) {
        void* symbol = platform::library_symbol(handle, name);
        if (!symbol)
            throw Error(std::string("the installed libsmbclient lacks ") + name +
                        "; install a newer libsmbclient");
        function = reinterpret_cast<std::remove_reference_t<decltype(function)>>(symbol);
    };
#define EXMSYNC_SMBC_BIND(name) bind(lib.name, #name);
    EXMSYNC_SMBC_FUNCTIONS(EXMSYNC_SMBC_BIND)
#undef EXMSYNC_SMBC_BIND
    return lib;  // the handle stays open for the life of the process
}

}  // namespace

const Library& library() {
    // Made once, thread-safe; a load that throws leaves it unmade, and the
    // next call tries again.
    static const Library lib = load();
    return lib;
}

}  // namespace exmsync::transport::smbc
