"""data.classes = auto | none: the choice, the reason shown for it, the CLI and the run config
(issue 15, item 6)."""

from __future__ import annotations

import json

import pytest

from sagan_engine.class_labels import decide_classes
from sagan_engine.config import RunConfig
from sagan_engine.data import load_image_folder, scan_folder
from sagan_engine.errors import ConfigError
from tests.app.helpers import write_images
from tests.engine.cli_helpers import assert_one_error_line, run_cli


@pytest.mark.parametrize(
    "tops, mode, classes, reason",
    [
        (["a", "b", "b"], "auto", ["a", "b"], "2 classes from sub-folders"),
        (["a", "b"], "none", [], "class labels turned off (auto would make 2 classes"),
        ([None, None], "auto", [], "unconditional: images lie directly in the folder"),
        ([None, None], "none", [], "unconditional: class labels turned off"),
        (["a", None], "auto", [], "1 image lies directly in the folder, beside the sub-folders"),
        (["a", "a"], "auto", [], "all images are in one sub-folder (a)"),
        (
            ["16x16", "22x22", "512x512"],
            "auto",
            ["16x16", "22x22", "512x512"],
            "look like image sizes",
        ),
    ],
)
def test_the_decision_and_its_reason(tops, mode, classes, reason):
    decision = decide_classes(tops, mode)
    assert decision.class_dirs == classes
    assert reason in decision.reason


def test_an_unknown_mode_is_refused():
    with pytest.raises(ConfigError, match="data.classes = 'some'"):
        decide_classes(["a"], "some")
    with pytest.raises(ConfigError, match="data.classes"):
        RunConfig.from_dict({"data": {"classes": "yes"}})


def test_icon_sizes_become_one_unconditional_set(tmp_path):
    for size in ("16x16", "22x22", "32x32"):
        write_images(tmp_path / size / "apps", 2, seed=len(size), size=size_px(size))
    auto = scan_folder(tmp_path)
    assert auto.class_names == ["16x16", "22x22", "32x32"] and "image sizes" in auto.class_reason
    none = load_image_folder(tmp_path, 32, classes="none", cache_dir=tmp_path / ".cache")
    assert none.class_names == [] and set(none.labels) == {0} and len(none) == 6
    assert none.class_reason.startswith("unconditional: class labels turned off")


def size_px(name: str) -> int:
    return max(8, int(name.split("x")[0]))


def test_cli_classes_none_is_stored_in_the_run(tmp_path):
    data = tmp_path / "data"
    write_images(data / "cats", 3, seed=1)
    write_images(data / "dogs", 3, seed=2)
    run = tmp_path / "run"
    result = run_cli(
        "train", "--data", str(data), "--classes", "none", "--steps", "1",
        "--batch-size", "2", "--out", str(run), "--quiet",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    config = json.loads((run / "config.json").read_text())
    assert config["data"]["classes"] == "none" and config["model"]["num_classes"] == 0
    assert json.loads((run / "dataset.json").read_text())["class_names"] == []
    result = run_cli("train", "--data", str(data), "--classes", "maybe", "--steps", "1")
    assert result.returncode == 2 and "invalid choice: 'maybe'" in result.stderr


def test_a_config_file_with_a_bad_classes_value_names_the_field(tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"data": {"classes": "sometimes"}}))
    result = run_cli("train", "--config", str(config), "--steps", "1")
    assert_one_error_line(result, "data.classes = 'sometimes'")
