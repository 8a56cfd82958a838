#!/usr/bin/env bash
# Runs a real Samba smbd on 127.0.0.1 for the SMB integration tests.
#
#   tools/test-smbd.sh start  DIR   write smb.conf + passdb in DIR, start smbd, wait until a login works
#   tools/test-smbd.sh stop   DIR   stop the smbd whose pid is recorded in DIR, and everything it started
#   tools/test-smbd.sh status DIR   exit 0 if that smbd is running, 1 if not
#
# Shares (folders under DIR/shares/, owned by the Unix user exmsynctest):
#   sync      read/write, case sensitive = yes
#   nocase    read/write, case sensitive = no, preserve case = yes (like Windows)
#   readonly  read only = yes
#   secure    read/write, server smb encrypt = required
# Every share has follow symlinks = no: an SMB3 client cannot see a POSIX
# symlink on a Samba server (smbd follows it and shows the target), so only
# the server can make sure nothing is written through one.
#
# TEST_SMBD_ENCRYPTION=off in the environment of `start` writes
# `server smb encrypt = off` globally: a server that offers no encryption at
# all (the [secure] share is then unusable), for the test that a client
# requiring encryption refuses it.
#
# TEST_SMBD_START_SECONDS (default 60): how long `start` waits for smbd to
# accept its first login before it stops that smbd and fails.
#
# DIR/env (source it):  SMBD_PORT SMBD_PID SMB_USER SMB_PASSWORD_FILE SMB_SHARES_DIR
#                       SMB_CREDENTIALS SMB_CONF SMBD_DIR
# DIR/password          the password alone (mode 600), new at every start
# DIR/credentials       username= / password= / domain=WORKGROUP (mode 600), for
#                       mount.cifs and `smbclient -A`
# Client example:       smbclient -s DIR/smb.conf -p PORT //127.0.0.1/sync -A DIR/credentials -c ls
#                       (-s DIR/smb.conf keeps smbclient's own cache files in DIR too)
#
# Why a real Unix user: smbd maps every SMB login to a Unix account and does the
# file work as that account. The shares belong to exmsynctest (not `force user
# = root`) so that permissions behave as on a real server: nothing is bypassed
# as root. Consequence for tests: files or folders created directly in
# DIR/shares/... by root must be chowned to exmsynctest before the SMB side can
# change them (or create them through SMB).
#
# Outside DIR this script touches only the system user exmsynctest (created
# once). One leak it cannot stop: when a client first opens a named pipe (share
# listing with `smbclient -L`, LSA look-ups), smbd starts Samba's RPC helpers
# (samba-dcerpcd, rpcd_*) on demand. They log into DIR/log (smbd passes them
# its -l), but samba-dcerpcd first runs each rpcd_* with --list-interfaces and
# no log folder, which creates *empty* log.rpcd_* files in /var/log/samba.
set -euo pipefail

SMBD=/usr/sbin/smbd
SAMBA_LIBEXEC=/usr/libexec/samba
SMB_USER=exmsynctest
SHARES=(sync nocase readonly secure)
# How long a start waits for smbd to accept its first login.
START_SECONDS=${TEST_SMBD_START_SECONDS:-60}

die() { echo "test-smbd: $*" >&2; exit 2; }

usage() { die "usage: tools/test-smbd.sh start|stop|status DIR"; }

[ $# -eq 2 ] || usage
cmd=$1
dir_arg=$2

# Tools: installing is tools/setup.sh's job, not ours.
for t in "$SMBD" smbpasswd smbclient; do
  command -v "$t" >/dev/null 2>&1 || die "$t not found: run tools/setup.sh (installs samba, smbclient)"
done

# The path goes unquoted into smb.conf, where '%' starts a substitution and
# ';' / '#' a comment; unix socket paths under DIR/lock must also stay short.
case $dir_arg in
  *[[:space:]\"\'\\\#\;%]*) die "DIR '$dir_arg' contains whitespace, a quote, '\\', '#', ';' or '%': use a plain path such as \$(mktemp -d)" ;;
  '') usage ;;
esac

# True if the pid exists and is not a zombie (a container's pid 1 may never
# reap the orphans it inherits).
is_alive() {
  local st
  st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  st=${st##*) }
  [ "${st%% *}" != Z ]
}

# cmdline of a pid with NULs as spaces.
cmdline_of() { tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null; }

# Pid of the running smbd of DIR on stdout, or return 1. "Ours" means: the pid
# recorded in DIR/smbd.pid is alive, its executable is $SMBD, and its cmdline
# names DIR/smb.conf (guards against a recycled pid).
running_pid() {
  local d=$1 pid exe
  [ -s "$d/smbd.pid" ] || return 1
  pid=$(tr -dc '0-9' <"$d/smbd.pid")
  [ -n "$pid" ] && is_alive "$pid" || return 1
  exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 1
  [ "$exe" = "$SMBD" ] || return 1
  cmdline_of "$pid" | grep -qF -- "-s $d/smb.conf " || return 1
  echo "$pid"
}

# TCP ports in LISTEN state (IPv4 and IPv6), from /proc so that neither ss
# (iproute2) nor python3 is needed.
listening_ports() {
  local f local_addr st
  for f in /proc/net/tcp /proc/net/tcp6; do
    [ -r "$f" ] || continue
    # columns: sl local_address(hexip:hexport) rem_address st(0A = LISTEN) ...
    while read -r _ local_addr _ st _; do
      [ "$st" = "0A" ] && printf '%d\n' "0x${local_addr##*:}"
    done < <(tail -n +2 "$f")
  done
  return 0
}

# A port nobody listens on, at random in 20000-31999 (below the ephemeral range
# 32768-60999, so outgoing connections do not take it). Two servers starting at
# the same moment can still pick the same port: start() retries on bind failure.
free_port() {
  local used p
  used=" $(listening_ports | tr '\n' ' ') "
  for _ in $(seq 1 200); do
    p=$((20000 + RANDOM % 12000))
    case $used in *" $p "*) continue ;; esac
    echo "$p"
    return 0
  done
  die "no free TCP port found in 20000-31999: stop some servers and retry"
}

# smbd does file work as the Unix user the SMB user maps to. A system account
# with no shell and no home: it can log in over SMB only, with the password set
# in DIR's own passdb. Two starts at once may race on useradd: re-check after.
ensure_unix_user() {
  getent passwd "$SMB_USER" >/dev/null && return 0
  [ "$(id -u)" -eq 0 ] || die "Unix user $SMB_USER is missing and only root can create it: run as root once"
  for _ in 1 2 3 4 5; do
    useradd --system --no-create-home --home-dir /nonexistent -s /usr/sbin/nologin "$SMB_USER" 2>/dev/null || true
    getent passwd "$SMB_USER" >/dev/null && return 0
    sleep 0.5
  done
  die "could not create the Unix user $SMB_USER with useradd: create it by hand (useradd --system --no-create-home -s /usr/sbin/nologin $SMB_USER)"
}

# smbd reaches a share as exmsynctest, so every folder above it must be
# searchable by that user. mktemp -d makes mode-700 folders: name the culprit.
check_reachable() {
  local d=$1 p part
  local -a parts
  if setpriv --reuid="$SMB_USER" --regid="$SMB_USER" --clear-groups -- \
       test -x "$d/shares/sync" -a -w "$d/shares/sync" 2>/dev/null; then
    return 0
  fi
  # Walk down from / and name the first folder it cannot enter.
  p=
  IFS=/ read -r -a parts <<<"${d#/}"
  for part in "${parts[@]}"; do
    p=$p/$part
    if ! setpriv --reuid="$SMB_USER" --regid="$SMB_USER" --clear-groups -- test -x "$p" 2>/dev/null; then
      die "$SMB_USER cannot enter $p, so smbd cannot reach the shares: chmod o+x $p (or use a DIR whose parents are searchable)"
    fi
  done
  die "$SMB_USER cannot write $d/shares/sync: check its owner and mode"
}

random_password() {
  # 24 letters and digits; no characters that need quoting anywhere.
  head -c 64 /dev/urandom | base64 -w0 | tr -dc 'A-Za-z0-9' | cut -c1-24
}

write_conf() {
  local d=$1 port=$2
  cat >"$d/smb.conf.tmp" <<EOF
# Written by tools/test-smbd.sh for exmsync integration tests. Port $port.
# Every path points into $d: nothing in /etc/samba, /var/lib/samba,
# /var/cache/samba or /run/samba is read or written.
[global]
  server role = standalone server
  workgroup = WORKGROUP
  netbios name = EXMSYNCTEST
  server string = exmsync test server
  # Loopback only, on our own port; no NetBIOS (so no nmbd, no port 139).
  bind interfaces only = yes
  interfaces = 127.0.0.1
  smb ports = $port
  disable netbios = yes
  # State, all in $d.
  private dir = $d/private
  lock directory = $d/lock
  state directory = $d/state
  cache directory = $d/cache
  pid directory = $d/run
  ncalrpc dir = $d/ncalrpc
  binddns dir = $d/binddns
  winbindd socket directory = $d/winbindd
  usershare path = $d/usershares
  usershare max shares = 0
  log file = $d/log/log.smbd
  max log size = 10000
  # auth_audit:3 logs every logon with its result: the tests check that a
  # failed one opened no guest session.
  log level = 1 auth_audit:3
  # A failed bind makes smbd panic; do not leave core files behind.
  enable core files = no
  passdb backend = tdbsam:$d/private/passdb.tdb
  # As the design requires of targets: SMB3 only, no guest, no anonymous.
  # Not "SMB3": in Samba that means SMB3_11 here, which would also refuse the
  # SMB 3.0 / 3.0.2 dialects of Windows Server 2012 / 2012 R2.
  server min protocol = SMB3_00
  map to guest = Never
  restrict anonymous = 2
  guest account = nobody
  # Per-share "server smb encrypt = required" needs negotiation enabled
  # globally, which is the default (if_required); say so explicitly.
  server smb encrypt = ${TEST_SMBD_ENCRYPTION:-if_required}
  # No printing, no registry shares, no PAM, no winbindd.
  load printers = no
  printing = bsd
  printcap name = /dev/null
  disable spoolss = yes
  registry shares = no
  obey pam restrictions = no
  unix password sync = no
  # DOS attributes live in xattrs (store dos attributes = yes, the default),
  # not in the Unix x bits: files created over SMB stay plain 0644.
  map archive = no
  create mask = 0644
  directory mask = 0755

[sync]
  path = $d/shares/sync
  follow symlinks = no
  read only = no
  guest ok = no
  valid users = $SMB_USER
  case sensitive = yes
  preserve case = yes
  short preserve case = yes

[nocase]
  path = $d/shares/nocase
  follow symlinks = no
  read only = no
  guest ok = no
  valid users = $SMB_USER
  case sensitive = no
  preserve case = yes
  short preserve case = yes

[readonly]
  path = $d/shares/readonly
  follow symlinks = no
  read only = yes
  guest ok = no
  valid users = $SMB_USER

[secure]
  path = $d/shares/secure
  follow symlinks = no
  read only = no
  guest ok = no
  valid users = $SMB_USER
  server smb encrypt = required
EOF
  mv -f "$d/smb.conf.tmp" "$d/smb.conf"
}

write_env() {
  local d=$1 port=$2 pid=$3
  {
    echo "# Written by tools/test-smbd.sh; source it."
    printf 'SMBD_DIR=%q\n' "$d"
    printf 'SMBD_PORT=%q\n' "$port"
    printf 'SMBD_PID=%q\n' "$pid"
    printf 'SMB_USER=%q\n' "$SMB_USER"
    printf 'SMB_PASSWORD_FILE=%q\n' "$d/password"
    printf 'SMB_CREDENTIALS=%q\n' "$d/credentials"
    printf 'SMB_SHARES_DIR=%q\n' "$d/shares"
    printf 'SMB_CONF=%q\n' "$d/smb.conf"
  } >"$d/env.tmp"
  mv -f "$d/env.tmp" "$d/env"
}

# True if process PID itself holds a listening TCP socket on 127.0.0.1:PORT.
# Probing before that could reach whoever else holds the port (a client then
# hangs on a listener that never answers, or logs in to another test server).
pid_listens() {
  local pid=$1 want hexport link inodes local_addr st inode
  hexport=$(printf '%04X' "$2")
  inodes=" "
  for link in /proc/"$pid"/fd/*; do
    link=$(readlink "$link" 2>/dev/null) || continue
    case $link in 'socket:['*) link=${link#socket:[}; inodes+="${link%]} " ;; esac
  done
  want="0100007F:$hexport"
  # columns: sl local rem st tx:rx tr:when retrnsmt uid timeout inode ...
  while read -r _ local_addr _ st _ _ _ _ _ inode _; do
    if [ "$st" != 0A ] || [ "$local_addr" != "$want" ]; then continue; fi
    case $inodes in *" $inode "*) return 0 ;; esac
  done < <(tail -n +2 /proc/net/tcp)
  return 1
}

# One smbclient login to the sync share, as the tests will do it.
probe() {
  local d=$1 port=$2
  timeout 5 smbclient -s "$d/smb.conf" -p "$port" "//127.0.0.1/sync" -A "$d/credentials" -c ls \
    </dev/null >"$d/log/probe.out" 2>&1
}

log_tail() {
  local d=$1
  {
    echo "--- $d/log/log.smbd (tail):"; tail -n 20 "$d/log/log.smbd" 2>/dev/null
    echo "--- $d/log/smbd.out (tail):"; tail -n 10 "$d/log/smbd.out" 2>/dev/null
    echo "--- last smbclient probe:"; cat "$d/log/probe.out" 2>/dev/null
  } >&2 || true
}

do_start() {
  local d pid port pw s bind_failed log_from started
  mkdir -p -- "$dir_arg"
  d=$(cd -- "$dir_arg" && pwd -P)
  # smbd's unix sockets live under DIR (lock/msg.sock/PID, ncalrpc/np/NAME)
  # and a socket path is limited to 107 bytes.
  [ "${#d}" -le 72 ] || die "DIR $d is longer than 72 characters, too long for smbd's unix sockets under it: use a shorter path such as \$(mktemp -d)"
  if pid=$(running_pid "$d"); then
    echo "test-smbd: already running in $d (pid $pid, port $(sed -n 's/^  smb ports = //p' "$d/smb.conf"))"
    return 0
  fi
  # A smbd that died uncleanly can leave its on-demand RPC helpers behind.
  kill_tree "$d" ""

  ensure_unix_user

  # DIR itself: searchable (not listable) by others, so that smbd, acting as
  # exmsynctest, can walk down to DIR/shares; everything secret is 700 / 600.
  chmod 0711 "$d"
  mkdir -p "$d/private" "$d/lock" "$d/state" "$d/cache" "$d/run" "$d/ncalrpc" \
    "$d/binddns" "$d/winbindd" "$d/usershares" "$d/log" "$d/shares"
  chmod 0700 "$d/private" "$d/binddns"
  chmod 0755 "$d/shares"
  for s in "${SHARES[@]}"; do
    mkdir -p "$d/shares/$s"
    chown "$SMB_USER:" "$d/shares/$s"
    chmod 0755 "$d/shares/$s"
  done
  check_reachable "$d"
  rm -f "$d/smbd.pid" "$d/env"

  # A new password at every start, in DIR's own passdb (smbpasswd -a also
  # resets it when the entry exists).
  pw=$(random_password)
  (umask 077
   printf '%s\n' "$pw" >"$d/password"
   printf 'username=%s\npassword=%s\ndomain=WORKGROUP\n' "$SMB_USER" "$pw" >"$d/credentials")
  chmod 600 "$d/password" "$d/credentials"

  # Start. smbd runs in the foreground of its own session (setsid), so $! is
  # smbd itself, nothing waits on a terminal, and its per-connection children
  # share its process group. A port taken in between makes smbd panic with
  # "No sockets available to bind to": then try another port.
  pid=
  for _ in 1 2 3 4 5; do
    port=$(free_port)
    write_conf "$d" "$port"
    printf '%s\n%s\n' "$pw" "$pw" | smbpasswd -c "$d/smb.conf" -s -a "$SMB_USER" >"$d/log/smbpasswd.out" 2>&1 ||
      die "smbpasswd could not set the password of $SMB_USER in $d/private/passdb.tdb: see $d/log/smbpasswd.out"
    echo "=== $(date '+%F %T') test-smbd start, port $port" >>"$d/log/smbd.out"
    touch "$d/log/log.smbd"
    log_from=$(($(wc -l <"$d/log/log.smbd") + 1))
    # A script has no job control, so the background job is not a process
    # group leader and setsid execs smbd in place: $! is smbd's pid.
    # -l DIR/log: smbd's first log lines (before it reads smb.conf) and the
    # RPC helpers it starts then log into DIR/log, not /var/log/samba.
    setsid "$SMBD" --foreground --no-process-group -l "$d/log" -s "$d/smb.conf" \
      </dev/null >>"$d/log/smbd.out" 2>&1 &
    pid=$!
    echo "$pid" >"$d/smbd.pid"
    # Up to START_SECONDS: on a 2-core machine loaded by parallel tests, the
    # 15 s this waited before ran out.
    bind_failed=0
    started=$SECONDS
    while ((SECONDS - started < START_SECONDS)); do
      # Ended (its pid a zombie or gone). Not "not yet smbd": on a busy
      # machine the first look can come before setsid has exec'd it.
      if ! is_alive "$pid"; then
        if grep -q 'No sockets available to bind to' < <(tail -n +"$log_from" "$d/log/log.smbd"); then
          bind_failed=1
        fi
        break
      fi
      if running_pid "$d" >/dev/null && pid_listens "$pid" "$port" && probe "$d" "$port"; then
        write_env "$d" "$port" "$pid"
        echo "test-smbd: running in $d (pid $pid, port $port); source $d/env"
        return 0
      fi
      sleep 0.1
    done
    if [ "$bind_failed" -eq 1 ]; then
      wait "$pid" 2>/dev/null || true
      continue
    fi
    log_tail "$d"
    # Stopped before it is reaped: a smbd that still runs would be waited
    # on for ever (a start that timed out under load once hung a test so).
    kill_tree "$d" "$pid"
    wait "$pid" 2>/dev/null || true
    rm -f "$d/smbd.pid"
    die "smbd on port $port did not accept a login within $START_SECONDS s: see $d/log/log.smbd"
  done
  rm -f "$d/smbd.pid"
  die "smbd could not bind a free port after 5 tries: see $d/log/log.smbd"
}

# Pids to end for DIR, one per line: smbd (if given), every process in its
# process group or below it (per-connection children, smbd-notifyd,
# smbd-cleanupd), and the on-demand RPC helpers smbd started for DIR
# (samba-dcerpcd daemonizes into its own session, so it is found by its
# --configfile=DIR/smb.conf argument and executable, then its children).
tree_pids() {
  local d=$1 pid=$2
  ps -e -o pid=,ppid=,pgid= | awk -v root="$pid" -v helpers="$(helper_pids "$d" | tr '\n' ' ')" '
    { parent[$1] = $2; pgid[$1] = $3; pids[NR] = $1 }
    END {
      n = split(helpers, h, " ")
      for (i = 1; i <= n; i++) want[h[i]] = 1
      if (root != "") want[root] = 1
      for (i = 1; i <= NR; i++) if (root != "" && pgid[pids[i]] == root) want[pids[i]] = 1
      do {
        added = 0
        for (i = 1; i <= NR; i++) {
          p = pids[i]
          if (!(p in want) && (parent[p] in want)) { want[p] = 1; added = 1 }
        }
      } while (added)
      for (p in want) print p
    }'
}

helper_pids() {
  local d=$1 p exe
  # One ps for the candidates, then a check of each one's real executable.
  for p in $(ps -e -o pid=,args= | awk -v want="--configfile=$d/smb.conf" \
               '{ for (i = 2; i <= NF; i++) if ($i == want) { print $1; next } }'); do
    exe=$(readlink "/proc/$p/exe" 2>/dev/null) || continue
    case $exe in "$SAMBA_LIBEXEC"/*) echo "$p" ;; esac
  done
  return 0
}

# TERM smbd first so it can end its children cleanly, then everything else of
# the tree; KILL what is left after 5 s.
kill_tree() {
  local d=$1 pid=$2 p alive
  local -a pids
  mapfile -t pids < <(tree_pids "$d" "$pid")
  [ "${#pids[@]}" -gt 0 ] || return 0
  if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null || true; fi
  kill -TERM "${pids[@]}" 2>/dev/null || true
  for _ in $(seq 1 50); do
    alive=0
    for p in "${pids[@]}"; do
      if is_alive "$p"; then alive=1; fi
    done
    [ "$alive" -eq 0 ] && return 0
    sleep 0.1
  done
  for p in "${pids[@]}"; do
    if is_alive "$p"; then kill -KILL "$p" 2>/dev/null || true; fi
  done
  return 0
}

do_stop() {
  local d pid
  # Stopping what is not there is fine: test teardown calls stop unconditionally.
  if [ ! -d "$dir_arg" ]; then
    echo "test-smbd: no state folder $dir_arg, nothing to stop"
    return 0
  fi
  d=$(cd -- "$dir_arg" && pwd -P)
  if ! pid=$(running_pid "$d"); then
    kill_tree "$d" ""
    rm -f "$d/smbd.pid"
    echo "test-smbd: not running in $d"
    return 0
  fi
  kill_tree "$d" "$pid"
  rm -f "$d/smbd.pid"
  echo "test-smbd: stopped pid $pid in $d"
}

do_status() {
  local d pid
  [ -d "$dir_arg" ] || { echo "test-smbd: not running (no $dir_arg)"; exit 1; }
  d=$(cd -- "$dir_arg" && pwd -P)
  if pid=$(running_pid "$d"); then
    echo "test-smbd: running in $d (pid $pid, port $(sed -n 's/^  smb ports = //p' "$d/smb.conf"))"
    exit 0
  fi
  echo "test-smbd: not running in $d"
  exit 1
}

case $cmd in
  start) do_start ;;
  stop) do_stop ;;
  status) do_status ;;
  *) usage ;;
esac
