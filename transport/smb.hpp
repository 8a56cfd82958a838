// The smb:// backend: a folder on an SMB share reached through libsmbclient
// (Samba's client library), for Windows servers and Samba shares that exmsync
// cannot mount.
//
// URL: smb://[domain;]user@host[:port]/share/path. The password never comes
// from the URL (refused): it comes from --smb-credentials FILE (username=,
// password=, domain= lines as mount.cifs reads them; the file must be readable
// by its owner only) or else from EXMSYNC_SMB_PASSWORD. SMB3 only, NTLMSSP
// only (no Kerberos, no cached tickets), signing required, so no anonymous or
// guest session is ever accepted in place of a failed logon; with
// --smb-encrypt a share that cannot be encrypted is refused. The user's
// ~/.smb/smb.conf and /etc/samba/smb.conf are replaced by exmsync's own client
// settings before any connection.
//
// What SMB through libsmbclient can and cannot do, as capabilities():
// - rename: libsmbclient deletes an existing destination and renames again,
//   so rename() looks first and throws AlreadyExists; the few milliseconds
//   between the look and the rename remain (no_replace_rename = false).
// - no file identity: st_ino is the server's file id, but the ctime
//   libsmbclient reports is the mtime, so neither is offered.
// - mtimes are set to the microsecond (timeval), read at 100 ns.
// - durability: libsmbclient has no flush call. A file's size is checked on
//   its handle and the file closed (SMB2 CLOSE, acknowledged) before
//   commit() returns; whether the server's disk has it then is the server's business (Samba:
//   `strict sync`/`sync always`; Windows: its write-back cache). So
//   durable_flush = false, folder_flush = false; flush_all() confirms the
//   server still answers after everything it acknowledged.
// - case: stat() and every lookup are exact to the byte, also on a
//   case-insensitive share: a name that exists only in another case is
//   absent (so a case-only rename goes through the backup as any rename),
//   while create/mkdir/rename still refuse a case variant, as the server does.
// - symlinks: an SMB3 client sees no POSIX symlink on Samba (smbd follows it,
//   or with `follow symlinks = no` hides it); a Windows reparse point (a
//   symlink or junction) is listed as a Symlink and never gone through. That
//   nothing is written through a symlink on a Samba server is therefore the
//   server's `follow symlinks = no` (and `wide links = no`, the default).
//
// libsmbclient keeps process-wide state that is not safe for threads in
// Debian's build (no smbc_thread_posix): every call into it holds one
// process-wide lock, so SMB targets pushed in parallel take turns on the wire.
// A scan's listings are the exception: list_ahead() hands them to worker
// processes with connections of their own (smb_lister.hpp).
#pragma once

#include <memory>
#include <string>

#include "transport/transport.hpp"

namespace exmsync::transport {

// Connects, logs on and opens the folder of `url`. Throws Error naming the
// target and what to do (wrong password, missing share, no encryption, ...).
std::unique_ptr<Transport> open_smb(const std::string& url, const OpenOptions::Smb& options);

// `exmsync smb-lister`: one of the workers that list folders for an smb://
// transport (smb_lister.hpp), speaking on stdin and stdout. Returns the exit code.
int serve_smb_lister();

}  // namespace exmsync::transport
