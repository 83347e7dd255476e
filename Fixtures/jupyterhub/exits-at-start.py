"""A kernel that exits at once, silently, as every kernel did on 2017-03-23.

ipykernel up to 4.5.2 polled its parent and exited when `os.getppid() == 1`; with the
notebook server running as PID 1 in the pod, every new kernel exited on its first check,
before answering kernel_info, and the server stayed healthy. This stand-in exits the same
way wherever it runs. Started by a kernelspec: `python exits-at-start.py -f CONNECTION_FILE`.
"""

import sys

sys.exit(0)
