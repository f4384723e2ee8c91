"""Argument types and checks shared by the ``sagan-engine`` subcommands (see
:mod:`sagan_engine.cli`): the ``--run`` option, whole numbers, ``A,B`` pairs, and the class
a conditional model is asked for."""

from __future__ import annotations

import argparse
from typing import Protocol

import torch

from .config import RunConfig
from .errors import SaganError


class HasClasses(Protocol):
    """A loaded generator, a snapshot replay...: anything with a run config and class names."""

    config: RunConfig
    class_names: list[str]


def add_run_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--run",
        required=True,
        metavar="RUN",
        help="run folder, .safetensors checkpoint, or 'demo' for the bundled demo model",
    )


def whole_number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


def positive_int(text: str) -> int:
    value = whole_number(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def int_pair(text: str, form: str) -> tuple[int, int]:
    """Two whole numbers written ``A,B``; ``form`` names them in the error, e.g. "ROW,COL"."""
    try:
        a, b = (int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {form}") from None
    return a, b


def class_labels(loaded: HasClasses, label: int | None, n: int) -> torch.Tensor | None:
    """The classes of ``n`` images: ``label`` for all (checked against the model), every class
    in turn when none is given, None for an unconditional model (where --class is an error)."""
    classes = loaded.config.model.num_classes
    if not classes:
        if label is not None:
            raise SaganError("this model is unconditional: --class does not apply")
        return None
    if label is None:
        return torch.arange(n) % classes
    if not 0 <= label < classes:
        raise SaganError(
            f"--class {label} is out of range: this model has classes "
            f"0..{classes - 1} ({', '.join(loaded.class_names)})"
        )
    return torch.full((n,), label)


def class_label(loaded: HasClasses, label: int | None) -> int | None:
    """The class of one image: ``label`` checked, class 0 of a conditional model by default."""
    labels = class_labels(loaded, label, 1)
    return None if labels is None else int(labels[0])
