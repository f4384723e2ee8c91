"""Scanning an image folder (sagan_engine.data_scan) and loading it into memory: folder
errors, recursive listing, class sub-folders, symbolic links, progress and stopping."""

from __future__ import annotations

import errno
import os
import time

import pytest

from sagan_engine import data, data_scan
from sagan_engine.data import FolderScan, LoadStopped, SkippedFile, load_image_folder, scan_folder
from sagan_engine.errors import DataError
from tests.engine import bad_images
from tests.engine.data_helpers import BLUE, CORPUS, RED, RES, solid, write_case, write_images

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


# --------------------------------------------------------------------------- fingerprint


def test_copies_of_a_folder_share_a_fingerprint_and_any_change_of_its_files_breaks_it(tmp_path):
    """torchrun compares the fingerprints of every machine's copy before training."""
    names = ["cats/a.png", "cats/b.png", "dogs/c.png"]
    first, second = tmp_path / "first", tmp_path / "elsewhere" / "second"
    for copy in (first, second):
        write_images(copy, names)
    reference = load_image_folder(first, RES, cache_dir=None).fingerprint
    assert load_image_folder(second, RES, cache_dir=None).fingerprint == reference
    # A file that cannot be decoded is left out of the dataset, and out of its fingerprint.
    (second / "dogs" / "broken.png").write_bytes(b"not a png")
    assert load_image_folder(second, RES, cache_dir=None).fingerprint == reference

    def changed(change) -> str:
        folder = tmp_path / f"case{len(list(tmp_path.iterdir()))}"
        write_images(folder, names)
        change(folder)
        return load_image_folder(folder, RES, cache_dir=None).fingerprint

    resized = changed(lambda f: write_images(f, ["cats/b.png"], size=(24, 24)))
    renamed = changed(lambda f: (f / "cats/b.png").rename(f / "cats/bb.png"))
    moved = changed(lambda f: (f / "cats/b.png").rename(f / "dogs/b.png"))
    added = changed(lambda f: write_images(f, ["dogs/d.png"]))
    fingerprints = [reference, resized, renamed, moved, added]
    assert len(set(fingerprints)) == len(fingerprints)
