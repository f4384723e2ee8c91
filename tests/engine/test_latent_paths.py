"""Latent paths, truncation, class swap, seed walking and nudges; the interpolate CLI and
`sample --truncation` on a tiny checkpoint."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image

from sagan_engine.animation import read_frames_metadata
from sagan_engine.checkpoint import save_checkpoint
from sagan_engine.cli import main
from sagan_engine.latent_paths import (
    MAX_SEED,
    LatentPosition,
    SeedLatent,
    Truncation,
    class_swap,
    interpolation_path,
    lerp,
    next_seed,
    nudge,
    render_frame,
    render_latents,
    render_path,
    seed_latents,
    slerp,
    truncate,
)
from sagan_engine.models import Generator
from sagan_engine.sampling import latents
from tests.engine.conftest import tiny_config


def tiny_generator(classes: int = 0) -> Generator:
    torch.manual_seed(0)
    generator = Generator(tiny_config().replace(model={"num_classes": classes}).model).eval()
    with torch.no_grad():  # class-conditional BN starts the same for every class
        for name, parameter in generator.named_parameters():
            if ".gain." in name or ".bias." in name:
                parameter.add_(0.5 * torch.randn_like(parameter))
    return generator


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """Two tiny checkpoints: unconditional and with 3 classes."""
    folder = tmp_path_factory.mktemp("latent")
    paths = {}
    for classes in (0, 3):
        config = tiny_config().replace(model={"num_classes": classes})
        generator = tiny_generator(classes)
        tensors = {f"G/{k}": v for k, v in generator.state_dict().items()}
        names = [f"class{i}" for i in range(classes)]
        paths[classes] = save_checkpoint(
            folder / f"c{classes}.safetensors", 4, config, names, tensors
        )
    return paths


# ------------------------------------------------------------------ interpolation
def test_slerp_hits_the_endpoints_and_interpolates_the_norm():
    z0, z1 = latents(2, 64, seed=1)
    z1 = z1 * 1.5
    path = interpolation_path(z0, z1, 9)
    assert path.shape == (9, 64)
    assert torch.equal(path[0], z0) and torch.equal(path[-1], z1)
    norms = path.norm(dim=1)
    expected = torch.linspace(float(z0.norm()), float(z1.norm()), 9)
    torch.testing.assert_close(norms, expected, rtol=1e-5, atol=1e-4)
    # The direction moves at constant angular speed along the great circle.
    units = path / norms[:, None]
    angles = torch.arccos((units[:-1] * units[1:]).sum(1).clamp(-1, 1))
    torch.testing.assert_close(angles, angles.mean().expand(8), rtol=1e-3, atol=1e-4)
    # Halfway, a straight line cuts towards the origin; slerp keeps the norm.
    other = latents(1, 64, 5)[0]
    assert slerp(z0, other, 0.5).norm() > 1.2 * lerp(z0, other, 0.5).norm()


def test_linear_path_is_a_straight_line():
    z0, z1 = latents(2, 16, seed=2)
    path = interpolation_path(z0, z1, 5, spherical=False)
    torch.testing.assert_close(path[2], (z0 + z1) / 2)


def test_slerp_of_parallel_latents_falls_back_to_lerp():
    z = latents(1, 8, 0)[0]
    torch.testing.assert_close(slerp(z, 2 * z, 0.5), 1.5 * z)


def test_a_path_needs_two_frames():
    z0, z1 = latents(2, 8, 0)
    with pytest.raises(ValueError, match="at least 2 frames"):
        interpolation_path(z0, z1, 1)


# ------------------------------------------------------------------ truncation
@pytest.mark.parametrize("psi,threshold", [(1.0, 0.5), (0.7, 2.0), (0.5, 1.0), (0.3, None)])
def test_truncation_bounds(psi, threshold):
    z = latents(64, 32, seed=3) * 2  # many components beyond the threshold
    out = truncate(z, Truncation(psi, threshold), seed=3)
    bound = psi * (threshold if threshold is not None else float(z.abs().max()))
    assert float(out.abs().max()) <= bound + 1e-6
    if threshold is not None:
        inside = z.abs() <= threshold
        torch.testing.assert_close(out[inside], psi * z[inside])  # untouched, only scaled
        assert not torch.allclose(out[~inside], psi * z[~inside].clamp(-threshold, threshold))


def test_truncation_is_deterministic_and_identity_by_default():
    z = latents(8, 16, seed=4)
    t = Truncation(0.8, 1.0)
    assert torch.equal(truncate(z, t, 4), truncate(z, t, 4))
    assert not torch.equal(truncate(z, t, 4), truncate(z, t, 5))
    assert torch.equal(truncate(z, Truncation(), 4), z)
    assert torch.equal(seed_latents(8, 16, 4), z)
    assert Truncation(0.7, 2.0).metadata() == {
        "truncation_psi": "0.7",
        "truncation_threshold": "2",
    }


@pytest.mark.parametrize("psi,threshold", [(1.5, None), (-0.1, None), (0.5, 0.0), (0.5, math.nan)])
def test_bad_truncation_is_refused(psi, threshold):
    with pytest.raises(ValueError, match="truncation"):
        Truncation(psi, threshold)


def test_seed_latent_is_the_grid_sample():
    grid = seed_latents(6, 16, 9, Truncation(0.6, 1.5))
    assert torch.equal(SeedLatent(9, 4, 6).latent(16, Truncation(0.6, 1.5)), grid[4])
    assert torch.equal(SeedLatent(9).latent(16), latents(1, 16, 9)[0])


# ------------------------------------------------------------------ seeds and nudges
def test_seed_walking_wraps():
    assert next_seed(5) == 6 and next_seed(5, -1) == 4
    assert next_seed(0, -1) == MAX_SEED and next_seed(MAX_SEED) == 0


def test_nudge_moves_by_the_step():
    z = latents(1, 64, 0)[0]
    moved = nudge(z, 0.1, seed=3)
    assert math.isclose(float((moved - z).norm()), 0.1 * 8, rel_tol=1e-5)
    assert torch.equal(moved, nudge(z, 0.1, seed=3))
    assert not torch.equal(moved, nudge(z, 0.1, seed=4))


def test_latent_position_composes_path_and_nudges():
    a, b = SeedLatent(1), SeedLatent(2)
    position = LatentPosition(a, b, 0.25, True, ((7, 0.05),))
    expected = nudge(slerp(a.latent(16), b.latent(16), 0.25), 0.05, 7)
    torch.testing.assert_close(position.latent(16), expected)
    assert torch.equal(LatentPosition(a).latent(16), a.latent(16))


# ------------------------------------------------------------------ rendering
def test_class_swap_renders_every_class():
    generator = tiny_generator(classes=3)
    z = latents(1, generator.cfg.z_dim, 0)[0]
    row = class_swap(generator, z)
    assert row.shape == (3, 32, 32, 3) and row.dtype == np.uint8
    assert not np.array_equal(row[0], row[1])
    single = render_latents(generator, z.reshape(1, -1), [2])
    np.testing.assert_array_equal(row[2], single[0])
    np.testing.assert_array_equal(class_swap(generator, z, [2, 0]), row[[2, 0]])
    with pytest.raises(ValueError, match="classes must lie in 0..2"):
        class_swap(generator, z, [3])
    with pytest.raises(ValueError, match="class-conditional"):
        class_swap(tiny_generator(0), z)


def test_render_in_batches_equals_one_pass():
    generator = tiny_generator()
    z = latents(5, generator.cfg.z_dim, 1)
    done = []
    batched = render_latents(generator, z, batch=2, progress=lambda d, t: done.append((d, t)))
    assert done == [(2, 5), (4, 5), (5, 5)]
    np.testing.assert_array_equal(batched, render_latents(generator, z))


def test_render_path_and_frame():
    generator = tiny_generator(classes=3)
    z0, z1 = latents(2, generator.cfg.z_dim, 2)
    frames = render_path(generator, z0, z1, 4, label=1)
    assert frames.shape == (4, 32, 32, 3)
    frame = render_frame(generator, z0, 1, [(3, 4), (20, 20)])
    np.testing.assert_array_equal(frame.image, frames[0])
    assert frame.attention is not None and frame.attention.queries == ((3, 4), (20, 20))
    plain = render_frame(generator, z1, 1)
    assert plain.attention is None
    np.testing.assert_array_equal(plain.image, frames[-1])
    with pytest.raises(ValueError, match="give a class"):
        render_path(generator, z0, z1, 3)


# ------------------------------------------------------------------ command line
@pytest.mark.parametrize("suffix", [".gif", ".webp"])
def test_interpolate_writes_an_animation(checkpoints, tmp_path, capsys, suffix):
    out = tmp_path / f"path{suffix}"
    args = ["interpolate", "--run", str(checkpoints[3]), "--seeds", "1,2", "--frames", "5"]
    assert main(args + ["--class", "2", "--scale", "2", "--out", str(out)]) == 0
    assert "5 frames" in capsys.readouterr().out
    with Image.open(out) as image:
        assert image.n_frames == 5 and image.size == (64, 64)
        frames = []
        for index in range(image.n_frames):
            image.seek(index)
            frames.append(np.asarray(image.convert("RGB")))
    assert not np.array_equal(frames[0], frames[-1])
    meta = read_frames_metadata(out)
    assert meta["seeds"] == "1,2" and meta["class"] == "2" and meta["truncation_psi"] == "1"


def test_interpolate_png_strip_matches_the_engine(checkpoints, tmp_path):
    out = tmp_path / "strip.png"
    args = ["interpolate", "--run", str(checkpoints[0]), "--seeds", "3,4", "--frames", "6"]
    assert main(args + ["--linear", "--truncation", "0.5", "--out", str(out)]) == 0
    with Image.open(out) as image:
        assert image.size == (6 * 34 + 2, 34 + 2)
        strip = np.asarray(image.convert("RGB"))
        meta = dict(image.text)
    assert meta["interpolation"] == "linear" and meta["truncation_psi"] == "0.5"
    assert meta["truncation_threshold"] == "2"
    generator = tiny_generator(0)
    t = Truncation(0.5, 2.0)
    z_dim = generator.cfg.z_dim
    frames = render_path(
        generator,
        SeedLatent(3).latent(z_dim, t),
        SeedLatent(4).latent(z_dim, t),
        6,
        spherical=False,
    )
    np.testing.assert_array_equal(strip[2:34, 2 + 34 : 2 + 34 + 32], frames[1])


def test_sample_truncation_goes_into_the_png(checkpoints, tmp_path):
    plain, truncated = tmp_path / "plain.png", tmp_path / "trunc.png"
    base = ["sample", "--run", str(checkpoints[0]), "--n", "4", "--seed", "5"]
    assert main(base + ["--out", str(plain)]) == 0
    assert main(base + ["--truncation", "0.4", "--threshold", "1", "--out", str(truncated)]) == 0
    with Image.open(plain) as a, Image.open(truncated) as b:
        assert a.text["truncation_psi"] == "1" and a.text["truncation_threshold"] == "none"
        assert b.text["truncation_psi"] == "0.4" and b.text["truncation_threshold"] == "1"
        assert not np.array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize(
    "extra,message",
    [
        (["--out", "x.jpg"], "unknown output type '.jpg'; use .gif or .webp"),
        (["--truncation", "2", "--out", "x.gif"], "psi must lie in [0, 1]"),
        (["--class", "1", "--out", "x.gif"], "unconditional"),
        # 16 frames at 100000x: 10^16 pixels, which the system killed for memory, silently.
        (["--scale", "100000", "--out", "x.gif"], "use --scale 73 or less"),
    ],
)
def test_interpolate_bad_input_is_one_line(checkpoints, tmp_path, capsys, extra, message):
    args = ["interpolate", "--run", str(checkpoints[0]), "--seeds", "1,2"]
    extra = [str(tmp_path / e) if e.startswith("x.") else e for e in extra]
    assert main(args + extra) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and message in err and err.count("\n") == 1
