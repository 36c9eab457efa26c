# SPDX-License-Identifier: GPL-3.0-or-later
"""The data-root tree: one function per path, nothing else knows the layout.

::

    <root>/
      blobs/sha256/<hex>                 manifests, configs, indexes, layer blobs (verbatim, verified)
      layers/sha256/<diffid-hex>/diff/   an unpacked layer (an overlayfs lower dir)
      layers/sha256/<diffid-hex>/layer.json   {diff_id, size, ...}
      layers-remap/<mapping key>/<diffid-hex>/diff/   a layer with its owners shifted into a user
                                         namespace mapping (store/remap.py); + remap.json when complete
      images/sha256/<config-hex>.json    image record (manifest, layers, blob mapping)
      repositories.json                  tags and digests -> image IDs
      tmp/                               staging, named <kind>@<owner pid.start.boot>.<random>: removed once
                                         the owner is gone; partial-<algo>-<hex>: a download to resume
      locks/                             flock files
      containers/<id>/                   one container (see docs/dev/runtime-design.md)
      names/<name> -> ../containers/<id> container names (the symlink is the uniqueness check)
      volumes/<name>/volume.json         a volume's record (driver, options, labels, created)
      volumes/<name>/_data/              its content, mounted into containers (Docker's layout)
      volumes/<name>/copied-up           written once the first mount's copy-up is complete
      volumes/<name>/copying-up          a copy-up under way (or cut short: the next mount finishes it)
      runtime/                           the OCI runtime's state root
      lib/<hash>/berth_engine/           engine copies for monitors
      events.log                         the engine's event log (core/eventlog.py), root's, 0600
"""
from __future__ import annotations

import os

DEFAULT_ROOT = "/var/lib/berth"
DEFAULT_CONFIG = "/etc/berth/daemon.json"


class Layout:
    def __init__(self, root: str) -> None:
        self.root = os.path.abspath(root)

    # blobs -----------------------------------------------------------
    @property
    def blobs_dir(self) -> str:
        return os.path.join(self.root, "blobs", "sha256")

    def blob(self, digest: str) -> str:
        algo, hexpart = digest.split(":", 1)
        return os.path.join(self.root, "blobs", algo, hexpart)

    # layers ----------------------------------------------------------
    @property
    def layers_dir(self) -> str:
        return os.path.join(self.root, "layers", "sha256")

    def layer_dir(self, diff_id: str) -> str:
        return os.path.join(self.layers_dir, diff_id.split(":", 1)[1])

    def layer_diff(self, diff_id: str) -> str:
        return os.path.join(self.layer_dir(diff_id), "diff")

    def layer_meta(self, diff_id: str) -> str:
        return os.path.join(self.layer_dir(diff_id), "layer.json")

    # layers shifted into a user namespace mapping (store/remap.py) ---
    @property
    def remap_root(self) -> str:
        return os.path.join(self.root, "layers-remap")

    def remap_dir(self, key: str) -> str:
        """The remapped-layer cache of one mapping (``IdMapping.key``: ``<uid>.<gid>-…``)."""
        return os.path.join(self.remap_root, key)

    def remap_layer_dir(self, key: str, diff_id: str) -> str:
        return os.path.join(self.remap_dir(key), diff_id.split(":", 1)[1])

    def remap_layer_diff(self, key: str, diff_id: str) -> str:
        return os.path.join(self.remap_layer_dir(key, diff_id), "diff")

    def remap_layer_meta(self, key: str, diff_id: str) -> str:
        """Written last, inside the staging directory: a remapped layer without it is not complete."""
        return os.path.join(self.remap_layer_dir(key, diff_id), "remap.json")

    # images ----------------------------------------------------------
    @property
    def images_dir(self) -> str:
        return os.path.join(self.root, "images", "sha256")

    def image_record(self, image_id: str) -> str:
        return os.path.join(self.images_dir, image_id.split(":", 1)[1] + ".json")

    @property
    def repositories(self) -> str:
        return os.path.join(self.root, "repositories.json")

    # staging and locks -----------------------------------------------
    @property
    def tmp_dir(self) -> str:
        return os.path.join(self.root, "tmp")

    def partial_blob(self, digest: str) -> str:
        """A download cut short (the process was killed), kept for the next pull to resume with ``Range``;
        written only under the layer's lock (``object_lock``), removed by a prune."""
        return os.path.join(self.tmp_dir, "partial-" + digest.replace(":", "-"))

    @property
    def locks_dir(self) -> str:
        return os.path.join(self.root, "locks")

    @property
    def store_lock(self) -> str:
        """Exclusive while metadata (tags, image records) changes."""
        return os.path.join(self.locks_dir, "store.lock")

    @property
    def gc_lock(self) -> str:
        """Shared by every operation that adds content; exclusive for prune/remove."""
        return os.path.join(self.locks_dir, "gc.lock")

    def object_lock(self, kind: str, digest: str) -> str:
        """Per-object lock (``blob``/``layer``), so one download serves concurrent pulls."""
        return os.path.join(self.locks_dir, f"{kind}-{digest.split(':', 1)[-1]}.lock")

    # networks --------------------------------------------------------
    @property
    def networks_dir(self) -> str:
        """Network records (``<name>.json``), their lock, and the address book (``ipam/``)."""
        return os.path.join(self.root, "networks")

    # containers ------------------------------------------------------
    @property
    def containers_dir(self) -> str:
        return os.path.join(self.root, "containers")

    def container_dir(self, container_id: str) -> str:
        return os.path.join(self.containers_dir, container_id)

    def container_config(self, container_id: str) -> str:
        """The container record (desired options, image, created); see runtime-design.md."""
        return os.path.join(self.container_dir(container_id), "config.json")

    def container_state(self, container_id: str) -> str:
        return os.path.join(self.container_dir(container_id), "state.json")

    def bundle(self, container_id: str) -> str:
        return os.path.join(self.container_dir(container_id), "bundle")

    def rootfs(self, container_id: str) -> str:
        return os.path.join(self.container_dir(container_id), "rootfs")

    def upper(self, container_id: str) -> str:
        return os.path.join(self.container_dir(container_id), "upper")

    def work(self, container_id: str) -> str:
        return os.path.join(self.container_dir(container_id), "work")

    def container_file(self, container_id: str, name: str) -> str:
        """hostname, hosts, resolv.conf: engine-managed files bind-mounted into the container."""
        return os.path.join(self.container_dir(container_id), name)

    def container_log(self, container_id: str) -> str:
        return os.path.join(self.container_dir(container_id), f"{container_id}-json.log")

    def attach_socket(self, container_id: str) -> str:
        return os.path.join(self.container_dir(container_id), "monitor.sock")

    def container_lock(self, container_id: str) -> str:
        return os.path.join(self.locks_dir, f"container-{container_id}.lock")

    def start_lock(self, container_id: str) -> str:
        """Serialises the starts of one container; inside its directory, so it goes with it."""
        return os.path.join(self.container_dir(container_id), "start.lock")

    @property
    def names_dir(self) -> str:
        return os.path.join(self.root, "names")

    def name_link(self, name: str) -> str:
        return os.path.join(self.names_dir, name)

    # volumes ---------------------------------------------------------
    @property
    def volumes_dir(self) -> str:
        return os.path.join(self.root, "volumes")

    def volume_dir(self, name: str) -> str:
        return os.path.join(self.volumes_dir, name)

    def volume_data(self, name: str) -> str:
        """The volume's mountpoint: what containers see."""
        return os.path.join(self.volumes_dir, name, "_data")

    def volume_record(self, name: str) -> str:
        return os.path.join(self.volumes_dir, name, "volume.json")

    def volume_copied(self, name: str) -> str:
        """The copy-up marker: written after the first mount copied the image's content (or found none)."""
        return os.path.join(self.volumes_dir, name, "copied-up")

    def volume_copying(self, name: str) -> str:
        """Written before a copy-up moves anything into ``_data``: a copy-up cut short is finished by the next
        mount, not mistaken for content of the volume's own."""
        return os.path.join(self.volumes_dir, name, "copying-up")

    def volume_orphaned(self, name: str) -> str:
        """Written by the monitor of a ``--rm`` container, holding its ID, for each of its anonymous volumes just
        before it removes the container: once the container is gone, the volume component removes the volume
        at its next use unless another container mounts it."""
        return os.path.join(self.volumes_dir, name, "orphaned")

    def volume_lock(self, name: str) -> str:
        return os.path.join(self.locks_dir, f"volume-{name}.lock")

    def volume_use_lock(self, name: str) -> str:
        """Shared by each container create from ensuring the volume to writing its record; exclusive for a
        removal, which checks the users under it."""
        return os.path.join(self.locks_dir, f"volume-{name}.use.lock")

    @property
    def runtime_state_dir(self) -> str:
        """``--root`` of the OCI runtime (berth's own, runc or crun)."""
        return os.path.join(self.root, "runtime")

    @property
    def events_log(self) -> str:
        return os.path.join(self.root, "events.log")

    @property
    def lib_dir(self) -> str:
        """Copies of the engine package that monitors import (AnsiballZ payloads vanish)."""
        return os.path.join(self.root, "lib")

    @property
    def build_cache_dir(self) -> str:
        """The builder's step cache: one file per step key holding the image ID (remade by building)."""
        return os.path.join(self.root, "buildcache")

    def all_dirs(self) -> list[str]:
        return [self.blobs_dir, self.layers_dir, self.images_dir, self.tmp_dir, self.locks_dir]
