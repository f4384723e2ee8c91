"""Giving way mid-forward: long background work on a model (a row of images, a path strip)
stops between two of its layers as soon as something more urgent is waiting.

A forward pass cannot be cut short from outside, so a render queued behind one waits for the
whole pass. :func:`interruptible` asks ``should_stop`` before every submodule of the model
runs (every convolution, batch norm and attention layer: a few dozen checks per pass, each a
function call) and raises :class:`Interrupted` when it answers True; the caller drops or
requeues the work. Nothing the model holds changes mid-pass in eval mode, so an interrupted
pass leaves it as it was.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from torch import nn


class Interrupted(Exception):
    """The work was stopped between two layers because ``should_stop`` said so."""


@contextmanager
def interruptible(model: nn.Module, should_stop: Callable[[], bool]) -> Iterator[nn.Module]:
    """Inside the block, every forward of ``model`` or one of its submodules first calls
    ``should_stop()`` and raises :class:`Interrupted` if it returns True. The hooks are
    removed on leaving, whatever happens; only the calling thread should run ``model``."""

    def check(_module: nn.Module, _inputs: tuple) -> None:
        if should_stop():
            raise Interrupted("stopped between layers: more urgent work is waiting")

    handles = [module.register_forward_pre_hook(check) for module in model.modules()]
    try:
        yield model
    finally:
        for handle in handles:
            handle.remove()
