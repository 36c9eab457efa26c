# SPDX-License-Identifier: GPL-3.0-or-later
"""OCI distribution client: yields verified manifests and blob streams, never writes the store.

* ``transport``: HTTP(S) over ``requests`` per Docker's TLS rules (verify by default, ``certs.d``,
  ``insecure-registries``), proxies as dockerd honours them, redirects.
* ``auth``: credentials file (docker ``config.json`` format, 0600) and Bearer/Basic challenges.
* ``client``: ``RegistryClient`` (manifests, blobs, resumable streams, mirrors, retries).

Import the submodule you need; this package imports nothing so the module path stays light.
"""
from __future__ import annotations

import typing as t  # noqa: F401  (house style: every file imports typing as t)
