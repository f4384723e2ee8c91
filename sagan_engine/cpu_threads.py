"""How many CPU threads PyTorch's ops use on one thread of this process, without touching
the others.

``torch.set_num_threads`` is process-wide, but with the OpenMP backend (PyTorch's CPU wheels)
each Python thread that runs a parallel op gets an OpenMP team of its own, which lives as
long as the thread. The app trains on one thread and answers attention clicks on another;
after a single click the process held two teams of two threads on a 2-core machine. GNU
libgomp then counts more threads than cores and stops every team's workers spinning between
parallel regions, and training, which runs thousands of short parallel ops a second, ran
18% slower for the rest of the session (``benchmarks/gui_cost.py``). Giving the clicking
thread a team of one keeps the count at the number of cores.
"""

from __future__ import annotations

import ctypes
import functools
import os
from pathlib import Path

import torch

# Shared libraries that may hold the OpenMP runtime PyTorch was built with, and MKL (linked
# into libtorch_cpu in PyTorch's wheels, or a libmkl_rt of its own elsewhere).
_OPENMP_NAMES = ("libgomp", "libomp", "libiomp5")
_MKL_NAMES = ("libtorch_cpu", "libmkl_rt")


def uses_openmp() -> bool:
    """Whether PyTorch's intra-op parallelism runs on OpenMP here (the CPU wheels' default)."""
    return "parallel backend: OpenMP" in torch.__config__.parallel_info()


@functools.cache
def _loaded_libraries(prefixes: tuple[str, ...]) -> tuple[ctypes.CDLL, ...]:
    """The libraries loaded in this process whose file names start with ``prefixes``."""
    paths: list[str] = []
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            for line in maps:  # address perms offset device inode path (may hold spaces)
                fields = line.rstrip("\n").split(maxsplit=5)
                path = fields[5] if len(fields) == 6 else ""
                name = os.path.basename(path)
                if name.startswith(prefixes) and path not in paths:
                    paths.append(path)
    except OSError:  # not Linux: look beside PyTorch's own libraries
        lib = Path(torch.__file__).parent / "lib"
        paths = [str(p) for p in sorted(lib.glob("*")) if p.name.startswith(prefixes)]
    libraries = []
    for path in paths:
        try:
            libraries.append(ctypes.CDLL(path))  # already loaded: the same handle, no new copy
        except OSError:
            continue
    return tuple(libraries)


def set_threads_of_this_thread(count: int) -> int:
    """Run PyTorch's CPU ops on the calling thread with ``count`` threads, leaving every
    other thread's count alone. Returns the count now in force on this thread (unchanged
    where the runtime cannot be reached, e.g. another parallel backend)."""
    if count < 1:
        raise ValueError(f"thread count must be at least 1, got {count}")
    torch.get_num_threads()  # PyTorch's lazy per-thread set-up first, or it would undo ours
    if not uses_openmp():
        return torch.get_num_threads()
    _call_each("omp_set_num_threads", _OPENMP_NAMES, count)
    # MKL (bmm) asks OpenMP for its own team size once torch.set_num_threads has set MKL's
    # process-wide count; its thread-local setting takes precedence. The C name takes the
    # count by value (the lower-case one is Fortran's, by reference).
    _call_each("MKL_Set_Num_Threads_Local", _MKL_NAMES, count)
    return torch.get_num_threads()


def _call_each(function: str, prefixes: tuple[str, ...], count: int) -> None:
    for library in _loaded_libraries(prefixes):
        try:
            setter = getattr(library, function)
        except AttributeError:
            continue
        setter.restype = ctypes.c_int
        setter(ctypes.c_int(count))
