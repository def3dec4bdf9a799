"""Answers that delegate to a forbidden implementation, by every route, for every assignment.

Each :class:`Delegate` answers one part correctly by calling an implementation the part
forbids (``course_lib``'s reference or torch's counterpart). Each route of :data:`ROUTES`
reaches that implementation another way: named directly, through a subclass, a helper in
a cell of the student's own, another thread, a copy, a pickle round trip, ``getattr`` with
a name built at run time, ``importlib`` with a module name built at run time, the module's
source read with ``inspect`` and ``exec``-ed, or its file opened and ``exec``-ed.
:data:`NOTEBOOKS` puts every route on some part of every assignment; a notebook's routes
that the judge can read (:data:`READABLE`) come before the ones it cannot, which it flags
for review together with every part after them.
"""

from __future__ import annotations

import inspect
import textwrap
from dataclasses import dataclass
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[2]

READABLE = ("direct", "subclass", "helper", "thread", "copy", "pickle")
"""Routes the judge follows in the text: the part earns nothing, and the reason names what it used."""
OPAQUE = ("getattr", "importlib", "inspect", "open")
"""Routes that build names or code at run time (the judge names what it can, and flags the part for review)."""
ROUTES = READABLE + OPAQUE


@dataclass(frozen=True)
class Delegate:
    """A correct answer to one part that uses a forbidden implementation.

    Attributes:
        check: the registered check (``"risk.empirical_risk"``).
        cell: the grade id of the part's answer cell.
        module: the module the student imports to reach it (``"course_lib.risk"``).
        attr: the implementation's name in that module.
        body: the answer, with ``NAME`` for its name and ``{impl}`` where the implementation is used.
    """

    check: str
    cell: str
    module: str
    attr: str
    body: str

    @property
    def name(self) -> str:
        return self.check.split(".", 1)[1]

    @property
    def path(self) -> str:
        return f"{self.module}.{self.attr}"

    @property
    def is_class(self) -> bool:
        return inspect.isclass(self.target())

    def target(self):
        import importlib

        return getattr(importlib.import_module(self.module), self.attr)


def _d(check: str, module: str, attr: str, body: str, cell: str | None = None) -> Delegate:
    return Delegate(check, cell or check.split(".", 1)[1], module, attr, textwrap.dedent(body).strip() + "\n")


DELEGATES = {d.check: d for d in [
    # 01_risk
    _d("risk.empirical_risk", "course_lib.risk", "empirical_risk", """
        def NAME(w, b, X, y):
            return {impl}(lambda X: X @ w + b, X, y)"""),
    _d("risk.ridge_risk", "course_lib.risk", "ridge_risk", """
        def NAME(w, b, X, y, lam):
            return {impl}(w, b, X, y, lam)"""),
    _d("risk.ridge_gradient", "course_lib.risk", "ridge_gradient", """
        def NAME(w, b, X, y, lam):
            return {impl}(w, b, X, y, lam)"""),
    _d("risk.standardize", "course_lib.normalization", "Standardizer", """
        def NAME(X_train, X_test):
            scaler = {impl}().fit(X_train)
            return scaler.transform(X_train), scaler.transform(X_test)"""),
    _d("risk.gradient_descent", "course_lib.risk", "gradient_descent", """
        def NAME(X, y, lr, steps, lam=0.0):
            result = {impl}(X, y, lr=lr, steps=steps, lam=lam)
            return result.w, result.b, result.losses"""),
    # 02_sgd
    _d("sgd.minibatch_indices", "course_lib.data", "batches", """
        def NAME(n_samples, batch_size, generator):
            return {impl}(n_samples, batch_size, generator=generator)"""),
    _d("sgd.minibatch_gradient", "course_lib.risk", "ridge_gradient", """
        def NAME(w, b, X, y, index):
            return {impl}(w, b, X[index], y[index], 0.0)"""),
    _d("sgd.sgd_step", "torch.optim", "SGD", """
        def NAME(params, grads, lr, weight_decay=0.0):
            leaves = [torch.nn.Parameter(p) for p in params]
            for leaf, g in zip(leaves, grads):
                leaf.grad = g.clone()
            {impl}(leaves, lr=lr, weight_decay=weight_decay).step()"""),
    _d("sgd.train_sgd", "course_lib.stochastic", "minibatch_sgd", """
        def NAME(X, y, batch_size, lr, epochs, seed):
            run = {impl}(X, y, batch_size=batch_size, lr=lr, epochs=epochs, seed=seed)
            return run.w, run.b, run.losses[run.samples_seen % X.shape[0] == 0]"""),
    _d("sgd.minibatch_standard_error", "course_lib.risk", "ridge_gradient", """
        def NAME(w, b, X, y, batches):
            def flat(rows):
                grad_w, grad_b = {impl}(w, b, X[rows], y[rows], 0.0)
                return torch.cat([grad_w, grad_b.reshape(1)])
            full = flat(torch.arange(X.shape[0]))
            return float(torch.stack([((flat(rows) - full) ** 2).sum() for rows in batches]).mean().sqrt())"""),
    _d("sgd.loglog_fit", "course_lib.stochastic", "loglog_fit", """
        def NAME(x, y):
            return {impl}(x, y)"""),
    # 03_momentum
    _d("momentum.ewma", "course_lib.optim", "ewma", """
        def NAME(values, beta, bias_correction=False):
            return {impl}(values, beta, bias_correction)"""),
    _d("momentum.momentum_step", "torch.optim", "SGD", """
        def NAME(param, grad, state, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
            leaf = torch.nn.Parameter(param)
            leaf.grad = grad.clone()
            optimizer = {impl}([leaf], lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                               nesterov=nesterov)
            if "momentum_buffer" in state:
                optimizer.state[leaf]["momentum_buffer"] = state["momentum_buffer"]
            optimizer.step()
            if "momentum_buffer" in optimizer.state[leaf]:
                state["momentum_buffer"] = optimizer.state[leaf]["momentum_buffer"]"""),
    _d("momentum.MomentumSGD", "torch.optim", "SGD", """
        class NAME({impl}):
            pass"""),
    _d("momentum.nesterov_classic", "torch.optim", "SGD", """
        def NAME(A, c, theta0, lr, momentum, steps):
            p = torch.nn.Parameter(theta0.clone())
            optimizer = {impl}([p], lr=lr, momentum=momentum, nesterov=True)
            thetas = [theta0.clone()]
            for _ in range(steps):
                p.grad = A @ p.detach() - c
                optimizer.step()
                thetas.append(p.detach() + momentum * lr * optimizer.state[p]["momentum_buffer"])
            return torch.stack(thetas)"""),
    # 04_adaptive
    _d("adaptive.adagrad_step", "course_lib.optim", "adagrad_update", """
        def NAME(param, grad, state_sum, lr, eps=1e-10):
            param, state = param.clone(), {"step": torch.tensor(0.0), "sum": state_sum.clone()}
            {impl}(param, grad, state, lr=lr, eps=eps)
            return param, state["sum"]"""),
    _d("adaptive.rmsprop_step", "course_lib.optim", "rmsprop_update", """
        def NAME(param, grad, square_avg, lr, alpha=0.99, eps=1e-8):
            param, state = param.clone(), {"step": torch.tensor(0.0), "square_avg": square_avg.clone()}
            {impl}(param, grad, state, lr=lr, alpha=alpha, eps=eps)
            return param, state["square_avg"]"""),
    _d("adaptive.adam_step", "course_lib.optim", "adam_update", """
        def NAME(param, grad, exp_avg, exp_avg_sq, step, lr, beta1=0.9, beta2=0.999, eps=1e-8):
            state = {"step": torch.tensor(float(step - 1)), "exp_avg": exp_avg.clone(), "exp_avg_sq": exp_avg_sq.clone()}
            param = param.clone()
            {impl}(param, grad, state, lr=lr, beta1=beta1, beta2=beta2, eps=eps)
            return param, state["exp_avg"], state["exp_avg_sq"]"""),
    _d("adaptive.Adam", "torch.optim", "Adam", """
        class NAME({impl}):
            pass""", cell="adam_class"),
    # 05_adamw
    _d("adamw.adamw_step", "course_lib.optim", "adamw_update", """
        def NAME(param, grad, exp_avg, exp_avg_sq, step, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.01):
            state = {"step": torch.tensor(float(step - 1)), "exp_avg": exp_avg.clone(), "exp_avg_sq": exp_avg_sq.clone()}
            param = param.clone()
            {impl}(param, grad, state, lr=lr, beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay)
            return param, state["exp_avg"], state["exp_avg_sq"]"""),
    _d("adamw.AdamW", "torch.optim", "AdamW", """
        class NAME({impl}):
            pass""", cell="adamw_class"),
    _d("adamw.param_groups", "course_lib.grading.checks.adamw", "_param_groups", """
        def NAME(model, weight_decay):
            return {impl}(model, weight_decay)"""),
    _d("adamw.clip_grad_norm", "torch.nn.utils", "clip_grad_norm_", """
        def NAME(grads, max_norm):
            params = [torch.zeros_like(g, requires_grad=True) for g in grads]
            for p, g in zip(params, grads):
                p.grad = g.clone()
            total = {impl}(params, max_norm)
            return [p.grad for p in params], total"""),
    # 06_schedules
    _d("schedules.step_decay", "torch.optim.lr_scheduler", "StepLR", """
        def NAME(step, lr, step_size, gamma=0.1):
            optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)
            scheduler = {impl}(optimizer, step_size=step_size, gamma=gamma)
            for _ in range(step):
                optimizer.step()
                scheduler.step()
            return optimizer.param_groups[0]["lr"]"""),
    _d("schedules.cosine_annealing", "course_lib.schedules", "cosine_annealing", """
        def NAME(step, lr, T_max, eta_min=0.0):
            return {impl}(lr, T_max, eta_min)(step)"""),
    _d("schedules.warmup_cosine", "course_lib.schedules", "warmup_cosine", """
        def NAME(step, lr, warmup_steps, total_steps, start_factor=1.0 / 3, eta_min=0.0):
            return {impl}(lr, warmup_steps, total_steps, start_factor, eta_min)(step)"""),
    _d("schedules.one_cycle", "course_lib.schedules", "one_cycle", """
        def NAME(step, max_lr, total_steps, pct_start=0.3, div_factor=25.0, final_div_factor=1e4):
            return {impl}(max_lr, total_steps, pct_start, "cos", div_factor, final_div_factor)(step)"""),
    _d("schedules.inverse_time_scheduler", "course_lib.schedules", "inverse_time_decay", """
        def NAME(optimizer, k, interval=1):
            factor = {impl}(1.0, k, interval)
            return lr_scheduler.LambdaLR(optimizer, lambda t: factor(t))"""),
    # 07_init
    _d("init.fan_in_and_fan_out", "course_lib.init", "fan_in_and_fan_out", """
        def NAME(tensor):
            return {impl}(tensor)"""),
    _d("init.weight_variance", "course_lib.init", "xavier_variance", """
        def NAME(scheme, fan_in, fan_out, negative_slope=0.0):
            if scheme == "xavier":
                return {impl}(fan_in, fan_out)
            if scheme == "lecun":
                return 1.0 / fan_in
            return 2.0 / ((1 + negative_slope**2) * fan_in)"""),
    _d("init.xavier_uniform_", "torch.nn.init", "xavier_uniform_", """
        def NAME(tensor, gain=1.0):
            return {impl}(tensor, gain=gain)"""),
    _d("init.kaiming_normal_", "torch.nn.init", "kaiming_normal_", """
        def NAME(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu"):
            return {impl}(tensor, a=a, mode=mode, nonlinearity=nonlinearity)"""),
    _d("init.layer_variances", "course_lib.monitoring", "LayerStats", """
        def NAME(model, x):
            with {impl}(model, module_types=(nn.Linear,)) as stats, torch.no_grad():
                model(x)
            return [std**2 for std in stats.last("act_std").values()]"""),
    # 08_normalization
    _d("normalization.batch_norm_train", "torch.nn.functional", "batch_norm", """
        def NAME(x, running_mean, running_var, weight, bias, momentum=0.1, eps=1e-5):
            running_mean, running_var = running_mean.clone(), running_var.clone()
            y = {impl}(x, running_mean, running_var, weight, bias, True, momentum, eps)
            return y, running_mean, running_var"""),
    _d("normalization.batch_norm_eval", "torch.nn.functional", "batch_norm", """
        def NAME(x, running_mean, running_var, weight, bias, eps=1e-5):
            return {impl}(x, running_mean, running_var, weight, bias, False, 0.0, eps)"""),
    _d("normalization.layer_norm", "torch.nn.functional", "layer_norm", """
        def NAME(x, weight, bias, eps=1e-5):
            return {impl}(x, (x.shape[-1],), weight, bias, eps)"""),
    _d("normalization.dropout", "course_lib.normalization", "dropout", """
        def NAME(x, p, training=True, generator=None):
            return {impl}(x, p, training=training, generator=generator)"""),
    _d("normalization.BatchNorm1d", "torch.nn", "BatchNorm1d", """
        class NAME({impl}):
            pass"""),
    # 09_beyond_adam
    _d("beyond_adam.adafactor_second_moment", "course_lib.optim", "factored_second_moment", """
        def NAME(grad, row_var, col_var, step, beta2_decay=-0.8, eps1=1e-30):
            weight_new = step**beta2_decay
            squares = grad * grad
            row_var = (1 - weight_new) * row_var + weight_new * squares.mean(dim=1, keepdim=True)
            col_var = (1 - weight_new) * col_var + weight_new * squares.mean(dim=0, keepdim=True)
            return row_var, col_var, {impl}(row_var, col_var, eps1)"""),
    _d("beyond_adam.newton_schulz", "course_lib.optim", "newton_schulz", """
        def NAME(matrix, steps=5):
            return {impl}(matrix, steps, dtype=None)"""),
    _d("beyond_adam.lion_step", "course_lib.optim", "Lion", """
        def NAME(param, grad, exp_avg, lr, beta1=0.9, beta2=0.99, weight_decay=0.0):
            p = torch.nn.Parameter(param.clone())
            p.grad = grad.clone()
            optimizer = {impl}([p], lr=lr, betas=(beta1, beta2), weight_decay=weight_decay)
            optimizer.state[p]["exp_avg"] = exp_avg.clone()
            optimizer.step()
            return p.detach(), optimizer.state[p]["exp_avg"]"""),
    _d("beyond_adam.schedule_free_step", "course_lib.grading.checks.beyond_adam", "_schedule_free_step", """
        def NAME(x, z, exp_avg_sq, step, gradient, lr, beta1=0.9, beta2=0.999, eps=1e-8):
            return {impl}(x, z, exp_avg_sq, step, gradient, lr, beta1, beta2, eps)"""),
    _d("beyond_adam.muon_adamw_split", "course_lib.optim", "muon_param_groups", """
        def NAME(model):
            return {impl}(model)"""),
]}

NOTEBOOKS: dict[str, list[dict[str, str]]] = {
    "01_risk": [
        {"empirical_risk": "direct", "ridge_risk": "helper", "ridge_gradient": "thread", "standardize": "subclass",
         "gradient_descent": "copy"},
        {"empirical_risk": "pickle", "ridge_risk": "getattr", "ridge_gradient": "importlib", "standardize": "inspect",
         "gradient_descent": "open"},
    ],
    "02_sgd": [
        {"minibatch_indices": "direct", "minibatch_gradient": "helper", "sgd_step": "subclass", "train_sgd": "thread",
         "minibatch_standard_error": "copy", "loglog_fit": "pickle"},
        {"minibatch_indices": "getattr", "minibatch_gradient": "importlib", "sgd_step": "inspect", "train_sgd": "open"},
    ],
    "03_momentum": [
        {"ewma": "direct", "momentum_step": "helper", "MomentumSGD": "subclass", "nesterov_classic": "thread"},
        {"ewma": "copy", "momentum_step": "pickle", "MomentumSGD": "getattr", "nesterov_classic": "importlib"},
        {"ewma": "inspect", "momentum_step": "open"},
    ],
    "04_adaptive": [
        {"adagrad_step": "direct", "rmsprop_step": "helper", "adam_step": "thread", "Adam": "subclass"},
        {"adagrad_step": "copy", "rmsprop_step": "pickle", "adam_step": "getattr", "Adam": "importlib"},
        {"adagrad_step": "inspect", "rmsprop_step": "open"},
    ],
    "05_adamw": [
        {"adamw_step": "direct", "AdamW": "subclass", "param_groups": "helper", "clip_grad_norm": "thread"},
        {"adamw_step": "copy", "AdamW": "pickle", "param_groups": "getattr", "clip_grad_norm": "importlib"},
        {"adamw_step": "inspect", "AdamW": "open"},
    ],
    "06_schedules": [
        {"step_decay": "subclass", "cosine_annealing": "direct", "warmup_cosine": "helper", "one_cycle": "thread",
         "inverse_time_scheduler": "copy"},
        {"step_decay": "pickle", "cosine_annealing": "getattr", "warmup_cosine": "importlib", "one_cycle": "inspect",
         "inverse_time_scheduler": "open"},
    ],
    "07_init": [
        {"fan_in_and_fan_out": "direct", "weight_variance": "helper", "xavier_uniform_": "thread",
         "kaiming_normal_": "copy", "layer_variances": "subclass"},
        {"fan_in_and_fan_out": "pickle", "weight_variance": "getattr", "xavier_uniform_": "importlib",
         "kaiming_normal_": "inspect", "layer_variances": "open"},
    ],
    "08_normalization": [
        {"batch_norm_train": "direct", "batch_norm_eval": "helper", "layer_norm": "thread", "dropout": "copy",
         "BatchNorm1d": "subclass"},
        {"batch_norm_train": "pickle", "batch_norm_eval": "getattr", "layer_norm": "importlib", "dropout": "inspect",
         "BatchNorm1d": "open"},
    ],
    "09_beyond_adam": [
        {"adafactor_second_moment": "direct", "newton_schulz": "helper", "lion_step": "subclass",
         "schedule_free_step": "thread", "muon_adamw_split": "copy"},
        {"adafactor_second_moment": "pickle", "newton_schulz": "getattr", "lion_step": "importlib",
         "schedule_free_step": "inspect", "muon_adamw_split": "open"},
    ],
}
"""Per assignment, the attack notebooks: answer (by the name the test cell checks) -> route."""


def delegate_of(assignment: str, name: str) -> Delegate:
    from course_lib.grading.checks import ASSIGNMENTS

    return DELEGATES[f"{ASSIGNMENTS[assignment]}.{name}"]


def _split(text: str) -> str:
    """A string literal built at run time: ``"Ad" + "am"``."""
    half = max(1, len(text) // 2)
    return f"{text[:half]!r} + {text[half:]!r}"


def _defining_module(delegate: Delegate) -> str:
    """The module whose source defines the implementation (``torch.optim.sgd`` for ``torch.optim.SGD``)."""
    return inspect.getmodule(delegate.target()).__name__


def source_file(delegate: Delegate, sandboxed: bool) -> str:
    """The file that defines the implementation, as the sandbox shows it (course_lib's snapshot is /course)."""
    path = Path(inspect.getfile(delegate.target())).resolve()
    import course_lib

    package = Path(course_lib.__file__).resolve().parent
    if sandboxed and package in path.parents:
        return str(Path("/course/course_lib") / path.relative_to(package))
    return str(path)


def route_code(delegate: Delegate, route: str, *, sandboxed: bool = True) -> tuple[str, str | None]:
    """``(answer cell, cell of the student's own placed before it or None)`` for one part and one route."""
    module, attr, name = delegate.module, delegate.attr, delegate.name
    body = delegate.body.replace("NAME", name)
    # names of this part's own: a later part of the same notebook must not rebind them
    tag = name.lower()
    preamble, impl, helper = f"import {module}\n", f"{module}.{attr}", None
    defining = _defining_module(delegate)
    namespace = f"{{'__name__': {defining!r}, '__package__': {defining.rpartition('.')[0]!r}}}"
    qualname = delegate.target().__qualname__
    if route == "direct":
        pass
    elif route == "subclass":
        preamble += f"\n\nclass _Base_{tag}({module}.{attr}):\n    pass\n\n\n"
        impl = f"_Base_{tag}"
    elif route == "helper":
        helper = f"import {module}\n\n\ndef _implementation_{tag}():\n    return {module}.{attr}\n"
        preamble, impl = "", f"_implementation_{tag}()"
    elif route == "thread":
        preamble = f"import threading\nimport {module}\n\n"
        if delegate.is_class:
            preamble += (f"_box_{tag} = []\n_worker = threading.Thread(target=lambda: _box_{tag}.append({module}.{attr}))\n"
                         "_worker.start()\n_worker.join()\n\n")
            impl = f"_box_{tag}[0]"
        else:
            inner = body.replace(f"def {name}(", f"def _delegate_{tag}(", 1)
            wrapper = (f"\n\ndef {name}(*args, **kwargs):\n    box = []\n"
                       f"    worker = threading.Thread(target=lambda: box.append(_delegate_{tag}(*args, **kwargs)))\n"
                       "    worker.start()\n    worker.join()\n    return box[0]\n")
            return preamble + inner.replace("{impl}", f"{module}.{attr}") + wrapper, None
    elif route == "copy":
        preamble = f"import copy\nimport {module}\n\n_impl_{tag} = copy.copy({module}.{attr})\n\n"
        impl = f"_impl_{tag}"
    elif route == "pickle":
        preamble = f"import pickle\nimport {module}\n\n_impl_{tag} = pickle.loads(pickle.dumps({module}.{attr}))\n\n"
        impl = f"_impl_{tag}"
    elif route == "getattr":
        preamble = f"import {module}\n\n_impl_{tag} = getattr({module}, {_split(attr)})\n\n"
        impl = f"_impl_{tag}"
    elif route == "importlib":
        preamble = f"import importlib\n\n_impl_{tag} = getattr(importlib.import_module({_split(module)}), {attr!r})\n\n"
        impl = f"_impl_{tag}"
    elif route == "inspect":
        preamble = (f"import inspect\nimport {module}\n\n_ns_{tag} = {namespace}\n"
                    f"exec(inspect.getsource(inspect.getmodule({module}.{attr})), _ns_{tag})\n"
                    f"_impl_{tag} = _ns_{tag}[{qualname!r}]\n\n")
        impl = f"_impl_{tag}"
    elif route == "open":
        path = source_file(delegate, sandboxed)
        preamble = (f"_ns_{tag} = {namespace}\nwith open({path!r}) as _source:\n    exec(_source.read(), _ns_{tag})\n"
                    f"_impl_{tag} = _ns_{tag}[{qualname!r}]\n\n")
        impl = f"_impl_{tag}"
    else:
        raise ValueError(route)
    return preamble + body.replace("{impl}", impl), helper


def attack_answers(assignment: str, plan: dict[str, str], model: dict[str, str], *, sandboxed: bool = True
                   ) -> tuple[dict[str, str], dict[str, str]]:
    """The answers of one attack notebook by grade id, and the helper cells to insert before answer cells."""
    answers, helpers = dict(model), {}
    for name, route in plan.items():
        delegate = delegate_of(assignment, name)
        code, helper = route_code(delegate, route, sandboxed=sandboxed)
        answers[delegate.cell] = code
        if helper is not None:
            helpers[delegate.cell] = helper
    return answers, helpers


def insert_helpers(helpers: dict[str, str]):
    """An edit for :func:`attacks.submit` that places each helper in a code cell of its own before its answer cell."""
    def edit(nb: nbformat.NotebookNode) -> None:
        for cell_id, code in helpers.items():
            at = next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == cell_id)
            nb.cells.insert(at, nbformat.v4.new_code_cell(code))
    return edit


def build_judge_class(root: Path) -> dict[str, tuple[str, dict[str, str]]]:
    """Write the judge's attack class into a course copy: for every assignment its route
    attackers (student ``d_<nn>_<k>``) and an honest student graded after them (``z_honest``),
    plus the finding attacks of :mod:`attacks.findings` (students ``j_*``).

    Returns the route attackers: student id -> (assignment, answer name -> route).
    """
    from attacks.findings import build_findings
    from course_helpers import source_notebook
    from submissions import fill_release, solution_sources, write_submission

    attackers = {}
    for assignment, plans in NOTEBOOKS.items():
        release = next((root / "exercises" / assignment).glob("*.ipynb"))
        model = solution_sources(source_notebook(assignment))
        for k, plan in enumerate(plans):
            answers, helpers = attack_answers(assignment, plan, model)
            nb = fill_release(release, answers)
            insert_helpers(helpers)(nb)
            student = f"d_{assignment[:2]}_{k}"
            write_submission(root, student, assignment, release.stem, nb)
            attackers[student] = (assignment, plan)
        write_submission(root, "z_honest", assignment, release.stem, fill_release(release, model))
    build_findings(root)
    return attackers
