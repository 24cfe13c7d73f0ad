#!/usr/bin/env bash
# A single-node SLURM cluster on this machine, for testing workflow/profiles/slurm (CI runs
# tests/integration/test_slurm.py against it).
#
#   workflow/slurm/local-cluster.sh install   # apt-get: slurmctld slurmd slurmdbd munge mariadb (root)
#   workflow/slurm/local-cluster.sh start     # start every daemon; sbatch/squeue/sacct/scancel work
#   workflow/slurm/local-cluster.sh status    # exit 0 when the cluster answers, 3 when stopped
#   workflow/slurm/local-cluster.sh stop      # cancel jobs, stop the daemons, remove all state
#
# Debian's slurm-wlm (22.05 on bookworm). Daemons run directly as root (no systemd), with plugins
# that need no cgroups (proctrack/linuxproc, task/none). sacct needs the accounting database, so
# slurmdbd runs against a private MariaDB server on 127.0.0.1:$JEPA_SLURM_DB_PORT. One partition
# `local` holds this machine's CPUs (nproc) and memory (/proc/meminfo, less 1 GiB).
#
# Everything lives under $JEPA_SLURM_DIR (default /tmp/jepa-bench-slurm), except a symlink
# /etc/slurm/slurm.conf -> $JEPA_SLURM_DIR/etc/slurm.conf, so that the client commands find the
# cluster without SLURM_CONF. `stop` removes both. start and stop are idempotent; start refuses
# to replace an /etc/slurm/slurm.conf it did not create.
set -euo pipefail

STATE=${JEPA_SLURM_DIR:-/tmp/jepa-bench-slurm}
DB_PORT=${JEPA_SLURM_DB_PORT:-16033}
CLUSTER=jepa
PARTITION=local
ETC_LINK=/etc/slurm/slurm.conf
MUNGE_SOCKET=/run/munge/munge.socket.2
PACKAGES=(slurmctld slurmd slurm-client slurmdbd munge mariadb-server)
NODE=$(hostname -s)
CONF=$STATE/etc/slurm.conf
export SLURM_CONF=$CONF

say() { echo "local-cluster: $*"; }
die() { echo "local-cluster: $*" >&2; exit 1; }

need_root() { [ "$(id -u)" -eq 0 ] || die "$1 needs root (it runs the SLURM daemons as root)"; }

pid_alive() {  # pid_alive FILE: the process named in FILE runs
  [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null
}

wait_for() {  # wait_for SECONDS WHAT COMMAND...: poll COMMAND until it succeeds
  local deadline=$((SECONDS + $1)) what=$2
  shift 2
  while [ $SECONDS -lt $deadline ]; do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.25
  done
  die "$what did not come up within ${limit}s (logs in $STATE/log)"
}

cmd_install() {
  need_root install
  command -v apt-get >/dev/null || die "install needs apt-get (Debian/Ubuntu)"
  # keep apt from starting the distribution's own munge/mariadb/slurm services
  local policy=/usr/sbin/policy-rc.d made_policy=
  if [ ! -e $policy ]; then
    printf '#!/bin/sh\nexit 101\n' >$policy && chmod 755 $policy && made_policy=1
  fi
  local rc=0
  { DEBIAN_FRONTEND=noninteractive apt-get update -q &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${PACKAGES[@]}"; } \
    >"${TMPDIR:-/tmp}/local-cluster-apt.log" 2>&1 || rc=$?
  [ -z "$made_policy" ] || rm -f $policy
  [ $rc -eq 0 ] || { tail -n 20 "${TMPDIR:-/tmp}/local-cluster-apt.log" >&2; die "apt-get failed"; }
  say "installed $(slurmctld -V) (packages: ${PACKAGES[*]})"
}

cluster_answers() {  # the node is up and idle or busy, and accounting answers
  # (without a slurm.conf the client commands take a minute to give up)
  [ -f "$CONF" ] && sinfo -h -p $PARTITION -o %t 2>/dev/null | grep -qE '^(idle|mix|alloc)' &&
    sacct -n -X -S now-1minutes >/dev/null 2>&1
}

write_configs() {
  local cpus mem_mb
  cpus=$(nproc)
  mem_mb=$(($(awk '/^MemTotal:/ {print $2}' /proc/meminfo) / 1024 - 1024))
  [ $mem_mb -ge 1024 ] || mem_mb=1024
  cat >"$CONF" <<EOF
# written by workflow/slurm/local-cluster.sh; removed by its stop
ClusterName=$CLUSTER
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$STATE/run/slurmctld.pid
SlurmdPidFile=$STATE/run/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
# no cgroups needed: processes tracked through /proc, no CPU binding
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/linux
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
JobCompType=jobcomp/none
# sacct shows the comment, where the snakemake plugin names the rule and wildcards
AccountingStoreFlags=job_comment
MailProg=/bin/true
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
# seconds between SIGTERM and SIGKILL when a job is cancelled or runs out of time
KillWait=5
# finished jobs stay visible to squeue for this many seconds (sacct keeps them for good)
MinJobAge=300
DefMemPerCPU=500
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=$PARTITION Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
  # slurmdbd reads slurmdbd.conf from slurm.conf's folder; it must be private to SlurmUser
  (umask 077 && cat >"$STATE/etc/slurmdbd.conf" <<EOF
DbdHost=$NODE
DbdAddr=127.0.0.1
SlurmUser=root
AuthType=auth/munge
PidFile=$STATE/run/slurmdbd.pid
LogFile=$STATE/log/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=slurm
StoragePass=$1
StorageLoc=slurm_acct_db
EOF
  )
}

start_munge() {
  # SLURM's clients reach munged at its default socket (sacctmgr ignores AuthInfo), so a
  # munged already serving it (the distribution's) is used; otherwise one is started there
  if [ -S $MUNGE_SOCKET ] && munge -n -S $MUNGE_SOCKET </dev/null >/dev/null 2>&1; then
    say "using the munged already listening on $MUNGE_SOCKET"
    return 0
  fi
  [ -d "$(dirname $MUNGE_SOCKET)" ] || { mkdir -p "$(dirname $MUNGE_SOCKET)" && touch "$STATE/run/made-munge-dir"; }
  chmod 755 "$(dirname $MUNGE_SOCKET)"
  mungekey -c -k "$STATE/munge/munge.key"
  munged --socket=$MUNGE_SOCKET --key-file="$STATE/munge/munge.key" \
    --pid-file="$STATE/run/munged.pid" --log-file="$STATE/log/munged.log" \
    --seed-file="$STATE/munge/munged.seed"
  wait_for 10 munged test -S $MUNGE_SOCKET
}

start_mariadb() {
  local password=$1
  mariadb-install-db --no-defaults --user=root --datadir="$STATE/db" --auth-root-authentication-method=socket \
    --skip-test-db >"$STATE/log/mariadb-install.log" 2>&1 || die "mariadb-install-db failed: $STATE/log/mariadb-install.log"
  setsid mariadbd --no-defaults --user=root --datadir="$STATE/db" --socket="$STATE/run/mariadb.sock" \
    --pid-file="$STATE/run/mariadbd.pid" --port="$DB_PORT" --bind-address=127.0.0.1 \
    --log-error="$STATE/log/mariadb.log" --innodb-buffer-pool-size=64M </dev/null >/dev/null 2>&1 &
  wait_for 60 "MariaDB" mariadb --no-defaults --socket="$STATE/run/mariadb.sock" -e "SELECT 1"
  mariadb --no-defaults --socket="$STATE/run/mariadb.sock" <<EOF
CREATE DATABASE slurm_acct_db;
CREATE USER 'slurm'@'127.0.0.1' IDENTIFIED BY '$password';
CREATE USER 'slurm'@'localhost' IDENTIFIED BY '$password';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';
EOF
}

cmd_start() {
  if cluster_answers && pid_alive "$STATE/run/slurmctld.pid"; then
    say "already running (state in $STATE)"
    return 0
  fi
  need_root start
  local tool
  for tool in munged mungekey mariadbd mariadb-install-db slurmdbd slurmctld slurmd sbatch sacct sacctmgr; do
    command -v $tool >/dev/null || die "$tool not found: run '$0 install' first"
  done
  if [ -e $ETC_LINK ] || [ -L $ETC_LINK ]; then
    [ "$(readlink $ETC_LINK)" = "$CONF" ] || die "$ETC_LINK exists and is not this script's; not touching it"
  fi
  [ ! -d "$STATE" ] || cmd_stop >/dev/null  # a half-started or crashed cluster: start clean
  local t0=$SECONDS password
  mkdir -p "$STATE"/{etc,munge,run,log,ctld,spool,db}
  chmod 755 "$STATE" "$STATE/munge"
  password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
  write_configs "$password"
  start_munge
  start_mariadb "$password"
  slurmdbd
  wait_for 30 "slurmdbd" sacctmgr -n list cluster
  sacctmgr -i add cluster $CLUSTER >/dev/null
  sacctmgr -i add account local Description="local test cluster" Organization=jepa-bench >/dev/null
  sacctmgr -i add user root Account=local DefaultAccount=local >/dev/null
  if [ -n "${SUDO_USER:-}" ] && [ "$SUDO_USER" != root ]; then
    sacctmgr -i add user "$SUDO_USER" Account=local DefaultAccount=local >/dev/null
  fi
  mkdir -p "$(dirname $ETC_LINK)"
  ln -sfn "$CONF" $ETC_LINK
  slurmctld
  slurmd
  wait_for 60 "the SLURM node" cluster_answers
  say "started in $((SECONDS - t0))s: $(sinfo -h -o '%P %D node(s), %c CPUs, %m MB') ($(sinfo -V)); state in $STATE"
}

stop_pid() {  # stop_pid NAME PIDFILE: TERM the process, KILL it after 20 s
  local name=$1 file=$2 pid i
  pid_alive "$file" || return 0
  pid=$(cat "$file")
  kill "$pid" 2>/dev/null || true
  for ((i = 0; i < 80; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.25
  done
  say "$name (pid $pid) did not stop; killing it"
  kill -9 "$pid" 2>/dev/null || true
}

cmd_stop() {
  if [ ! -d "$STATE" ]; then
    say "not running"
    return 0
  fi
  need_root stop
  if pid_alive "$STATE/run/slurmctld.pid"; then
    # end the jobs first: slurmstepd and job processes outlive slurmd
    scancel --full --quiet --partition=$PARTITION 2>/dev/null || true
    local i
    for ((i = 0; i < 60; i++)); do
      [ -z "$(squeue -h -t running,completing,pending -o %i 2>/dev/null)" ] && break
      sleep 0.5
    done
  fi
  stop_pid slurmd "$STATE/run/slurmd.pid"
  stop_pid slurmctld "$STATE/run/slurmctld.pid"
  stop_pid slurmdbd "$STATE/run/slurmdbd.pid"
  stop_pid mariadbd "$STATE/run/mariadbd.pid"
  if pid_alive "$STATE/run/munged.pid"; then
    stop_pid munged "$STATE/run/munged.pid"
    rm -f $MUNGE_SOCKET $MUNGE_SOCKET.lock
    [ ! -e "$STATE/run/made-munge-dir" ] || rmdir "$(dirname $MUNGE_SOCKET)" 2>/dev/null || true
  fi
  if [ -L $ETC_LINK ] && [ "$(readlink $ETC_LINK)" = "$CONF" ]; then
    rm -f $ETC_LINK
  fi
  rm -rf "$STATE"
  say "stopped; removed $STATE"
}

cmd_status() {
  local name up=0
  if munge -n </dev/null >/dev/null 2>&1; then
    echo "munged: running"
    up=$((up + 1))
  else
    echo "munged: stopped"
  fi
  for name in mariadbd slurmdbd slurmctld slurmd; do
    if pid_alive "$STATE/run/$name.pid"; then
      echo "$name: running (pid $(cat "$STATE/run/$name.pid"))"
      up=$((up + 1))
    else
      echo "$name: stopped"
    fi
  done
  if [ $up -eq 5 ] && cluster_answers; then
    sinfo
    return 0
  fi
  [ -d "$STATE" ] || return 3
  return 1
}

case "${1:-}" in
  install) cmd_install ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *) echo "usage: $0 install|start|stop|status" >&2; exit 2 ;;
esac
