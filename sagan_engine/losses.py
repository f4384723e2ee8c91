"""Adversarial losses. SAGAN uses the hinge loss (Lim & Ye, arXiv 1705.02894; paper eq. 4)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def hinge_d(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """L_D = E[max(0, 1 - D(x, y))] + E[max(0, 1 + D(G(z), y))]."""
    return F.relu(1.0 - real_logits).mean() + F.relu(1.0 + fake_logits).mean()


def hinge_g(fake_logits: torch.Tensor) -> torch.Tensor:
    """L_G = -E[D(G(z), y)]."""
    return -fake_logits.mean()


def bce_d(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Non-saturating GAN loss for D (Goodfellow et al.), offered for comparison."""
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def bce_g(fake_logits: torch.Tensor) -> torch.Tensor:
    """Non-saturating GAN loss for G."""
    return F.softplus(-fake_logits).mean()


LOSSES = {"hinge": (hinge_d, hinge_g), "bce": (bce_d, bce_g)}
