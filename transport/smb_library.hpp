// libsmbclient, opened on first use instead of at program start.
//
// Linking it brings about a hundred Samba libraries, and loading them costs
// every exmsync process some 40 ms before main(): every agent started on
// every server, every local push, even --version. Only smb:// targets need
// them, so the SMB backend calls libsmbclient through this table, filled by
// the dynamic loader the first time a share is opened.
#pragma once

#include <libsmbclient.h>

namespace exmsync::transport::smbc {

#define EXMSYNC_SMBC_FUNCTIONS(X)                                                                              \
    X(smbc_new_context) X(smbc_free_context) X(smbc_init_context) X(smbc_setConfiguration)                    \
    X(smbc_setLogCallback) X(smbc_setOptionDebugToStderr) X(smbc_setOptionUserData) X(smbc_getOptionUserData) \
    X(smbc_setFunctionAuthDataWithContext) X(smbc_setOptionNoAutoAnonymousLogin) X(smbc_setOptionUseKerberos)  \
    X(smbc_setOptionFallbackAfterKerberos) X(smbc_setOptionUseCCache) X(smbc_setOptionCaseSensitive)          \
    X(smbc_setOptionUrlEncodeReaddirEntries) X(smbc_setOptionSmbEncryptionLevel) X(smbc_setOptionProtocols)   \
    X(smbc_setTimeout) X(smbc_setPort) X(smbc_getFunctionAddCachedServer) X(smbc_setFunctionAddCachedServer)  \
    X(smbc_getFunctionOpen) X(smbc_getFunctionClose) X(smbc_getFunctionRead) X(smbc_getFunctionWrite)         \
    X(smbc_getFunctionFstat) X(smbc_getFunctionStat) X(smbc_getFunctionStatVFS) X(smbc_getFunctionRename)     \
    X(smbc_getFunctionUnlink) X(smbc_getFunctionRmdir) X(smbc_getFunctionMkdir) X(smbc_getFunctionUtimes)    \
    X(smbc_getFunctionOpendir) X(smbc_getFunctionReaddirPlus2) X(smbc_getFunctionClosedir)

struct Library {
#define EXMSYNC_SMBC_MEMBER(name) decltype(&::name) name = nullptr;
    EXMSYNC_SMBC_FUNCTIONS(EXMSYNC_SMBC_MEMBER)
#undef EXMSYNC_SMBC_MEMBER
};

// The loaded library. Throws transport::Error saying which package to
// install when it cannot be opened or lacks a function.
const Library& library();

}  // namespace exmsync::transport::smbc
