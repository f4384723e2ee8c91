"""Command line: ``python -m sagan_engine train|sample|attention|info|export|bench``.

Every user error prints one line (``error: ...``) and exits with status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from pathlib import Path

from . import __version__
from .cli_ablate import add_ablate_argument, attention_ablation
from .cli_args import (
    add_class_argument,
    add_run_argument,
    class_label,
    class_labels,
    int_pair,
    join_negative_pairs,
    positive_int,
)
from .cli_evaluate import add_parser as add_evaluate_parser
from .cli_interpolate import add_parser as add_interpolate_parser
from .cli_interpolate import add_truncation_arguments, truncation_of
from .cli_over_training import (
    add_over_training_argument,
    add_timelapse_parser,
    attention_over_training,
)
from .cli_prepare import add_parser as add_prepare_parser
from .cli_terminal import ProgressLine, stop_on_signals
from .config import PRESETS, RunConfig, preset
from .errors import SaganError
from .plurals import counted
from .runs import RunFolder


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["bench"]:
        # The bench parses its own options: argparse.REMAINDER drops a first argument that
        # starts with "-", so `bench --json FILE` would be refused by the parser below.
        from .bench import main as bench_main

        return bench_main(argv[1:])
    parser = _parser()
    args = parser.parse_args(join_negative_pairs(argv))
    try:
        return args.handler(args)
    except (SaganError, ValueError) as err:  # ValueError: bad query pixel, class out of range...
        print(f"error: {err}", file=sys.stderr)
        _tell_torchrun(err)
        return 2


def _tell_torchrun(err: Exception) -> None:
    """Under torchrun, put the error in the file its failure summary reads: without it the
    summary says "error_file: <N/A>" and a surviving rank's lost connection looks like the
    cause."""
    if not os.environ.get("TORCHELASTIC_ERROR_FILE"):
        return
    from torch.distributed.elastic.multiprocessing.errors import ErrorHandler

    try:
        ErrorHandler().record_exception(err)
    except OSError:
        pass  # the error line above is still there


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sagan-engine",
        description="Train and explore Self-Attention GANs (Zhang et al., arXiv 1805.08318).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = sub.add_parser("train", help="train on a folder of images (or the demo data)")
    source = train.add_mutually_exclusive_group()
    source.add_argument("--data", metavar="DIR", help="folder of images; sub-folders = classes")
    source.add_argument("--demo", action="store_true", help="use the bundled emoji dataset")
    train.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default=None,
        help="model size and recipe (default: demo)",
    )
    train.add_argument("--config", metavar="JSON", help="a config.json to start from")
    train.add_argument("--steps", type=positive_int, help="total training steps")
    train.add_argument("--batch-size", type=positive_int)
    train.add_argument("--seed", type=int)
    train.add_argument("--device", help="auto (CUDA, then mps, then cpu), cpu, cuda, cuda:N, mps")
    train.add_argument(
        "--augment",
        metavar="POLICY",
        help="DiffAugment before D: auto (on below 10000 images when the run shows D each "
        "image at least 100 times), off, or ops such as color,translation,cutout",
    )
    train.add_argument(
        "--classes",
        choices=("auto", "none"),
        help="class labels: auto (one class per sub-folder when two or more hold every image, "
        "the default) or none (unconditional)",
    )
    train.add_argument(
        "--data-cache",
        choices=("auto", "memory", "disk"),
        help="decoded images in memory, in memory-mapped shards on disk (folders larger than "
        "memory), or auto (memory below a size limit; the default)",
    )
    train.add_argument("--out", metavar="RUN", help="run folder (default: under the user data dir)")
    train.add_argument("--resume", metavar="RUN", help="continue the run in this folder")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(handler=_cmd_train)

    sample = sub.add_parser("sample", help="save a grid of samples from a trained run")
    add_run_argument(sample)
    sample.add_argument("--n", type=positive_int, default=64, help="number of samples")
    sample.add_argument("--seed", type=int, default=0)
    add_class_argument(sample)
    sample.add_argument("--columns", type=positive_int)
    sample.add_argument("--padding", type=int, default=2)
    sample.add_argument("--out", required=True, metavar="PNG")
    add_truncation_arguments(sample)
    sample.set_defaults(handler=_cmd_sample)

    attn = sub.add_parser("attention", help="attention figure for query pixels (paper fig. 1)")
    add_run_argument(attn)
    attn.add_argument("--seed", type=int, default=0)
    add_class_argument(attn)
    attn.add_argument(
        "--query",
        action="append",
        type=_pixel,
        metavar="ROW,COL",
        help="pixel to query; repeat for several (needed unless --ablate)",
    )
    attn.add_argument("--out", required=True, metavar="PNG")
    add_over_training_argument(attn)
    add_ablate_argument(attn)
    attn.set_defaults(handler=_cmd_attention)

    info = sub.add_parser("info", help="describe a run folder or checkpoint")
    add_run_argument(info)
    info.set_defaults(handler=_cmd_info)

    export = sub.add_parser("export", help="copy a run's metrics to a CSV file")
    add_run_argument(export)
    export.add_argument("--csv", required=True, metavar="FILE")
    export.set_defaults(handler=_cmd_export)

    add_interpolate_parser(sub)
    add_timelapse_parser(sub)
    add_evaluate_parser(sub)
    add_prepare_parser(sub)
    bench = sub.add_parser("bench", help="measure speed and memory (see --help)", add_help=False)
    bench.add_argument("bench_args", nargs=argparse.REMAINDER)
    return parser


def _pixel(text: str) -> tuple[int, int]:
    return int_pair(text, "ROW,COL (e.g. 12,30)")


# --------------------------------------------------------------------------- train
def _train_config(args: argparse.Namespace) -> tuple[RunConfig, str | None]:
    """The run's config and the folder to resume (if any) from the arguments."""
    from .checkpoint import saved_step

    resume_dir = None
    if args.resume:
        # A resumed run stays in its folder with its config: these would be silently ignored.
        for given, option in ((args.out, "--out"), (args.config, "--config")):
            if given:
                raise SaganError(f"{option} cannot be combined with --resume (the run's own)")
        folder = RunFolder(args.resume)
        if not folder.path.exists():
            raise SaganError(f"{folder.path}: no such run folder")
        if not folder.is_run():
            raise SaganError(f"{folder.path}: not a run folder (no config.json)")
        latest = folder.latest_checkpoint()
        if latest is None:  # before loading data or writing anything
            raise SaganError(
                f"{folder.path}: no checkpoint to resume from (expected "
                f"checkpoints/step_NNNNNN.safetensors); `train --config {folder.config_path} "
                f"--out {folder.path}` starts it again from step 0"
            )
        config = RunConfig.load(folder.config_path)
        done = saved_step(latest)
        total = config.train.steps if args.steps is None else args.steps
        if total <= done:  # nothing to train: refused before the data loads, as in Trainer
            raise SaganError(
                f"{folder.path}: the run is already at step {done}: pass --steps above {done} "
                "(the new total) to continue it"
            )
        resume_dir = str(folder.path)
    elif args.config:
        config = RunConfig.load(args.config)
    else:
        config = preset(args.preset or "demo")
    if args.preset and (args.resume or args.config):
        raise SaganError("--preset cannot be combined with --resume or --config")
    train: dict = {}
    if args.steps is not None:
        train["steps"] = args.steps
    if args.batch_size is not None:
        train["batch_size"] = args.batch_size
    if args.seed is not None:
        train["seed"] = args.seed
    if args.device is not None:
        train["device"] = args.device
    if args.augment is not None:
        train["augment"] = args.augment
    data: dict = {}
    if args.classes is not None:
        data["classes"] = args.classes
    if args.data_cache is not None:
        data["cache"] = args.data_cache
    if args.data:
        data["folder"] = str(Path(args.data).expanduser().resolve())
    elif args.demo:
        data["folder"] = None
    elif resume_dir and config.data.folder and not Path(config.data.folder).exists():
        raise SaganError(
            f"{config.data.folder}: the run's data folder is not there any more; "
            "pass --data DIR with the folder where those images are now"
        )
    return config.replace(train=train, data=data), resume_dir


def _cmd_train(args: argparse.Namespace) -> int:
    from .data_scan import LoadStopped
    from .distributed import DistributedContext
    from .output_paths import check_output_folder
    from .run_files import check_new_run_folder
    from .trainer import Trainer

    config, resume_dir = _train_config(args)
    if args.out and not resume_dir:  # before minutes of loading, not after
        check_output_folder(args.out)
        check_new_run_folder(args.out, config.data.folder)
    dist = DistributedContext.from_environment(config.train.device)
    show = not args.quiet and dist.is_main
    bar = ProgressLine(enabled=show)
    stopping = threading.Event()
    trainer = None

    def request_stop() -> None:  # Ctrl-C, SIGTERM, SIGHUP: while loading, or training
        stopping.set()
        if trainer is not None:
            trainer.stop()

    try:
        with stop_on_signals(request_stop, bar.note):
            dataset = _load_training_data(config, dist, bar, stopping.is_set)
            if stopping.is_set():
                raise LoadStopped()
            trainer = Trainer(
                config,
                dataset,
                resume_dir or args.out,
                listeners=[bar.on_event],
                resume=bool(resume_dir),
                distributed=dist,
            )
            finished = trainer.run()
    except LoadStopped:
        bar.note("stopped while loading the data: nothing was trained")
        return 130
    finally:
        dist.shutdown()
    if dist.is_main:
        try:
            print(f"{finished.reason} at step {finished.step}; run folder: {finished.run_dir}")
        except OSError:  # the terminal went away (SIGHUP): the run is saved all the same
            pass
    return 0


def _load_training_data(config: RunConfig, dist, bar: ProgressLine, should_stop):
    from .training_data import load_training_data

    bar.note(f"loading {config.data.folder or 'the bundled demo dataset'}")
    dataset = load_training_data(
        config.data,
        config.model.resolution,
        progress=bar.loading,
        should_stop=should_stop,
        on_estimate=lambda estimate: bar.note(estimate.describe()),
        note=bar.note,
        builds=dist.local_rank == 0,  # one process per machine decodes; the others wait
    )
    bar.note(
        f"{counted(len(dataset), 'image')}, {dataset.num_classes or 'no'} classes, "
        f"{counted(len(dataset.skipped), 'file')} skipped"
    )
    bar.note(f"classes: {dataset.class_reason}")
    for skipped in dataset.skipped[:10]:
        bar.note(f"  skipped {skipped.path}: {skipped.reason}")
    return dataset


# --------------------------------------------------------------------------- explore
def _cmd_sample(args: argparse.Namespace) -> int:
    from .checkpoint import load_generator
    from .export import save_png
    from .latent_paths import seed_latents
    from .output_paths import check_output_file
    from .sample_grid import check_grid_fits, render_grid

    truncation = truncation_of(args)
    check_output_file(args.out, (".png",))
    loaded = load_generator(args.run)
    model = loaded.config.model
    check_grid_fits(args.n, model.resolution, args.columns, args.padding, model.z_dim)
    z = seed_latents(args.n, model.z_dim, args.seed, truncation)
    labels = class_labels(loaded, args.label, args.n)
    grid = render_grid(loaded.generator, z, labels, args.columns, args.padding)
    metadata = {"seed": str(args.seed), "step": str(loaded.step), **truncation.metadata()}
    path = save_png(grid, args.out, metadata)
    print(f"wrote {path} ({counted(args.n, 'sample')}, step {loaded.step})")
    return 0


def _cmd_attention(args: argparse.Namespace) -> int:
    if args.ablate is not None:
        if args.query or args.over_training:
            raise SaganError("--ablate renders a whole sample: without --query or --over-training")
        return attention_ablation(args)
    if not args.query:
        raise SaganError("give at least one --query ROW,COL (or --ablate LAYER)")
    if args.over_training:
        return attention_over_training(args)
    from .attention import attention_maps
    from .checkpoint import load_generator
    from .export import save_attention_figure
    from .output_paths import check_output_file
    from .sampling import latents

    check_output_file(args.out, (".png",))
    loaded = load_generator(args.run)
    z = latents(1, loaded.config.model.z_dim, args.seed)
    label = class_label(loaded, args.label)
    result = attention_maps(loaded.generator, z, label, query=args.query)
    path = save_attention_figure(result, args.out)
    layers = counted(len(result.layers), "attention layer")
    print(f"wrote {path} ({layers}, {counted(len(args.query), 'query', 'queries')})")
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    from .checkpoint import load_checkpoint, resolve_checkpoint
    from .demo_model import is_demo_checkpoint

    path = Path(args.run).expanduser()
    ckpt = load_checkpoint(resolve_checkpoint(path))
    model, train = ckpt.config.model, ckpt.config.train
    demo = f" ({_demo_contents(ckpt)})" if is_demo_checkpoint(ckpt.path) else ""
    lines = [
        f"checkpoint: {ckpt.path}{demo}",
        f"step: {ckpt.step} of {train.steps}",
        f"preset: {ckpt.config.preset}; resolution {model.resolution}; z_dim {model.z_dim}; "
        f"g_ch {model.g_ch}; d_ch {model.d_ch}; attention G {list(model.g_attention)} "
        f"D {list(model.d_attention)} ({model.attention_variant})",
        f"classes: {', '.join(ckpt.class_names) if ckpt.class_names else 'unconditional'}",
        f"training: batch {train.batch_size}, lr_G {train.lr_g}, lr_D {train.lr_d}, "
        f"betas {train.betas}, n_dis {train.n_dis}, loss {train.loss}, EMA {train.ema}",
        f"data: {ckpt.config.data.folder or 'bundled demo dataset'}",
    ]
    folder = RunFolder(path if path.is_dir() else ckpt.path.parent.parent)
    if folder.dataset_path.is_file():
        lines.append(_dataset_line(folder.dataset_path))
    if folder.is_run():
        lines.append(f"checkpoints: {', '.join(p.name for p in folder.checkpoints())}")
    print("\n".join(lines))
    return 0


def _dataset_line(path: Path) -> str:
    """The run's data summary in a line; a damaged dataset.json is said so, not fatal: the
    rest of what ``info`` tells does not depend on it."""
    from .output_paths import os_reason

    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
        images, skipped = summary["images"], len(summary.get("skipped", []))
    except OSError as err:
        return f"dataset: {path} is unreadable ({os_reason(err)})"
    except ValueError:  # not UTF-8, or not JSON
        return f"dataset: {path} is unreadable (not valid JSON)"
    except (KeyError, TypeError, AttributeError):
        return f"dataset: {path} is not the summary a run writes"
    return f"dataset: {counted(images, 'image')}, {skipped} skipped"


def _demo_contents(ckpt) -> str:
    """What the bundled demo model brings, in words: weights, log, states over training."""
    from .demo_model import shipped_metrics_path, shipped_snapshots_dir
    from .snapshots import step_files

    weights = "EMA of G" if ckpt.state_dict("G_ema") else "G"
    parts = [f"{weights}{' and D' if ckpt.state_dict('D') else ''} in fp16"]
    if shipped_metrics_path(ckpt.path) is not None:
        parts.append("its training log")
    folder = shipped_snapshots_dir(ckpt.path)
    states = step_files(folder) if folder is not None else []
    if states:
        parts.append(f"{counted(len(states), 'state')} over training")
    return "the bundled demo model: " + ", ".join(parts)


def _metrics_of(run: str) -> Path:
    """A run folder's metrics.csv, or for ``demo`` the training log shipped with the model."""
    from .demo_model import demo_model_path, is_demo_name, shipped_metrics_path

    if is_demo_name(run):
        shipped = shipped_metrics_path(demo_model_path())
        if shipped is None:
            raise SaganError("the bundled demo model ships without its training log")
        return shipped
    folder = RunFolder(run)
    if not folder.metrics_path.is_file():
        raise SaganError(f"{folder.path}: no metrics.csv (is this a run folder?)")
    return folder.metrics_path


def _cmd_export(args: argparse.Namespace) -> int:
    from .output_paths import check_output_file, output_errors, write_output

    check_output_file(args.csv, (".csv",))
    metrics = _metrics_of(args.run)
    with output_errors(metrics, "cannot read"):
        data = metrics.read_bytes()
    path = write_output(args.csv, data)
    rows = max(0, len(data.splitlines()) - 1)
    print(f"wrote {path} ({counted(rows, 'row')})")
    return 0
