import torch

from sagan_engine.losses import hinge_d, hinge_g


def test_hinge_d_on_known_logits():
    real = torch.tensor([2.0, 0.5, -1.0])  # relu(1 - x): 0, 0.5, 2 -> mean 5/6
    fake = torch.tensor([-2.0, 0.0, 1.0])  # relu(1 + x): 0, 1, 2 -> mean 1
    assert torch.isclose(hinge_d(real, fake), torch.tensor(5 / 6 + 1))


def test_hinge_g_is_minus_mean_fake_logit():
    assert torch.isclose(hinge_g(torch.tensor([1.0, 3.0])), torch.tensor(-2.0))


def test_hinge_d_is_zero_when_d_is_confident():
    assert hinge_d(torch.tensor([1.5, 3.0]), torch.tensor([-1.0, -4.0])) == 0
