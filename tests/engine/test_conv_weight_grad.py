"""The matmul weight gradient of 3x3 convolutions equals autograd's through nn.Conv2d."""

import pytest
import torch
import torch.nn.functional as F

from sagan_engine import conv_weight_grad
from sagan_engine.conv_weight_grad import Conv2d, weight_grad
from sagan_engine.layers import sn_conv2d


@pytest.fixture
def forced_on():
    conv_weight_grad.set_enabled(True)
    yield
    conv_weight_grad.set_enabled(None)


def _reference_grads(conv, x, grad_out):
    """Gradients of the same convolution through F.conv2d (oneDNN's backward)."""
    weight = conv.weight.detach().clone().requires_grad_(True)
    bias = None if conv.bias is None else conv.bias.detach().clone().requires_grad_(True)
    x_ref = x.detach().clone().requires_grad_(True)
    F.conv2d(x_ref, weight, bias, padding=1).backward(grad_out)
    return x_ref.grad, weight.grad, None if bias is None else bias.grad


@pytest.mark.parametrize(
    ("n", "c", "o", "size", "bias", "channels_last"),
    [
        (3, 128, 8, 8, True, True),  # several whole images per block
        (2, 64, 16, 40, False, True),  # 1600 positions: blocks of rows; 64 channels suffice
        (2, 128, 8, 12, True, False),  # contiguous (NCHW) tensors
    ],
)
def test_gradients_equal_autograd_of_conv2d(forced_on, n, c, o, size, bias, channels_last):
    torch.manual_seed(0)
    layout = torch.channels_last if channels_last else torch.contiguous_format
    conv = Conv2d(c, o, 3, padding=1, bias=bias).to(memory_format=layout)
    x = torch.randn(n, c, size, size).contiguous(memory_format=layout).requires_grad_(True)
    grad_out = torch.randn(n, o, size, size).contiguous(memory_format=layout)
    y = conv(x)
    torch.testing.assert_close(y, F.conv2d(x, conv.weight, conv.bias, padding=1))
    assert y.grad_fn.name().endswith("_MatmulWeightGradConv2dBackward")
    y.backward(grad_out)
    gx, gw, gb = _reference_grads(conv, x, grad_out)
    torch.testing.assert_close(conv.weight.grad, gw, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(x.grad, gx, rtol=1e-4, atol=1e-4)
    if bias:
        torch.testing.assert_close(conv.bias.grad, gb, rtol=1e-4, atol=1e-4)


def test_weight_grad_of_an_odd_row_split(monkeypatch):
    """Row blocks that do not divide the height still cover every position once."""
    monkeypatch.setattr(conv_weight_grad, "CHUNK_POSITIONS", 2 * 7)  # 2 rows of width 7
    torch.manual_seed(1)
    x, w = torch.randn(2, 5, 7, 7), torch.randn(4, 5, 3, 3)
    grad_out = torch.randn(2, 4, 7, 7)
    expected = torch.ops.aten.convolution_backward(
        grad_out, x, w, None, [1, 1], [1, 1], [1, 1], False, [0, 0], 1, [False, True, False]
    )[1]
    torch.testing.assert_close(weight_grad(grad_out, x, 3, 1), expected, rtol=1e-4, atol=1e-4)


def test_input_without_gradient_and_frozen_weight(forced_on):
    """D's first conv (no input gradient) and a frozen D in the G step (no weight gradient)."""
    torch.manual_seed(0)
    conv = Conv2d(128, 8, 3, padding=1)
    x = torch.randn(2, 128, 6, 6)
    conv(x).sum().backward()
    assert conv.weight.grad is not None and conv.bias.grad is not None
    conv.requires_grad_(False)
    x.requires_grad_(True)
    y = conv(x)
    assert y.grad_fn.name() != "_MatmulWeightGradConv2dBackward"  # plain conv: nothing to win
    y.sum().backward()
    assert x.grad is not None


def test_falls_back_where_not_faster_or_not_applicable(forced_on):
    x = torch.randn(2, 128, 6, 6)
    cases = [
        Conv2d(128, 8, 1, padding=0),  # 1x1
        Conv2d(3, 8, 3, padding=1),  # few input channels
        Conv2d(64, 8, 3, padding=1),  # 64 channels on a small map (oneDNN is as fast)
        Conv2d(128, 8, 3, padding=1, stride=2),
    ]
    for conv in cases:
        inp = x[:, : conv.in_channels]
        assert conv(inp).grad_fn.name() == "ConvolutionBackward0", conv
    conv = Conv2d(128, 8, 3, padding=1)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert conv(x).grad_fn.name() == "ConvolutionBackward0"
    conv_weight_grad.set_enabled(False)
    assert conv(x).grad_fn.name() == "ConvolutionBackward0"


def test_sn_conv_keeps_its_state_dict_and_gradients(forced_on):
    """Checkpoints stay loadable: same keys; spectral norm still sees the weight's gradient."""
    torch.manual_seed(0)
    layer = sn_conv2d(128, 16, 3)
    assert set(layer.state_dict()) == {
        "bias",
        "parametrizations.weight.original",
        "parametrizations.weight.0._u",
        "parametrizations.weight.0._v",
    }
    x = torch.randn(2, 128, 5, 5)
    state = {k: v.clone() for k, v in layer.state_dict().items()}
    y = layer(x)
    assert y.grad_fn.name() == "_MatmulWeightGradConv2dBackward"
    y.square().sum().backward()
    fast = layer.parametrizations.weight.original.grad.clone()
    conv_weight_grad.set_enabled(False)
    layer.load_state_dict(state)
    layer.zero_grad()
    layer(x).square().sum().backward()
    torch.testing.assert_close(fast, layer.parametrizations.weight.original.grad)


def test_default_choice_is_one_thread_on_avx2():
    conv_weight_grad.set_enabled(None)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        assert not conv_weight_grad.enabled()
        torch.set_num_threads(1)
        avx2 = torch.backends.cpu.get_cpu_capability() == "AVX2"
        assert conv_weight_grad.enabled() == avx2
    finally:
        torch.set_num_threads(threads)
