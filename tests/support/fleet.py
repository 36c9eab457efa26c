# SPDX-License-Identifier: GPL-3.0-or-later
"""A simulated fleet: N Linux "hosts" on this machine, each reached by Ansible over ssh.

    with Fleet(4, tmp_path / "fleet") as fleet:
        fleet.write_inventory(tmp_path / "hosts.ini")
        fleet.restart(fleet.hosts[2])          # ~0.4 s: the host's processes and containers die, its disk stays

Each host is a tree of namespaces started by ``unshare`` (util-linux): its own network namespace, joined to a
test bridge on this machine by a veth pair (``10.213.X.(10+i)/24``, the bridge is ``.1``; no default route:
nothing leaves the bridge), and its own mount, PID (``tini`` is PID 1, so every process and container of the host dies with
it), UTS (host name ``fleetN``), IPC and cgroup namespaces.  PID 1 runs an ``sshd`` (Debian's
openssh-server) that takes the fleet's key for root, and whose sessions get ``BERTH_ROOT``/``BERTH_CONFIG``.

A host's engine data root is its own directory on the real filesystem, bind-mounted onto itself and made
private inside the host's mount namespace: overlayfs refuses an upper directory on an overlay root, and the
container mounts stay in the host's namespace (they vanish with it).  ``/run`` is a fresh tmpfs per host.

Nothing is left behind by :meth:`Fleet.close`: the hosts' namespaces (and with them the veths, mounts and
processes), the cgroups their containers made, the bridge, the directories.

Needs root, ``unshare``, ``nsenter``, ``ip``, ``tini``, ``sshd``, ``ssh-keygen``.
"""
from __future__ import annotations

import dataclasses
import json
import os
import shlex
import signal
import socket
import subprocess
import time

from . import REPO, require_tools
from .cleanup import remove_tree

TOOLS = ("unshare", "nsenter", "ip", "tini", "sshd", "ssh-keygen", "ssh")
#: Where the hierarchies of this machine's cgroups are mounted (v1 controllers, the v2 tree, or both).
CGROUP_TOP = "/sys/fs/cgroup"

#: PID 1 of a host, after the namespaces exist: name the host, give it its own /run, make its data root a
#: private bind of itself, then become sshd (tini stays PID 1 and reaps what sshd and berth leave).
_HOST_INIT = r"""
set -e
hostname "$FLEET_NAME"
mount --make-rprivate /
mount -t tmpfs -o mode=755 tmpfs /run
mkdir -p /run/sshd
mount --bind "$FLEET_DATA" "$FLEET_DATA"
mount --make-private "$FLEET_DATA"
exec /usr/sbin/sshd -D -e -f "$FLEET_SSHD_CONFIG"
"""


@dataclasses.dataclass
class FleetHost:
    index: int
    name: str
    address: str
    directory: str
    proc: subprocess.Popen[bytes] | None = None

    @property
    def data_root(self) -> str:
        return os.path.join(self.directory, "data")

    @property
    def config_path(self) -> str:
        return os.path.join(self.directory, "etc", "daemon.json")

    @property
    def log(self) -> str:
        return os.path.join(self.directory, "sshd.log")

    @property
    def pid(self) -> int:
        """The pid (in this machine's PID namespace) of ``unshare``, a member of every namespace but PID."""
        if self.proc is None:
            raise RuntimeError(f"{self.name} is not running")
        return self.proc.pid

    @property
    def up(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


class Fleet:
    """*n* hosts below *directory* (created; removed by :meth:`close`)."""

    def __init__(self, n: int, directory: str | os.PathLike[str], boot_timeout: float = 30.0) -> None:
        require_tools(*TOOLS, why="the simulated fleet")
        if not 1 <= n <= 200:
            raise ValueError(f"n: {n} hosts; 1 to 200")
        self.directory = os.fspath(directory)
        self.boot_timeout = boot_timeout
        tag = os.getpid() % 100000
        self.bridge = f"bfl{tag}"
        net = 10 + tag % 240
        self.gateway = f"10.213.{net}.1"
        self.prefix = 24
        self.key = os.path.join(self.directory, "ssh", "id_ed25519")
        self.hosts = [FleetHost(i, f"fleet{i}", f"10.213.{net}.{10 + i}", os.path.join(self.directory, f"fleet{i}"))
                      for i in range(n)]
        self._bridge_made = False

    # -- life cycle ------------------------------------------------------------------------------------
    def __enter__(self) -> Fleet:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        """Boot every host; when this raises, :meth:`close` still removes what was made."""
        os.makedirs(os.path.join(self.directory, "ssh"))
        self._run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "berth-fleet", "-f", self.key)
        self._run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", os.path.join(self.directory, "ssh", "host"))
        with open(self.key + ".pub", encoding="ascii") as src, open(
                os.path.join(self.directory, "ssh", "authorized_keys"), "w", encoding="ascii") as dst:
            dst.write(src.read())
        self._run("ip", "link", "add", self.bridge, "type", "bridge")
        self._bridge_made = True
        self._run("ip", "addr", "add", f"{self.gateway}/{self.prefix}", "dev", self.bridge)
        self._run("ip", "link", "set", self.bridge, "up")
        for host in self.hosts:
            self._prepare(host)
        for host in self.hosts:  # all start at once; each is waited for below
            self._spawn(host)
        for host in self.hosts:
            self._wire(host)
        for host in self.hosts:
            self._wait_ssh(host)

    def close(self) -> None:
        self._stop_ssh_masters()
        for host in self.hosts:
            self.stop(host)
        for host in self.hosts:
            self._remove_cgroups(host)
        if self._bridge_made:
            subprocess.run(["ip", "link", "del", self.bridge], capture_output=True, check=False)
            self._bridge_made = False
        remove_tree(self.directory)

    def stop(self, host: FleetHost) -> None:
        """Power off: SIGKILL to the host's namespaces; its processes and containers die, its disk stays."""
        if host.proc is None:
            return
        init = _children(host.proc.pid)
        if host.proc.poll() is None:
            host.proc.send_signal(signal.SIGKILL)  # unshare --kill-child: PID 1 follows, then the whole PID ns
        host.proc.wait()
        host.proc = None
        for pid in init:  # PID 1 exits once every process of its namespace is gone
            _wait_exit(pid, self.boot_timeout)
        # the kernel frees a dead network namespace (and the veth in it) lazily, seconds later: delete our end
        # (the pair goes with it) until it is gone, so that a reboot can make it again
        outside = f"{self.bridge}h{host.index}"
        deadline = time.monotonic() + self.boot_timeout
        while os.path.exists(f"/sys/class/net/{outside}"):
            subprocess.run(["ip", "link", "del", outside], capture_output=True, check=False)
            if time.monotonic() > deadline:
                raise RuntimeError(f"{host.name}: {outside} is still there after {self.boot_timeout}s")
            time.sleep(0.02)

    def boot(self, host: FleetHost) -> None:
        self._spawn(host)
        self._wire(host)
        self._wait_ssh(host)

    def restart(self, host: FleetHost) -> None:
        self.stop(host)
        self.boot(host)

    # -- one host --------------------------------------------------------------------------------------
    def _prepare(self, host: FleetHost) -> None:
        for sub in ("data", "etc", "tmp"):
            os.makedirs(os.path.join(host.directory, sub), mode=0o700)
        with open(host.config_path, "w", encoding="utf-8") as fh:
            json.dump({"data-root": host.data_root}, fh)
        ssh = os.path.join(self.directory, "ssh")
        with open(os.path.join(host.directory, "sshd_config"), "w", encoding="utf-8") as fh:
            fh.write("\n".join([
                "ListenAddress 0.0.0.0",
                f"HostKey {ssh}/host",
                f"AuthorizedKeysFile {ssh}/authorized_keys",
                "PermitRootLogin prohibit-password",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "UsePAM no",
                "StrictModes no",
                "PidFile none",
                "MaxStartups 100",
                "MaxSessions 100",
                f"SetEnv BERTH_ROOT={host.data_root} BERTH_CONFIG={host.config_path}",
                "Subsystem sftp internal-sftp",
                "",
            ]))

    def _spawn(self, host: FleetHost) -> None:
        env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "FLEET_NAME": host.name,
               "FLEET_DATA": host.data_root, "FLEET_SSHD_CONFIG": os.path.join(host.directory, "sshd_config")}
        argv = ["unshare", "--net", "--mount", "--pid", "--uts", "--ipc", "--cgroup", "--fork", "--mount-proc",
                "--kill-child", "tini", "-s", "--", "sh", "-c", _HOST_INIT]
        log = open(host.log, "ab")  # noqa: SIM115  # the child holds it; ours closes below
        try:
            host.proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         start_new_session=True)
        finally:
            log.close()

    def _wire(self, host: FleetHost) -> None:
        """A veth pair: one end on the bridge, the other moved into the host's netns as eth0, addressed."""
        outside = f"{self.bridge}h{host.index}"
        # the same MAC at every boot: this machine's neighbour cache still holds the last one after a restart
        mac = "02:42:" + ":".join(f"{int(o):02x}" for o in host.address.split("."))
        add = ["ip", "link", "add", outside, "type", "veth", "peer", "name", "eth0", "address", mac,
               "netns", str(host.pid)]
        deadline = time.monotonic() + self.boot_timeout
        while True:  # the name stays taken a while after the last boot's namespace died ("File exists")
            proc = subprocess.run(add, capture_output=True, check=False)
            if proc.returncode == 0:
                break
            if b"File exists" not in proc.stderr or time.monotonic() > deadline:
                raise RuntimeError(f"{' '.join(add)} -> {proc.returncode}: {proc.stderr.decode(errors='replace')}")
            subprocess.run(["ip", "link", "del", outside], capture_output=True, check=False)
            time.sleep(0.02)
        self._run("ip", "link", "set", outside, "master", self.bridge, "up")
        batch = "\n".join(["link set lo up", f"addr add {host.address}/{self.prefix} dev eth0",
                           "link set eth0 up", ""])  # no default route: nothing leaves the bridge
        self._run("nsenter", f"--net=/proc/{host.pid}/ns/net", "ip", "-batch", "-", input=batch.encode())

    def _wait_ssh(self, host: FleetHost) -> None:
        """Until the host's sshd answers with its banner (an event, bounded by boot_timeout)."""
        deadline = time.monotonic() + self.boot_timeout
        while True:
            if not host.up:
                raise RuntimeError(f"{host.name} died while booting:\n{self._log_tail(host)}")
            try:
                with socket.create_connection((host.address, 22), timeout=1) as sock:
                    if sock.recv(64).startswith(b"SSH-"):
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{host.name}: no sshd on {host.address}:22 after {self.boot_timeout}s:\n"
                                   f"{self._log_tail(host)}")
            time.sleep(0.02)

    def _stop_ssh_masters(self) -> None:
        """Ansible's persistent ssh connections to the hosts (their sockets in the fleet's control path
        directory, see :meth:`inventory`) would outlive the hosts by ControlPersist's 60 s."""
        control = os.path.join(self.directory, "cp")
        for sock in (os.listdir(control) if os.path.isdir(control) else []):
            subprocess.run(["ssh", "-o", f"ControlPath={os.path.join(control, sock)}", "-O", "exit", "fleet"],
                           capture_output=True, timeout=30, check=False)

    def _remove_cgroups(self, host: FleetHost) -> None:
        """The cgroups of the host's containers (``<hierarchy>/berth/<id>``): nobody removed them, the host
        was powered off. Deepest first, once their processes are gone."""
        containers = os.path.join(host.data_root, "containers")
        ids = os.listdir(containers) if os.path.isdir(containers) else []
        for hierarchy in _cgroup_hierarchies():
            for cid in ids:
                top = os.path.join(hierarchy, "berth", cid)
                if os.path.isdir(top):
                    _rmdir_tree(top)

    # -- for tests -------------------------------------------------------------------------------------
    def ssh_argv(self, host: FleetHost, command: str) -> list[str]:
        return ["ssh", *self.ssh_options(), f"root@{host.address}", command]

    def ssh_options(self) -> list[str]:
        return ["-i", self.key, "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
                "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"]

    def ssh(self, host: FleetHost, command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(self.ssh_argv(host, command), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, timeout=120, check=False)
        if check and proc.returncode != 0:
            raise RuntimeError(f"{host.name}: {command} -> {proc.returncode}\n{proc.stderr}")
        return proc

    def inventory(self, group: str = "fleet") -> str:
        """An INI inventory: every host in *group*, reached as root over ssh with the fleet's key, with
        ``berth_data_root``/``berth_config_path`` (for ``module_defaults``) and ``berth_command`` (this
        checkout's CLI, for the connection plugin's ``ansible_berth_command``). Ansible's ssh control sockets go
        to the fleet's directory, so that :meth:`close` ends their masters; modules are pipelined."""
        common = " ".join(shlex.quote(o) for o in self.ssh_options()[2:])
        lines = [f"[{group}]"]
        for h in self.hosts:
            lines.append(f"{h.name} ansible_host={h.address} berth_data_root={h.data_root} "
                         f"berth_config_path={h.config_path} ansible_remote_tmp={h.directory}/tmp")
        lines += ["", f"[{group}:vars]", "ansible_user=root", f"ansible_ssh_private_key_file={self.key}",
                  f"ansible_ssh_common_args='{common}'", "ansible_python_interpreter=/usr/bin/python3",
                  f"ansible_control_path_dir={os.path.join(self.directory, 'cp')}", "ansible_pipelining=true",
                  f"berth_command={os.path.join(REPO, 'bin', 'berth')}", ""]
        return "\n".join(lines)

    def write_inventory(self, path: str | os.PathLike[str], group: str = "fleet") -> str:
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(self.inventory(group))
        return os.fspath(path)

    # -- helpers ---------------------------------------------------------------------------------------
    @staticmethod
    def _run(*argv: str, input: bytes | None = None) -> None:
        proc = subprocess.run(list(argv), input=input, capture_output=True, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} -> {proc.returncode}: {proc.stderr.decode(errors='replace')}")

    @staticmethod
    def _log_tail(host: FleetHost) -> str:
        try:
            with open(host.log, encoding="utf-8", errors="replace") as fh:
                return fh.read()[-2000:]
        except OSError:
            return ""


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as fh:
            return [int(p) for p in fh.read().split()]
    except OSError:
        return []


def _wait_exit(pid: int, timeout: float) -> None:
    """Until *pid* (not our child: we cannot wait(2) for it) is gone, bounded by *timeout*."""
    deadline = time.monotonic() + timeout
    while os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
                if fh.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return  # exited; its parent (unshare, gone) left the reaping to init
        except OSError:
            return
        time.sleep(0.01)


def _cgroup_hierarchies() -> list[str]:
    """Mount points of this machine's cgroup hierarchies (v1 and v2) under CGROUP_TOP."""
    out = []
    with open("/proc/self/mountinfo", encoding="utf-8") as fh:
        for line in fh:
            fields = line.split()
            fstype = fields[fields.index("-") + 1]
            if fstype in ("cgroup", "cgroup2") and fields[4].startswith(CGROUP_TOP):
                out.append(fields[4])
    return out


def _rmdir_tree(top: str, timeout: float = 10.0) -> None:
    """rmdir a cgroup and its children, deepest first, retrying while its dying processes leave (EBUSY)."""
    deadline = time.monotonic() + timeout
    for dirpath, _dirs, _files in sorted(os.walk(top), key=lambda e: e[0].count("/"), reverse=True):
        while True:
            try:
                os.rmdir(dirpath)
                break
            except FileNotFoundError:
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
