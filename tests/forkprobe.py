"""A child for ``tests/test_forkserver.py``: says what it was given, then does
what its arguments tell it, as ``python -m tests.forkprobe <what>...``."""

from __future__ import annotations

import atexit
import os
import sys
import threading
import time
from pathlib import Path


def main(args: list[str]) -> None:
    print(f"pid={os.getpid()} cwd={os.getcwd()} probe={os.environ.get('PROBE')} args={args}")
    for arg in args:
        what, _, value = arg.partition("=")
        if what == "fd":  # write to a descriptor it was handed
            os.write(int(value), b"through the descriptor\n")
        elif what == "atexit":
            atexit.register(print, "atexit ran")
        elif what == "thread":  # a thread still at work when the module ends
            threading.Thread(target=_late_write, args=(Path(value),)).start()
        elif what == "spin":  # CPU, for its accounting
            until = time.process_time() + float(value)
            spent = time.process_time()
            while spent < until:  # busy on purpose: the test counts this CPU
                spent = time.process_time()
        elif what == "sleep":
            time.sleep(float(value))
        elif what == "raise":
            raise ValueError("the probe was told to fail")
        elif what == "exit":
            sys.exit(int(value))


def _late_write(path: Path) -> None:
    time.sleep(0.3)
    path.write_text("written after the module ended")


if __name__ == "__main__":
    main(sys.argv[1:])
