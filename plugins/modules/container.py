#!/usr/bin/python
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
module: container
short_description: Create, start, stop, update and remove containers with the Berth engine
version_added: 0.1.0
description:
  - Makes sure a container with a given name exists with the given configuration and is in the given state.
    No container daemon is involved; Berth runs containers itself.
  - Option names are those of M(community.docker.docker_container) wherever it has the option, so tasks
    migrate by changing the module name.
  - An existing container is compared with the task option by option, on normalised values
    (C(512m) and C(0.5g) are the same memory limit, capability and ulimit lists are sets), each side
    completed with the defaults of its own image, so a value inherited from the image is never a difference.
    Only options the task sets are compared.
  - Resource limits and the restart policy are changed in place on the running container; any other
    difference, or another image behind O(image), recreates the container (stop, remove, create).
author:
  - Berth developers (@berth-engine)
extends_documentation_fragment:
  - berth.engine.engine
  - berth.engine.attributes
  - berth.engine.attributes.actiongroup_berth
attributes:
  check_mode:
    support: full
    details:
      - Nothing is pulled, created, started, stopped or removed. A pull is predicted by asking the registry
        for the image ID behind the tag (no layers are downloaded). The predicted C(changed), C(actions)
        and C(diff) equal those of the real run.
  diff_mode:
    support: full
    details:
      - The diff shows, before and after, only what differs - the options (normalised, sets sorted),
        C(image) (the image ID), and C(exists), C(running), C(paused), C(restarted).
  idempotent:
    support: partial
    details:
      - Not idempotent with O(recreate=true) or O(restart=true).
      - With O(pull=always), a change is reported only when the registry has another image for the tag.
options:
  name:
    description:
      - Name of the container. It identifies the container across runs.
      - Container names are V([a-zA-Z0-9][a-zA-Z0-9_.-]+) and at most 255 characters long (a name is a file
        name in the data root).
    type: str
    required: true
  image:
    description:
      - Image reference (V(busybox), V(busybox:1.36), V(registry.example.com:5000/team/app@sha256:...)) or
        an image ID. A tag defaults to V(latest). An image given by ID is never pulled.
      - Required to create a container. When omitted, an existing container keeps its image and the image
        is not compared.
      - The container is recreated when the name points at another image ID than the container's, or when
        another image name is given (as community.docker's O(ignore:image_name_mismatch=recreate)).
    type: str
  command:
    description:
      - Command to run, replacing the image's C(CMD). A string is split like a shell would
        (community.docker's O(ignore:command_handling=correct)); a list is taken as it is.
      - An empty command means the image's C(CMD).
    type: raw
  entrypoint:
    description:
      - Entrypoint, replacing the image's C(ENTRYPOINT). As in Docker, setting it also clears the image's C(CMD)
        (use O(command) for the arguments). An empty string or list resets the entrypoint and keeps the C(CMD).
      - A string is split like a shell would.
    type: raw
  env:
    description:
      - Environment variables, merged over the image's C(ENV).
      - Values must be strings; quote values YAML would read as booleans or floats (V("true"), V("1.10")).
      - Compared V(strict) on the merged environment by default, so removing a variable recreates the container.
    type: dict
  env_file:
    description:
      - Path of a file on the target with C(KEY=VALUE) lines (Docker's C(--env-file) format, values taken
        literally, C(#) comments); a line with only C(KEY) takes the value from the environment of the task.
      - Read on every run and merged below O(env); changing its content recreates the container.
    type: path
  secret_env:
    description:
      - Secret environment variables (passwords, tokens, keys), set in the process's environment like O(env),
        over the image's C(ENV). This is the way to pass a password to a container; Docker and
        community.docker have no such option.
      - The values appear nowhere but in the container's process environment. Results, C(--diff), check mode,
        C(container_info), C(berth inspect) and error messages show a variable as C(NAME=********) in
        C(Config.Env) (as Docker would list it, with the value masked) and as V(********) in
        C(Berth.Desired.secret_env). The parameter is C(no_log).
      - On the target the engine keeps, per variable, a salted HMAC-SHA256 (random salt per container) in the
        container record, and the value only in the OCI bundle the runtime starts the process from (root-only,
        mode C(0600)); C(exec) and health checks run with the same environment.
      - Compared by that hash, V(strict) by default. The same values are no change; a changed value or an added
        or removed variable recreates the container, and the diff names the variable with
        V(******** (changed)) instead of its value.
      - A variable must not be in both O(env) (or O(env_file)) and O(secret_env).
      - Values must be strings or integers.
    type: dict
  user:
    description:
      - User to run as, V(name), V(uid), V(name:group) or V(uid:gid), resolved in the container's own
        C(/etc/passwd) and C(/etc/group). Numeric IDs need no entry there.
      - A name the image does not know fails the create (and check mode, when the image is present),
        not the first start.
    type: str
  working_dir:
    description:
      - Absolute working directory of the process. Defaults to the image's C(WORKDIR), or V(/).
    type: str
  hostname:
    description:
      - Host name of the container. Defaults to the first 12 characters of the container ID.
    type: str
  domainname:
    description:
      - Domain name of the container.
    type: str
  labels:
    description:
      - Labels, merged over the image's labels. Values must be strings.
    type: dict
  restart_policy:
    description:
      - When Berth restarts the container after it exits. V(on-failure) restarts after a non-zero exit
        (at most O(restart_retries) times when set). Changed in place.
    type: str
    choices: ["no", always, on-failure, unless-stopped]
  restart_retries:
    description:
      - Maximum number of restarts with O(restart_policy=on-failure). Changed in place.
    type: int
  memory:
    description:
      - Memory limit, a number with an optional unit C(b), C(k), C(m), C(g), C(t), C(p) (binary multiples,
        as Docker reads them), for example V(512m) or V(1.5g). V(0) means no limit; the minimum is C(6m).
      - Every size (this one, O(memory_reservation), O(memory_swap), O(shm_size), C(size=) of O(tmpfs),
        C(max-size) of O(log_options)) is at most 2^63-1 bytes, the kernel's limit.
      - Changed in place.
    type: str
  memory_reservation:
    description:
      - Memory soft limit, in the format of O(memory); the minimum is C(6m). Changed in place.
    type: str
  memory_swap:
    description:
      - Limit of memory plus swap, in the format of O(memory); V(-1) for unlimited swap. Needs O(memory).
        When not set, a container with O(memory) may use as much swap again (Docker's default).
      - Changed in place.
    type: str
  cpus:
    description:
      - Number of CPUs the container may use, for example V(1.5), from V(0.01) to the number of CPUs online
        on the host; V(0) means no limit. Changed in place.
      - Mutually exclusive with O(cpu_period) and O(cpu_quota).
    type: float
  cpu_shares:
    description:
      - Relative CPU weight (V(2) to V(262144); Docker's default weight is 1024). Changed in place.
    type: int
  cpu_period:
    description:
      - CFS period in microseconds (V(1000) to V(1000000)). Changed in place.
      - Mutually exclusive with O(cpus).
    type: int
  cpu_quota:
    description:
      - CFS quota in microseconds per O(cpu_period) (at least V(1000)). Changed in place.
      - Mutually exclusive with O(cpus).
    type: int
  cpuset_cpus:
    description:
      - CPUs the container may run on, for example V(0-3) or V(0,2). Changed in place.
      - Each CPU must be online on the host (C(/sys/devices/system/cpu/online)).
    type: str
  cpuset_mems:
    description:
      - Memory nodes the container may use, for example V(0). Changed in place.
      - Each node must be online on the host (C(/sys/devices/system/node/online); node V(0) without NUMA).
    type: str
  pids_limit:
    description:
      - Maximum number of processes, at most V(4194304) (the kernel's limit); V(0) or less means no limit.
        Changed in place.
    type: int
  blkio_weight:
    description:
      - Relative block I/O weight (V(10) to V(1000)). Changed in place.
      - Where the kernel has no block I/O weight (no CFQ/BFQ weights on cgroup v1, no C(io) controller on
        v2) the value is recorded but not applied, and the task warns, as Docker discards it.
    type: int
  cgroup_parent:
    description:
      - Parent cgroup of the container's cgroup. Defaults to C(/berth).
    type: str
  ulimits:
    description:
      - Resource limits as C(name:soft[:hard]) strings, for example V(nofile:1024:2048); V(-1) is unlimited.
        Limits not given are those of the task's process.
    type: list
    elements: str
  sysctls:
    description:
      - Namespaced kernel parameters (C(net.*), C(fs.mqueue.*), C(kernel.msg*), C(kernel.sem), C(kernel.shm*)).
    type: dict
  capabilities:
    description:
      - Capabilities to add to Docker's default set, for example V(NET_ADMIN) (with or without C(CAP_)), or V(ALL).
    type: list
    elements: str
    aliases: [cap_add]
  cap_drop:
    description:
      - Capabilities to drop from Docker's default set, or V(ALL).
    type: list
    elements: str
  privileged:
    description:
      - Give the container every capability and every host device, without seccomp filter nor masked paths.
    type: bool
  read_only:
    description:
      - Mount the container's root file system read-only.
    type: bool
  shm_size:
    description:
      - Size of C(/dev/shm), in the format of O(memory). Defaults to V(64m).
    type: str
  init:
    description:
      - Run an init process as PID 1 that forwards signals and reaps zombies (the host's static C(tini)).
    type: bool
  stop_signal:
    description:
      - Signal that stops the container, for example V(SIGTERM), V(TERM) or V(15). Defaults to the image's
        C(STOPSIGNAL), or C(SIGTERM).
    type: str
  stop_timeout:
    description:
      - Seconds to wait after the stop signal before killing the container (V(-1) waits forever). Defaults to 10.
      - Also used when this task stops the container. Not compared by default (as in community.docker).
    type: int
  healthcheck:
    description:
      - Health check, merged over the image's C(HEALTHCHECK). Keys C(test) (a shell command string, or a
        list starting with C(CMD), C(CMD-SHELL) or C(NONE); V(NONE) disables the image's check), C(interval),
        C(timeout), C(start_period), C(start_interval) (durations such as V(30s), V(1m30s), V(500ms)) and
        C(retries).
    type: dict
  log_driver:
    description:
      - Logging driver. V(json-file) keeps Docker's json-file logs; V(none) keeps no logs.
    type: str
    choices: [json-file, none]
  log_options:
    description:
      - Options of the V(json-file) driver, C(max-size) (in the format of O(memory)) and C(max-file).
    type: dict
    aliases: [log_opt]
  runtime:
    description:
      - OCI runtime, the name of an entry of C(runtimes) in the engine configuration. Defaults to Berth's own.
    type: str
  auto_remove:
    description:
      - Remove the container when it exits. Cannot be combined with a O(restart_policy) other than V(no).
    type: bool
  security_opts:
    description:
      - Security options, V(no-new-privileges[:true|false]), V(seccomp=unconfined), V(seccomp=/path/profile.json)
        (a file on the target, read on every run), V(systempaths=unconfined), V(apparmor=unconfined).
      - SELinux labels and AppArmor profiles are refused; Berth applies neither.
    type: list
    elements: str
  network_mode:
    description:
      - V(bridge) (the default network, interface C(berth0), what a container gets without this option, as in
        Docker), the name of a user-defined network, V(none) (a network namespace with only loopback),
        V(host), or V(container:<name>) (the other container's network namespace, C(/etc/hosts) and
        C(/etc/resolv.conf); it must run when this one starts).
    type: str
  networks:
    description:
      - Networks to join besides (or to give aliases and an address on) the O(network_mode) network; the
        first interface is C(eth0), the next C(eth1), and so on.
      - Containers on a user-defined network find each other by name, alias and hostname (Berth rewrites
        their C(/etc/hosts) as containers come and go); the default V(bridge) network does not do that.
      - "On an existing container, a changed list is applied in place by C(network connect) and C(network disconnect)
        (same container, not restarted), as community.docker does with O(networks_cli_compatible=true): a listed
        network it is not on is connected, one whose aliases or address differ is disconnected and connected again.
        Networks that are not listed stay connected unless O(comparisons) sets C(networks: strict). Changed aliases or
        address of the O(network_mode) network recreate the container."
    type: list
    elements: dict
    suboptions:
      name:
        description:
          - The network's name.
        type: str
        required: true
      aliases:
        description:
          - Other names of the container on this network.
        type: list
        elements: str
      ipv4_address:
        description:
          - The container's address on this network (else the first free one).
        type: str
  published_ports:
    description:
      - "Ports to publish, in every C(docker run -p) form: V(80), V(8080:80), V(127.0.0.1:8080:80),
        V(127.0.0.1::80), V(8000-8010:80-90), each with an optional V(/tcp) or V(/udp)."
      - A host port another container publishes or a process of the host listens on fails the task, naming it.
    type: list
    elements: str
    aliases:
      - ports
  publish_all_ports:
    description:
      - Publish every exposed port (the image's C(EXPOSE) and O(exposed_ports)) to a free host port.
    type: bool
  exposed_ports:
    description:
      - Ports to expose besides the image's, V(80) or V(53/udp) or a range V(8000-8010).
    type: list
    elements: str
    aliases:
      - exposed
      - expose
  dns_servers:
    description:
      - DNS servers of the container's C(/etc/resolv.conf); without them, the engine config's C(dns), else the
        host's (loopback resolvers left out on bridge networks).
    type: list
    elements: str
  dns_search_domains:
    description:
      - DNS search domains (V(.) for none).
    type: list
    elements: str
  dns_opts:
    description:
      - Resolver options, such as V(ndots:2).
    type: list
    elements: str
  etc_hosts:
    description:
      - Extra C(/etc/hosts) entries, host name to address (C(docker run --add-host)).
    type: dict
  mac_address:
    description:
      - The MAC address of C(eth0); else Docker's stable one made of the address (C(02:42:...)).
    type: str
  userns_mode:
    description:
      - User namespace of the container. Left out, it follows the engine configuration. With
        C(userns-remap) set in C(daemon.json) (V(default), a user, C(user:group), a uid or C(uid:gid), as
        Docker's) the container runs in a user namespace mapped to that account's ranges in
        C(/etc/subuid) and C(/etc/subgid), otherwise in the host's.
      - V(host) never remaps (Docker's C(--userns=host)); with remapping on, O(privileged),
        O(network_mode=host) and O(pid_mode=host) need it.
      - V(private) always remaps, with the C(userns-remap) ranges or, when that is not set, those of the
        default account C(berthremap) (created when missing).
      - Compared for idempotency as given; a change recreates the container.
    type: str
  tty:
    description:
      - Allocate a pseudo-TTY.
    type: bool
  interactive:
    description:
      - Keep standard input open.
    type: bool
  devices:
    description:
      - Host devices to add, C(host[:container[:permissions]]) with permissions from C(r), C(w), C(m),
        for example V(/dev/fuse) or V(/dev/sda:/dev/xvda:r).
    type: list
    elements: str
  tmpfs:
    description:
      - tmpfs mounts, C(/path[:options]) with tmpfs mount options, for example V(/run) or V(/tmp:size=64m,mode=1777).
    type: list
    elements: str
  volumes:
    description:
      - "Volumes and host directories to mount, C([SOURCE:]/path[:MODES]) as C(docker run -v) takes them:
        V(data:/srv) mounts the named volume C(data) (created when missing), V(/srv/conf:/etc/app:ro) binds a
        host directory (created when missing), a bare V(/cache) mounts a new anonymous volume."
      - MODES is a comma-separated list of V(ro) or V(rw), V(nocopy) (volumes), and a propagation mode (host
        directories) V(rprivate) (default), V(private), V(rshared), V(shared), V(rslave) or V(slave).
      - The first mount of an empty volume copies what the image has at that path into it (owners, modes and
        extended attributes), once; V(nocopy) skips that.
      - Trailing slashes, default modes and the order of the list do not make the container differ.
    type: list
    elements: str
  mounts:
    description:
      - Mounts in the C(docker run --mount) form, each a mapping with C(type) (V(volume), the default,
        V(bind) or V(tmpfs)), C(target) (the path in the container), C(source) (a volume name, empty for an
        anonymous volume; the host path of a bind, which must exist), C(read_only) (default V(false)).
      - "Volumes take C(volume_options): C(nocopy) (bool) and C(labels) (for a volume created by the mount);
        binds take C(propagation); tmpfs mounts take C(tmpfs_size) (for example V(64m)) and C(tmpfs_mode) (octal,
        default V(1777))."
      - No bind may cover the engine's data root.
    type: list
    elements: dict
  volumes_from:
    description:
      - Containers whose volumes and mounts this container mounts too, C(NAME[:ro|rw]) (default V(rw)).
    type: list
    elements: str
  oom_killer:
    description:
      - Whether to B(disable) the OOM killer for the container (the meaning community.docker gives this option).
    type: bool
  oom_score_adj:
    description:
      - OOM score adjustment of the container's processes (V(-1000) to V(1000)).
    type: int
  ipc_mode:
    description:
      - V(private) (the default), V(shareable), V(host), V(none) or V(container:<name>).
    type: str
  pid_mode:
    description:
      - V(host) or V(container:<name>); a private PID namespace when not set.
    type: str
  uts:
    description:
      - V(host) to share the host's UTS namespace (its host name); a private one when not set.
    type: str
  groups:
    description:
      - Supplementary groups (names from the container's C(/etc/group), or IDs).
    type: list
    elements: str
  state:
    description:
      - V(absent) stops and removes the container.
      - V(present) makes sure the container exists with the configuration; a new or recreated container is
        not started, an existing one is neither started nor stopped.
      - V(started) also makes sure it runs.
      - V(stopped) makes sure it exists and does not run.
      - V(healthy) makes sure it runs, then waits up to O(healthy_wait_timeout) for its health check to pass
        (a container without a health check counts as healthy once it runs).
    type: str
    choices: [absent, present, stopped, started, healthy]
    default: started
  pull:
    description:
      - V(missing) pulls O(image) only when it is not present; V(always) asks the registry on every run
        and recreates the container when the tag points at another image; V(never) fails when it is absent.
      - V(true) means V(always) and V(false) means V(missing), as in M(community.docker.docker_container).
    type: raw
    choices: [always, missing, never, true, false]
    default: missing
  platform:
    description:
      - Platform of the image, C(os[/arch[/variant]]), for example V(linux/arm64). A present image for another
        platform counts as missing, and the pull asks for this platform; a container whose image was for
        another platform is recreated (its image ID differs).
    type: str
  kill_signal:
    description:
      - The signal O(force_kill) sends, for example V(SIGINT); default V(SIGKILL). A container that survives it
        is killed with SIGKILL.
    type: str
  command_handling:
    description:
      - V(correct) (what Berth always does) keeps a list O(command) or O(entrypoint) as it is and splits a string
        like a shell would.
      - V(compatibility) joins a list with spaces and splits it again, as community.docker did before 3.0.0.
    type: str
    choices: [compatibility, correct]
  container_default_behavior:
    description:
      - Accepted for community.docker playbooks. Both values behave the same in Berth, because an option a
        task leaves out already compares as Docker's default value.
    type: str
    choices: [compatibility, no_defaults]
  image_comparison:
    description:
      - Berth compares with the image the task names, community.docker's V(desired-image).
        V(current-image) is refused; relax single options with O(comparisons) instead.
    type: str
    choices: [desired-image, current-image]
  image_label_mismatch:
    description:
      - Accepted for community.docker playbooks. The image's labels are always kept below O(labels) and the
        comparison uses the merged labels, so there is no mismatch to ignore or fail on.
    type: str
    choices: [ignore, fail]
  image_name_mismatch:
    description:
      - V(recreate) recreates the container when O(image) names the same image ID under another name than the
        container was created with; V(ignore) only compares the image ID. As in community.docker 4.0.0 and later.
    type: str
    choices: [recreate, ignore]
    default: recreate
  networks_cli_compatible:
    description:
      - Accepted as V(true), which is how Berth attaches networks (like C(docker run --network)).
        V(false) is refused.
    type: bool
  cgroupns_mode:
    description:
      - Refused, with a message; set C(default-cgroupns-mode) in the daemon configuration instead.
    type: str
    choices: [host, private]
  memory_swappiness:
    description:
      - Refused, with a message; the host's C(vm.swappiness) applies.
    type: int
  device_read_bps:
    description:
      - Refused, with a message; Berth has no block I/O throttling (use O(blkio_weight)).
    type: list
    elements: dict
  device_write_bps:
    description:
      - Refused, with a message; Berth has no block I/O throttling (use O(blkio_weight)).
    type: list
    elements: dict
  device_read_iops:
    description:
      - Refused, with a message; Berth has no block I/O throttling (use O(blkio_weight)).
    type: list
    elements: dict
  device_write_iops:
    description:
      - Refused, with a message; Berth has no block I/O throttling (use O(blkio_weight)).
    type: list
    elements: dict
  device_cgroup_rules:
    description:
      - Refused, with a message; add host devices with O(devices) or use O(privileged).
    type: list
    elements: str
  storage_opts:
    description:
      - Refused, with a message; Berth's overlay store has no per-container size limits.
    type: dict
  recreate:
    description:
      - Recreate the container even when nothing differs.
    type: bool
    default: false
  restart:
    description:
      - Restart a running container (with O(state=started) or O(state=healthy)) even when nothing differs.
    type: bool
    default: false
  comparisons:
    description:
      - How options are compared with the container, per option name (or alias) - V(strict) (equal),
        V(ignore) (never a difference), V(allow_more_present) (lists, sets and dictionaries only; the
        container may hold more than the task). The key V(*) sets V(strict) or V(ignore) for every option not
        named; the key V(image) with V(ignore) keeps a container on its image.
      - Defaults are V(strict) for every option (Berth compares its own records, with the image's defaults
        filled in, so nothing is added behind the task's back), and V(ignore) for O(stop_timeout).
    type: dict
  force_kill:
    description:
      - Kill the container instead of stopping it gracefully when it must stop.
    type: bool
    default: false
    aliases: [forcekill]
  healthy_wait_timeout:
    description:
      - Seconds O(state=healthy) waits for the health check to pass.
    type: float
    default: 300
  detach:
    description:
      - With V(false), a container started by the task is waited for; the task returns its exit status and
        output, and fails when the status is not 0.
    type: bool
    default: true
  paused:
    description:
      - With O(state=started) or O(state=healthy), whether the container is paused (its processes frozen).
    type: bool
  keep_volumes:
    description:
      - Whether the container's anonymous volumes stay when the task removes the container (O(state=absent) or a
        recreate). V(false) removes them with it, as C(docker rm -v) does; named volumes always stay.
    type: bool
    default: true
notes:
  - Bridge networking and published ports are not supported yet.
seealso:
  - module: berth.engine.container_info
  - module: berth.engine.container_exec
  - module: berth.engine.image
"""

EXAMPLES = r"""
- name: Run a web server
  berth.engine.container:
    name: web
    image: nginx:1.27
    memory: 256m
    cpus: 0.5
    restart_policy: unless-stopped
    env:
      TZ: Europe/Berlin

- name: Raise the memory limit of the running container (changed in place, same container)
  berth.engine.container:
    name: web
    image: nginx:1.27
    memory: 512m
    cpus: 0.5
    restart_policy: unless-stopped
    env:
      TZ: Europe/Berlin

- name: Keep a service on the newest image of its tag
  berth.engine.container:
    name: app
    image: registry.example.com:5000/team/app:stable
    pull: always
    command: ["serve", "--port", "8080"]
    network_mode: host
    healthcheck:
      test: ["CMD", "/app/healthcheck"]
      interval: 30s
      retries: 3
    state: healthy

- name: Pass the database password without it showing in results, diffs or the container's record
  berth.engine.container:
    name: app
    image: registry.example.com:5000/team/app:stable
    env:
      DB_USER: app
    secret_env:
      DB_PASSWORD: "{{ vault_db_password }}"

- name: Run a one-off job and get its output
  berth.engine.container:
    name: migrate
    image: registry.example.com:5000/team/app:stable
    command: migrate --all
    detach: false
    auto_remove: true

- name: Do not recreate for environment changes nor for a new image
  berth.engine.container:
    name: legacy
    image: busybox
    command: sleep infinity
    env:
      MODE: compat
    comparisons:
      env: allow_more_present
      image: ignore

- name: Stop the container
  berth.engine.container:
    name: web
    state: stopped

- name: Remove it
  berth.engine.container:
    name: web
    state: absent
"""

RETURN = r"""
container:
  description:
    - Inspection data of the container after the task (C(docker inspect) format), empty when it was removed
      or, in check mode, when it would be created.
  returned: always
  type: dict
  sample:
    Id: 0f3d6e1c8a2b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5
    Name: /web
    Image: sha256:3f57d9401f8d42f986df300f0c69192fc41da28ccc8d797829467780db3dd741
    State:
      Status: running
      Running: true
      Pid: 4242
actions:
  description:
    - What the task did, or would do in check mode, in order.
  returned: always
  type: list
  elements: str
  sample: ["Pulled image docker.io/library/nginx:1.27", "Created container web", "Started container web"]
status:
  description:
    - Exit status of the container, with O(detach=false).
  returned: when the task started the container with O(detach=false)
  type: int
  sample: 0
output:
  description:
    - Logs of the container, with O(detach=false).
  returned: when the task started the container with O(detach=false)
  type: str
  sample: "migrated 3 tables\n"
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.berth.engine.plugins.module_utils.engine.options.container import CONTAINER_TASK_OPTIONS
from ansible_collections.berth.engine.plugins.module_utils.glue.container_task import container
from ansible_collections.berth.engine.plugins.module_utils.glue.runner import run_task


def main() -> None:
    run_task(AnsibleModule, CONTAINER_TASK_OPTIONS, task=container)


if __name__ == "__main__":
    main()
