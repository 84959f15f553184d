"""Process-level performance settings that the CLI applies once at start-up."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

_M_TRIM_THRESHOLD = -1
_M_TOP_PAD = -2
_M_MMAP_THRESHOLD = -3


def tune_allocator() -> bool:
    """Keep large tensors on glibc's heap instead of fresh mmaps (Linux only; opt out with
    TG3DFACE_NO_MALLOC_TUNING=1).

    By default glibc maps every allocation over 32 MB freshly and unmaps it when freed, so each big
    activation of a forward pass costs page faults: 20-25% of a 512 px render's time here went to the
    kernel. Raising the mmap and trim thresholds to 1 GB lets freed blocks be reused; the price is that
    up to about 1 GB of freed memory stays with the process. Returns whether the settings took effect.
    """
    if not sys.platform.startswith("linux") or os.environ.get("TG3DFACE_NO_MALLOC_TUNING"):
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        settings = ((_M_MMAP_THRESHOLD, 1 << 30), (_M_TRIM_THRESHOLD, 1 << 30), (_M_TOP_PAD, 1 << 28))
        return all(libc.mallopt(param, ctypes.c_int(value)) == 1 for param, value in settings)
    except (OSError, AttributeError):  # not glibc (e.g. musl has no mallopt)
        return False
