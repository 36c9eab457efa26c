# SPDX-License-Identifier: GPL-3.0-or-later
"""An attached run's output: pipes for stdout and stderr, drained while the run goes on."""
from __future__ import annotations

import os
import threading
import typing as t


def run_attached(call: t.Callable[[int, int], t.Any]) -> tuple[t.Any, str, str]:
    """``call(stdout_fd, stderr_fd)``'s result and what it wrote to each (decoded). The write ends are closed
    once it returns, so the readers see the end of the output."""
    r_out, w_out = os.pipe()
    r_err, w_err = os.pipe()
    chunks: dict[int, list[bytes]] = {r_out: [], r_err: []}

    def drain(fd: int) -> None:
        while True:
            data = os.read(fd, 65536)
            if not data:
                break
            chunks[fd].append(data)

    threads = [threading.Thread(target=drain, args=(fd,)) for fd in (r_out, r_err)]
    for th in threads:
        th.start()
    try:
        result = call(w_out, w_err)
    finally:
        os.close(w_out)
        os.close(w_err)
        for th in threads:
            th.join(10)
        os.close(r_out)
        os.close(r_err)
    return result, b"".join(chunks[r_out]).decode(), b"".join(chunks[r_err]).decode()
