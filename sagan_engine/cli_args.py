"""Argument types and checks shared by the ``sagan-engine`` subcommands (see
:mod:`sagan_engine.cli`): the ``--run`` option, whole numbers, ``A,B`` pairs, and the class
a conditional model is asked for (``--class``, by name or index)."""

from __future__ import annotations

import argparse
import re
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


def add_class_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--class",
        dest="label",
        metavar="CLASS",
        help="class of a conditional model: its name (as `info` lists them) or its index",
    )


_NEGATIVE_PAIR = re.compile(r"^-\d+,\s*-?\d+$")  # "-1,5", "-3,-7"


def join_negative_pairs(argv: list[str]) -> list[str]:
    """``--query -1,5`` as ``--query=-1,5``. argparse takes a value that starts with "-" for
    an option unless it is a plain negative number, so a pair such as ``-1,5`` met "expected
    one argument" instead of the range check of its option; no option is named like one."""
    joined: list[str] = []
    for arg in argv:
        previous = joined[-1] if joined else ""
        if _NEGATIVE_PAIR.match(arg) and previous.startswith("--") and "=" not in previous:
            joined[-1] = f"{previous}={arg}"
        else:
            joined.append(arg)
    return joined


def class_labels(loaded: HasClasses, label: str | None, n: int) -> torch.Tensor | None:
    """The classes of ``n`` images: ``label`` (a class name or index) for all, checked against
    the model, every class in turn when none is given, None for an unconditional model (where
    --class is an error)."""
    classes = loaded.config.model.num_classes
    if not classes:
        if label is not None:
            raise SaganError("this model is unconditional: --class does not apply")
        return None
    if label is None:
        return torch.arange(n) % classes
    return torch.full((n,), class_index(loaded, label))


def class_index(loaded: HasClasses, label: str) -> int:
    """The index of class ``label`` of a conditional model: a class name (case does not
    matter where no other name differs only in case), else a whole number as an index. The
    name comes first: classes are folder names, and folders "1".."12" sort as 1, 10, 11, 12,
    2, ..., so "--class 2" means the folder named 2, not the third."""
    classes, names = loaded.config.model.num_classes, loaded.class_names
    index = _index_of_name(names, label.strip())
    problem = "is not a class name"
    if index is None:
        try:
            index = int(label)
            problem = "is out of range"
        except ValueError:
            pass
    if index is None or not 0 <= index < classes:
        listed = f" ({', '.join(names)})" if names else ""
        raise SaganError(
            f"--class {label} {problem}: this model has classes 0..{classes - 1}{listed}"
        )
    return index


def _index_of_name(names: list[str], name: str) -> int | None:
    if name in names:
        return names.index(name)
    folded = [i for i, known in enumerate(names) if known.casefold() == name.casefold()]
    return folded[0] if len(folded) == 1 else None


def class_label(loaded: HasClasses, label: str | None) -> int | None:
    """The class of one image: ``label`` checked, class 0 of a conditional model by default."""
    labels = class_labels(loaded, label, 1)
    return None if labels is None else int(labels[0])
