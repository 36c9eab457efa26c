# SPDX-License-Identifier: GPL-3.0-or-later
"""berth.engine.registry_login through ansible-playbook against a real docker-registry with htpasswd auth on
127.0.0.1: login in check mode, applied, again (not changed); a wrong password fails and stores nothing;
logout; and the password appears nowhere: not in ansible-playbook's output (-vvv), not in results, not in
any file others may read."""
from __future__ import annotations

import base64
import json
import os
import typing as t

import pytest

from tests.integration.test_image_module import assert_clean_failure, diff_of
from tests.support.registry import Registry

pytestmark = [pytest.mark.integration, pytest.mark.registry]

MODULE = "berth.engine.registry_login"
USER = "deployer"
PASSWORD = "Pw-4q7Zr9-never-printed"


@pytest.fixture(scope="module")
def private_registry() -> t.Iterator[Registry]:
    with Registry(htpasswd={USER: PASSWORD}) as reg:
        yield reg


def secrets_in_readable_files(top: str, inputs: t.Sequence[str] = (),
                              needles: t.Sequence[bytes] | None = None) -> list[str]:
    """Files under *top* that others may read and that hold the password (or other *needles*), plain or in
    base64, except the test's own *inputs* (the playbooks, where a real one would take the password from a
    vault)."""
    if needles is None:
        needles = [PASSWORD.encode(), base64.b64encode(f"{USER}:{PASSWORD}".encode())]
    found = []
    for dirpath, _dirs, files in os.walk(top):
        for name in files:
            path = os.path.join(dirpath, name)
            if path in inputs:
                continue
            try:
                if os.lstat(path).st_mode & 0o004 == 0:
                    continue
                with open(path, "rb") as fh:
                    data = fh.read()
            except OSError:
                continue
            if any(n in data for n in needles):
                found.append(path)
    return found


def test_login_idempotent_logout(run_playbook: t.Any, berth_defaults: dict[str, str],
                                 private_registry: Registry, tmp_path: t.Any) -> None:
    conf, defaults = berth_defaults["config_path"], berth_defaults
    host = private_registry.host
    auth = os.path.join(os.path.dirname(conf), "auth.json")
    login = {"registry_url": f"http://{host}/v2/", "username": USER, "password": PASSWORD}

    out = run_playbook([
        {"name": "wrong password", MODULE: dict(login, password="not-the-password"), "ignore_errors": True},
        {"name": "check", MODULE: login, "check_mode": True},
    ], diff=True, defaults=defaults, verbosity=3)
    assert_clean_failure(out["wrong password"], host, "rejected", USER)
    assert "not-the-password" not in json.dumps(out["wrong password"])
    assert out["check"]["changed"] and not os.path.exists(auth)  # check mode stores nothing, nor does a failure
    assert diff_of(out["check"]) == {"before": {"registry": host, "username": None},
                                     "after": {"registry": host, "username": USER}}
    texts = [out.stdout, out.stderr]

    out = run_playbook([
        {"name": "login", MODULE: login},
        {"name": "again", MODULE: login},
        {"name": "reauthorize", MODULE: dict(login, reauthorize=True)},
        {"name": "wrong password later", MODULE: dict(login, password="not-it-either"), "ignore_errors": True},
    ], diff=True, defaults=defaults, verbosity=3)
    assert out["login"]["changed"] and out["login"]["registry"] == host and out["login"]["username"] == USER
    assert out["login"]["actions"] == [f"Logged in to {host} as {USER}"]
    assert not out["again"]["changed"] and not out["reauthorize"]["changed"]
    assert_clean_failure(out["wrong password later"], "rejected")
    assert os.stat(auth).st_mode & 0o777 == 0o600
    with open(auth) as fh:
        stored = json.load(fh)["auths"]
    assert list(stored) == [host]  # the wrong password did not replace the good one
    assert base64.b64decode(stored[host]["auth"]).decode() == f"{USER}:{PASSWORD}"
    texts += [out.stdout, out.stderr]

    out = run_playbook([
        {"name": "logout check", MODULE: {"registry_url": host, "state": "absent"}, "check_mode": True},
        {"name": "logout", MODULE: {"registry_url": host, "state": "absent"}},
        {"name": "logout again", MODULE: {"registry_url": host, "state": "absent"}},
    ], diff=True, defaults=defaults, verbosity=3)
    assert out["logout check"]["changed"] and out["logout"]["changed"] and not out["logout again"]["changed"]
    assert diff_of(out["logout"]) == {"before": {"registry": host, "username": USER},
                                      "after": {"registry": host, "username": None}}
    with open(auth) as fh:
        assert json.load(fh)["auths"] == {}
    texts += [out.stdout, out.stderr]

    for text in texts:
        assert PASSWORD not in text
        assert base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode() not in text
    playbooks = [a for a in out.argv if a.endswith(".yml")]
    inputs = [os.path.join(os.path.dirname(playbooks[0]), f"play{n}.yml") for n in (1, 2, 3)]
    assert secrets_in_readable_files(str(tmp_path), inputs) == []  # Ansible's temp files, auth.json, the root
