#!/usr/bin/python
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
module: image
short_description: Pull, load, import and remove container images with the Berth engine
version_added: 0.1.0
description:
  - Makes sure an image is present in, or absent from, the local Berth image store, and optionally tags it
    and pushes it to a registry.
  - Images are pulled from an OCI/Docker registry, loaded from a C(docker save) or OCI archive, or
    imported from a root file system tarball; no container daemon is involved.
  - Changes are decided on image IDs, so re-running a task is reported as unchanged unless the image
    the name points at really changed.
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
      - Nothing is downloaded, uploaded or written. A pull is predicted by asking the registry for the manifest and
        image configuration (no layers); a load by reading the archive's manifests and configurations; an
        import by hashing the tarball; a push by asking the registry which manifest the tag has. The predicted
        C(changed) and C(diff) equal those of the real run.
  diff_mode:
    support: full
    details:
      - The diff shows the ID and tags of the image that O(name) points at, before and after.
  idempotent:
    support: full
    details:
      - With O(pull=always), a change is reported only when the registry has a different image for the tag.
      - With O(force=true), a load or import is reported as a change only when the store really changed.
      - With O(push=true), a push is reported as a change only when the registry's tag pointed at another
        manifest (or at none); blobs the registry has are never uploaded again.
options:
  name:
    description:
      - Image reference, for example V(busybox), V(busybox:1.36), V(registry.example.com:5000/team/app:1.0)
        or V(busybox@sha256:...). Names must be lowercase.
      - A tag or digest in O(name) takes precedence over O(tag).
      - With O(state=absent), a full image ID (V(sha256:...)) is accepted too.
    type: str
    required: true
  tag:
    description:
      - Tag used when O(name) carries neither a tag nor a digest.
    type: str
    default: latest
  state:
    description:
      - V(present) makes sure the image is in the local store, V(absent) removes the tag O(name)
        (and the image when that was its last reference).
    type: str
    choices: [present, absent]
    default: present
  source:
    description:
      - Where the image comes from when O(state=present).
      - V(pull) downloads it from its registry (see O(pull)).
      - V(load) loads O(load_path), a C(docker save) archive or an OCI image layout (tar or directory);
        the archive must contain O(name). It is loaded unless every image in it is already present with
        its tags.
      - V(import) creates a single-layer image named O(name) from the root file system tarball O(load_path).
        The tarball is hashed on every run, and imported again when the image it gives (its content,
        O(changes), O(platform), its path) differs from the image O(name) points at.
      - V(local) only makes sure the image is present already (community.docker); it fails when it is not.
      - V(build) builds the image from a Dockerfile as O(build) describes, with Berth's builder (C(berth build)),
        and tags it O(name). Every step is looked up in the step cache first; when the cache holds the whole
        build for these inputs (the Dockerfile, the content of the files COPY and ADD read, the build settings)
        and O(name) already points at that image, nothing runs and the task is not changed. Check mode walks the
        cache only, and reports a change when a step would run.
    type: str
    choices: [pull, load, import, local, build]
    default: pull
  pull:
    description:
      - With O(source=pull), when to contact the registry.
      - V(missing) pulls only when O(name) is not present locally (or not for O(platform)).
      - V(always) asks the registry every time and pulls when it has a different image for the tag
        (a present image named by digest is immutable and never asked for again).
      - V(never) never pulls, and fails when the image is not present.
      - A dictionary holds community.docker's pull settings; its only key is C(platform), and the policy
        is then V(missing). Its C(platform) and O(platform) must not differ.
    type: raw
    default: missing
  force:
    description:
      - With O(state=absent), remove the image even if other repositories or containers reference it
        (like C(docker rmi -f)).
      - With O(source=load) or O(source=import), load or import again even if the result is already
        present (the archive is read and verified again; the store only changes if something differs).
    type: bool
    default: false
  force_source:
    description:
      - community.docker's name for pulling, loading or importing again when the image is present.
        V(true) means O(pull=always) with O(source=pull), and O(force=true) with O(source=load) or O(source=import).
    type: bool
    default: false
  force_absent:
    description:
      - community.docker's name for O(force) with O(state=absent).
    type: bool
    default: false
  force_tag:
    description:
      - Accepted for community.docker playbooks. Berth always moves a tag to the image it pulls, loads or
        imports, and the O(repository) tag, which is what V(true) asks for.
    type: bool
    default: false
  load_path:
    description:
      - The archive to load (O(source=load)) or the root file system tarball to import (O(source=import)).
      - Required for those sources, refused with the others.
    type: path
  archive_path:
    description:
      - With O(state=present), save the image to this file once it is present, like C(docker save)
        (community.docker's meaning). The file is written again only when it does not already hold the
        image under O(name).
      - In earlier Berth releases this was the input of O(source=load) and O(source=import); such a task now fails
        with a message that asks for O(load_path).
    type: path
  changes:
    description:
      - Dockerfile instructions applied to the configuration of an imported image
        (C(CMD), C(ENTRYPOINT), C(ENV), C(EXPOSE), C(LABEL), C(USER), C(VOLUME), C(WORKDIR)),
        like C(docker import --change).
      - Only with O(source=import).
    type: list
    elements: str
  platform:
    description:
      - Platform to pull or to record on import, C(os[/arch[/variant]]), for example V(linux/arm64).
      - Defaults to the platform of the target. Without it, a single-platform image for another architecture is
        pulled with a warning (as docker does); with it, such an image fails the task.
    type: str
  repository:
    description:
      - With O(state=present), also tag the image as this repository, C(repository[:tag]) (community.docker's
        meaning); without a tag, O(tag) is used. The tag moves to this image when it named another one.
      - With O(push=true), this is the name the image is pushed as.
    type: str
  push:
    description:
      - With O(state=present), push the image to its registry once it is present, as O(repository) when given,
        else as O(name) (which must then name a tag, not a digest).
      - Only the blobs the registry lacks are uploaded (a blob another repository of the same registry has is
        mounted from it), up to C(max-concurrent-uploads) of daemon.json at a time; the manifest goes last.
      - The credentials are those of C(berth login) (C(auth.json) beside the engine configuration).
    type: bool
    default: false
  build:
    description:
      - With O(source=build), how to build the image. Refused with the other sources.
      - C(path) (required) is the build context, a directory, a tarball (plain or compressed) or a git URL
        (C(URL#ref:subdir)); C(dockerfile) the Dockerfile's path in it (default C(Dockerfile)).
      - C(args) are the build arguments (C(--build-arg)), C(labels) labels added to the image, C(target) the
        stage to build, C(no_cache) builds without the step cache (as O(force_source=true) does), C(pull)
        pulls the base images again, C(network) is the network mode of C(RUN) steps (by default the default
        bridge, as with C(docker build); V(none) for no network).
    type: dict
seealso:
  - module: berth.engine.image_info
"""

EXAMPLES = r"""
- name: Pull busybox (only when missing)
  berth.engine.image:
    name: busybox
    tag: "1.36"

- name: Keep an image up to date with its registry tag
  berth.engine.image:
    name: registry.example.com:5000/team/app:stable
    pull: always

- name: Load an image from a docker save archive
  berth.engine.image:
    name: app:1.0
    source: load
    load_path: /tmp/app.tar

- name: Import a root file system as an image
  berth.engine.image:
    name: rootfs/debian:bookworm
    source: import
    load_path: /srv/rootfs.tar.gz
    changes:
      - CMD ["/bin/bash"]
      - ENV LANG=C.UTF-8

- name: Tag a local image for a private registry and push it
  berth.engine.image:
    name: app:1.0
    source: local
    repository: 127.0.0.1:5000/team/app:1.0
    push: true

- name: Build an image from a Dockerfile (not changed while the Dockerfile and the files it copies are not)
  berth.engine.image:
    name: app:1.0
    source: build
    build:
      path: /srv/app
      args:
        VERSION: "1.0"
      labels:
        org.example.team: web

- name: Remove a tag (and the image when it was the last one)
  berth.engine.image:
    name: busybox:1.36
    state: absent

- name: Use another data root for every Berth task of a play
  hosts: all
  module_defaults:
    group/berth.engine.berth:
      data_root: /srv/berth
  tasks:
    - berth.engine.image:
        name: busybox
"""

RETURN = r"""
image:
  description:
    - Inspection data of the image O(name) points at after the task (C(docker image inspect) format).
    - Empty when the image is absent. In check mode, the image as it is before the task.
  returned: success
  type: dict
  sample:
    Id: sha256:3f57d9401f8d42f986df300f0c69192fc41da28ccc8d797829467780db3dd741
    RepoTags: ["busybox:latest"]
    RepoDigests: ["busybox@sha256:9ae97d36d26566ff84e8893c64a6dc4fe8ca6d1144bf5b87b2b85a32def253c7"]
    Architecture: amd64
    Os: linux
actions:
  description:
    - >-
      What the task did (in check mode, would do), for example C(Pulled image docker.io/library/busybox:latest),
      or the C(Untagged: ...) and C(Deleted: ...) lines of a removal.
  returned: success
  type: list
  elements: str
  sample: ["Pulled image docker.io/library/busybox:latest"]
push:
  description: What O(push=true) pushed. Not in check mode.
  returned: when O(push=true), except in check mode
  type: dict
  contains:
    name:
      description: The reference pushed.
      type: str
      returned: always
    digest:
      description: The digest of the manifest in the registry.
      type: str
      returned: always
    blobs:
      description:
        - One C([digest, how]) pair a blob, the configuration first; C(how) is C(exists) (the registry had
          it), C(mounted) (from another repository of the registry) or C(pushed).
      type: list
      elements: list
      returned: always
  sample:
    name: 127.0.0.1:5000/team/app:1.0
    digest: sha256:9ae97d36d26566ff84e8893c64a6dc4fe8ca6d1144bf5b87b2b85a32def253c7
    blobs: [["sha256:3f57d9401f8d42f986df300f0c69192fc41da28ccc8d797829467780db3dd741", "pushed"]]
diff:
  description: ID and tags of the image O(name) points at, before and after. Only in diff mode.
  returned: success and diff mode
  type: dict
  contains:
    before:
      description: C(id) (null when absent) and sorted C(repo_tags) before the task.
      type: dict
      returned: always
    after:
      description: C(id) and sorted C(repo_tags) after the task (predicted in check mode).
      type: dict
      returned: always
  sample:
    before: {id: null, repo_tags: []}
    after:
      id: sha256:3f57d9401f8d42f986df300f0c69192fc41da28ccc8d797829467780db3dd741
      repo_tags: ["busybox:latest"]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.berth.engine.plugins.module_utils.engine.options.image import IMAGE_OPTIONS
from ansible_collections.berth.engine.plugins.module_utils.glue.image_task import image
from ansible_collections.berth.engine.plugins.module_utils.glue.runner import run_task


def main() -> None:
    run_task(AnsibleModule, IMAGE_OPTIONS, task=image)


if __name__ == "__main__":
    main()
