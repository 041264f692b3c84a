#!/usr/bin/env bash
# Start a single-node Slurm cluster on this machine (for the tests of
# tools/slurm_train.sh and tools/slurm_test.sh; usable by hand as well).
#
# Usage: sudo bash tools/misc/start_slurm.sh
#
# Idempotent: it installs Debian's munge, slurmctld, slurmd and slurm-client
# packages if they are missing, writes a munge key and /etc/slurm/slurm.conf
# if there are none (a slurm.conf it did not write is left alone), starts
# whichever of munged, slurmctld and slurmd is not running, and waits until
# `sinfo` shows this node ready for jobs. When Slurm is up already it only
# checks that. The node is this machine with all its CPUs, in one default
# partition named by PARTITION (default: cpu); no GPUs, no cgroups.
#
# Exit codes: 0 ready; 3 Slurm cannot be installed here (not root, no
# apt-get, or the install failed); 1 installed but did not come up (see the
# logs under /var/log/slurm).
set -u

PARTITION=${PARTITION:-cpu}
WAIT_S=${WAIT_S:-60}
CONF=/etc/slurm/slurm.conf
MARK='# written by mmhornet tools/misc/start_slurm.sh'
NODE=$(hostname -s)

log() { echo "start_slurm: $*" >&2; }
cannot_install() { log "cannot install Slurm: $*"; exit 3; }

node_ready() {
    # Ready: sinfo answers and this node takes jobs.
    sinfo -h -n "$NODE" -o '%T' 2>/dev/null |
        grep -qE '^(idle|mixed|allocated|completing)'
}

if command -v sinfo >/dev/null && node_ready; then
    log "Slurm is up (node $NODE)"
    exit 0
fi

# --- install -------------------------------------------------------------
PACKAGES="munge slurmctld slurmd slurm-client"
missing=""
for binary in /usr/sbin/munged /usr/sbin/slurmctld /usr/sbin/slurmd \
    /usr/bin/srun /usr/bin/sinfo; do
    [ -x "$binary" ] || missing="$missing $binary"
done
if [ -n "$missing" ]; then
    [ "$(id -u)" -eq 0 ] || cannot_install "not root (missing:$missing)"
    command -v apt-get >/dev/null || cannot_install "no apt-get"
    log "installing $PACKAGES"
    export DEBIAN_FRONTEND=noninteractive
    # The package lists may be missing or stale on a new machine: update
    # them only when the first try fails.
    if ! apt-get install -y -q --no-install-recommends $PACKAGES \
        >/tmp/start_slurm.apt.log 2>&1; then
        apt-get update -q >>/tmp/start_slurm.apt.log 2>&1
        apt-get install -y -q --no-install-recommends $PACKAGES \
            >>/tmp/start_slurm.apt.log 2>&1 ||
            cannot_install "apt-get install $PACKAGES failed:" \
                "$(tail -n 5 /tmp/start_slurm.apt.log)"
    fi
fi
[ "$(id -u)" -eq 0 ] || { log "Slurm is installed but down; start it as root"; exit 3; }

# --- munge ---------------------------------------------------------------
KEY=/etc/munge/munge.key
if [ ! -s "$KEY" ]; then
    log "writing a munge key"
    mkdir -p /etc/munge
    dd if=/dev/urandom of="$KEY" bs=1024 count=1 status=none
fi
chown munge:munge "$KEY"
chmod 400 "$KEY"
mkdir -p /run/munge /var/log/munge /var/lib/munge
chown munge:munge /run/munge /var/log/munge /var/lib/munge
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    log "starting munged"
    su -s /bin/sh munge -c '/usr/sbin/munged --force' \
        </dev/null >/dev/null 2>&1
    for _ in $(seq 20); do
        munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break
        sleep 0.5
    done
    munge -n | unmunge >/dev/null || { log "munged did not start"; exit 1; }
fi

# --- slurm.conf ----------------------------------------------------------
if [ ! -e "$CONF" ] || head -n 1 "$CONF" | grep -qF "$MARK"; then
    mkdir -p /etc/slurm
    CPUS=$(nproc --all)
    cat >"$CONF.new" <<EOF
$MARK
ClusterName=mmhornet
SlurmctldHost=$NODE
SlurmUser=root
AuthType=auth/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
SchedulerType=sched/backfill
NodeName=$NODE CPUs=$CPUS State=UNKNOWN
PartitionName=$PARTITION Nodes=$NODE Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
EOF
    mv "$CONF.new" "$CONF"
fi
mkdir -p /var/spool/slurmctld /var/spool/slurmd /var/log/slurm

# --- daemons -------------------------------------------------------------
if ! scontrol ping 2>/dev/null | grep -q 'is UP'; then
    # -c: start with no jobs. A controller that was killed can otherwise
    # recover finished jobs as running, and their CPUs stay allocated.
    log "starting slurmctld"
    /usr/sbin/slurmctld -c </dev/null >>/var/log/slurm/slurmctld.out 2>&1
fi
if ! ps -C slurmd -o stat= | grep -qv '^Z'; then
    log "starting slurmd"
    /usr/sbin/slurmd </dev/null >>/var/log/slurm/slurmd.out 2>&1
fi

for _ in $(seq $((WAIT_S * 2))); do
    if node_ready; then
        log "Slurm is up (node $NODE, partition $PARTITION)"
        exit 0
    fi
    sleep 0.5
done
log "the node did not become ready in ${WAIT_S}s:"
sinfo -N -l >&2 2>&1
tail -n 5 /var/log/slurm/slurmctld.log /var/log/slurm/slurmd.log >&2
exit 1
