"""Every user-chosen output path that cannot be written ends in one ``error:`` line naming
the path and the reason, exit status 2, and leaves nothing half-written (issue 15, item 1)."""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

import pytest

from sagan_engine.errors import OutputError
from sagan_engine.output_paths import (
    check_output_file,
    check_output_folder,
    output_errors,
    write_output,
)
from tests.engine.cli_helpers import assert_one_error_line, run_cli, tiny_checkpoint

FULL_DISK = (
    "import errno, os\n"
    "def _full(fd):\n"
    "    raise OSError(errno.ENOSPC, 'No space left on device')\n"
    "os.fsync = _full\n"
)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    return tiny_checkpoint(tmp_path_factory.mktemp("ckpt"))


def _read_only(folder: Path) -> tuple[str, ...]:
    """Make ``folder`` read-only; the command prefix that makes it so for root too."""
    folder.mkdir()
    folder.chmod(0o555)
    if os.geteuid() != 0:
        return ()
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: a read-only folder cannot be made")
    # root without the capabilities that override file permissions
    return (setpriv, "--bounding-set=-dac_override,-dac_read_search,-fowner")


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


# ----------------------------------------------------------------------- the command line
@pytest.mark.parametrize(
    "target, reason",
    [
        ("missing/grid.png", "not found"),
        ("a-file/grid.png", "is a file, not a folder"),
        ("a-folder", "is a folder"),
        ("/proc/grid.png", "pseudo file system"),
        ("/sys/grid.png", "pseudo file system"),
        ("/dev/full", "not a regular file"),
    ],
)
def test_sample_to_an_impossible_path(checkpoint, tmp_path, target, reason):
    (tmp_path / "a-file").write_text("x")
    (tmp_path / "a-folder").mkdir()
    out = target if target.startswith("/") else str(tmp_path / target)
    result = run_cli("sample", "--run", str(checkpoint), "--n", "4", "--out", out)
    assert_one_error_line(result, out, reason)
    assert _leftovers(tmp_path) == ["a-file", "a-folder"]
    assert (tmp_path / "a-file").read_text() == "x"


def test_sample_into_a_read_only_folder(checkpoint, tmp_path):
    prefix = _read_only(tmp_path / "ro")
    out = tmp_path / "ro" / "grid.png"
    result = run_cli("sample", "--run", str(checkpoint), "--out", str(out), prefix=prefix)
    assert_one_error_line(result, str(out), "permission denied")
    assert _leftovers(tmp_path / "ro") == []


def test_full_disk_keeps_the_old_file_and_no_temporary(checkpoint, tmp_path):
    out = tmp_path / "grid.png"
    out.write_bytes(b"the previous grid")
    result = run_cli("sample", "--run", str(checkpoint), "--out", str(out), code=FULL_DISK)
    assert_one_error_line(result, str(out), "no space left on device")
    assert out.read_bytes() == b"the previous grid"
    assert _leftovers(tmp_path) == ["grid.png"]


def test_attention_and_export_name_the_path(checkpoint, tmp_path):
    out = tmp_path / "missing" / "attention.png"
    result = run_cli("attention", "--run", str(checkpoint), "--query", "1,1", "--out", str(out))
    assert_one_error_line(result, str(out), "not found")
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.csv").write_text("step,loss_d\n1,0.5\n")
    result = run_cli("export", "--run", str(run), "--csv", str(run), code=FULL_DISK)
    assert_one_error_line(result, str(run), "is a folder")
    csv = tmp_path / "metrics.csv"
    result = run_cli("export", "--run", str(run), "--csv", str(csv), code=FULL_DISK)
    assert_one_error_line(result, str(csv), "no space left")
    assert _leftovers(tmp_path) == ["missing", "run"] or _leftovers(tmp_path) == ["run"]


def test_an_export_over_a_runs_own_files_is_refused(checkpoint, tmp_path):
    """`sample --out run/checkpoints/step_...safetensors` wrote a PNG over the checkpoint;
    `export --csv run/config.json` replaced the config: the run could not be resumed."""
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.json").write_text("{}")
    latest = run / "checkpoints" / "step_000010.safetensors"
    shutil.copy(checkpoint, latest)
    before = latest.read_bytes()
    result = run_cli("sample", "--run", str(latest), "--n", "4", "--out", str(latest))
    assert_one_error_line(result, str(latest), ".png")  # named .safetensors, written as PNG
    for target in (latest.with_suffix(".png"), run / "snapshots" / "step_000005.safetensors"):
        with pytest.raises(OutputError, match="is a file of the run"):
            check_output_file(target.with_suffix(".safetensors"))
    (run / "metrics.csv").write_text("step,loss_d\n1,0.5\n")
    for own in ("config.json", "metrics.csv", "evaluation.json", "dataset.json"):
        result = run_cli("export", "--run", str(run), "--csv", str(run / own))
        assert_one_error_line(result, str(run / own), "csv" if own.endswith("json") else "run")
        with pytest.raises(OutputError, match=f"{own}: is a file of the run"):
            check_output_file(run / own)
    assert latest.read_bytes() == before and (run / "config.json").read_text() == "{}"
    # The grids of its training (timelapse replays them): `sample --out` replaced one with
    # a grid of another size.
    grid = run / "samples" / "step_000010.png"
    grid.parent.mkdir()
    with pytest.raises(OutputError, match="step_000010.png: is a file of the run"):
        check_output_file(grid)
    # Files of its own the user puts in a run folder, and any file outside one, are theirs.
    assert check_output_file(run / "grid.png") == run / "grid.png"
    assert check_output_file(run / "samples" / "mine.png") == run / "samples" / "mine.png"
    assert check_output_file(tmp_path / "config.json") == tmp_path / "config.json"


def test_train_out_is_refused_before_loading(tmp_path):
    (tmp_path / "a-file").write_text("x")
    out = tmp_path / "a-file" / "run"
    result = run_cli("train", "--demo", "--steps", "1", "--out", str(out))
    assert_one_error_line(result, str(out), "is a file, not a folder")
    assert "loading" not in result.stderr  # refused before the data was touched
    result = run_cli("train", "--demo", "--steps", "1", "--out", "/proc/sagan-run")
    assert_one_error_line(result, "/proc/sagan-run", "pseudo file system")


# ----------------------------------------------------------------------- the functions
def test_checks_pass_where_writing_works(tmp_path):
    assert check_output_file(tmp_path / "new.png") == tmp_path / "new.png"
    assert check_output_folder(tmp_path / "new" / "deeper") == tmp_path / "new" / "deeper"
    assert _leftovers(tmp_path) == []  # the probe file is gone, nothing was created


def test_write_output_replaces_atomically(tmp_path, monkeypatch):
    path = write_output(tmp_path / "a.bin", b"one")
    assert path.read_bytes() == b"one"

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OutputError, match="a.bin: cannot write \\(no space left on device\\)"):
        write_output(path, b"two")
    assert path.read_bytes() == b"one" and _leftovers(tmp_path) == ["a.bin"]


def test_output_errors_names_the_path(tmp_path):
    with pytest.raises(OutputError) as info, output_errors(tmp_path / "x", "cannot save"):
        raise PermissionError(errno.EACCES, "Permission denied")
    assert str(info.value) == f"{tmp_path / 'x'}: cannot save (permission denied)"
    with output_errors(tmp_path / "x"):
        pass  # no error, nothing raised


def test_run_folder_that_cannot_be_made_is_removed(tmp_path, monkeypatch):
    from sagan_engine import checkpoint as ckpt_io
    from sagan_engine.trainer import Trainer
    from tests.engine.conftest import synthetic_dataset, tiny_config

    def full(path, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(ckpt_io, "write_atomically", full)
    run = tmp_path / "run"
    trainer = Trainer(tiny_config(steps=1), synthetic_dataset(8), run)
    with pytest.raises(OutputError, match="run: cannot create the run folder \\(no space left"):
        trainer.run()
    assert not run.exists()
