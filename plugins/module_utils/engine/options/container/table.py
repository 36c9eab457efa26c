# SPDX-License-Identifier: GPL-3.0-or-later
"""The container option table, :data:`CONTAINER_OPTIONS`, and the tables of the container modules.

Each row is a :class:`ContainerOption`: an :class:`~..model.Option` plus

* ``normaliser(value, field)``: the typed, canonical form (:mod:`.normalise`, :mod:`.process`,
  :mod:`.kernel`); a bad value raises ``InvalidOption`` naming the option;
* ``updatable``: the option can change on a running container (``ContainerService.update``) instead of
  recreating it;
* ``engine_default``: the normalised value in effect when nobody sets it;
* ``comparable``: whether idempotency compares it.

``CONTAINER_TASK_OPTIONS``, ``CONTAINER_INFO_OPTIONS`` and ``CONTAINER_EXEC_OPTIONS`` are what the
``container``, ``container_info`` and ``container_exec`` modules (and their argument specs) are made of.
"""
from __future__ import annotations

from ..common import ENGINE_OPTIONS
from ..model import Option, OptionTable
from .network import (
    dns_servers,
    etc_hosts,
    exposed_ports,
    mac_address,
    networks,
    published_ports,
    words,
)
from .kernel import (
    capabilities,
    cgroup_parent,
    cpus,
    cpuset,
    devices,
    ipc_mode,
    network_mode,
    pid_mode,
    pids_limit,
    security_opts,
    sysctls,
    tmpfs,
    ulimits,
    userns_mode,
    uts,
)
from .mounts import mounts, volumes, volumes_from
from .normalise import (
    DEFAULT_IPC_MODE,
    DEFAULT_SHM_SIZE,
    DEFAULT_STOP_TIMEOUT,
    MAX_CPU_QUOTA,
    UNSET_NETWORK_MODE,
    _bool,
    check_no_nul,
    command,
    int_range,
    size,
    size_or_unlimited,
    string_list,
)
from .process import (
    LOG_DRIVERS,
    RESTART_POLICIES,
    container_name,
    domainname,
    env,
    groups,
    healthcheck,
    hostname,
    image,
    labels,
    log_driver,
    log_options,
    restart_policy,
    runtime_name,
    secret_env,
    signal_name,
    user,
    working_dir,
)

TYPE_CHECKING = False
if TYPE_CHECKING:  # no typing at run time: ``berth run`` imports this table
    import typing as t

    from .normalise import Normaliser

STATES = ("absent", "present", "stopped", "started", "healthy")
PULL_POLICIES = ("always", "missing", "never")
#: community.docker's ``pull`` also takes booleans: true = always, false = missing.
PULL_CHOICES = PULL_POLICIES + (True, False)


class ContainerOption(Option):
    """A container option: an :class:`Option` plus normalisation and update semantics."""

    __slots__ = ("normaliser", "updatable", "engine_default", "comparable")
    _fields = Option._fields + __slots__
    _defaults = {**Option._defaults, "normaliser": None, "updatable": False, "engine_default": None,
                 "comparable": True}
    normaliser: Normaliser | None
    updatable: bool
    engine_default: t.Any
    #: False for options that are not container properties compared for idempotency
    #: (``name`` is the identity, ``image`` is compared by ID, ``env_file`` is folded into ``env``).
    comparable: bool

    def normalise(self, value: t.Any, field: str | None = None) -> t.Any:
        """The canonical form of *value* (``None`` stays ``None``: not specified).

        No string anywhere in *value* may hold a NUL byte: the kernel cuts strings there (execve, mount,
        sethostname), so what ran would not be what was asked for."""
        if value is None:
            return None
        field = field or self.name
        check_no_nul(value, field, secret=self.no_log)
        if self.normaliser is None:
            return value
        return self.normaliser(value, field)


def _opt(name: str, **kw: t.Any) -> ContainerOption:
    return ContainerOption(name, **kw)


CONTAINER_OPTIONS = OptionTable(
    options=(
        _opt("name", normaliser=container_name, comparable=False, doc="Name of the container."),
        _opt("image", normaliser=image, comparable=False, doc="Image to create the container from."),
        _opt("command", kind="raw", normaliser=command, comparison_type="list",
             doc="Command (arguments) to run; replaces the image's CMD."),
        _opt("entrypoint", kind="raw", normaliser=string_list, comparison_type="list",
             doc="Entrypoint; replaces the image's ENTRYPOINT and clears its CMD."),
        _opt("env", kind="dict", normaliser=env, comparison="strict",
             doc="Environment variables, merged over the image's ENV."),
        _opt("env_file", kind="path", comparable=False, doc="File of KEY=VALUE lines merged below env."),
        _opt("secret_env", kind="dict", no_log=True, normaliser=secret_env, comparison="strict", engine_default={},
             doc="Secret environment variables: given to the process only, compared by a salted hash."),
        _opt("user", normaliser=user, doc="User (and group) to run as."),
        _opt("working_dir", normaliser=working_dir, doc="Working directory of the process."),
        _opt("hostname", normaliser=hostname, doc="Host name of the container."),
        _opt("domainname", normaliser=domainname, engine_default="", doc="Domain name of the container."),
        _opt("labels", kind="dict", normaliser=labels, comparison="strict",
             doc="Labels, merged over the image's labels."),
        _opt("restart_policy", choices=RESTART_POLICIES, normaliser=restart_policy, updatable=True,
             engine_default="no", doc="When the monitor restarts the container."),
        _opt("restart_retries", kind="int", normaliser=int_range(0), updatable=True, engine_default=0,
             doc="Restart attempts with restart_policy=on-failure."),
        _opt("memory", normaliser=size, updatable=True, engine_default=0, doc="Memory limit."),
        _opt("memory_reservation", normaliser=size, updatable=True, engine_default=0,
             doc="Memory soft limit."),
        _opt("memory_swap", normaliser=size_or_unlimited, updatable=True, engine_default=0,
             doc="Memory plus swap limit."),
        _opt("cpus", kind="float", normaliser=cpus, updatable=True, engine_default=0, doc="CPU quota in CPUs."),
        _opt("cpu_shares", kind="int", normaliser=int_range(2, 262144, zero=True), updatable=True,
             engine_default=0, doc="Relative CPU weight."),
        _opt("cpu_period", kind="int", normaliser=int_range(1000, 1000000, zero=True), updatable=True,
             engine_default=0, doc="CFS period in microseconds."),
        _opt("cpu_quota", kind="int", normaliser=int_range(1000, MAX_CPU_QUOTA, zero=True), updatable=True,
             engine_default=0,
             doc="CFS quota in microseconds."),
        _opt("cpuset_cpus", normaliser=cpuset, updatable=True, engine_default="", doc="CPUs to run on."),
        _opt("cpuset_mems", normaliser=cpuset, updatable=True, engine_default="", doc="Memory nodes to use."),
        _opt("pids_limit", kind="int", normaliser=pids_limit, updatable=True,
             engine_default=0, doc="Maximum number of processes."),
        _opt("blkio_weight", kind="int", normaliser=int_range(10, 1000, zero=True), updatable=True,
             engine_default=0, doc="Relative block I/O weight."),
        _opt("cgroup_parent", normaliser=cgroup_parent, doc="Parent cgroup of the container's cgroup."),
        _opt("ulimits", kind="list", elements="str", normaliser=ulimits, comparison="strict",
             comparison_type="set(dict)", engine_default=[], doc="Resource limits, name:soft[:hard]."),
        _opt("sysctls", kind="dict", normaliser=sysctls, comparison="strict", engine_default={},
             doc="Namespaced kernel parameters."),
        _opt("capabilities", kind="list", elements="str", aliases=("cap_add",), normaliser=capabilities,
             comparison="strict", comparison_type="set", engine_default=[], doc="Capabilities to add."),
        _opt("cap_drop", kind="list", elements="str", normaliser=capabilities, comparison="strict",
             comparison_type="set", engine_default=[], doc="Capabilities to drop."),
        _opt("privileged", kind="bool", normaliser=_bool, engine_default=False, doc="Give extended privileges."),
        _opt("read_only", kind="bool", normaliser=_bool, engine_default=False,
             doc="Mount the root file system read-only."),
        _opt("shm_size", normaliser=lambda v, f: size(v, f) or DEFAULT_SHM_SIZE, engine_default=DEFAULT_SHM_SIZE,
             doc="Size of /dev/shm."),
        _opt("init", kind="bool", normaliser=_bool, engine_default=False,
             doc="Run an init process as PID 1 that forwards signals and reaps zombies."),
        _opt("stop_signal", normaliser=signal_name, doc="Signal that stops the container."),
        _opt("stop_timeout", kind="int", normaliser=int_range(-1), comparison="ignore",
             engine_default=DEFAULT_STOP_TIMEOUT, doc="Seconds to wait before killing on stop."),
        _opt("healthcheck", kind="dict", normaliser=healthcheck, doc="Health check, merged over the image's."),
        _opt("log_driver", choices=LOG_DRIVERS, normaliser=log_driver, engine_default="json-file",
             doc="Logging driver."),
        _opt("log_options", kind="dict", aliases=("log_opt",), normaliser=log_options, comparison="strict",
             engine_default={}, doc="Options of the logging driver."),
        _opt("runtime", normaliser=runtime_name, doc="OCI runtime to use."),
        _opt("auto_remove", kind="bool", normaliser=_bool, engine_default=False,
             doc="Remove the container when it exits."),
        _opt("security_opts", kind="list", elements="str", normaliser=security_opts, comparison="strict",
             comparison_type="dict", engine_default={}, doc="Security options."),
        _opt("network_mode", normaliser=network_mode, engine_default=UNSET_NETWORK_MODE, doc="Network mode."),
        _opt("networks", kind="list", elements="dict", normaliser=networks, comparison="allow_more_present",
             comparison_type="set(dict)", engine_default=[], doc="Networks to join, with aliases and address."),
        _opt("published_ports", kind="list", elements="str", aliases=("ports",), normaliser=published_ports,
             comparison="strict", comparison_type="set(dict)", engine_default=[],
             doc="Ports to publish, [[host_ip:][host_port]:]container_port[/protocol]."),
        _opt("publish_all_ports", kind="bool", normaliser=_bool, engine_default=False,
             doc="Publish every exposed port to a free host port."),
        _opt("exposed_ports", kind="list", elements="str", aliases=("exposed", "expose"),
             normaliser=exposed_ports, comparison="strict", comparison_type="set", engine_default=[],
             doc="Ports to expose besides the image's."),
        _opt("dns_servers", kind="list", elements="str", normaliser=dns_servers, comparison="strict",
             engine_default=[], doc="DNS servers of the container."),
        _opt("dns_search_domains", kind="list", elements="str", normaliser=words, comparison="strict",
             engine_default=[], doc="DNS search domains."),
        _opt("dns_opts", kind="list", elements="str", normaliser=words, comparison="strict",
             comparison_type="set", engine_default=[], doc="DNS resolver options."),
        _opt("etc_hosts", kind="dict", normaliser=etc_hosts, comparison="strict", engine_default={},
             doc="Extra /etc/hosts entries, name to address."),
        _opt("mac_address", normaliser=mac_address, doc="MAC address of the first network interface."),
        _opt("userns_mode", normaliser=userns_mode, engine_default="", doc="User namespace mode."),
        _opt("tty", kind="bool", normaliser=_bool, engine_default=False, doc="Allocate a pseudo-TTY."),
        _opt("interactive", kind="bool", normaliser=_bool, engine_default=False, doc="Keep stdin open."),
        _opt("devices", kind="list", elements="str", normaliser=devices, comparison="strict",
             comparison_type="set(dict)", engine_default=[], doc="Host devices to add."),
        _opt("tmpfs", kind="list", elements="str", normaliser=tmpfs, comparison="strict", comparison_type="dict",
             engine_default={}, doc="tmpfs mounts, /path[:options]."),
        _opt("volumes", kind="list", elements="str", normaliser=volumes, comparison="strict",
             comparison_type="set(dict)", engine_default=[],
             doc="Volumes and host paths to mount, [name|/host/path:]/path[:ro,nocopy,propagation]."),
        _opt("mounts", kind="list", elements="dict", normaliser=mounts, comparison="strict",
             comparison_type="set(dict)", engine_default=[], doc="Mounts of type volume, bind or tmpfs."),
        _opt("volumes_from", kind="list", elements="str", normaliser=volumes_from, comparison="strict",
             comparison_type="set", engine_default=[], doc="Containers whose mounts to mount too, name[:ro|rw]."),
        _opt("oom_killer", kind="bool", normaliser=_bool, engine_default=False,
             doc="Disable the OOM killer for the container."),
        _opt("oom_score_adj", kind="int", normaliser=int_range(-1000, 1000), engine_default=0,
             doc="OOM score adjustment."),
        _opt("ipc_mode", normaliser=ipc_mode, engine_default=DEFAULT_IPC_MODE, doc="IPC namespace mode."),
        _opt("pid_mode", normaliser=pid_mode, engine_default="", doc="PID namespace mode."),
        _opt("uts", normaliser=uts, engine_default="", doc="UTS namespace mode."),
        _opt("groups", kind="list", elements="str", normaliser=groups, comparison="strict", comparison_type="set",
             engine_default=[], doc="Supplementary groups."),
    )
)  # fmt: skip

#: The options ``ContainerService.update`` changes in place.
UPDATABLE = tuple(o.name for o in CONTAINER_OPTIONS if o.updatable)

#: Options whose effective value may come from the image config (Docker's merge rules).
IMAGE_INHERITED = ("command", "entrypoint", "env", "labels", "user", "working_dir", "stop_signal", "healthcheck")

# ---------------------------------------------------------------- the module tables
_TASK_OPTIONS = (
    Option("state", default="started", choices=STATES, doc="Desired state of the container."),
    Option("pull", kind="raw", default="missing", choices=PULL_CHOICES,
           doc="When to pull the image; true = always, false = missing (community.docker)."),
    Option("recreate", kind="bool", default=False, doc="Recreate even when nothing differs."),
    Option("restart", kind="bool", default=False, doc="Restart a running container (state started/healthy)."),
    Option("comparisons", kind="dict", doc="Per-option comparison modes (strict, ignore, allow_more_present)."),
    Option("force_kill", kind="bool", default=False, aliases=("forcekill",), doc="Kill instead of stopping."),
    Option("healthy_wait_timeout", kind="float", default=300.0, doc="Seconds state=healthy waits."),
    Option("detach", kind="bool", default=True, doc="Do not wait for the container to exit."),
    Option("keep_volumes", kind="bool", default=True,
           doc="Keep the container's anonymous volumes when it is removed (false: docker rm -v)."),
    Option("paused", kind="bool", doc="Whether a started container is paused."),
    Option("kill_signal", doc="Signal force_kill sends (default SIGKILL)."),
    Option("platform", doc="Platform of the image to pull and run, os[/arch[/variant]]."),
    # community.docker's switches: accepted, Berth behaves as the value says (or refuses it in the glue)
    Option("command_handling", choices=("compatibility", "correct"),
           doc="compatibility: a list command/entrypoint is joined and split again, as community.docker did."),
    Option("container_default_behavior", choices=("compatibility", "no_defaults"),
           doc="Accepted: Berth's unset options already compare as Docker's defaults."),
    Option("image_comparison", choices=("desired-image", "current-image"),
           doc="Berth compares with the image the task names (desired-image)."),
    Option("image_label_mismatch", choices=("ignore", "fail"),
           doc="Accepted: image labels are always kept below labels."),
    Option("image_name_mismatch", default="recreate", choices=("recreate", "ignore"),
           doc="Recreate when the image name differs but the ID is the same."),
    Option("networks_cli_compatible", kind="bool", doc="Accepted as true: networks work like docker run --network."),
    # community.docker options Berth does not have: refused, the message says what to use (COMPAT_REFUSED)
    Option("cgroupns_mode", choices=("host", "private"), doc="Refused: see COMPAT_REFUSED."),
    Option("memory_swappiness", kind="int", doc="Refused: see COMPAT_REFUSED."),
    Option("device_read_bps", kind="list", elements="dict", doc="Refused: see COMPAT_REFUSED."),
    Option("device_write_bps", kind="list", elements="dict", doc="Refused: see COMPAT_REFUSED."),
    Option("device_read_iops", kind="list", elements="dict", doc="Refused: see COMPAT_REFUSED."),
    Option("device_write_iops", kind="list", elements="dict", doc="Refused: see COMPAT_REFUSED."),
    Option("device_cgroup_rules", kind="list", elements="str", doc="Refused: see COMPAT_REFUSED."),
    Option("storage_opts", kind="dict", doc="Refused: see COMPAT_REFUSED."),
)

_THROTTLE = "block I/O throttling is not supported by Berth; use blkio_weight for a relative weight, or remove it"

#: community.docker.docker_container options (and values) Berth refuses, with what to use instead. A task
#: that sets one fails naming the option; docs/docsite/rst/migrating.rst lists the same.
COMPAT_REFUSED = {
    "cgroupns_mode": "a per-container cgroup namespace mode is not supported; set default-cgroupns-mode in the "
                     "daemon configuration (berth.engine.daemon_config) instead",
    "memory_swappiness": "a per-container swappiness is not supported (the host's vm.swappiness applies, as for "
                         "Docker on cgroup v2); remove it",
    "device_read_bps": _THROTTLE,
    "device_write_bps": _THROTTLE,
    "device_read_iops": _THROTTLE,
    "device_write_iops": _THROTTLE,
    "device_cgroup_rules": "device cgroup rules are not supported; add the host devices with devices (each gets "
                           "its rule) or use privileged",
    "storage_opts": "storage options (overlay size limits) are not supported by Berth's store; remove it",
    "image_comparison=current-image": "Berth compares with the image the task names (desired-image); relax single "
                                      "options with comparisons (e.g. env: allow_more_present) instead",
    "networks_cli_compatible=false": "Berth attaches networks like docker run --network "
                                     "(networks_cli_compatible=true); remove it",
}


def _required_name(table: OptionTable) -> tuple[Option, ...]:
    return tuple(o.replace(required=True) if o.name == "name" else o for o in table)


CONTAINER_TASK_OPTIONS = OptionTable(options=_required_name(CONTAINER_OPTIONS) + _TASK_OPTIONS + ENGINE_OPTIONS)

CONTAINER_INFO_OPTIONS = OptionTable(
    options=(Option("name", required=True, doc="Name or ID of the container to inspect."),) + ENGINE_OPTIONS
)

CONTAINER_EXEC_OPTIONS = OptionTable(
    options=(
        Option("container", required=True, doc="Name or ID of the running container."),
        Option("argv", kind="list", elements="str", doc="Command and arguments, not split further."),
        Option("command", doc="Command line, split like a shell would."),
        Option("chdir", doc="Working directory of the command."),
        Option("user", doc="User (and group) to run the command as."),
        Option("env", kind="dict", doc="Extra environment variables."),
        Option("tty", kind="bool", default=False, doc="Allocate a pseudo-TTY."),
        Option("privileged", kind="bool", default=False, doc="Run with all capabilities."),
        Option("detach", kind="bool", default=False, doc="Do not wait for the command."),
        Option("stdin", doc="Text sent to the command's standard input."),
        Option("stdin_add_newline", kind="bool", default=True, doc="Append a newline to stdin."),
        Option("strip_empty_ends", kind="bool", default=True, doc="Strip empty lines at the end of the output."),
    )
    + ENGINE_OPTIONS,
    mutually_exclusive=(("argv", "command"),),
    required_one_of=(("argv", "command"),),
)
