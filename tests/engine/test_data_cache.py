"""The on-disk decoded cache (sagan_engine.data_cache_build builds it, data_cache reads it) and
the choice of memory or disk (sagan_engine.training_data): same images as the in-memory load,
stop-and-continue, a changed file rebuilds its shard only, the size estimate, the refusal of a
disk too small."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from sagan_engine import data_cache, data_cache_build, training_data
from sagan_engine.config import DataConfig
from sagan_engine.data import load_image_folder
from sagan_engine.data_cache import DiskArray, is_cache_folder, open_cache
from sagan_engine.data_cache_build import build_cache
from sagan_engine.data_cache_cost import CacheSpaceError
from sagan_engine.data_scan import LoadStopped, scan_folder
from sagan_engine.errors import DataError

RES = 16


def write_ppm_folder(folder: Path, n: int, size: int = 20, classes: int = 0, seed: int = 0):
    """``n`` random RGB images as binary PPM (fast to write and to decode), in ``classes``
    sub-folders when asked."""
    rng = np.random.default_rng(seed)
    header = f"P6\n{size} {size}\n255\n".encode()
    for i in range(n):
        sub = folder / f"class{i % classes}" if classes else folder
        sub.mkdir(parents=True, exist_ok=True)
        pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        (sub / f"{i:06d}.ppm").write_bytes(header + pixels.tobytes())


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("images")
    write_ppm_folder(root, 90, classes=3)
    (root / "class0" / "broken.png").write_bytes(b"not a png")
    return root


def shard_files(cache: Path) -> list[str]:
    return sorted(p.name for p in cache.glob("shard_*.json"))


def test_cache_holds_the_images_labels_and_skips_of_the_in_memory_load(folder, tmp_path):
    memory = load_image_folder(folder, RES, cache_dir=None, workers=1)
    disk = build_cache(folder, RES, out=tmp_path / "c", workers=1, shard_images=16)
    assert isinstance(disk.images, DiskArray) and disk.images.shape == memory.images.shape
    assert np.array_equal(disk.images[0 : len(disk)], memory.images)
    assert np.array_equal(disk.labels[0 : len(disk)], memory.labels)
    assert disk.class_names == memory.class_names == ["class0", "class1", "class2"]
    assert [(s.path, s.reason) for s in disk.skipped] == [
        (s.path, s.reason) for s in memory.skipped
    ]
    assert disk.source == memory.source
    # Which files they hold (torchrun compares it across machines), broken.png left out.
    assert disk.fingerprint == memory.fingerprint != ""
    assert len(shard_files(tmp_path / "c")) == 6  # 91 files in shards of 16
    assert is_cache_folder(tmp_path / "c")


def test_disk_array_indexes_like_numpy_across_shards(folder, tmp_path):
    disk = build_cache(folder, RES, out=tmp_path / "c", workers=1, shard_images=7)
    whole = disk.images[0 : len(disk)]
    picks = np.array([89, 0, 15, 14, 7, 6, 50, 50])
    assert np.array_equal(disk.images[picks], whole[picks])
    assert np.array_equal(disk.images[-1], whole[-1])
    assert np.array_equal(disk.images[3:40:5], whole[3:40:5])
    assert np.array_equal(np.asarray(disk.images), whole)
    with pytest.raises(IndexError):
        disk.images[np.array([90])]


def test_multiprocess_build_equals_one_process(folder, tmp_path):
    one = build_cache(folder, RES, out=tmp_path / "one", workers=1, shard_images=20)
    two = build_cache(folder, RES, out=tmp_path / "two", workers=2, shard_images=20)
    assert np.array_equal(one.images[0 : len(one)], two.images[0 : len(two)])
    assert np.array_equal(one.labels[0 : len(one)], two.labels[0 : len(two)])


def counting_decoder(monkeypatch) -> list[Path]:
    decoded: list[Path] = []
    real = data_cache_build.decode_image
    monkeypatch.setattr(
        data_cache_build, "decode_image", lambda p, r: decoded.append(p) or real(p, r)
    )
    return decoded


def stop_after(shards: int, out: Path):
    """A should_stop that turns true once ``shards`` shards are written to ``out``."""
    return lambda: len(shard_files(out)) >= shards


def test_a_stopped_build_keeps_its_shards_and_the_next_one_continues(folder, tmp_path, monkeypatch):
    out = tmp_path / "c"
    with pytest.raises(LoadStopped):
        build_cache(
            folder, RES, out=out, workers=1, shard_images=16, should_stop=stop_after(2, out)
        )
    kept = shard_files(out)
    assert 0 < len(kept) < 6 and not (out / "cache.json").exists()
    decoded = counting_decoder(monkeypatch)
    resumed = []
    dataset = build_cache(
        folder, RES, out=out, workers=1, shard_images=16, progress=lambda *c: resumed.append(c)
    )
    files = 91
    built_before = 16 * len(kept)
    # Only the missing shards were decoded (plus the size estimate's sample, out of them).
    from_shards = [p for p in decoded if p.name != "broken.png"]
    assert len(set(from_shards)) <= files - built_before
    assert resumed[0] == (built_before, files) and resumed[-1] == (files, files)
    reference = load_image_folder(folder, RES, cache_dir=None, workers=1)
    assert np.array_equal(dataset.images[0 : len(dataset)], reference.images)


def test_an_up_to_date_cache_decodes_nothing(folder, tmp_path, monkeypatch):
    build_cache(folder, RES, out=tmp_path / "c", workers=1)
    decoded = counting_decoder(monkeypatch)
    build_cache(folder, RES, out=tmp_path / "c", workers=1)
    assert decoded == []


def test_a_changed_file_rebuilds_only_its_shard(tmp_path, monkeypatch):
    images = tmp_path / "images"
    write_ppm_folder(images, 40)
    build_cache(images, RES, out=tmp_path / "c", workers=1, shard_images=10)
    write_ppm_folder(images, 1, seed=5)  # rewrites 000000.ppm: other pixels
    decoded = counting_decoder(monkeypatch)
    dataset = build_cache(images, RES, out=tmp_path / "c", workers=1, shard_images=10)
    assert len({p.name for p in decoded}) <= 10  # the first shard (and the estimate's sample)
    reference = load_image_folder(images, RES, cache_dir=None, workers=1)
    assert np.array_equal(dataset.images[0 : len(dataset)], reference.images)


def test_a_named_cache_folder_holding_something_else_is_not_built_over(folder, tmp_path):
    """`prepare --out DIR` replaced a finished cache of other images (maybe their only copy:
    a cache trains without them) and wrote shards into any folder."""
    other = tmp_path / "other"
    write_ppm_folder(other, 12)
    cache = tmp_path / "c"
    build_cache(other, RES, out=cache, workers=1)
    manifest = (cache / "cache.json").read_bytes()
    with pytest.raises(DataError, match="holds the decoded cache of .*other at 16x16"):
        build_cache(folder, RES, out=cache, workers=1)
    with pytest.raises(DataError, match="at 16x16; building the one of .* at 32x32"):
        build_cache(other, 32, out=cache, workers=1)
    assert (cache / "cache.json").read_bytes() == manifest
    assert len(open_cache(cache)) == 12
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "notes.txt").write_text("mine")
    with pytest.raises(DataError, match="not a decoded cache \\(notes.txt\\)"):
        build_cache(other, RES, out=theirs, workers=1)
    assert [p.name for p in theirs.iterdir()] == ["notes.txt"]
    picture = tmp_path / "s1.png"  # `prepare --out s1.png`: said "(File exists)"
    picture.write_bytes(b"mine")
    with pytest.raises(DataError, match="s1.png: is a file; the decoded cache is a folder"):
        build_cache(other, RES, out=picture, workers=1)
    assert picture.read_bytes() == b"mine"


def test_estimate_before_the_build_says_size_and_time(folder, tmp_path):
    estimates = []
    build_cache(folder, RES, out=tmp_path / "c", workers=1, on_estimate=estimates.append)
    (estimate,) = estimates
    assert estimate.files == estimate.files_to_decode == 91
    assert 91 * RES * RES * 3 <= estimate.bytes_total < 91 * RES * RES * 3 + 4096
    assert estimate.seconds > 0
    text = estimate.describe()
    assert "91 images" in text and "KB" in text and "decoding about" in text


def test_a_disk_too_small_is_refused_before_anything_is_written(folder, tmp_path, monkeypatch):
    real = shutil.disk_usage
    monkeypatch.setattr(shutil, "disk_usage", lambda p: real(p)._replace(free=10 << 20))
    # 10 MB free: less than the reserve alone
    out = tmp_path / "c"
    with pytest.raises(CacheSpaceError) as info:
        build_cache(folder, RES, out=out, workers=1)
    message = str(info.value)
    assert str(folder) in message and str(out) in message
    assert "10.5 MB is free" in message and "needs" in message
    assert not out.exists()


def test_disk_space_counts_only_what_is_left_to_write(tmp_path, monkeypatch):
    images = tmp_path / "images"
    write_ppm_folder(images, 40, size=64)
    with pytest.raises(LoadStopped):
        build_cache(
            images,
            64,
            out=tmp_path / "c",
            workers=1,
            shard_images=10,
            should_stop=stop_after(2, tmp_path / "c"),
        )
    estimates = []
    build_cache(images, 64, out=tmp_path / "c", workers=1, shard_images=10,
                on_estimate=estimates.append)  # fmt: skip
    assert estimates[0].bytes_to_write < estimates[0].bytes_total


def test_open_cache_refuses_a_folder_that_is_not_one(tmp_path):
    with pytest.raises(DataError, match="not a finished decoded cache"):
        open_cache(tmp_path)


def test_a_damaged_shard_is_reported_with_its_path(folder, tmp_path):
    dataset = build_cache(folder, RES, out=tmp_path / "c", workers=1, shard_images=16)
    np.save(tmp_path / "c" / "shard_00001.npy", np.zeros((3, RES, RES, 3), np.uint8))
    fresh = open_cache(tmp_path / "c")
    with pytest.raises(DataError, match="shard_00001.npy: damaged"):
        fresh.images[np.arange(len(dataset))]
    # Cut short (a copy that stopped, a full disk): NumPy's own error named no file.
    shard = tmp_path / "c" / "shard_00000.npy"
    shard.write_bytes(shard.read_bytes()[: shard.stat().st_size // 2])
    with pytest.raises(DataError, match="shard_00000.npy: damaged cache shard"):
        open_cache(tmp_path / "c").images[0]


# --------------------------------------------------------------------------- memory or disk


def test_auto_keeps_small_folders_in_memory_and_sends_large_ones_to_disk(folder, monkeypatch):
    notes: list[str] = []
    small = training_data.load_training_data(DataConfig(folder=str(folder)), RES, note=notes.append)
    assert isinstance(small.images, np.ndarray)
    monkeypatch.setattr(training_data, "memory_limit_bytes", lambda: 1000)
    large = training_data.load_training_data(DataConfig(folder=str(folder)), RES, note=notes.append)
    assert isinstance(large.images, DiskArray)
    assert "within" in notes[0] and "over" in notes[1] and "disk cache" in notes[1]
    assert np.array_equal(large.images[0 : len(large)], small.images)


def test_one_image_is_said_in_the_singular(tmp_path):
    write_ppm_folder(tmp_path / "one", 1)
    notes: list[str] = []
    config = DataConfig(folder=str(tmp_path / "one"))
    training_data.load_training_data(config, RES, note=notes.append)
    assert notes[0].startswith("data.cache auto: 1 image, 0.00 GB decoded, within the")


def test_a_cache_folder_given_as_data_is_opened_without_the_images(folder, tmp_path):
    build_cache(folder, RES, out=tmp_path / "c", workers=1)
    dataset = training_data.load_training_data(DataConfig(folder=str(tmp_path / "c")), RES)
    assert isinstance(dataset.images, DiskArray) and len(dataset) == 90
    in_memory = training_data.load_training_data(
        DataConfig(folder=str(tmp_path / "c"), cache="memory"), RES
    )
    assert isinstance(in_memory.images, np.ndarray) and in_memory.images.shape == (90, RES, RES, 3)
    with pytest.raises(DataError, match="trains at 32x32"):
        training_data.load_training_data(DataConfig(folder=str(tmp_path / "c")), 32)


def test_a_waiting_process_opens_the_cache_another_one_built(folder, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    config = DataConfig(folder=str(folder), cache="disk")
    built = training_data.load_training_data(config, RES)
    waited = training_data.load_training_data(config, RES, builds=False)
    assert waited.images.paths == built.images.paths


def test_manifest_is_plain_json_with_the_format(folder, tmp_path):
    build_cache(folder, RES, out=tmp_path / "c", workers=1)
    manifest = json.loads((tmp_path / "c" / "cache.json").read_text())
    assert manifest["format"] == "sagan-studio-decoded-cache" and manifest["images"] == 90


def test_a_folder_and_a_link_to_it_share_one_cache(folder, tmp_path):
    link = tmp_path / "link"
    link.symlink_to(folder, target_is_directory=True)
    assert data_cache.cache_folder_for(link, RES) == data_cache.cache_folder_for(folder, RES)


def _wait_until(condition, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_a_build_waits_for_another_building_the_same_cache_then_opens_it(
    folder, tmp_path, monkeypatch
):
    """Two machines of a run on shared storage (or a second `prepare`) building one cache:
    the second waits while the first holds the lock, then opens what it built: the folder
    is decoded once, and nobody replaces shards under the other's readers."""
    from sagan_engine import data_cache_lock

    monkeypatch.setattr(data_cache_lock, "POLL_S", 0.02)
    out = tmp_path / "c"
    other = data_cache_lock.BuildLock(out)  # "the other machine"
    assert other.try_acquire() and other.held
    notes, results = [], []

    def build() -> None:
        results.append(build_cache(folder, RES, out=out, workers=1, note=notes.append))

    waiting = threading.Thread(target=build)
    waiting.start()
    _wait_until(lambda: notes)
    assert waiting.is_alive() and not out.exists()
    assert notes[0].startswith(f"waiting for process {os.getpid()} on ")
    assert f"{out} (lock {tmp_path / '.c.building'}" in notes[0]  # which cache, which file
    decoded = counting_decoder(monkeypatch)
    plan = data_cache_build._plan(scan_folder(folder), RES, out)
    built = data_cache_build._build(plan, 1, None, None, None, other)
    other.release()
    waiting.join(30)
    (opened,) = results
    assert np.array_equal(opened.images[0 : len(opened)], built.images[0 : len(built)])
    assert len(decoded) == 91  # once, by "the other machine"


def test_a_lock_left_by_a_killed_build_is_taken_over(folder, tmp_path):
    from sagan_engine import data_cache_lock

    lock = tmp_path / ".c.building"
    lock.write_text("gonehost 1 sometoken pid:[1]\n")
    old = time.time() - data_cache_lock.STALE_S - 60
    os.utime(lock, (old, old))
    dataset = build_cache(folder, RES, out=tmp_path / "c", workers=1)
    assert len(dataset) == 90 and not lock.exists()  # built, and the lock released


def test_a_lock_of_a_process_of_this_machine_that_is_gone_is_taken_over_at_once(folder, tmp_path):
    """A build killed on this machine (the window closed by force, kill -9): the next one
    does not wait ten minutes for its lock to grow old."""
    import subprocess
    import sys

    from sagan_engine.data_cache_lock import BuildLock

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    lock = BuildLock(tmp_path / "c")
    assert lock.try_acquire()  # written as that process would have written it
    host, _pid, token, space = lock.path.read_text().split()
    lock.path.write_text(f"{host} {gone.stdout.strip()} {token} {space}\n")  # touched now
    notes = []
    dataset = build_cache(folder, RES, out=tmp_path / "c", workers=1, note=notes.append)
    assert len(dataset) == 90 and notes == [] and not lock.path.exists()


def test_two_taking_over_one_stale_lock_at_once_leave_one_holder(tmp_path, monkeypatch):
    """Both judge the dead holder's lock stale; the first moves it aside and takes the lock;
    the second must not remove that fresh lock and take it too."""
    from sagan_engine import data_cache_lock
    from sagan_engine.data_cache_lock import BuildLock

    target = tmp_path / "c"
    first, second = BuildLock(target), BuildLock(target)
    first.path.write_text("gonehost 1 deadtoken pid:[1]\n")
    old = time.time() - data_cache_lock.STALE_S - 60
    os.utime(first.path, (old, old))
    stale = second._stale_content()  # the second judged it stale, then was descheduled
    assert stale is not None
    assert first.try_acquire()  # the first takes it over
    assert not second._take_over(stale)  # what the second would move aside is fresh
    assert not second.try_acquire() and second.waited
    assert first.path.read_text().split()[2] == first.token  # still the first one's lock
    second.release()  # not the second's to remove
    assert first.path.exists()
    first.release()
    assert not first.path.exists() and not list(tmp_path.glob(".c.building*"))


def test_on_windows_a_lock_is_judged_by_its_age_alone(tmp_path, monkeypatch):
    """os.kill(pid, 0) sends Ctrl-C on Windows: the lock must not ask about its process."""
    from sagan_engine import data_cache_lock
    from sagan_engine.data_cache_lock import BuildLock

    def kill_would_interrupt(pid):
        raise AssertionError("asked about a process on Windows")

    lock = BuildLock(tmp_path / "c")
    assert lock.try_acquire()
    host, _pid, token, space = lock.path.read_text().split()
    lock.path.write_text(f"{host} 999999 {token} {space}\n")  # a process that does not run
    monkeypatch.setattr(data_cache_lock, "_running", kill_would_interrupt)
    monkeypatch.setattr(data_cache_lock.sys, "platform", "win32")
    assert BuildLock(tmp_path / "c")._stale_content() is None  # fresh: its holder may run
    old = time.time() - data_cache_lock.STALE_S - 60
    os.utime(lock.path, (old, old))
    assert BuildLock(tmp_path / "c")._stale_content() is not None


def test_a_build_touches_its_lock_at_most_every_few_seconds(tmp_path, monkeypatch):
    """Progress comes up to 20 times a second; each touch reads and stamps the lock file,
    over the network on shared storage: once every TOUCH_EVERY_S keeps it fresh enough."""
    from sagan_engine import data_cache_lock
    from sagan_engine.data_cache_lock import BuildLock

    now = [1000.0]
    monkeypatch.setattr(data_cache_lock.time, "monotonic", lambda: now[0])
    lock = BuildLock(tmp_path / "c")
    assert lock.try_acquire()
    old = time.time() - 100
    os.utime(lock.path, (old, old))
    lock.touch()
    assert lock.path.stat().st_mtime > old + 50  # the first touch stamps it
    os.utime(lock.path, (old, old))
    now[0] += data_cache_lock.TOUCH_EVERY_S / 2
    lock.touch()
    assert lock.path.stat().st_mtime == pytest.approx(old)  # too soon: left alone
    now[0] += data_cache_lock.TOUCH_EVERY_S
    lock.touch()
    assert lock.path.stat().st_mtime > old + 50
    lock.release()
