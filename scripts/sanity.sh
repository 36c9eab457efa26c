#!/usr/bin/env bash
# ansible-test sanity on a copy of the checkout (it needs .../ansible_collections/berth/engine and a git
# tree), offline: ansible-test fetches get-pip.py from ci-files.testing.ansible.com to build each sanity
# test's venv; a stand-in in its cache bootstraps pip from the interpreter's ensurepip instead, and the
# test requirements come from PyPI as usual.
set -euo pipefail
cd "$(dirname "$0")/.."
TOP=$PWD
cache=~/.ansible/test/cache
mkdir -p "$cache"
for v in 24_2 25_1 25_3; do
  [ -e "$cache/get_pip_$v.py" ] || cat > "$cache/get_pip_$v.py" <<'PY'
"""Offline stand-in for get-pip.py: pip from the interpreter's ensurepip, then the requested packages."""
import ensurepip
import subprocess
import sys

ensurepip.bootstrap(upgrade=True)
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install", *args]))
PY
done
work=$(mktemp -d /tmp/berth-sanity.XXXXXX)
trap 'rm -rf "$work"' EXIT  # so no exec below: the trap must run
dest="$work/ansible_collections/berth/engine"
mkdir -p "$dest"
# the tracked files plus the untracked ones git does not ignore, as they are in the working tree
git ls-files -z --cached --others --exclude-standard | xargs -0 -I{} cp --parents -P {} "$dest" 2>/dev/null || true
(cd "$dest" && git init -q && git add -A && git -c user.email=ci@berth -c user.name=ci commit -qm sanity)
cd "$dest"
py=$(/usr/bin/python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
"$TOP/.venv/bin/ansible-test" sanity --python "$py" --color no "$@"
