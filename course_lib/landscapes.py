r"""Two-parameter loss surfaces on which optimizers can be watched.

Every landscape is a small object that maps points ``xy`` of shape ``(..., 2)`` to
losses of shape ``(...)`` with plain torch code, so the same object serves three
purposes: ``torch.autograd`` differentiates it for an optimizer, a grid of points
evaluates it at once for a contour plot, and a test compares it with a formula.

Each one also carries what a picture needs: a ``name``, default axis ranges
``default_xlim``/``default_ylim``, a default ``start`` point, the ``minimum`` when it
is known, and axis labels.

=====================  ==========================================================
:class:`Quadratic`     ill-conditioned (optionally rotated) bowl: zig-zagging GD,
                       why momentum and per-coordinate step sizes help
:class:`Rosenbrock`    a curved, flat-bottomed valley
:class:`Saddle`        a saddle point between two minima: GD stalls, noise escapes
:class:`LocalMinima`   three wells of different depth: which one an optimizer finds
:class:`LinearRegressionLoss`  the mean squared error of :math:`y \approx w x + b`
                       over ``(w, b)``, full-batch or with seeded mini-batches
=====================  ==========================================================

Stochastic versions: :meth:`LinearRegressionLoss.minibatch` draws a seeded mini-batch
per step, and :meth:`Landscape.with_noise` adds Gaussian gradient noise to any
landscape. Their :meth:`~Landscape.loss_at` gives the loss an optimizer sees at step
``t``; calling the object itself always gives the full (noise-free) loss.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch

from course_lib.data import RegressionData, batches, make_regression

__all__ = [
    "Landscape",
    "Quadratic",
    "Rosenbrock",
    "Saddle",
    "LocalMinima",
    "LinearRegressionLoss",
    "NoisyLandscape",
    "LANDSCAPES",
    "make_landscape",
]

class Landscape:
    """Base class: a loss over two parameters, vectorised over leading dimensions.

    Subclasses implement :meth:`value` and set the attributes below; they may also
    give :meth:`gradient` in closed form (then :func:`course_lib.trajectories.run`
    skips autograd, which makes a 200-step run several times faster; the tests check
    every formula against ``torch.autograd``).

    Attributes:
        name: a short human-readable name (used in titles and menus).
        default_xlim: x-range that shows the interesting part.
        default_ylim: y-range.
        start: default start point of an optimizer.
        minimum: the global minimizer as a float64 tensor of shape (2,), or None.
        axis_labels: names of the two parameters (default ``("x", "y")``).
    """

    name: str = "landscape"
    default_xlim: tuple[float, float] = (-2.0, 2.0)
    default_ylim: tuple[float, float] = (-2.0, 2.0)
    start: tuple[float, float] = (-1.5, 1.5)
    minimum: torch.Tensor | None = None
    axis_labels: tuple[str, str] = ("x", "y")

    def value(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The loss at coordinates ``x`` and ``y`` (tensors of the same shape)."""
        raise NotImplementedError

    def __call__(self, xy: torch.Tensor) -> torch.Tensor:
        """The loss at ``xy`` of shape ``(..., 2)``; the result has shape ``(...)``."""
        xy = torch.as_tensor(xy)
        if xy.shape[-1:] != (2,):
            raise ValueError(f"{self.name}: points must have a last dimension of size 2, got shape {tuple(xy.shape)}")
        return self.value(xy[..., 0], xy[..., 1])

    def loss_at(self, xy: torch.Tensor, step: int) -> torch.Tensor:
        """The loss an optimizer sees at step ``step`` (the full loss for deterministic landscapes)."""
        return self(xy)

    def gradient(self, xy: torch.Tensor) -> torch.Tensor:
        """Gradient of the full loss at ``xy`` (shape ``(..., 2)``); subclasses give the formula."""
        return self.autograd_gradient(xy)

    def gradient_at(self, xy: torch.Tensor, step: int) -> torch.Tensor:
        """Gradient of :meth:`loss_at` at step ``step``: the formula when the landscape has one."""
        if type(self).loss_at is Landscape.loss_at:
            return self.gradient(xy)
        return self.autograd_gradient(xy, step)

    def gradient_xy(self, x: Any, y: Any) -> tuple[Any, Any]:
        """The gradient's two components at ``(x, y)``, one formula for tensors and for plain floats.

        Landscapes with a closed-form gradient define it here and build :meth:`gradient`
        from it, so the plain-float path of :meth:`step_gradient` computes the same formula.
        """
        raise NotImplementedError

    def step_gradient(self, steps: int) -> Callable[[float, float, int], tuple[float, float]] | None:
        """The gradient of :meth:`loss_at` on plain floats, ``(x, y, step) -> (gx, gy)`` for steps
        ``0 .. steps - 1``, or None when the landscape has no such formula.

        What a fast optimizer loop needs (:func:`course_lib.trajectories.run` with
        ``engine="python"``): on two numbers, Python arithmetic is many times faster than
        tensor operations.
        """
        if type(self).loss_at is not Landscape.loss_at or type(self).gradient_xy is Landscape.gradient_xy:
            return None
        formula = self.gradient_xy
        return lambda x, y, step: formula(x, y)

    def autograd_gradient(self, xy: torch.Tensor | Sequence[float], step: int | None = None) -> torch.Tensor:
        """Gradient by ``torch.autograd`` of the full loss (or of :meth:`loss_at` at ``step``)."""
        point = torch.as_tensor(xy, dtype=torch.float64).detach().clone().requires_grad_(True)
        loss = self(point) if step is None else self.loss_at(point, step)
        (gradient,) = torch.autograd.grad(loss.sum(), point)
        return gradient

    @property
    def stochastic(self) -> bool:
        """Whether :meth:`loss_at` differs from the full loss (mini-batches or noise)."""
        return False

    def minibatch(self, batch_size: int, seed: int = 0) -> Landscape:
        """The mini-batch form of this landscape; only landscapes built on data have one."""
        raise ValueError(
            f"the {self.name} landscape has no data, so it has no mini-batches; "
            "use the linear-regression landscape, or with_noise(std) for noisy gradients"
        )

    def with_noise(self, std: float, seed: int = 0) -> NoisyLandscape:
        """This landscape with Gaussian noise of standard deviation ``std`` added to each gradient."""
        return NoisyLandscape(self, std, seed=seed)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


class Quadratic(Landscape):
    r"""An ill-conditioned quadratic bowl, optionally rotated.

    .. math::
        f(p) = \tfrac12\, p^\top R_\varphi \operatorname{diag}(1/\kappa,\ 1)\, R_\varphi^\top p,

    so the largest curvature is 1 (gradient descent is stable for ``lr < 2``), the
    smallest is :math:`1/\kappa`, and the minimum is the origin. With
    :math:`\varphi = 0` the flat direction is the x-axis; rotating the bowl takes the
    valley off the coordinate axes, where per-coordinate methods (Adam, RMSprop) lose
    part of their advantage.

    Args:
        condition: the condition number :math:`\kappa \ge 1` (default 10).
        angle: rotation :math:`\varphi` of the valley in degrees (default 0).

    Example:
        >>> Quadratic(condition=4.0)(torch.tensor([2.0, 1.0]))
        tensor(1.)
    """

    def __init__(self, condition: float = 10.0, angle: float = 0.0) -> None:
        if not condition >= 1.0:
            raise ValueError(f"condition must be >= 1, got {condition}")
        self.condition = float(condition)
        self.angle = float(angle)
        phi = math.radians(self.angle)
        rotation = torch.tensor([[math.cos(phi), -math.sin(phi)], [math.sin(phi), math.cos(phi)]], dtype=torch.float64)
        self.hessian = rotation @ torch.diag(torch.tensor([1.0 / self.condition, 1.0], dtype=torch.float64)) @ rotation.T
        self._entries = self.hessian.tolist()
        self.name = f"quadratic (κ={self.condition:g})" if self.angle == 0 else f"quadratic (κ={self.condition:g}, {self.angle:g}°)"
        self.default_xlim = (-4.0, 4.0)
        self.default_ylim = (-3.0, 3.0)
        self.start = (-3.5, 2.0)
        self.minimum = torch.zeros(2, dtype=torch.float64)

    def value(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = self.hessian.to(x.dtype)
        return 0.5 * (h[0, 0] * x * x + 2 * h[0, 1] * x * y + h[1, 1] * y * y)

    def gradient(self, xy: torch.Tensor) -> torch.Tensor:
        r"""The gradient :math:`A p`."""
        return torch.stack(self.gradient_xy(xy[..., 0], xy[..., 1]), dim=-1)

    def gradient_xy(self, x: Any, y: Any) -> tuple[Any, Any]:
        (a, b), (_, c) = self._entries
        return a * x + b * y, b * x + c * y


class Rosenbrock(Landscape):
    r"""Rosenbrock's banana valley :math:`f(x, y) = (a - x)^2 + b\,(y - x^2)^2`.

    The minimum :math:`(a, a^2)` lies at the end of a long, curved, almost flat
    valley: finding the valley is easy, following it is hard.

    Args:
        a: position of the minimum (default 1).
        b: steepness of the valley walls (default 100).

    Reference:
        H. H. Rosenbrock, "An automatic method for finding the greatest or least
        value of a function", The Computer Journal 3(3), 1960.
    """

    def __init__(self, a: float = 1.0, b: float = 100.0) -> None:
        self.a, self.b = float(a), float(b)
        self.name = "Rosenbrock"
        self.default_xlim = (-2.0, 2.0)
        self.default_ylim = (-1.0, 3.0)
        self.start = (-1.5, 2.5)
        self.minimum = torch.tensor([self.a, self.a**2], dtype=torch.float64)

    def value(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return (self.a - x) ** 2 + self.b * (y - x * x) ** 2

    def gradient(self, xy: torch.Tensor) -> torch.Tensor:
        r"""The gradient :math:`\big(-2(a - x) - 4 b x (y - x^2),\ 2 b (y - x^2)\big)`."""
        return torch.stack(self.gradient_xy(xy[..., 0], xy[..., 1]), dim=-1)

    def gradient_xy(self, x: Any, y: Any) -> tuple[Any, Any]:
        valley = y - x * x
        return -2 * (self.a - x) - 4 * self.b * x * valley, 2 * self.b * valley


class Saddle(Landscape):
    r"""A saddle point between two minima: :math:`f(x, y) = \tfrac12 x^2 - \tfrac12 y^2 + \tfrac14 y^4`.

    The origin is a saddle (curvature :math:`+1` along x, :math:`-1` along y); the
    minima are :math:`(0, \pm 1)` with :math:`f = -\tfrac14`. Started exactly on the
    ridge :math:`y = 0`, gradient descent walks into the saddle and stays there; a
    tiny offset (the default start has :math:`y = 0.01`) escapes only after a long
    stall, since the escape speed is proportional to the distance from the ridge.
    Gradient noise (:meth:`~Landscape.with_noise`) kicks it off the ridge sooner.
    """

    def __init__(self) -> None:
        self.name = "saddle"
        self.default_xlim = (-2.0, 2.0)
        self.default_ylim = (-1.6, 1.6)
        self.start = (-1.8, 0.01)
        self.minimum = torch.tensor([0.0, 1.0], dtype=torch.float64)
        self.saddle_point = torch.zeros(2, dtype=torch.float64)

    def value(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return 0.5 * x * x - 0.5 * y * y + 0.25 * y**4

    def gradient(self, xy: torch.Tensor) -> torch.Tensor:
        r"""The gradient :math:`(x,\ y^3 - y)`."""
        return torch.stack(self.gradient_xy(xy[..., 0], xy[..., 1]), dim=-1)

    def gradient_xy(self, x: Any, y: Any) -> tuple[Any, Any]:
        return x, y * y * y - y


class LocalMinima(Landscape):
    r"""Three Gaussian wells of different depth on a shallow bowl.

    .. math::
        f(p) = c\,\|p\|^2 - \sum_{i=1}^{3} d_i \exp\!\Big(-\frac{\|p - m_i\|^2}{2 s_i^2}\Big)

    The deepest well holds the global minimum; the two others are local minima, and
    the ridges between them decide where an optimizer ends up. The minimizers are
    found numerically (Newton's method from each well's centre) when the object is
    built; ``local_minima`` lists all three, deepest first.
    """

    centres = ((-1.4, -1.0), (1.5, 1.1), (1.3, -1.5))
    depths = (1.5, 1.1, 0.8)
    widths = (0.8, 0.7, 0.5)
    bowl = 0.08

    def __init__(self) -> None:
        self.name = "local minima"
        self.default_xlim = (-3.0, 3.0)
        self.default_ylim = (-3.0, 3.0)
        self.start = (0.3, 2.6)
        found = [self._newton(torch.tensor(c, dtype=torch.float64)) for c in self.centres]
        found.sort(key=lambda p: float(self(p)))
        self.local_minima = torch.stack(found)
        self.minimum = self.local_minima[0]

    def value(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        out = self.bowl * (x * x + y * y)
        for (cx, cy), depth, width in zip(self.centres, self.depths, self.widths):
            out = out - depth * torch.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * width**2))
        return out

    def gradient(self, xy: torch.Tensor) -> torch.Tensor:
        r"""The gradient :math:`2 c p + \sum_i \frac{d_i}{s_i^2} e^{-\|p - m_i\|^2 / 2 s_i^2} (p - m_i)`."""
        return torch.stack(self.gradient_xy(xy[..., 0], xy[..., 1]), dim=-1)

    def gradient_xy(self, x: Any, y: Any) -> tuple[Any, Any]:
        exp = torch.exp if isinstance(x, torch.Tensor) else math.exp
        gx, gy = 2 * self.bowl * x, 2 * self.bowl * y
        for (cx, cy), depth, width in zip(self.centres, self.depths, self.widths):
            dx, dy = x - cx, y - cy
            weight = depth / width**2 * exp(-(dx * dx + dy * dy) / (2 * width**2))
            gx, gy = gx + weight * dx, gy + weight * dy
        return gx, gy

    def _newton(self, point: torch.Tensor, iterations: int = 30) -> torch.Tensor:
        for _ in range(iterations):
            hessian = torch.autograd.functional.hessian(self, point)
            point = point - torch.linalg.solve(hessian, self.gradient(point))
        return point.detach()


class LinearRegressionLoss(Landscape):
    r"""Mean squared error of the line :math:`\hat y = w x + b` as a function of :math:`(w, b)`.

    .. math:: \hat R(w, b) = \frac1n \sum_{i=1}^n (w x_i + b - y_i)^2

    on data from :func:`course_lib.data.make_regression` (one feature, true line
    :math:`y = 2x + 1` plus noise by default). The minimum is the least-squares fit.
    The Hessian is :math:`2\begin{pmatrix}\overline{x^2} & \bar x\\ \bar x & 1\end{pmatrix}`:
    ``feature_scale`` stretches the contours (condition number about
    ``feature_scale**2`` for centred features) and ``feature_shift`` tilts them.

    In its mini-batch form (:meth:`minibatch`, or ``batch_size=...``) the loss the
    optimizer sees at step :math:`t` is the same average over the :math:`t`-th batch
    :math:`B_t` only; batches come from shuffled epochs
    (:func:`course_lib.data.batches` with a generator seeded by ``seed``, incomplete
    last batches dropped), so a run is reproducible and batch size is the only thing
    that changes the noise.

    Args:
        data: the data; generated from the arguments below when None.
        n_samples: number of points (default 100).
        noise_std: noise of the targets (default 0.5).
        weight: true slope (default 2).
        bias: true intercept (default 1).
        feature_scale: standard deviation of :math:`x` (default 1).
        feature_shift: mean of :math:`x` (default 0); a non-zero mean couples
            :math:`w` and :math:`b` and tilts the elliptic contours, as uncentred
            features do.
        seed: seed of the data.
        batch_size: when given, the mini-batch form with this batch size.
        batch_seed: seed of the batch order (mini-batch form only).

    Example:
        >>> loss = LinearRegressionLoss()
        >>> bool(loss(loss.minimum) <= loss(torch.tensor([2.0, 1.0])))
        True
    """

    def __init__(
        self,
        data: RegressionData | None = None,
        *,
        n_samples: int = 100,
        noise_std: float = 0.5,
        weight: float = 2.0,
        bias: float = 1.0,
        feature_scale: float = 1.0,
        feature_shift: float = 0.0,
        seed: int = 0,
        batch_size: int | None = None,
        batch_seed: int = 0,
    ) -> None:
        if data is None:
            data = make_regression(n_samples, 1, noise_std=noise_std, weight=[weight], bias=bias,
                                   feature_scales=[feature_scale], seed=seed)
            if feature_shift:
                # moving x by c and y by w*c keeps the true line y = w x + b
                data = RegressionData(X=data.X + feature_shift, y=data.y + weight * feature_shift,
                                      weight=data.weight, bias=data.bias)
        if data.X.shape[1] != 1:
            raise ValueError(f"the (w, b) landscape needs one feature, the data has {data.X.shape[1]}")
        self.data = data
        self.x = data.X[:, 0].to(torch.float64)
        self.y = data.y.to(torch.float64)
        n = self.x.numel()
        if batch_size is not None and not 1 <= batch_size <= n:
            raise ValueError(f"batch_size must be between 1 and the number of samples ({n}), got {batch_size}")
        self.batch_size = batch_size
        self.batch_seed = batch_seed
        self._batches: list[torch.Tensor] = []
        self._generator = torch.Generator().manual_seed(batch_seed)
        mean_x = self.x.mean()
        self.hessian = 2 * torch.stack([torch.stack([(self.x * self.x).mean(), mean_x]),
                                        torch.stack([mean_x, torch.ones_like(mean_x)])])
        self._linear_term = 2 * torch.stack([(self.x * self.y).mean(), self.y.mean()])
        self._hessian_entries = self.hessian.tolist()
        self._linear_entries = self._linear_term.tolist()
        # The least-squares line in closed form (centred sums): LAPACK's lstsq is not bit-for-bit
        # reproducible from call to call (two quizzes of the same seed once got starts one
        # unit in the last place apart), and quizzes and figures must come out the same every time.
        centred_x, centred_y = self.x - mean_x, self.y - self.y.mean()
        w_star = (centred_x * centred_y).sum() / (centred_x * centred_x).sum()
        self.minimum = torch.stack([w_star, self.y.mean() - w_star * mean_x])
        w_star, b_star = (float(v) for v in self.minimum)
        self.name = "linear regression" if batch_size is None else f"linear regression (batch {batch_size})"
        self.axis_labels = ("weight w", "bias b")
        span_w = max(3.0, 3.0 / max(float(self.x.std()), 1e-3))
        self.default_xlim = (w_star - span_w, w_star + span_w * 0.75)
        self.default_ylim = (b_star - 3.0, b_star + 2.25)
        self.start = (round(w_star - 0.8 * span_w, 2), round(b_star - 2.4, 2))

    def _mse(self, xy: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        x, y = x.to(xy.dtype), y.to(xy.dtype)
        residual = xy[..., 0, None] * x + xy[..., 1, None] - y
        return (residual * residual).mean(dim=-1)

    def __call__(self, xy: torch.Tensor) -> torch.Tensor:
        xy = torch.as_tensor(xy)
        if xy.shape[-1:] != (2,):
            raise ValueError(f"{self.name}: points must have a last dimension of size 2, got shape {tuple(xy.shape)}")
        return self._mse(xy, self.x, self.y)

    def value(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self(torch.stack([x, y], dim=-1))

    @staticmethod
    def _mse_gradient(xy: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        x, y = x.to(xy.dtype), y.to(xy.dtype)
        residual = xy[..., 0, None] * x + xy[..., 1, None] - y
        return torch.stack([2 * (residual * x).mean(dim=-1), 2 * residual.mean(dim=-1)], dim=-1)

    def gradient(self, xy: torch.Tensor) -> torch.Tensor:
        r"""The gradient :math:`\big(\frac2n \sum_i r_i x_i,\ \frac2n \sum_i r_i\big)`, :math:`r_i = w x_i + b - y_i`.

        Computed as :math:`H p - 2\,(\overline{xy}, \bar y)` with the Hessian
        :math:`H = 2\begin{pmatrix}\overline{x^2} & \bar x\\ \bar x & 1\end{pmatrix}`
        of precomputed averages: equal to the sum over samples up to rounding, and two
        tensor operations instead of seven.
        """
        return torch.stack(self.gradient_xy(xy[..., 0], xy[..., 1]), dim=-1)

    def gradient_xy(self, x: Any, y: Any) -> tuple[Any, Any]:
        (h00, h01), (_, h11) = self._hessian_entries
        l0, l1 = self._linear_entries
        return h00 * x + h01 * y - l0, h01 * x + h11 * y - l1

    def gradient_at(self, xy: torch.Tensor, step: int) -> torch.Tensor:
        """The gradient of the step's mini-batch loss (the full gradient when full-batch)."""
        if self.batch_size is None:
            return self.gradient(xy)
        index = self.batch_indices(step)
        return self._mse_gradient(xy, self.x[index], self.y[index])

    def step_gradient(self, steps: int) -> Callable[[float, float, int], tuple[float, float]] | None:
        """Plain-float gradients; in the mini-batch form the batch averages of
        :math:`x^2, x, xy, y` of every step are computed at once, beforehand."""
        if self.batch_size is None:
            formula = self.gradient_xy
            return lambda w, b, step: formula(w, b)
        if steps == 0:
            return lambda w, b, step: (0.0, 0.0)
        index = torch.stack([self.batch_indices(t) for t in range(steps)])
        x, y = self.x[index], self.y[index]
        averages = torch.stack([(x * x).mean(1), x.mean(1), (x * y).mean(1), y.mean(1)], dim=1).tolist()

        def gradient(w: float, b: float, step: int) -> tuple[float, float]:
            xx, mx, xy, my = averages[step]
            return 2 * (w * xx + b * mx - xy), 2 * (w * mx + b - my)

        return gradient

    @property
    def stochastic(self) -> bool:
        return self.batch_size is not None

    def batch_indices(self, step: int) -> torch.Tensor:
        """Indices of the samples in the mini-batch used at ``step`` (all samples when full-batch)."""
        if self.batch_size is None:
            return torch.arange(self.x.numel())
        while len(self._batches) <= step:
            self._batches.extend(batches(self.x.numel(), self.batch_size, generator=self._generator, drop_last=True))
        return self._batches[step]

    def loss_at(self, xy: torch.Tensor, step: int) -> torch.Tensor:
        """The mean squared error over the batch of step ``step`` (or over all data)."""
        if self.batch_size is None:
            return self(xy)
        index = self.batch_indices(step)
        return self._mse(xy, self.x[index], self.y[index])

    def minibatch(self, batch_size: int | None, seed: int = 0) -> LinearRegressionLoss:
        """The same data and loss, seen through seeded mini-batches of ``batch_size`` (None: full batch)."""
        return LinearRegressionLoss(self.data, batch_size=batch_size, batch_seed=seed)


class NoisyLandscape(Landscape):
    r"""A landscape whose step-``t`` loss has a random linear term: Gaussian gradient noise.

    .. math:: f_t(p) = f(p) + \sigma\, \xi_t^\top p, \qquad \xi_t \sim \mathcal N(0, I_2),

    so :math:`\nabla f_t = \nabla f + \sigma \xi_t` is an unbiased, noisy gradient (the
    same role as a mini-batch gradient, for landscapes without data). :math:`\xi_t`
    depends only on ``seed`` and ``t``.

    Args:
        base: the noise-free landscape.
        std: :math:`\sigma \ge 0`.
        seed: seed of the noise.
    """

    def __init__(self, base: Landscape, std: float, seed: int = 0) -> None:
        if not std >= 0:
            raise ValueError(f"noise std must be >= 0, got {std}")
        self.base, self.std, self.seed = base, float(std), int(seed)
        self.name = f"{base.name} + noise {std:g}"
        self.default_xlim, self.default_ylim = base.default_xlim, base.default_ylim
        self.start, self.minimum, self.axis_labels = base.start, base.minimum, base.axis_labels

    def __call__(self, xy: torch.Tensor) -> torch.Tensor:
        return self.base(xy)

    def value(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.base.value(x, y)

    @property
    def stochastic(self) -> bool:
        return self.std > 0

    def noise(self, step: int) -> torch.Tensor:
        """The noise direction :math:`\\xi_t` (float64, shape (2,))."""
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + step)
        return torch.randn(2, generator=generator, dtype=torch.float64)

    def loss_at(self, xy: torch.Tensor, step: int) -> torch.Tensor:
        return self.base.loss_at(xy, step) + self.std * (xy * self.noise(step).to(xy.dtype)).sum(-1)

    def gradient(self, xy: torch.Tensor) -> torch.Tensor:
        return self.base.gradient(xy)

    def gradient_at(self, xy: torch.Tensor, step: int) -> torch.Tensor:
        return self.base.gradient_at(xy, step) + self.std * self.noise(step).to(xy.dtype)

    def step_gradient(self, steps: int) -> Callable[[float, float, int], tuple[float, float]] | None:
        base = self.base.step_gradient(steps)
        if base is None:
            return None
        kicks = [(self.std * self.noise(t)).tolist() for t in range(steps)]

        def gradient(x: float, y: float, step: int) -> tuple[float, float]:
            gx, gy = base(x, y, step)
            nx, ny = kicks[step]
            return gx + nx, gy + ny

        return gradient

    def minibatch(self, batch_size: int | None, seed: int = 0) -> Landscape:
        return NoisyLandscape(self.base.minibatch(batch_size, seed), self.std, self.seed)


#: Landscape classes by short name (the widgets' menu).
LANDSCAPES: dict[str, type[Landscape]] = {
    "quadratic": Quadratic,
    "rosenbrock": Rosenbrock,
    "saddle": Saddle,
    "local minima": LocalMinima,
    "linear regression": LinearRegressionLoss,
}


def make_landscape(name: str | Landscape, **kwargs: Any) -> Landscape:
    """Build a landscape from its short name (see :data:`LANDSCAPES`); a landscape passes through.

    Example:
        >>> make_landscape("quadratic", condition=25).condition
        25.0
    """
    if isinstance(name, Landscape):
        return name
    key = str(name).strip().lower().replace("_", " ")
    if key not in LANDSCAPES:
        raise ValueError(f"unknown landscape {name!r}; choose one of: {', '.join(LANDSCAPES)}")
    return LANDSCAPES[key](**kwargs)
