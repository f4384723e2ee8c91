"""The in-memory load's decode cache (one .npz a folder and resolution, sagan_engine.data):
a second load decodes nothing, a changed or new file is decoded again, a corrupt cache is
rebuilt, an unwritable one is no error, and it lives in the user cache folder."""

from __future__ import annotations

import os
import threading
import time

import numpy as np
import pytest

from sagan_engine import data
from sagan_engine.data import load_image_folder
from tests.engine.data_helpers import BLUE, GREEN, RES, write_images


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


def _three_loads_at_once(tmp_path, monkeypatch):
    """Three loads of one folder into memory that have all missed the cache before any of
    them decodes (the ranks of a torchrun starting together): the files they decoded, and
    the most of them decoding at one time."""
    from sagan_engine import data_cache_lock

    monkeypatch.setattr(data_cache_lock, "POLL_S", 0.02)
    folder = tmp_path / "set"
    write_images(folder, [f"{i}.png" for i in range(12)], GREEN)
    decoded = []
    real_decode, real_read = data.decode_image, data._DecodeCache.read
    all_missed = threading.Barrier(3)
    first_reads: set[int] = set()

    def read(self, total, resolution):
        found = real_read(self, total, resolution)
        if threading.get_ident() not in first_reads:
            first_reads.add(threading.get_ident())
            all_missed.wait(10)
        return found

    monkeypatch.setattr(data._DecodeCache, "read", read)
    guard, active, peak = threading.Lock(), [0], [0]

    def decode(path, resolution):
        with guard:
            decoded.append(path)
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        try:
            time.sleep(0.01)  # long enough for decoders at the same time to meet
            return real_decode(path, resolution)
        finally:
            with guard:
                active[0] -= 1

    monkeypatch.setattr(data, "decode_image", decode)
    loads = []

    def load() -> None:
        loads.append(load_image_folder(folder, RES, cache_dir=tmp_path / "cache", workers=1))

    threads = [threading.Thread(target=load) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(loads) == 3
    for other in loads[1:]:
        np.testing.assert_array_equal(other.images, loads[0].images)
    assert not list((tmp_path / "cache").glob(".*building"))  # released
    return len(decoded), peak[0]


def test_processes_loading_one_folder_at_once_decode_it_once(tmp_path, monkeypatch):
    """The ranks of a torchrun (or two windows) loading one folder into memory: one decodes
    it and caches it, the others wait for that and read it (each rank decoded it all)."""
    assert _three_loads_at_once(tmp_path, monkeypatch) == (12, 1)


def test_when_no_cache_can_be_written_the_waiting_loads_decode_at_once(tmp_path, monkeypatch):
    """A full disk (or a file that cannot be read): the first load writes no cache; the
    others then decode side by side, not one after another behind the lock."""
    monkeypatch.setattr(data._DecodeCache, "write", lambda self, *args: None)
    decoded, at_once = _three_loads_at_once(tmp_path, monkeypatch)
    assert decoded == 36 and at_once >= 2
