# SPDX-License-Identifier: GPL-3.0-or-later
"""Tasks copied from community.docker's own documentation run on Berth after changing the module name.

The EXAMPLES of ``docker_container`` and ``docker_image`` (community.docker 5.3.0 dev, ac6ecb05) that need no
network, registry login or build, verbatim but for the module name, through ansible-playbook on localhost.
The images they name are loaded first from a local archive (busybox under each name). Examples using an
option Berth refuses must fail naming the option; the force_kill recreate of a restart=always container
(issue 13) must not time out.
"""
from __future__ import annotations

import os
import typing as t

import pytest
import yaml

from tests.support import images as test_images
from tests.support import require_tools, run

pytestmark = [pytest.mark.integration]

#: Examples of community.docker's docker_container and docker_image docs, module names changed only.
EXAMPLES = """
- name: Container present
  berth.engine.container:
    name: mycontainer
    state: present
    image: ubuntu:14.04
    command: sleep infinity

- name: Stop a container
  berth.engine.container:
    name: mycontainer
    state: stopped

- name: Start 4 load-balanced containers
  berth.engine.container:
    name: "container{{ item }}"
    recreate: true
    image: someuser/anotherappimage
    command: sleep 1d
  with_sequence: count=4

- name: Remove container
  berth.engine.container:
    name: ohno
    state: absent

- name: Start a container with a command
  berth.engine.container:
    name: sleepy
    image: ubuntu:14.04
    command: ["sleep", "infinity"]

- name: Create a container with limited capabilities
  berth.engine.container:
    name: sleepy
    image: ubuntu:16.04
    command: sleep infinity
    capabilities:
      - sys_time
    cap_drop:
      - all

- name: Finer container restart/update control II
  berth.engine.container:
    name: test
    image: ubuntu:18.04
    env:
      arg1: "true"
      arg2: "whatever"
    comparisons:
      '*': ignore # by default, ignore *all* options (including image)
      env: strict # except for environment variables; there, we want to be strict

- name: Start container with healthstatus
  berth.engine.container:
    name: nginx-proxy
    image: nginx:1.13
    state: started
    healthcheck:
      test: ["CMD", "curl", "--fail", "http://nginx.host.com"]
      interval: 1m30s
      timeout: 10s
      retries: 3
      start_period: 30s
      start_interval: 10s

- name: Remove healthcheck from container
  berth.engine.container:
    name: nginx-proxy
    image: nginx:1.13
    state: started
    healthcheck:
      test: ["NONE"]

- name: Start container with block device read limit
  berth.engine.container:
    name: test
    image: ubuntu:18.04
    state: started
    device_read_bps:
      - path: /dev/sda
        rate: 20M
    device_read_iops:
      - path: /dev/sdb
        rate: 300
  ignore_errors: true

- name: Start container with storage options
  berth.engine.container:
    name: test
    image: ubuntu:18.04
    state: started
    storage_opts:
      size: 12m
  ignore_errors: true

- name: Archive image
  berth.engine.image:
    name: registry.ansible.com/chouseknecht/sinatra
    tag: v1
    archive_path: my_sinatra.tar
    source: local

- name: Remove image
  berth.engine.image:
    state: absent
    name: registry.ansible.com/chouseknecht/sinatra
    tag: v1
"""

IMAGES = ["ubuntu:14.04", "ubuntu:16.04", "ubuntu:18.04", "someuser/anotherappimage:latest", "nginx:1.13",
          "registry.ansible.com/chouseknecht/sinatra:v1"]  # fmt: skip
CONTAINERS = ["mycontainer", "container1", "container2", "container3", "container4", "sleepy", "test",
              "nginx-proxy", "always"]  # fmt: skip


def test_community_docker_examples_run_unchanged(
    run_playbook: t.Callable[..., t.Any],
    berth_root: str,
    berth_config: t.Callable[..., str],
    busybox_layout: test_images.OciLayout,
    tmp_path: t.Any,
) -> None:
    require_tools("skopeo", why="making docker-archives")
    defaults = {"data_root": berth_root, "config_path": berth_config()}
    loads = []
    for i, name in enumerate(IMAGES):
        archive = str(tmp_path / f"image{i}.tar")
        run(["skopeo", "--insecure-policy", "copy", "--quiet", f"oci:{busybox_layout.path}:latest",
             f"docker-archive:{archive}:{name}"])
        loads.append({"name": f"load {name}", "berth.engine.image": {"name": name, "source": "load",
                                                                     "load_path": archive}})
    examples = yaml.safe_load(EXAMPLES)
    saved = str(tmp_path / "my_sinatra.tar")
    for task in examples:  # the one relative path: where the module runs, put under the test's directory
        if task["name"] == "Archive image":
            task["berth.engine.image"]["archive_path"] = saved
    force_kill = [
        {"name": "always", "berth.engine.container": {"name": "always", "image": "ubuntu:14.04",
                                                      "command": "sleep 3600", "restart_policy": "always"}},
        {"name": "recreate always with force_kill", "berth.engine.container": {
            "name": "always", "image": "ubuntu:14.04", "command": "sleep 3601", "restart_policy": "always",
            "force_kill": True}},
        {"name": "absent always with force_kill", "berth.engine.container": {
            "name": "always", "state": "absent", "force_kill": True}},
    ]  # fmt: skip
    cleanup = [{"name": f"cleanup {c}", "berth.engine.container": {"name": c, "state": "absent", "force_kill": True}}
               for c in CONTAINERS]
    res = run_playbook(loads + examples + force_kill + cleanup, defaults=defaults)

    for task in loads + examples + force_kill + cleanup:
        if not task.get("ignore_errors"):
            assert not res[task["name"]].get("failed"), (task["name"], res[task["name"]])
    assert res["Container present"]["changed"] is True
    assert res["Container present"]["container"]["State"]["Status"] == "created"
    assert res["Stop a container"]["container"]["State"]["Running"] is False
    assert [r["changed"] for r in res["Start 4 load-balanced containers"]["results"]] == [True] * 4
    assert res["Remove container"]["changed"] is False
    assert res["Create a container with limited capabilities"]["changed"] is True  # another image: recreated
    assert res["Remove healthcheck from container"]["changed"] is True
    for name, option in (("Start container with block device read limit", "device_read_bps"),
                         ("Start container with storage options", "storage_opts")):
        assert res[name].get("failed") is True and option in res[name]["msg"], res[name]
        assert "Traceback" not in res[name]["msg"]
    assert res["Archive image"]["changed"] is True and os.path.getsize(saved) > 0
    assert res["Remove image"]["changed"] is True
    assert res["recreate always with force_kill"]["changed"] is True
    assert res["absent always with force_kill"]["changed"] is True
