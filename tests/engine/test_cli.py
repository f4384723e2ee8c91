"""The command line end to end on the bundled demo data, as a user runs it."""

from __future__ import annotations

import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from sagan_engine.cli import main


def cli(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sagan_engine", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("cli") / "run"
    result = cli("train", "--demo", "--steps", "2", "--batch-size", "8", "--out", str(run))
    assert result.returncode == 0, result.stderr
    assert "completed at step 2" in result.stdout
    assert "462 images, 8 classes" in result.stderr
    return run


def test_train_writes_a_run_folder(demo_run):
    assert (demo_run / "config.json").is_file()
    assert (demo_run / "checkpoints" / "step_000002.safetensors").is_file()
    assert (demo_run / "metrics.csv").read_text().startswith("step,loss_d,loss_g")


def test_resume_continues_the_run(demo_run, tmp_path):
    run = shutil.copytree(demo_run, tmp_path / "run")
    result = cli("train", "--resume", str(run), "--steps", "3")
    assert result.returncode == 0, result.stderr
    assert "resumed from" in result.stderr and "completed at step 3" in result.stdout


def test_sample_writes_a_grid(demo_run, tmp_path):
    out = tmp_path / "grid.png"
    assert (
        main(
            [
                "sample",
                "--run",
                str(demo_run),
                "--n",
                "9",
                "--columns",
                "3",
                "--padding",
                "1",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert Image.open(out).size == (3 * 33 + 1, 3 * 33 + 1)


def test_attention_writes_a_figure(demo_run, tmp_path):
    out = tmp_path / "attention.png"
    code = main(
        [
            "attention",
            "--run",
            str(demo_run),
            "--seed",
            "3",
            "--class",
            "2",
            "--query",
            "4,4",
            "--query",
            "20,25",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    # One row per query; a column for the marked image and one per attention layer, each
    # cell 192 px (32 px scaled by 6) with 6 px gaps, under a 16 px title line.
    assert Image.open(out).size == (2 * (192 + 6) + 6, 16 + 2 * (192 + 6) + 6)


def test_info_and_export(demo_run, tmp_path, capsys):
    assert main(["info", "--run", str(demo_run)]) == 0
    text = capsys.readouterr().out
    assert "step: 2" in text and "faces" in text
    out = tmp_path / "metrics.csv"
    assert main(["export", "--run", str(demo_run), "--csv", str(out)]) == 0
    assert out.read_text().splitlines()[0].startswith("step,")
    # A damaged dataset.json is named in its line; the rest of the description still comes.
    copy = tmp_path / "copy"
    shutil.copytree(demo_run, copy)
    for damaged, reason in (("{oops", "not valid JSON"), ("[]", "not the summary a run writes")):
        (copy / "dataset.json").write_text(damaged)
        assert main(["info", "--run", str(copy)]) == 0
        text = capsys.readouterr().out
        assert f"{copy / 'dataset.json'} is" in text and reason in text and "step: 2" in text


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "--data", "/no/such/folder", "--steps", "1"], "/no/such/folder"),
        (["sample", "--run", "/no/such/run", "--out", "x.png"], "/no/such/run"),
        (["attention", "--run", "/no/such/run", "--query", "1,1", "--out", "x.png"], "no/such"),
    ],
)
def test_bad_paths_print_one_line_and_fail(args, message, capsys):
    assert main(args) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("error:") and message in last


def test_bad_arguments_fail(demo_run, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["attention", "--run", str(demo_run), "--query", "nope", "--out", "x.png"])
    assert exit_info.value.code == 2
    assert (
        main(
            [
                "attention",
                "--run",
                str(demo_run),
                "--class",
                "0",
                "--query",
                "99,0",
                "--out",
                "x.png",
            ]
        )
        == 2
    )
    assert "outside" in capsys.readouterr().err
    assert main(["sample", "--run", str(demo_run), "--class", "42", "--out", "x.png"]) == 2
    assert "out of range" in capsys.readouterr().err
    # A pixel before the image's edge is its range check, not "expected one argument".
    for query in (["--query", "-1,5"], ["--query", "3,-5"], ["--query=-1,-5"]):
        args = ["attention", "--run", str(demo_run), *query, "--out", "x.png"]
        assert main(args) == 2
        assert "lies outside the 32x32 image" in capsys.readouterr().err


def test_a_class_is_given_by_name_or_index(demo_run, tmp_path, capsys):
    """`--class` took an index only ("invalid int value: 'cats'"), though models name their
    classes; an unknown name is told with the names there are."""
    images = []
    for label in ("Faces", "1"):  # faces is class 1 of the emoji data
        out = tmp_path / f"{label}.png"
        args = ["sample", "--run", str(demo_run), "--n", "4", "--class", label, "--out", str(out)]
        assert main(args) == 0
        images.append(np.asarray(Image.open(out)))
    assert np.array_equal(*images)
    args = ["attention", "--run", str(demo_run), "--class", "cats", "--query", "1,1"]
    assert main([*args, "--out", str(tmp_path / "a.png")]) == 2
    err = capsys.readouterr().err
    assert "--class cats is not a class name: this model has classes 0..7 (clocks," in err


def test_a_class_named_by_a_number_is_found_by_its_name():
    """Folders 1..12 sort as 1, 10, 11, 12, 2, ...: "--class 2" is the folder named 2."""
    from types import SimpleNamespace

    from sagan_engine.cli_args import class_index

    names = sorted(str(n) for n in range(1, 13))
    model = SimpleNamespace(config=SimpleNamespace(model=SimpleNamespace(num_classes=12)))
    loaded = SimpleNamespace(config=model.config, class_names=names)
    assert class_index(loaded, "2") == names.index("2") == 4
    assert class_index(loaded, "12") == names.index("12")
    words = SimpleNamespace(config=model.config, class_names=[f"c{i}" for i in range(12)])
    assert class_index(words, "2") == 2  # no class of that name: an index


@pytest.mark.parametrize(
    "extra, message",
    [
        (["train", "--resume", "RUN", "--out", "elsewhere"], "--out cannot be combined"),
        (["train", "--resume", "RUN", "--config", "c.json"], "--config cannot be combined"),
        (["train", "--resume", "/no/such/run"], "/no/such/run: no such run folder"),
        (["attention", "--run", "RUN", "--ablate", "16", "--query", "1,1", "--out", "a.png"],
         "without --query"),
        (["attention", "--run", "RUN", "--ablate", "16", "--over-training", "--out", "a.gif"],
         "without --query or --over-training"),
    ],
)  # fmt: skip
def test_options_that_would_be_ignored_are_refused(demo_run, capsys, extra, message):
    args = [str(demo_run) if a == "RUN" else a for a in extra]
    assert main(args) == 2
    assert message in capsys.readouterr().err


def test_under_torchrun_an_error_goes_to_its_error_file(tmp_path, monkeypatch, capsys):
    import json

    error_file = tmp_path / "error.json"
    monkeypatch.setenv("TORCHELASTIC_ERROR_FILE", str(error_file))
    assert main(["train", "--resume", str(tmp_path / "gone")]) == 2
    assert "gone: no such run folder" in capsys.readouterr().err
    message = json.loads(error_file.read_text())["message"]["message"]
    assert "gone: no such run folder" in message


def test_resuming_a_run_without_checkpoints_changes_nothing_in_it(demo_run, tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(demo_run / "config.json", run / "config.json")
    assert main(["train", "--resume", str(run), "--steps", "4", "--quiet"]) == 2
    assert "no checkpoint to resume from" in capsys.readouterr().err
    assert [p.name for p in run.iterdir()] == ["config.json"]  # no dataset.json, no folders


def test_resume_after_the_data_moved_says_how_to_go_on(demo_run, tmp_path, capsys):
    import json

    run = tmp_path / "run"
    shutil.copytree(demo_run, run)
    config = json.loads((run / "config.json").read_text())
    config["data"]["folder"] = str(tmp_path / "moved away")
    (run / "config.json").write_text(json.dumps(config))
    assert main(["train", "--resume", str(run), "--steps", "4", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "moved away: the run's data folder is not there any more" in err and "--data" in err


@pytest.mark.parametrize("steps", [["--steps", "2"], ["--steps", "1"], []])
def test_resuming_with_no_step_left_says_what_to_pass_and_changes_nothing(
    demo_run, tmp_path, capsys, steps
):
    """`--steps` at or below the run's step (or none, where the run finished its total)
    trained nothing, said "completed", and wrote config.json, the last grid, the snapshot and
    a statistics row again."""
    run = shutil.copytree(demo_run, tmp_path / "run")
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    assert main(["train", "--resume", str(run), *steps, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and len(err.strip().splitlines()) == 1  # before any loading
    assert "already at step 2: pass --steps above 2 (the new total)" in err
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before


def test_one_of_a_thing_is_said_in_the_singular(demo_run, tmp_path, capsys):
    out = str(tmp_path / "one.png")
    assert main(["attention", "--run", str(demo_run), "--query", "4,4", "--out", out]) == 0
    assert "(1 attention layer, 1 query)" in capsys.readouterr().out
    assert main(["sample", "--run", str(demo_run), "--n", "1", "--out", out]) == 0
    assert "(1 sample, step 2)" in capsys.readouterr().out
