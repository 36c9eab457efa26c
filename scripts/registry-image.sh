#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Build an offline stand-in for Docker Hub's registry:2 from Debian's docker-registry package and import it
# into Berth:  scripts/registry-image.sh [REFERENCE]   (default localhost/berth/registry:2)
#
# The image holds /bin/registry, the libraries it links (ldd), the CA bundle (for proxy_remote_url) and
# registry:2's default /etc/docker/registry/config.yml (filesystem storage in /var/lib/registry, http on :5000).
# Its config is registry:2's too: ENTRYPOINT ["/bin/registry", "serve"], CMD [the config file],
# EXPOSE 5000/tcp, VOLUME /var/lib/registry. The tarball is reproducible (fixed mtimes and owners), so running
# the script again gives the same image ID.
#
# BERTH names the berth command (default: bin/berth of this checkout); BERTH_ROOT and BERTH_CONFIG choose the
# engine, as for berth itself. Prints the image ID.
set -euo pipefail
REF=${1:-localhost/berth/registry:2}
TOP=$(cd "$(dirname "$0")/.." && pwd)
BERTH=${BERTH:-$TOP/bin/berth}
BIN=${REGISTRY_BINARY:-/usr/bin/docker-registry}
[ -x "$BIN" ] || { echo "registry-image: $BIN is missing: apt-get install docker-registry" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/rootfs
mkdir -p "$root"/{bin,etc/docker/registry,etc/ssl/certs,var/lib/registry,tmp}
chmod 1777 "$root/tmp"
install -m 0755 "$BIN" "$root/bin/registry"
# The libraries it links, at the paths the dynamic loader looks for them (nothing for a static binary).
for lib in $(ldd "$BIN" 2>/dev/null | grep -o '/[^ ]*' || true); do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
fi
printf 'root:x:0:0:root:/root:/bin/registry\nnobody:x:65534:65534:nobody:/nonexistent:/bin/registry\n' \
  >"$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
printf 'hosts: files dns\n' >"$root/etc/nsswitch.conf"
cat >"$root/etc/docker/registry/config.yml" <<'EOF'
version: 0.1
log:
  fields:
    service: registry
storage:
  cache:
    blobdescriptor: inmemory
  filesystem:
    rootdirectory: /var/lib/registry
http:
  addr: :5000
  headers:
    X-Content-Type-Options: [nosniff]
health:
  storagedriver:
    enabled: true
    interval: 10s
    threshold: 3
EOF
tar -C "$root" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf - . | "$BERTH" import \
  --change 'ENTRYPOINT ["/bin/registry", "serve"]' \
  --change 'CMD ["/etc/docker/registry/config.yml"]' \
  --change 'EXPOSE 5000/tcp' \
  --change 'VOLUME ["/var/lib/registry"]' \
  --message "registry:2 built offline from $BIN" \
  - "$REF"
