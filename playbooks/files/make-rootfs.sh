#!/bin/sh
# Build the demo's embedded default image: a busybox root filesystem tarball
# from Debian's busybox-static, fully offline. Usage: make-rootfs.sh OUT.tar
set -eu
out=$1
bb=$(command -v busybox || true)
[ -x /bin/busybox ] && bb=/bin/busybox
if [ -z "$bb" ] || ! "$bb" --list >/dev/null 2>&1; then
  echo "make-rootfs: busybox-static is not installed (apt-get install busybox-static)" >&2
  exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/bin" "$tmp/etc" "$tmp/tmp" "$tmp/root" "$tmp/proc" "$tmp/sys" "$tmp/dev"
chmod 1777 "$tmp/tmp"
cp "$bb" "$tmp/bin/busybox"
for applet in $("$tmp/bin/busybox" --list); do
  [ "$applet" = busybox ] || ln -s busybox "$tmp/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$tmp/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$tmp/etc/group"
# Fixed mtimes make the tarball, and so the image ID, reproducible.
find "$tmp" -exec touch -h -d @1700000000 {} +
tar --sort=name --numeric-owner --owner=0 --group=0 -C "$tmp" -cf "$out.tmp" .
mv "$out.tmp" "$out"
