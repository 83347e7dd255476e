"""ipykernel with the parent poller it had up to 4.5.2.

Before ipykernel PR 233 (released in 4.6.0) the kernel polled os.getppid() and exited at
once, silently, when it was 1: the usual sign that its parent died and it was re-parented
to init. Under a parent that really is PID 1 (a notebook server that is a container's
PID 1) every kernel therefore exits on its first check. ipykernel 4.5.2 itself no longer
runs on Python 3.11 with current tornado, so this wraps a current IPKernelApp and puts the
old check back. Used by the "python3-2017" kernelspec that setup-venv.sh writes.
"""

import os
import sys
import time
from threading import Thread

from ipykernel.kernelapp import IPKernelApp


class ParentPollerUnix2017(Thread):
    """The 4.5.2 poller: no exemption for a parent that is PID 1."""

    def __init__(self):
        super().__init__(daemon=True)

    def run(self):
        while True:
            if os.getppid() == 1:
                os._exit(1)
            time.sleep(1.0)


class IPKernelApp2017(IPKernelApp):
    def init_poller(self):
        # 4.5.2 polled whenever a parent handle was given (jupyter_client always gives one);
        # current ipykernel skips polling when the handle is 1.
        if sys.platform != "win32" and self.parent_handle:
            self.poller = ParentPollerUnix2017()
        else:
            super().init_poller()


if __name__ == "__main__":
    IPKernelApp2017.launch_instance()
