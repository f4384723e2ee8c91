"""interruptible: a forward pass stops between layers when asked, and leaves the model as it
was (no hooks left, the same output afterwards)."""

from __future__ import annotations

import pytest
import torch

from sagan_engine.config import preset
from sagan_engine.interruption import Interrupted, interruptible
from sagan_engine.models import Generator


def tiny_generator() -> Generator:
    cfg = preset("demo").replace(model={"g_ch": 4, "z_dim": 8, "num_classes": 2})
    torch.manual_seed(0)
    return Generator(cfg.model).eval()


def test_a_pass_stops_at_the_layer_where_should_stop_turns_true():
    generator = tiny_generator()
    z, y = torch.randn(2, 8), torch.tensor([0, 1])
    with torch.no_grad():
        expected = generator(z, y)
    ran: list[str] = []
    names = {module: name for name, module in generator.named_modules()}
    hook = [m.register_forward_pre_hook(lambda m, _i: ran.append(names[m])) for m in names]

    def after_five() -> bool:
        return len(ran) >= 5

    with torch.no_grad(), pytest.raises(Interrupted), interruptible(generator, after_five):
        generator(z, y)
    assert 5 <= len(ran) < len(names)  # stopped early, not at the end
    for handle in hook:
        handle.remove()
    # Only the hooks of this test were there; interruptible removed its own.
    assert all(not module._forward_pre_hooks for module in generator.modules())
    with torch.no_grad():
        assert torch.equal(generator(z, y), expected)


def test_a_pass_never_asked_to_stop_gives_the_same_image():
    generator = tiny_generator()
    z, y = torch.randn(3, 8), torch.tensor([1, 0, 1])
    calls = []
    with torch.no_grad():
        expected = generator(z, y)
        with interruptible(generator, lambda: calls.append(1) or False):
            image = generator(z, y)
    assert torch.equal(image, expected)
    assert len(calls) > 10  # asked before the layers, not once per pass
