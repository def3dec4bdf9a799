"""LayerStats and the gradient probe: what they record must equal what we compute by hand."""

from __future__ import annotations

import matplotlib
import pytest
import torch
from torch import nn

from course_lib.init import initialize_
from course_lib.models import mlp
from course_lib.plots import plot_histogram_evolution, plot_histograms, plot_layer_stats
from course_lib import monitoring
from course_lib.monitoring import (
    LayerStats,
    dead_fraction,
)

matplotlib.use("Agg")


def _model_and_batch(device: torch.device):
    model = mlp([6, 12, 12, 2], seed=0, device=device)
    x = torch.randn(32, 6, generator=torch.Generator().manual_seed(0)).to(device)
    return model, x


def test_recorded_statistics_equal_hand_computed_ones(device: torch.device) -> None:
    model, x = _model_and_batch(device)
    with LayerStats(model) as stats:
        model(x).pow(2).mean().backward()

    # The same pass by hand, keeping every intermediate output and its gradient.
    model.zero_grad()
    outputs, h = {}, x
    for name, layer in model.named_children():
        h = layer(h)
        h.retain_grad()
        outputs[name] = h
    h.pow(2).mean().backward()

    assert list(stats.layers) == ["linear1", "relu1", "linear2", "relu2", "linear3"]
    for name, out in outputs.items():
        record = stats.layers[name]
        assert record.act_mean == pytest.approx([out.mean().item()], rel=1e-5)
        assert record.act_std == pytest.approx([out.std(correction=0).item()], rel=1e-5)
        assert record.grad_mean == pytest.approx([out.grad.mean().item()], rel=1e-4, abs=1e-9)
        assert record.grad_std == pytest.approx([out.grad.std(correction=0).item()], rel=1e-5)
    for name in ("linear1", "linear2", "linear3"):
        weight_grad = getattr(model, name).weight.grad
        assert stats.layers[name].weight_grad_std == pytest.approx([weight_grad.std(correction=0).item()], rel=1e-5)
        assert stats.layers[name].weight_grad_mean == pytest.approx([weight_grad.mean().item()], rel=1e-4, abs=1e-9)
    assert stats.layers["relu1"].weight_grad_std == []
    assert stats.last("act_std")["relu2"] == pytest.approx(outputs["relu2"].std(correction=0).item(), rel=1e-5)


def test_dead_units_are_counted() -> None:
    model = mlp([4, 10, 1], seed=0)
    with torch.no_grad():
        model.linear1.bias[:3] = -100.0  # three units that no input can switch on
    with LayerStats(model) as stats:
        model(torch.randn(64, 4))
    assert stats.last("dead_fraction")["relu1"] == pytest.approx(0.3)
    assert stats.last("dead_fraction")["linear1"] == 0.0
    assert dead_fraction(torch.tensor([[0.0, 1.0, 0.0], [0.0, 0.0, 2.0]])) == pytest.approx(1 / 3)
    assert dead_fraction(torch.zeros(5, 2, 3)) == 1.0


def test_hooks_are_removed_on_exit_and_series_grow_per_pass() -> None:
    model, x = _model_and_batch(torch.device("cpu"))
    stats = LayerStats(model)
    with stats:
        assert stats.attached and len(model.linear1._forward_hooks) == 1
        for _ in range(3):
            model.zero_grad()
            model(x).sum().backward()
        model(x)  # a forward pass without backward
    assert not stats.attached
    assert all(len(layer._forward_hooks) == 0 for layer in model.modules())
    assert not model.linear1.weight._backward_hooks
    record = stats.layers["linear2"]
    assert (len(record.act_std), len(record.grad_std), len(record.weight_grad_std)) == (4, 3, 3)
    model(x).sum().backward()
    assert len(record.act_std) == 4 and len(record.grad_std) == 3, "nothing recorded after detach"
    stats.clear()
    assert stats.layers["linear2"].act_std == []


def test_training_only_and_module_types() -> None:
    model, x = _model_and_batch(torch.device("cpu"))
    with LayerStats(model, module_types=[nn.Linear], training_only=True) as stats:
        model(x)
        model.eval()
        with torch.no_grad():
            model(x)
    assert list(stats.layers) == ["linear1", "linear2", "linear3"]
    assert all(len(series) == 1 for series in stats.history("act_mean").values())
    with pytest.raises(ValueError, match="no submodule"):
        LayerStats(model, module_types=[nn.Conv2d])
    with pytest.raises(ValueError, match="unknown quantity"):
        stats.history("act_var")


def test_histograms_count_values_in_range() -> None:
    model, x = _model_and_batch(torch.device("cpu"))
    with LayerStats(model, histograms=True, bins=20, hist_range=(-1.0, 1.0)) as stats:
        model(x)
        model(2 * x)
    assert len(stats.bin_edges) == 21
    counts = stats.layers["linear1"].histograms[0]
    with torch.no_grad():
        out = model.linear1(x)
    assert counts.shape == (20,)
    assert counts.sum().item() == ((out >= -1) & (out <= 1)).sum().item()
    assert len(stats.layers["relu1"].histograms) == 2


def test_activation_std_per_layer_tells_inits_apart() -> None:
    """Chapter 7's demo in miniature: tiny weights vanish layer by layer, Xavier keeps tanh alive."""
    x = torch.randn(256, 64, generator=torch.Generator().manual_seed(0))
    last_std = {}
    for scheme in ("normal(0.01)", "xavier"):
        model = mlp([64] + [64] * 8 + [1], activation="tanh", seed=0)
        initialize_(model, scheme, generator=torch.Generator().manual_seed(0))
        with LayerStats(model, module_types=[nn.Tanh]) as stats:
            model(x)
        stds = list(stats.last("act_std").values())
        assert len(stds) == 8
        last_std[scheme] = stds[-1]
        if scheme == "normal(0.01)":
            assert all(b < a for a, b in zip(stds, stds[1:])), "tiny weights: the std shrinks at every layer"
    assert last_std["normal(0.01)"] < 1e-8 < 0.05 < last_std["xavier"]


def test_plots(tmp_path) -> None:
    model, x = _model_and_batch(torch.device("cpu"))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with LayerStats(model, histograms=True) as stats:
        for _ in range(15):
            optimizer.zero_grad()
            model(x).pow(2).mean().backward()
            optimizer.step()
    ax = plot_layer_stats(stats, "grad_std", kinds=["Linear"], log=True)
    assert len(ax.get_lines()) == 3 and ax.get_yscale() == "log"
    ax.figure.savefig(tmp_path / "over_steps.png")
    ax = plot_layer_stats(stats, "act_std", over="layers", label="default init")
    plot_layer_stats(stats, "act_mean", over="layers", label="mean", ax=ax)
    assert [t.get_text() for t in ax.get_xticklabels()] == list(stats.layers)
    assert len(ax.get_lines()) == 2
    axes = plot_histograms(stats, kinds=["ReLU", "Linear"])
    assert len(axes) == 5
    axes = plot_histogram_evolution(stats, layers=["linear1", "relu1"])
    assert axes[0].get_images()[0].get_array().shape == (50, 15)
    with pytest.raises(ValueError, match="unknown layers"):
        plot_layer_stats(stats, layers=["nope"])
    with pytest.raises(ValueError, match="no histograms"):
        plot_histograms(LayerStats(model))
    matplotlib.pyplot.close("all")


def test_probe_along_gradient_on_a_quadratic_matches_the_formulas():
    # least squares L(w) = mean((Xw - y)^2): gradient 2/n X^T (Xw - y), Hessian H = 2/n X^T X, so
    # L(w - s g) = L - s |g|^2 + s^2/2 g^T H g and grad(w - s g) - g = -s H g
    generator = torch.Generator().manual_seed(0)
    X = torch.randn(20, 3, generator=generator, dtype=torch.float64)
    y = torch.randn(20, 1, generator=generator, dtype=torch.float64)
    model = nn.Linear(3, 1, bias=False).double()
    before = model.weight.detach().clone()
    model.weight.grad = torch.ones_like(model.weight)
    steps = [0.01, 0.1, 0.5]
    probe = monitoring.probe_along_gradient(model, nn.functional.mse_loss, X, y, steps)
    w = before.T
    H = 2 / len(X) * X.T @ X
    g = 2 / len(X) * X.T @ (X @ w - y)
    loss = ((X @ w - y) ** 2).mean()
    assert probe.loss == pytest.approx(float(loss))
    for s, value, change in zip(steps, probe.losses, probe.gradient_changes):
        assert value == pytest.approx(float(loss - s * (g**2).sum() + s**2 / 2 * (g.T @ H @ g)))
        assert change == pytest.approx(s * float((H @ g).norm()))
    assert probe.gradient_norm == pytest.approx(float(g.norm()))
    assert probe.smoothness == pytest.approx(float((H @ g).norm() / g.norm()))
    assert probe.loss_range == pytest.approx(max(probe.losses + (probe.loss,)) - min(probe.losses + (probe.loss,)))
    # parameters and gradients are put back
    assert torch.equal(model.weight, before)
    assert torch.equal(model.weight.grad, torch.ones_like(model.weight))


def test_probe_along_gradient_leaves_batch_norm_buffers_alone():
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))
    buffers = {name: b.clone() for name, b in model.named_buffers()}
    monitoring.probe_along_gradient(model, nn.functional.cross_entropy, torch.randn(16, 4),
                                    torch.randint(0, 2, (16,)), [0.1, 1.0])
    assert all(torch.equal(b, buffers[name]) for name, b in model.named_buffers())
    with pytest.raises(ValueError, match="positive"):
        monitoring.probe_along_gradient(model, nn.functional.cross_entropy, torch.randn(4, 4),
                                        torch.randint(0, 2, (4,)), [0.0])
