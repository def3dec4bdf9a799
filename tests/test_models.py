"""The shared MLP builder: layer order, seeding, devices."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from course_lib.models import ACTIVATIONS, mlp

# (kwargs, expected (name, type) sequence, description)
ORDER_TABLE = [
    (
        {},
        [("linear1", nn.Linear), ("relu1", nn.ReLU), ("linear2", nn.Linear), ("relu2", nn.ReLU), ("linear3", nn.Linear)],
        "plain",
    ),
    (
        {"batch_norm": True, "dropout": 0.2, "activation": "tanh"},
        [
            ("linear1", nn.Linear), ("batchnorm1", nn.BatchNorm1d), ("tanh1", nn.Tanh), ("dropout1", nn.Dropout),
            ("linear2", nn.Linear), ("batchnorm2", nn.BatchNorm1d), ("tanh2", nn.Tanh), ("dropout2", nn.Dropout),
            ("linear3", nn.Linear),
        ],
        "Linear -> BN -> act -> dropout",
    ),
    (
        {"layer_norm": True, "activation": "gelu"},
        [
            ("linear1", nn.Linear), ("layernorm1", nn.LayerNorm), ("gelu1", nn.GELU),
            ("linear2", nn.Linear), ("layernorm2", nn.LayerNorm), ("gelu2", nn.GELU),
            ("linear3", nn.Linear),
        ],
        "layer norm",
    ),
    (
        {"activation": nn.SiLU},
        [("linear1", nn.Linear), ("act1", nn.SiLU), ("linear2", nn.Linear), ("act2", nn.SiLU), ("linear3", nn.Linear)],
        "activation given as a module factory",
    ),
]


@pytest.mark.parametrize(("kwargs", "expected", "desc"), ORDER_TABLE, ids=[row[2] for row in ORDER_TABLE])
def test_layer_order_and_names(kwargs: dict, expected: list, desc: str) -> None:
    model = mlp([6, 10, 10, 2], seed=0, **kwargs)
    got = [(name, type(module)) for name, module in model.named_children()]
    assert got == expected, desc
    assert model(torch.randn(4, 6)).shape == (4, 2)


def test_widths_bias_and_dropout_probability() -> None:
    model = mlp([30, 100, 50, 1], bias=False, dropout=0.3, seed=0)
    linears = [m for m in model if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(30, 100), (100, 50), (50, 1)]
    assert all(m.bias is None for m in linears)
    assert all(m.p == 0.3 for m in model if isinstance(m, nn.Dropout))
    assert model[0] is model.linear1
    single = mlp([3, 1], seed=0)
    assert len(single) == 1 and isinstance(single[0], nn.Linear)


def test_seed_reproduces_torch_default_init_without_touching_the_global_generator() -> None:
    torch.manual_seed(123)
    state = torch.random.get_rng_state()
    a = mlp([8, 16, 4], seed=5)
    assert torch.equal(torch.random.get_rng_state(), state), "the global generator must be left alone"
    b = mlp([8, 16, 4], seed=5)
    c = mlp([8, 16, 4], seed=6)
    for pa, pb, pc in zip(a.parameters(), b.parameters(), c.parameters()):
        assert torch.equal(pa, pb)
    assert not torch.equal(a.linear1.weight, c.linear1.weight)
    torch.manual_seed(5)
    by_hand = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))
    for ours, theirs in zip(a.parameters(), by_hand.parameters()):
        assert torch.equal(ours, theirs), "seed=s should equal torch.manual_seed(s) then building"


def test_on_device(device: torch.device) -> None:
    model = mlp([5, 7, 3], batch_norm=True, seed=0, device=device)
    assert all(p.device.type == device.type for p in model.parameters())
    assert model.batchnorm1.running_mean.device.type == device.type
    assert model(torch.randn(4, 5, device=device)).device.type == device.type


@pytest.mark.parametrize(
    ("sizes", "kwargs", "match"),
    [
        ([5], {}, "at least two"),
        ([5, 0, 1], {}, "positive"),
        ([5, 3, 1], {"batch_norm": True, "layer_norm": True}, "not both"),
        ([5, 3, 1], {"dropout": 1.0}, "dropout"),
        ([5, 3, 1], {"activation": "swishy"}, "unknown activation"),
    ],
)
def test_bad_arguments(sizes: list[int], kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        mlp(sizes, **kwargs)


def test_every_named_activation_builds() -> None:
    for name, make in ACTIVATIONS.items():
        model = mlp([3, 4, 1], activation=name, seed=0)
        assert isinstance(model[1], make().__class__), name
