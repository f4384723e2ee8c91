"""Decoding image files (sagan_engine.data_decode) of every awkward kind, from the corpus of
tests/engine/bad_images.py: colours, crops, EXIF orientation, 16-bit grey, the decompression
bomb guard, unreadable files; loading the whole corpus reports every bad file once."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from sagan_engine import data_decode
from sagan_engine.data import (
    IMAGE_EXTENSIONS,
    ImageDataset,
    ImageSkip,
    SkippedFile,
    decode_image,
    load_image_folder,
    scan_folder,
)
from tests.engine import bad_images
from tests.engine.data_helpers import (
    BLUE,
    CORPUS,
    GREEN,
    RED,
    RES,
    Case,
    pixel,
    shown,
    solid,
    write_case,
    write_corpus,
    write_images,
)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("corpus")
    write_corpus(folder)
    return folder


# --------------------------------------------------------------------------- file types


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
