#!/usr/bin/env bash
# Runs a real OpenSSH sshd on 127.0.0.1 for the SFTP / agent integration tests.
#
#   tools/test-sshd.sh start  DIR [--user NAME]
#                                   create keys + config in DIR, start sshd, wait until it answers;
#                                   logins are as NAME (default: the current user, who must then
#                                   be root for any other NAME)
#   tools/test-sshd.sh stop   DIR   stop the sshd whose pid is recorded in DIR (DIR is kept)
#   tools/test-sshd.sh status DIR   exit 0 if that sshd is running, 1 if not
#
# Everything the server and its client need lives in DIR (the state folder):
#   ssh_host_ed25519_key[.pub]  host key          id_ed25519[.pub]  client key (no passphrase)
#   authorized_keys             the client key    known_hosts       "[127.0.0.1]:PORT" + host key
#   sshd_config                 server config     ssh_config        `ssh -F DIR/ssh_config exmsync-test`
#   sshd.pid  sshd.log          pid and log       env               shell assignments, see below
#   sshd_config.local           optional, written by a test before start: its lines
#                               go first in sshd_config, where sshd's first value of
#                               a keyword wins (e.g. "MaxSessions 1")
#
# DIR/env (source it):  SSHD_PORT SSHD_PID SSHD_HOST_KEY_FP (SHA256:...) SSH_CLIENT_KEY
#                       SSH_KNOWN_HOSTS SSH_USER SSH_CONFIG SSHD_DIR
#
# Why --user: sshd runs every remote command (rsync's server, exmsync agent,
# sftp-server) through the login user's shell, and a heavy ~/.bashrc (pyenv
# init: ~1 s) then lands in every connection. Benchmarks log in as a plain
# account with /bin/sh instead (tools/bench-ssh.sh).
#
# Nothing outside DIR is touched except /run/sshd (sshd's privilege-separation
# folder, which Debian's sshd refuses to start without). Keys are kept across
# stop/start so a test can restart the server; the port is chosen anew each start.
set -euo pipefail

SSHD=/usr/sbin/sshd
SFTP_SERVER=/usr/lib/openssh/sftp-server   # Debian 12: package openssh-sftp-server
HOST_ALIAS=exmsync-test

die() { echo "test-sshd: $*" >&2; exit 2; }

usage() { die "usage: tools/test-sshd.sh start DIR [--user NAME] | stop DIR | status DIR"; }

[ $# -eq 2 ] || [ $# -eq 4 ] || usage
cmd=$1
dir_arg=$2
user_arg=
if [ $# -eq 4 ]; then
  [ "$cmd" = start ] && [ "$3" = --user ] || usage
  user_arg=$4
  # The name goes unquoted into AllowUsers and ssh_config.
  [[ $user_arg =~ ^[a-z_][a-z0-9_.-]*$ ]] || die "--user '$user_arg' is not a plain account name"
fi

# Tools: installing is tools/setup.sh's job, not ours.
for t in "$SSHD" ssh-keygen ssh; do
  command -v "$t" >/dev/null 2>&1 || die "$t not found: run tools/setup.sh (installs openssh-server, openssh-client)"
done
[ -x "$SFTP_SERVER" ] || die "$SFTP_SERVER not found: run tools/setup.sh (openssh-server pulls in openssh-sftp-server)"

# The paths go unquoted into sshd_config / ssh_config; refuse anything that
# would need quoting there rather than half-support it.
case $dir_arg in
  *[[:space:]\"\'\\\#%]*) die "DIR '$dir_arg' contains whitespace, a quote, '\\', '#' or '%': use a plain path such as \$(mktemp -d)" ;;
  '') usage ;;
esac

# Absolute path: sshd re-executes itself and resolves nothing relative, and the
# pid check below matches the config path in the process's cmdline.
abs_dir() {
  mkdir -p -- "$1"
  (cd -- "$1" && pwd -P)
}

# Pid of the running sshd of DIR on stdout, or return 1. "Ours" means: the pid
# recorded in DIR/sshd.pid is alive, its executable is $SSHD, and its cmdline
# names DIR/sshd_config (guards against a recycled pid). sshd rewrites its
# cmdline to "sshd: /usr/sbin/sshd -f DIR/sshd_config ... [listener] ...", which
# keeps the config path.
running_pid() {
  local d=$1 pid exe
  [ -s "$d/sshd.pid" ] || return 1
  pid=$(tr -dc '0-9' <"$d/sshd.pid")
  [ -n "$pid" ] || return 1
  exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 1   # fails for zombies too
  [ "$exe" = "$SSHD" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "-f $d/sshd_config " || return 1
  echo "$pid"
}

# TCP ports in LISTEN state (IPv4 and IPv6), from /proc so that neither ss
# (iproute2) nor python3 is needed on a minimal machine.
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

# A port nobody listens on, picked at random from a range outside the usual
# ephemeral range (32768-60999) so outgoing connections do not take it either.
# Two scripts can still race for the same port: start() retries on bind failure.
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

write_configs() {
  local d=$1 port=$2 user=$3 hostpub
  {
    if [ -f "$d/sshd_config.local" ]; then
      echo "# From $d/sshd_config.local, first: sshd keeps the first value of a keyword."
      cat "$d/sshd_config.local"
    fi
    cat <<EOF
# Written by tools/test-sshd.sh for exmsync integration tests. Port $port.
ListenAddress 127.0.0.1
Port $port
AddressFamily inet
PidFile $d/sshd.pid
HostKey $d/ssh_host_ed25519_key
AuthorizedKeysFile $d/authorized_keys
# Only the test user, only with the test key.
AllowUsers $user
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
KerberosAuthentication no
GSSAPIAuthentication no
HostbasedAuthentication no
# Tests run as root in CI; keys only.
PermitRootLogin prohibit-password
# The state folder may sit under /tmp (mode 1777), which StrictModes rejects.
StrictModes no
# No PAM: Debian's /etc/pam.d/sshd (pam_loginuid, motd, ...) fails in containers.
UsePAM no
Subsystem sftp $SFTP_SERVER
LogLevel VERBOSE
PrintMotd no
PrintLastLog no
X11Forwarding no
AllowAgentForwarding no
PermitUserEnvironment no
UseDNS no
# Tests push to several targets in parallel and open many channels.
MaxStartups 100:30:200
MaxSessions 64
ClientAliveInterval 0
EOF
  } >"$d/sshd_config"

  hostpub=$(awk '{ print $1, $2 }' "$d/ssh_host_ed25519_key.pub")
  echo "[127.0.0.1]:$port $hostpub" >"$d/known_hosts"

  cat >"$d/ssh_config" <<EOF
# Written by tools/test-sshd.sh. Use: ssh -F $d/ssh_config $HOST_ALIAS
Host $HOST_ALIAS
  HostName 127.0.0.1
  Port $port
  User $user
  IdentityFile $d/id_ed25519
  IdentitiesOnly yes
  UserKnownHostsFile $d/known_hosts
  GlobalKnownHostsFile /dev/null
  StrictHostKeyChecking yes
  UpdateHostKeys no
  CheckHostIP no
  BatchMode yes
  PreferredAuthentications publickey
  ConnectTimeout 5
  LogLevel ERROR
EOF
  chmod 600 "$d/ssh_config"
}

write_env() {
  local d=$1 port=$2 pid=$3 user=$4 fp
  fp=$(ssh-keygen -lf "$d/ssh_host_ed25519_key.pub" | awk '{ print $2 }')
  {
    echo "# Written by tools/test-sshd.sh; source it."
    printf 'SSHD_DIR=%q\n' "$d"
    printf 'SSHD_PORT=%q\n' "$port"
    printf 'SSHD_PID=%q\n' "$pid"
    printf 'SSHD_HOST_KEY_FP=%q\n' "$fp"
    printf 'SSH_CLIENT_KEY=%q\n' "$d/id_ed25519"
    printf 'SSH_KNOWN_HOSTS=%q\n' "$d/known_hosts"
    printf 'SSH_CONFIG=%q\n' "$d/ssh_config"
    printf 'SSH_USER=%q\n' "$user"
  } >"$d/env.tmp"
  mv -f "$d/env.tmp" "$d/env"
}

do_start() {
  local d user pid port rc log_from bind_failed
  d=$(abs_dir "$dir_arg")
  user=$(id -un)
  if [ -n "$user_arg" ] && [ "$user_arg" != "$user" ]; then
    id -u -- "$user_arg" >/dev/null 2>&1 || die "--user $user_arg: no such account (create it, e.g. useradd --system --shell /bin/sh --create-home $user_arg)"
    # An sshd run by anyone but root can only log in its own user.
    [ "$(id -u)" -eq 0 ] || die "--user $user_arg needs root (sshd must switch to that account)"
    user=$user_arg
  fi
  if pid=$(running_pid "$d"); then
    # DIR/env names the running server's user; do not hand out another.
    [ "$(sed -n 's/^AllowUsers //p' "$d/sshd_config")" = "$user" ] ||
      die "already running in $d (pid $pid) for user $(sed -n 's/^AllowUsers //p' "$d/sshd_config"), not $user: stop it first"
    echo "test-sshd: already running in $d (pid $pid, port $(sed -n 's/^Port //p' "$d/sshd_config"))"
    return 0
  fi

  # With UsePAM no, sshd itself refuses accounts whose password field starts
  # with '!' (locked), even for key logins. Say so instead of a vague failure.
  if [ -r /etc/shadow ] && getent shadow "$user" 2>/dev/null | cut -d: -f2 | grep -q '^!'; then
    die "account $user is locked ('!' in /etc/shadow) and sshd with UsePAM no refuses it: run 'usermod -p \"*\" $user' (no password, not locked)"
  fi

  # Debian's sshd dies with "Missing privilege separation directory: /run/sshd";
  # normally systemd's RuntimeDirectory creates it.
  if [ ! -d /run/sshd ]; then
    mkdir -m 0755 /run/sshd 2>/dev/null || [ -d /run/sshd ] || die "cannot create /run/sshd (sshd's privilege separation folder): run as root"
  fi

  umask 077
  [ -s "$d/ssh_host_ed25519_key" ] ||
    ssh-keygen -q -t ed25519 -N '' -C "exmsync-test-host" -f "$d/ssh_host_ed25519_key" </dev/null
  [ -s "$d/id_ed25519" ] ||
    ssh-keygen -q -t ed25519 -N '' -C "exmsync-test-client" -f "$d/id_ed25519" </dev/null
  cp -f "$d/id_ed25519.pub" "$d/authorized_keys"
  if [ "$user" != "$(id -un)" ]; then
    # sshd reads authorized_keys as the login user, so that user needs to
    # read it (it is only a public key) and to get into DIR (search only: the
    # client's private key stays mode 600).
    chmod 644 "$d/authorized_keys"
    chmod a+x "$d"
    runuser -u "$user" -- test -r "$d/authorized_keys" ||
      die "$user cannot read $d/authorized_keys: a parent folder of $d is closed to it (chmod a+x it, or pick a DIR under an open folder)"
  fi
  rm -f "$d/sshd.pid" "$d/env"

  # Pick a port and start. sshd daemonizes *before* it binds, so a port taken
  # in between (another test server starting at the same moment) shows up only
  # as "Cannot bind any address" in the log and a daemon that exits: then try
  # another port. The daemon writes its pid file once it listens.
  pid=
  for _ in 1 2 3 4 5; do
    port=$(free_port)
    write_configs "$d" "$port" "$user"
    echo "=== $(date '+%F %T') test-sshd start, port $port" >>"$d/sshd.log"
    log_from=$(wc -l <"$d/sshd.log")
    rc=0
    "$SSHD" -f "$d/sshd_config" -E "$d/sshd.log" </dev/null || rc=$?
    if [ "$rc" -ne 0 ]; then
      tail -n 20 "$d/sshd.log" >&2 || true
      die "sshd failed to start (exit $rc), log above and in $d/sshd.log"
    fi
    bind_failed=0
    # Up to 30 s, for a machine loaded by parallel tests.
    for _ in $(seq 1 300); do
      if pid=$(running_pid "$d"); then break; fi
      pid=
      if grep -q 'Cannot bind any address' < <(tail -n +"$log_from" "$d/sshd.log"); then
        bind_failed=1
        break
      fi
      sleep 0.1
    done
    [ -n "$pid" ] && break
    [ "$bind_failed" -eq 1 ] && continue
    tail -n 20 "$d/sshd.log" >&2 || true
    die "sshd did not write $d/sshd.pid within 30 s: see $d/sshd.log"
  done
  [ -n "$pid" ] || die "sshd could not bind a free port after 5 tries: see $d/sshd.log"

  # Ready means a real login works, with exactly the config tests will use.
  for _ in $(seq 1 50); do
    if timeout 10 ssh -F "$d/ssh_config" "$HOST_ALIAS" true </dev/null >/dev/null 2>"$d/ssh-probe.err"; then
      rm -f "$d/ssh-probe.err"
      write_env "$d" "$port" "$pid" "$user"
      echo "test-sshd: running in $d (pid $pid, port $port); source $d/env"
      return 0
    fi
    running_pid "$d" >/dev/null || break
    sleep 0.2
  done
  {
    echo "--- ssh probe:"; cat "$d/ssh-probe.err" 2>/dev/null
    echo "--- $d/sshd.log (tail):"; tail -n 20 "$d/sshd.log"
  } >&2 || true
  stop_pid "$d" "$pid" || true
  die "sshd on port $port did not accept the test key within 10 s: see $d/sshd.log"
}

# All descendants of a pid, one per line (children before grandchildren).
# ps comes from procps, which openssh-server depends on.
descendants_of() {
  ps -e -o pid=,ppid= | awk -v root="$1" '
    { parent[$1] = $2; pids[NR] = $1 }
    END {
      want[root] = 1
      do {
        added = 0
        for (i = 1; i <= NR; i++) {
          p = pids[i]
          if (!(p in want) && (parent[p] in want)) { want[p] = 1; added = 1; print p }
        }
      } while (added)
    }'
}

# True if the pid exists and is not a zombie (a container's pid 1 may never
# reap the orphans it inherits).
is_alive() {
  local st
  st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  st=${st##*) }
  [ "${st%% *}" != Z ]
}

stop_pid() {
  local d=$1 pid=$2 p alive
  local -a tree
  # Per-connection sshd processes and the commands / sftp-servers they run
  # survive the listener's death (reparented to init, own session, no tty to
  # hang up): collect the whole tree first, then end all of it, so a stopped
  # server leaves nothing behind.
  mapfile -t tree < <(echo "$pid"; descendants_of "$pid")
  kill -TERM "${tree[@]}" 2>/dev/null || true
  for _ in $(seq 1 50); do
    alive=0
    for p in "${tree[@]}"; do
      if is_alive "$p"; then alive=1; fi
    done
    [ "$alive" -eq 0 ] && break
    sleep 0.1
  done
  for p in "${tree[@]}"; do
    if is_alive "$p"; then kill -KILL "$p" 2>/dev/null || true; fi
  done
  rm -f "$d/sshd.pid"
}

do_stop() {
  local d pid
  # Stopping what is not there is fine: test teardown calls stop unconditionally.
  if [ ! -d "$dir_arg" ]; then
    echo "test-sshd: no state folder $dir_arg, nothing to stop"
    return 0
  fi
  d=$(cd -- "$dir_arg" && pwd -P)
  if ! pid=$(running_pid "$d"); then
    echo "test-sshd: not running in $d"
    rm -f "$d/sshd.pid"
    return 0
  fi
  stop_pid "$d" "$pid"
  echo "test-sshd: stopped pid $pid in $d"
}

do_status() {
  local d pid
  [ -d "$dir_arg" ] || { echo "test-sshd: not running (no $dir_arg)"; exit 1; }
  d=$(cd -- "$dir_arg" && pwd -P)
  if pid=$(running_pid "$d"); then
    echo "test-sshd: running in $d (pid $pid, port $(sed -n 's/^Port //p' "$d/sshd_config"))"
    exit 0
  fi
  echo "test-sshd: not running in $d"
  exit 1
}

case $cmd in
  start) do_start ;;
  stop) do_stop ;;
  status) do_status ;;
  *) usage ;;
esac
