"""Tests of sagan_engine.data: scanning, decoding every kind of awkward file, classes, cache."""

from __future__ import annotations

import ast
import errno
import os
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from sagan_engine import (
    data,
    data_cache,
    data_cache_build,
    data_decode,
    data_scan,
    training_data,
)
from sagan_engine.data import (
    IMAGE_EXTENSIONS,
    FolderScan,
    ImageDataset,
    ImageSkip,
    LoadStopped,
    SkippedFile,
    decode_image,
    load_image_folder,
    scan_folder,
)
from sagan_engine.errors import DataError

try:  # tests/engine is a package if it has an __init__.py, else it is put on sys.path
    from . import bad_images
except ImportError:
    import bad_images

BLUE, GREEN, RED = bad_images.BLUE, bad_images.GREEN, bad_images.RED
CORPUS, Case, solid = bad_images.CORPUS, bad_images.Case, bad_images.solid
write_case, write_corpus = bad_images.write_case, bad_images.write_corpus

RES = 16


def write_images(folder: Path, names: list[str], colour=RED, size=(20, 20)) -> None:
    for name in names:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        solid(colour, size).save(path)


def shown(path: Path) -> str:
    return os.fsencode(path).decode("utf-8", "replace")


def pixel(image: np.ndarray, where: tuple[float, float]) -> np.ndarray:
    row, col = (min(int(f * image.shape[i]), image.shape[i] - 1) for i, f in enumerate(where))
    return image[row, col].astype(int)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("corpus")
    write_corpus(folder)
    return folder


# --------------------------------------------------------------------------- module rules


@pytest.mark.parametrize(
    "module",
    [data, data_scan, data_decode, data_cache, data_cache_build, training_data],
    ids=lambda m: m.__name__,
)
def test_data_module_imports_neither_qt_nor_torch(module):
    tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imported.add(node.module.split(".")[0])
    assert not imported & {"torch", "PySide6", "PyQt5", "PyQt6", "pyqtgraph", "qtpy"}


def test_image_extensions_are_lower_case_suffixes():
    assert {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"} <= IMAGE_EXTENSIONS
    assert {".ppm", ".pgm", ".tga"} <= IMAGE_EXTENSIONS
    assert all(e.startswith(".") and e == e.lower() for e in IMAGE_EXTENSIONS)


def test_truncated_images_are_not_silently_accepted():
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


# --------------------------------------------------------------------------- the bad corpus


@pytest.mark.parametrize("case", [c for c in CORPUS if c.reason is None], ids=lambda c: c.shown)
def test_usable_file_decodes_to_the_right_colours(corpus, case: Case):
    name = case.name if isinstance(case.name, bytes) else os.fsencode(case.name)
    image = decode_image(Path(os.fsdecode(os.path.join(os.fsencode(corpus), name))), RES)
    assert image.shape == (RES, RES, 3) and image.dtype == np.uint8
    for where, colour in case.colours.items():
        got = pixel(image, where)
        assert np.abs(got - colour).max() <= case.tolerance, (where, got.tolist(), colour)


@pytest.mark.parametrize(
    "case", [c for c in CORPUS if c.reason and not c.listed_at_scan], ids=lambda c: c.shown
)
def test_unusable_file_raises_image_skip_with_its_reason(corpus, case: Case):
    with pytest.raises(ImageSkip) as info:
        decode_image(corpus / case.name, RES)
    assert info.value.reason.startswith(case.reason)
    assert str(corpus) not in info.value.reason  # reasons are short; the path is reported apart


def test_corpus_loads_every_good_file_and_reports_every_bad_one(corpus):
    dataset = load_image_folder(corpus, RES, cache_dir=None, workers=2)
    usable = [c for c in CORPUS if c.reason is None]
    assert isinstance(dataset, ImageDataset)
    assert len(dataset) == len(usable)
    assert dataset.images.shape == (len(usable), RES, RES, 3)
    assert dataset.images.dtype == np.uint8
    assert dataset.labels.dtype == np.int64 and not dataset.labels.any()
    assert dataset.class_names == [] and dataset.num_classes == 0
    assert dataset.source == str(corpus)

    reasons = {s.path: s.reason for s in dataset.skipped}
    for case in CORPUS:
        if case.reason is None:
            assert case.shown not in reasons
        else:
            assert reasons.pop(case.shown).startswith(case.reason), case.shown
    # Besides the corpus, only the link of the folder to itself is reported; the ignored
    # files (other extensions, hidden) are not.
    assert reasons == {"loop": "symlink loop"}
    for skip in dataset.skipped:
        skip.path.encode("utf-8")  # printable, even for names that are not UTF-8


def test_images_come_out_in_file_order(corpus):
    scan = scan_folder(corpus)
    dataset = load_image_folder(corpus, RES, cache_dir=None, workers=1)
    bad = {s.path for s in dataset.skipped}
    used = [f for f in scan.files if shown(f.relative_to(corpus)) not in bad]
    for image, file in zip(dataset.images, used, strict=True):
        np.testing.assert_array_equal(image, decode_image(file, RES))


def test_non_utf8_names_are_used_and_shown_with_replacement_characters(corpus):
    scan = scan_folder(corpus)
    assert any(os.fsencode(f).endswith(b"\xff\xfe-latin1.png") for f in scan.files)
    shown = {s.path for s in scan.skipped}
    assert "bad-\ufffd\ufffd-empty.png" in shown


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_decompression_bomb_guard_follows_pillow_limit(tmp_path, monkeypatch):
    path = tmp_path / "big.png"
    solid(RED, (40, 40)).save(path)
    assert decode_image(path, RES).shape == (RES, RES, 3)
    # Between 1x and 2x the limit Pillow only warns; the loader skips those too.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(
        ImageSkip, match=r"^image too large \(decompression bomb guard: 1600 pixels"
    ):
        decode_image(path, RES)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 500)  # above 2x: Pillow's own error
    with pytest.raises(
        ImageSkip, match=r"^image too large \(decompression bomb guard: 1600 pixels"
    ):
        decode_image(path, RES)


def test_wide_image_is_centre_cropped_not_squashed(tmp_path):
    path = write_case(tmp_path, Case("w.png", bad_images._save(bad_images.wide_image(), "PNG")))
    image = decode_image(path, 64)
    assert np.abs(image.astype(int) - GREEN).max() <= 2


def test_exif_orientation_is_applied(tmp_path):
    stored = bad_images.left_right(RED, BLUE)
    plain, rotated = tmp_path / "plain.jpg", tmp_path / "rotated.jpg"
    stored.save(plain, quality=95)
    stored.save(rotated, quality=95, exif=bad_images.exif_orientation(6))
    a, b = decode_image(plain, 32).astype(int), decode_image(rotated, 32).astype(int)
    # Stored: red left, blue right. Orientation 6 = turn 90° clockwise: red on top.
    assert a[:, :12, 0].mean() > 200 and a[:, 20:, 2].mean() > 200
    assert b[:12, :, 0].mean() > 200 and b[20:, :, 2].mean() > 200
    assert b[:12, :, 2].mean() < 60


def test_sixteen_bit_grey_is_scaled_not_clipped(tmp_path):
    ramp = np.linspace(0, 65535, 256, dtype=np.float64).round().astype(np.uint16)
    path = tmp_path / "ramp.png"
    Image.fromarray(np.tile(ramp, (256, 1))).save(path)
    image = decode_image(path, 256)
    np.testing.assert_allclose(image[128, :, 0], np.arange(256), atol=1)
    assert (image[..., 0] == image[..., 1]).all() and (image[..., 1] == image[..., 2]).all()


def test_permission_denied_is_a_skip(tmp_path, monkeypatch):
    path = tmp_path / "locked.png"
    solid(RED).save(path)

    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(Image, "open", refuse)
    with pytest.raises(ImageSkip, match="^permission denied$"):
        decode_image(path, RES)


def test_unreadable_file_is_skipped_for_real(tmp_path):
    write_images(tmp_path, ["ok.png", "locked.png"])
    locked = tmp_path / "locked.png"
    locked.chmod(0)
    try:
        if os.access(locked, os.R_OK):
            pytest.skip("running with privileges that read any file (root): chmod 000 is moot")
        dataset = load_image_folder(tmp_path, RES, cache_dir=None)
        assert len(dataset) == 1
        assert dataset.skipped == [SkippedFile("locked.png", "permission denied")]
    finally:
        locked.chmod(0o644)


def test_any_unexpected_decoder_exception_is_a_skip(tmp_path, monkeypatch):
    path = tmp_path / "odd.png"
    solid(RED).save(path)

    def explode(*args, **kwargs):
        raise ZeroDivisionError("decoder bug")

    monkeypatch.setattr(data_decode, "_centre_square", explode)
    with pytest.raises(ImageSkip, match=r"^cannot decode \(ZeroDivisionError: decoder bug\)$"):
        decode_image(path, RES)


# --------------------------------------------------------------------------- folder errors


def test_missing_folder_is_a_data_error(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(DataError, match="folder not found") as info:
        load_image_folder(missing, RES, cache_dir=None)
    assert str(missing) in str(info.value)


def test_file_instead_of_folder_is_a_data_error(tmp_path):
    file = tmp_path / "a.png"
    solid(RED).save(file)
    with pytest.raises(DataError, match="not a folder") as info:
        scan_folder(file)
    assert str(file) in str(info.value)


def test_folder_without_images_names_the_extensions(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / ".hidden.png").write_bytes(b"x")
    with pytest.raises(DataError) as info:
        scan_folder(tmp_path)
    message = str(info.value)
    assert message.startswith(f"{tmp_path}: no image files found (looked for ")
    assert ".png" in message and ".jpg" in message


def test_all_bad_folder_gives_one_clear_error(tmp_path):
    bad = [c for c in CORPUS if c.reason and isinstance(c.name, str)]
    for case in bad:
        write_case(tmp_path, case)
    with pytest.raises(DataError) as info:
        load_image_folder(tmp_path, RES, cache_dir=None)
    message = str(info.value)
    assert message.startswith(f"{tmp_path}: none of the {len(bad)} image files could be used; ")
    assert "first problems: bomb.png (image too large" in message
    assert "corrupt.png (cannot decode" in message and "more" in message


def test_only_empty_files_fail_at_scan_time(tmp_path):
    (tmp_path / "a.png").write_bytes(b"")
    with pytest.raises(DataError, match=r"none of the 1 image file could be used; "
                                        r"first problems: a\.png \(empty file\)"):  # fmt: skip
        scan_folder(tmp_path)


def test_unreadable_root_and_sub_folder(tmp_path, monkeypatch):
    write_images(tmp_path, ["a/1.png", "b/2.png", "c/3.png"])
    real_scandir = os.scandir
    locked = {os.fspath(tmp_path / "b")}

    def scandir(path):
        if os.fspath(path) in locked:
            raise PermissionError(errno.EACCES, "Permission denied", path)
        return real_scandir(path)

    monkeypatch.setattr(data.os, "scandir", scandir)
    scan = scan_folder(tmp_path)
    assert scan.skipped == [SkippedFile("b", "permission denied")]
    assert [f.name for f in scan.files] == ["1.png", "3.png"]
    locked.add(os.fspath(tmp_path))
    with pytest.raises(DataError, match="cannot read the folder \\(permission denied\\)"):
        scan_folder(tmp_path)


# --------------------------------------------------------------------------- scanning, classes


def test_scan_finds_images_recursively_sorted_and_ignores_others(tmp_path):
    write_images(tmp_path, ["b.png", "a.JPG", "deep/er/c.webp", ".hid/d.png", ".e.png"])
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "empty.gif").write_bytes(b"")
    scan = scan_folder(tmp_path)
    assert isinstance(scan, FolderScan)
    assert scan.root == tmp_path
    assert scan.files == sorted(scan.files)
    assert [f.relative_to(tmp_path).as_posix() for f in scan.files] == [
        "a.JPG",
        "b.png",
        "deep/er/c.webp",
    ]
    assert all(f.is_absolute() for f in scan.files)
    assert scan.labels == [0, 0, 0] and scan.class_names == [] and scan.num_classes == 0
    assert scan.skipped == [SkippedFile("empty.gif", "empty file")]
    assert scan.seconds >= 0


def test_class_sub_folders_become_labels(tmp_path):
    write_images(tmp_path, ["dogs/1.png", "dogs/deeper/2.png", "cats/1.png"], RED)
    write_images(tmp_path, ["birds/1.png"], BLUE)
    (tmp_path / "no-images").mkdir()
    (tmp_path / "no-images" / "x.txt").write_text("x")
    write_images(tmp_path, [".trash/1.png"])
    scan = scan_folder(tmp_path)
    assert scan.class_names == ["birds", "cats", "dogs"] and scan.num_classes == 3
    by_name = {f.relative_to(tmp_path).as_posix(): label for f, label in
               zip(scan.files, scan.labels, strict=True)}  # fmt: skip
    assert by_name == {"birds/1.png": 0, "cats/1.png": 1, "dogs/1.png": 2, "dogs/deeper/2.png": 2}

    dataset = load_image_folder(tmp_path, RES, cache_dir=None)
    assert dataset.class_names == ["birds", "cats", "dogs"] and dataset.num_classes == 3
    assert dataset.labels.tolist() == [0, 1, 2, 2]
    assert dataset.images[0, 8, 8].tolist() == list(BLUE)


def test_labels_follow_the_files_that_survive_decoding(tmp_path):
    write_images(tmp_path, ["a/1.png", "b/1.png", "b/3.png"])
    (tmp_path / "a" / "2.png").write_text("not an image")
    (tmp_path / "b" / "2.png").write_text("not an image")
    dataset = load_image_folder(tmp_path, RES, cache_dir=None)
    assert dataset.labels.tolist() == [0, 1, 1]
    assert [s.path for s in dataset.skipped] == [os.path.join("a", "2.png"),
                                                 os.path.join("b", "2.png")]  # fmt: skip


def test_one_sub_folder_is_unconditional(tmp_path):
    write_images(tmp_path, ["only/1.png", "only/2.png"])
    scan = scan_folder(tmp_path)
    assert scan.class_names == [] and scan.labels == [0, 0]


def test_images_beside_class_folders_make_the_set_unconditional(tmp_path):
    write_images(tmp_path, ["cats/1.png", "dogs/1.png", "stray.png"])
    scan = scan_folder(tmp_path)
    assert scan.class_names == [] and scan.labels == [0, 0, 0]


def test_symlinked_folders_are_followed_once_and_loops_reported(tmp_path):
    outside = tmp_path / "outside"
    write_images(outside, ["x.png"])
    root = tmp_path / "root"
    write_images(root, ["a/1.png"])
    os.symlink(outside, root / "linked")
    os.symlink(outside, root / "linked-again")
    os.symlink("..", root / "a" / "up")
    scan = scan_folder(root)
    assert [f.relative_to(root).as_posix() for f in scan.files] == ["a/1.png", "linked/x.png"]
    assert scan.class_names == ["a", "linked"]
    reasons = {s.path: s.reason for s in scan.skipped}
    assert reasons[os.path.join("a", "up")] == "symlink loop"
    assert reasons["linked-again"].startswith("same folder as one already scanned")


@pytest.mark.slow
def test_scanning_100000_files_takes_seconds(tmp_path):
    bad_images.write_tiny_files(tmp_path, 100_000)
    # CPU time, not wall time: the check is about the scan's cost, not about a busy machine.
    start = time.process_time()
    scan = scan_folder(tmp_path)
    elapsed = time.process_time() - start
    assert len(scan.files) == 100_000
    assert scan.num_classes == 10
    assert elapsed < 5, f"scan took {elapsed:.1f} s of CPU time (about 1 s expected)"


# --------------------------------------------------------------------------- progress, stop


def test_scan_progress_counts_images_and_folders_and_ends_with_the_totals(tmp_path, monkeypatch):
    bad_images.write_tiny_files(tmp_path, 20_000)
    clock = iter(range(10**9))  # each reading 1 s later: every chance to report is taken
    monkeypatch.setattr(data_scan.time, "monotonic", lambda: float(next(clock)))
    calls: list[tuple[int, int]] = []
    scan = scan_folder(tmp_path, progress=lambda *call: calls.append(call))
    folders = 1 + sum(1 for p in tmp_path.rglob("*") if p.is_dir())
    assert calls[-1] == (len(scan.files), folders) == (20_000, folders)
    assert len(calls) > 3  # reported while walking, not only at the end
    assert calls[0][0] < 20_000
    assert all(a[0] <= b[0] and a[1] <= b[1] for a, b in zip(calls, calls[1:], strict=False))


def test_scan_progress_is_throttled(tmp_path, monkeypatch):
    bad_images.write_tiny_files(tmp_path, 20_000)
    monkeypatch.setattr(data_scan.time, "monotonic", lambda: 1000.0)  # time stands still
    calls: list[tuple[int, int]] = []
    scan_folder(tmp_path, progress=lambda *call: calls.append(call))
    assert len(calls) == 1 and calls[0][0] == 20_000  # only the final count


def test_progress_starts_at_zero_and_ends_at_total(tmp_path):
    write_images(tmp_path, [f"{i:03d}.png" for i in range(40)])
    (tmp_path / "bad.png").write_text("no")
    calls: list[tuple[int, int]] = []
    load_image_folder(
        tmp_path, RES, cache_dir=None, workers=2, progress=lambda *call: calls.append(call)
    )
    assert calls[0] == (0, 41) and calls[-1] == (41, 41)
    assert all(a[0] <= b[0] for a, b in zip(calls, calls[1:], strict=False))


def test_progress_is_throttled(tmp_path, monkeypatch):
    write_images(tmp_path, [f"{i:03d}.png" for i in range(40)])
    monkeypatch.setattr(data_scan.time, "monotonic", lambda: 1000.0)  # time stands still
    calls: list[tuple[int, int]] = []
    load_image_folder(
        tmp_path, RES, cache_dir=None, workers=1, progress=lambda *call: calls.append(call)
    )
    assert calls == [(0, 40), (40, 40)]


@pytest.mark.parametrize("workers", [1, 2])
def test_should_stop_aborts_the_load_early(tmp_path, monkeypatch, workers):
    write_images(tmp_path, [f"{i:03d}.png" for i in range(64)])
    decoded = []
    real = data.decode_image

    def slow_decode(path, resolution):
        time.sleep(0.005)
        decoded.append(path)
        return real(path, resolution)

    monkeypatch.setattr(data, "decode_image", slow_decode)
    cache = tmp_path / "cache"
    with pytest.raises(LoadStopped, match="^loading stopped$") as info:
        load_image_folder(
            tmp_path, RES, cache_dir=cache, workers=workers, should_stop=lambda: bool(decoded)
        )
    assert isinstance(info.value, DataError)
    assert 0 < len(decoded) < 64
    assert not cache.exists() or not any(cache.iterdir())


def test_should_stop_aborts_the_scan(tmp_path):
    write_images(tmp_path, ["a.png"])
    with pytest.raises(LoadStopped):
        scan_folder(tmp_path, should_stop=lambda: True)


# --------------------------------------------------------------------------- cache


def forbid_decoding(monkeypatch):
    def fail(path, resolution):
        raise AssertionError(f"decode_image called for {path}")

    monkeypatch.setattr(data, "decode_image", fail)


def test_second_load_comes_from_the_cache(tmp_path, monkeypatch):
    folder = tmp_path / "set"
    write_images(folder, ["a/1.png", "b/2.png"], GREEN)
    (folder / "a" / "bad.png").write_text("no")
    cache = tmp_path / "cache"
    first = load_image_folder(folder, RES, cache_dir=cache)
    assert len(list(cache.glob("*.npz"))) == 1

    forbid_decoding(monkeypatch)
    calls = []
    second = load_image_folder(folder, RES, cache_dir=cache,
                               progress=lambda d, t: calls.append((d, t)))  # fmt: skip
    np.testing.assert_array_equal(first.images, second.images)
    np.testing.assert_array_equal(first.labels, second.labels)
    assert second.class_names == first.class_names == ["a", "b"]
    assert second.skipped == first.skipped
    assert calls[-1] == (3, 3)


def test_changed_file_invalidates_the_cache(tmp_path, monkeypatch):
    folder = tmp_path / "set"
    write_images(folder, ["1.png", "2.png"], GREEN)
    cache = tmp_path / "cache"
    load_image_folder(folder, RES, cache_dir=cache)
    write_images(folder, ["2.png"], BLUE, size=(24, 24))
    mtime = (folder / "2.png").stat().st_mtime_ns
    os.utime(folder / "2.png", ns=(mtime, mtime + 10**9))  # even on coarse file-system clocks
    decoded = []
    real = data.decode_image
    monkeypatch.setattr(data, "decode_image", lambda p, r: decoded.append(p) or real(p, r))
    dataset = load_image_folder(folder, RES, cache_dir=cache)
    assert len(decoded) == 2
    assert dataset.images[1, 8, 8].tolist() == list(BLUE)
    assert len(list(cache.glob("*.npz"))) == 1  # rewritten in place, not piled up

    decoded.clear()
    (folder / "3.png").write_bytes((folder / "1.png").read_bytes())  # a new file
    assert len(load_image_folder(folder, RES, cache_dir=cache)) == 3
    assert len(decoded) == 3


def test_each_resolution_has_its_own_cache(tmp_path):
    write_images(tmp_path / "set", ["1.png"])
    cache = tmp_path / "cache"
    assert load_image_folder(tmp_path / "set", 8, cache_dir=cache).images.shape[1] == 8
    assert load_image_folder(tmp_path / "set", 16, cache_dir=cache).images.shape[1] == 16
    assert len(list(cache.glob("*.npz"))) == 2


@pytest.mark.parametrize("garbage", [b"", b"PK\x03\x04 not a zip", b"\x93NUMPY garbage"])
def test_corrupt_cache_is_rebuilt(tmp_path, garbage):
    folder = tmp_path / "set"
    write_images(folder, ["1.png", "2.png"], GREEN)
    cache = tmp_path / "cache"
    first = load_image_folder(folder, RES, cache_dir=cache)
    (cache_file,) = cache.glob("*.npz")
    cache_file.write_bytes(garbage)
    again = load_image_folder(folder, RES, cache_dir=cache)
    np.testing.assert_array_equal(first.images, again.images)
    with np.load(cache_file, allow_pickle=False) as npz:
        assert npz["images"].shape == (2, RES, RES, 3)


def test_cache_that_cannot_be_written_is_not_an_error(tmp_path):
    write_images(tmp_path / "set", ["1.png"])
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the cache folder should be")
    dataset = load_image_folder(tmp_path / "set", RES, cache_dir=blocker / "cache")
    assert len(dataset) == 1
    assert list(tmp_path.glob("blocker*")) == [blocker]


def test_default_cache_is_in_the_user_cache_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    write_images(tmp_path / "set", ["1.png"])
    load_image_folder(tmp_path / "set", RES)
    assert len(list((tmp_path / "xdg" / "sagan-studio" / "datasets").glob("*.npz"))) == 1


def test_no_cache_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    write_images(tmp_path / "set", ["1.png"])
    load_image_folder(tmp_path / "set", RES, cache_dir=None)
    assert not (tmp_path / "xdg").exists()


# --------------------------------------------------------------------------- demo set


def test_demo_folder_is_the_bundled_resource():
    from sagan_studio_resources import resource_path

    assert data.demo_dataset_folder() == resource_path("demo")


def test_demo_dataset_is_labelled_demo(tmp_path, monkeypatch):
    write_images(tmp_path, ["circles/1.png", "squares/1.png"])
    monkeypatch.setattr(data, "demo_dataset_folder", lambda: tmp_path)
    dataset = data.load_demo_dataset(RES, cache_dir=None)
    assert dataset.source == "demo" and dataset.class_names == ["circles", "squares"]


def test_missing_demo_dataset_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "demo_dataset_folder", lambda: tmp_path / "demo")
    with pytest.raises(DataError, match="bundled demo dataset"):
        data.load_demo_dataset(RES, cache_dir=None)
