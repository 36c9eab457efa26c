# SPDX-License-Identifier: GPL-3.0-or-later
"""The group names the berth_containers inventory gives a container's image and labels."""
from __future__ import annotations

import pytest

from ansible_collections.berth.engine.plugins.inventory.berth_containers import image_group, label_group


@pytest.mark.parametrize(("reference", "group"), [
    ("docker.io/library/nginx:1.27", "image_nginx_1_27"),
    ("docker.io/bitnami/redis:7", "image_bitnami_redis_7"),
    ("127.0.0.1:5000/team/app:v2", "image_127_0_0_1_5000_team_app_v2"),
    ("quay.io/org/tool@sha256:abc", "image_quay_io_org_tool_sha256_abc"),
])
def test_image_group(reference: str, group: str) -> None:
    assert image_group(reference) == group


@pytest.mark.parametrize(("key", "value", "group"), [
    ("tier", "web", "label_tier_web"),
    ("com.example.role", "db-primary", "label_com_example_role_db_primary"),
    ("backup", "", "label_backup"),
])
def test_label_group(key: str, value: str, group: str) -> None:
    assert label_group(key, value) == group
