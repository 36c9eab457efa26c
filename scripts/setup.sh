#!/usr/bin/env bash
# Idempotent set-up for a Debian 12 host, as root: Debian packages, .venv with
# pinned Python tools, and the collection made visible to the venv's Ansible.
set -euo pipefail
cd "$(dirname "$0")/.."
TOP=$PWD
# Two set-ups at once (make demo and make test in two shells) would both rebuild .venv: one waits.
exec 9>"$TOP/.setup.lock"
flock 9

APT_PACKAGES=(
  python3 python3-venv python3-dev make git
  busybox-static skopeo umoci docker-registry apache2-utils openssl
  runc crun tini iproute2 nftables python3-pyroute2 python3-requests libseccomp2 shellcheck zstd
  gcc libc6-dev openssh-server openssh-client
)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# docker-registry's package starts a service on :5000; the tests start their own.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet docker-registry 2>/dev/null; then
  systemctl stop docker-registry || true
fi

PY=/usr/bin/python3
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import sys; sys.exit(0)' 2>/dev/null; then
  rm -rf .venv
  "$PY" -m venv .venv
fi
stamp=.venv/.requirements.sha
want=$(sha256sum requirements-dev.txt | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  .venv/bin/pip install -q --disable-pip-version-check -r requirements-dev.txt
  echo "$want" > "$stamp"
fi

# The collection, straight from the checkout: ansible_collections/berth/engine on the venv's sys.path.
site=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
mkdir -p "$site/ansible_collections/berth"
ln -sfn "$TOP" "$site/ansible_collections/berth/engine"
# Bytecode for the engine, so that commands start fast even where PYTHONDONTWRITEBYTECODE is set.
"$PY" -m compileall -q plugins >/dev/null || true
# Read all of ansible's output: `| head -1` closed the pipe early and ansible printed a BrokenPipe traceback.
version=$(.venv/bin/ansible --version 2>/dev/null)
echo "setup: ok (${version%%$'\n'*})"
