#!/usr/bin/env bash
# Run tests on a cgroup v2-only host: a virtme-ng VM that boots Debian's kernel over this machine's own
# file system (read-only; /tmp is the VM's), where systemd-less init mounts only cgroup2 with every
# controller. For hosts like the test machines, which are hybrid (cgroup v1 + a v2 mount) while most
# users' hosts are v2-only. Not part of `make test`: without KVM (or with a nested KVM that hangs, as on
# the Firecracker test hosts) the VM runs emulated, ~20x slower.
#
#   scripts/vm-cgroup2.sh [pytest arguments]      (default: the cgroup and container tests)
#   BERTH_VM_KVM=1 scripts/vm-cgroup2.sh ...       use KVM
set -euo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)

if [ "${1:-}" = "--inside" ]; then  # in the VM
    out=$2
    shift 2
    exec >"$out/log" 2>&1
    cd "$TOP"
    export PYTHONDONTWRITEBYTECODE=1
    echo "kernel $(uname -r); cgroup mounts: $(grep cgroup /proc/mounts | cut -d' ' -f2,3 | tr '\n' ' ')"
    echo "controllers: $(cat /sys/fs/cgroup/cgroup.controllers)"
    if grep -q ' cgroup ' /proc/mounts; then
        echo "cgroup v1 hierarchies are mounted: not a v2-only host" >&2
        echo 2 >"$out/rc"
        exit 2
    fi
    # the VM's /tmp is an overlay of the host's: no overlayfs upper dir can live there (data roots do)
    mkdir -p /run/berth-tmp
    mount -t tmpfs -o mode=1777,size=3g tmpfs /run/berth-tmp
    export TMPDIR=/run/berth-tmp
    rc=0
    "$TOP/.venv/bin/python" -m pytest -v -p no:cacheprovider --timeout 1800 --tb=short -rfE "$@" || rc=$?
    echo "$rc" >"$out/rc"
    exit 0
fi

[ -x "$TOP/.venv/bin/python" ] || { echo "run 'make setup' first" >&2; exit 2; }
if ! command -v qemu-system-x86_64 >/dev/null || [ -z "$(find /boot -maxdepth 1 -name "vmlinuz-*")" ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q qemu-system-x86 linux-image-amd64 >/dev/null
fi
venv=/var/tmp/berth-virtme-ng
[ -x "$venv/bin/vng" ] || { /usr/bin/python3 -m venv "$venv" && "$venv/bin/pip" install -q virtme-ng; }
kernel=$(find /boot -maxdepth 1 -name "vmlinuz-*" | sort -V | tail -n 1)
out=$(mktemp -d /var/tmp/berth-vm.XXXXXX)
trap 'rm -rf "$out"' EXIT
kvm=(--disable-kvm)
[ "${BERTH_VM_KVM:-0}" = 1 ] && kvm=()
[ $# -gt 0 ] || set -- tests/functional/test_cgroups.py tests/functional/test_containers.py \
    tests/functional/test_cli_containers.py tests/functional/test_userns.py
args=$(printf ' %q' "$@")
PATH="$venv/bin:$PATH" vng "${kvm[@]}" --run "$kernel" --memory 4G --cpus 2 --rwdir "$out" \
    --exec "$TOP/scripts/vm-cgroup2.sh --inside $out$args" >"$out/console" 2>&1 || true
cat "$out/log" 2>/dev/null || { tail -n 40 "$out/console"; exit 2; }
exit "$(cat "$out/rc" 2>/dev/null || echo 2)"
