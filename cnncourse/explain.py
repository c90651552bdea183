"""Looking inside a trained CNN (chapter 7): feature maps, attributions, Grad-CAM, and more.

One file of about 750 lines on purpose: one idea (attribution methods on a classifier, one
paper per function) in the order of chapter 7, sharing one set of input and hook helpers.

Every function takes a ``torch.nn.Module`` classifier that maps a batch ``(N, C, H, W)`` to
logits ``(N, K)``, runs it in eval mode (the previous mode is restored afterwards) and never
touches the parameters' ``.grad`` (input gradients come from ``torch.autograd.grad``). Hooks are
always removed, also when something fails.

What to look at
---------------
- :func:`feature_maps` -- the activations of named layers (forward hooks).
- :func:`saliency` -- the input gradient ``d score_c / d x`` (Simonyan et al. 2014), with the
  SmoothGrad average over noisy copies (Smilkov et al. 2017).
- :func:`integrated_gradients` -- ``(x - x') * integral_0^1 grad f(x' + a (x - x')) da``
  (Sundararajan et al. 2017); the attributions add up to ``f(x) - f(x')``.
- :func:`occlusion` -- how much the score drops when a window is blanked out (Zeiler & Fergus
  2014).
- :func:`grad_cam` -- ``ReLU(sum_k w_k A^k)`` with ``w_k`` the spatial mean of
  ``d score_c / d A^k`` (Selvaraju et al. 2017), upsampled to the input
  (:func:`cnncourse.viz.grad_cam_overlay` draws it on the image).
- :func:`activation_maximization` -- an input optimised to excite one unit, with L2 and
  total-variation (:func:`total_variation`) regularisers.
- :func:`randomized_copy` -- the model with re-initialised layers, for the sanity check of
  Adebayo et al. (2018).

The tests prove saliency, SmoothGrad, integrated gradients, occlusion and Grad-CAM equal to
captum's implementations on the same model and input.
"""

from __future__ import annotations

import contextlib
import copy
import numbers
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ._validate import (
    check_array,
    check_bool,
    check_choice,
    check_int,
    check_module,
    check_nonnegative_float,
    check_pair,
    check_positive_float,
    check_real,
)

__all__ = [
    "IG_METHODS",
    "layer_names",
    "feature_maps",
    "saliency",
    "integrated_gradients",
    "ig_weights",
    "occlusion",
    "grad_cam",
    "total_variation",
    "activation_maximization",
    "randomized_copy",
]

# Quadrature rules for integrated gradients (the names captum uses).
IG_METHODS = (
    "gausslegendre",
    "riemann_left",
    "riemann_right",
    "riemann_middle",
    "riemann_trapezoid",
)


# --------------------------------------------------------------------------- helpers


def _as_input(model: nn.Module, x: Any, ndim: int | None = None, name: str = "x") -> torch.Tensor:
    """``x`` as a float tensor on the model's device and dtype, batch dimension first."""
    if not isinstance(x, torch.Tensor):
        x = torch.from_numpy(np.ascontiguousarray(check_array(name, x)))
    if ndim is not None and x.ndim != ndim:
        raise ValueError(
            f"{name} must have {ndim} dimensions (N, C, H, W), got shape {tuple(x.shape)}"
        )
    if x.ndim < 2:
        raise ValueError(f"{name} must be a batch (N, ...) with N >= 1, got shape {tuple(x.shape)}")
    if x.shape[0] == 0:
        raise ValueError(f"{name} must hold at least one sample, got shape {tuple(x.shape)}")
    param = next((p for p in model.parameters() if p.is_floating_point()), None)
    dtype = param.dtype if param is not None else torch.float32
    device = param.device if param is not None else x.device
    x = x.detach().to(device=device, dtype=dtype)
    if not torch.isfinite(x).all():
        raise ValueError(f"{name} must be finite (no NaN or inf)")
    return x


def _first_bool(seq: Any) -> bool | None:
    """The first bool in a (nested) list or tuple, else ``None``."""
    if not isinstance(seq, (list, tuple)):
        return None
    for v in seq:
        if isinstance(v, (bool, np.bool_)):
            return bool(v)
        found = _first_bool(v)
        if found is not None:
            return found
    return None


def _targets(target: Any, n: int, num_outputs: int) -> torch.Tensor:
    """One class index per sample: an int (for all samples) or a sequence/tensor of length n."""
    if isinstance(target, torch.Tensor):
        target = target.detach().cpu().tolist()
    if isinstance(target, numbers.Integral) and not isinstance(target, bool):
        values = [int(target)] * n
    elif isinstance(target, (list, tuple, np.ndarray)):
        flagged = _first_bool(target)  # before numpy turns [True, 0] into [1, 0]
        if flagged is not None:
            raise TypeError(f"target must hold integers, got {flagged!r}")
        values = list(np.asarray(target).reshape(-1).tolist())
        if len(values) != n:
            raise ValueError(f"target must give one class per sample ({n}), got {len(values)}")
        for v in values:
            if isinstance(v, bool) or not isinstance(v, numbers.Integral):
                raise TypeError(f"target must hold integers, got {v!r}")
    else:
        raise TypeError(f"target must be an int or a sequence of ints, got {target!r}")
    for v in values:
        if not 0 <= v < num_outputs:
            raise ValueError(
                f"target must be in 0..{num_outputs - 1} (the model's outputs), got {v}"
            )
    return torch.tensor(values, dtype=torch.long)


def _scores(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``out[i, target[i]]`` for every sample i."""
    return out.gather(1, target.to(out.device)[:, None])[:, 0]


def _output_targets(out: torch.Tensor, target: Any, n: int) -> torch.Tensor:
    """Check that ``out`` holds logits (N, K) and ``target`` valid classes for n images."""
    if out.ndim != 2:
        raise ValueError(f"the model must return logits (N, K), got shape {tuple(out.shape)}")
    return _targets(target, n, out.shape[1])


@contextlib.contextmanager
def _evaluating(model: nn.Module) -> Iterator[nn.Module]:
    """Eval mode (batch norm uses running statistics, dropout is off); restore the mode after."""
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            yield model
    finally:
        model.train(was_training)


def _input_grad(
    model: nn.Module, x: torch.Tensor, target: Any, n: int, expand=None
) -> torch.Tensor:
    """``d out[i, t_i] / d x[i]`` for a batch, in one forward and one backward pass.

    ``target`` (the user's value, for ``n`` images) is checked against the width of this very
    forward pass (no extra pass); ``expand`` maps the (n,) targets to the batch's rows.
    """
    x = x.detach().requires_grad_(True)
    out = model(x)
    t = _output_targets(out, target, n)
    score = _scores(out, t if expand is None else expand(t))
    (grad,) = torch.autograd.grad(score.sum(), x)
    return grad


def layer_names(model: nn.Module, leaves_only: bool = True) -> list[str]:
    """Names of the model's sub-modules, in definition order (``''``, the model, excluded).

    Parameters
    ----------
    model : nn.Module
    leaves_only : bool
        Only modules without children (convolutions, activations, pooling, ...).

    Returns
    -------
    list of str, usable as ``layers`` in :func:`feature_maps` and ``layer`` in :func:`grad_cam`.
    """
    check_module("model", model)
    return [
        name
        for name, m in model.named_modules()
        if name and (not leaves_only or next(m.children(), None) is None)
    ]


def _resolve_layer(model: nn.Module, layer: Any, name: str = "layer") -> tuple[str, nn.Module]:
    modules = {n: m for n, m in model.named_modules() if n}
    if isinstance(layer, nn.Module):
        for n, m in modules.items():
            if m is layer:
                return n, m
        raise ValueError(f"{name} must be a sub-module of model; this module is not part of it")
    if not isinstance(layer, str):
        raise TypeError(f"{name} must be a layer name (str) or a sub-module, got {layer!r}")
    if layer not in modules:
        names = list(modules)
        shown = ", ".join(repr(n) for n in names[:20]) + (" ..." if len(names) > 20 else "")
        raise ValueError(f"{name} must be one of the model's layers ({shown}); got {layer!r}")
    return layer, modules[layer]


# --------------------------------------------------------------------------- feature maps


def feature_maps(
    model: nn.Module, x: Any, layers: str | Sequence[str] | None = None
) -> dict[str, torch.Tensor]:
    """Activations of named layers for a batch, captured with forward hooks.

    Each output is cloned inside its hook, so an in-place operation that runs later (e.g.
    ``nn.ReLU(inplace=True)`` after a convolution) cannot change what is returned. A module
    that runs more than once in a forward pass (a shared ``ReLU``) reports its last call.

    Parameters
    ----------
    model : nn.Module
    x : Tensor or array, shape (N, ...)
        A batch of inputs, as the model expects them.
    layers : str or sequence of str, optional
        Layer names from :func:`layer_names` (``model.named_modules()``). Default: every leaf
        module.

    Returns
    -------
    dict name -> Tensor (detached; e.g. (N, C_l, H_l, W_l) for a convolution), in the order of
    ``layers`` (default: the order in which the layers ran).
    """
    check_module("model", model)
    if layers is None:
        names = layer_names(model)
    elif isinstance(layers, str):
        names = [layers]
    else:
        names = list(layers)
        if not names:
            raise ValueError("layers must name at least one layer, got an empty sequence")
    resolved = [_resolve_layer(model, n, "layers")[1] for n in names]
    x = _as_input(model, x)
    captured: dict[str, torch.Tensor] = {}

    def hook_for(name: str):
        def hook(module, inputs, output):
            if not isinstance(output, torch.Tensor):
                raise ValueError(f"layers: {name!r} returns {type(output).__name__}, not a tensor")
            captured[name] = output.detach().clone()

        return hook

    handles = []
    try:
        for name, module in zip(names, resolved, strict=True):
            handles.append(module.register_forward_hook(hook_for(name)))
        with _evaluating(model), torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    missing = [n for n in names if n not in captured]
    if missing:
        raise ValueError(f"layers {missing} did not run in the forward pass")
    if layers is None:
        return captured
    return {n: captured[n] for n in names}


# --------------------------------------------------------------------------- gradients


def saliency(
    model: nn.Module,
    x: Any,
    target: Any,
    *,
    absolute: bool = True,
    smoothgrad_samples: int = 0,
    noise: float = 0.15,
    seed: int = 0,
) -> torch.Tensor:
    """Vanilla-gradient saliency ``|d score_c / d x|``, optionally SmoothGrad-averaged.

    SmoothGrad averages the map over ``smoothgrad_samples`` copies of each image with Gaussian
    noise of standard deviation ``noise * (x.max() - x.min())`` (per image, as in the paper),
    which removes much of the gradient's high-frequency speckle.

    Parameters
    ----------
    model : nn.Module
        Maps (N, ...) to logits (N, K).
    x : Tensor or array, shape (N, ...)
    target : int or sequence of int
        Class whose score is explained (one for all samples, or one per sample).
    absolute : bool
        Return ``|gradient|`` (the saliency map of Simonyan et al.; captum's
        ``Saliency(abs=True)``); ``False`` keeps the sign.
    smoothgrad_samples : int
        0: plain gradient. n >= 1: mean of the maps of n noisy copies.
    noise : float
        Noise level relative to each image's value range (the paper recommends 0.1-0.2).
    seed : int
        Seed of the noise (a private ``torch.Generator``; the global RNG is untouched).

    Returns
    -------
    Tensor of the shape of ``x``. Take ``.amax(1)`` over colour channels to draw one map.
    """
    check_module("model", model)
    check_bool("absolute", absolute)
    samples = check_int("smoothgrad_samples", smoothgrad_samples, minimum=0)
    noise = check_positive_float("noise", noise)
    seed = check_int("seed", seed, minimum=0)
    x = _as_input(model, x)
    with _evaluating(model):
        if samples == 0:
            grad = _input_grad(model, x, target, len(x))
            return (grad.abs() if absolute else grad).detach()
        # Same layout as captum's NoiseTunnel: each image repeated `samples` times in a row.
        flat = x.reshape(len(x), -1)
        # sigma in float64, rounded once to the input's dtype (as captum does with its stdevs).
        std = (noise * (flat.max(1).values - flat.min(1).values).double()).to(x.dtype)
        std = std.reshape(-1, *([1] * (x.ndim - 1))).repeat_interleave(samples, 0)
        gen = torch.Generator(device=x.device).manual_seed(seed)
        eps = torch.randn(
            (len(x) * samples, *x.shape[1:]), generator=gen, device=x.device, dtype=x.dtype
        )
        noisy = x.repeat_interleave(samples, 0) + std * eps
        grad = _input_grad(model, noisy, target, len(x), lambda t: t.repeat_interleave(samples))
        grad = grad.abs() if absolute else grad
        return grad.reshape(len(x), samples, *x.shape[1:]).mean(1).detach()


def ig_weights(steps: int, method: str = "gausslegendre") -> tuple[np.ndarray, np.ndarray]:
    """Nodes ``alpha`` in [0, 1] and weights of a quadrature rule for ``integral_0^1 g(a) da``.

    ``'gausslegendre'`` (captum's default) is exact for polynomials of degree ``2 steps - 1``.
    The Riemann rules use ``steps`` equally spaced nodes. ``'riemann_trapezoid'`` is the true
    trapezoid rule (nodes ``0, 1/(s-1), ..., 1``, weights ``1/(s-1)`` halved at both ends, sum 1).
    captum 0.7-0.9 uses weights ``1/s`` there (they add up to ``(s-1)/s``), so its trapezoid
    attributions are ``(s-1)/s`` times these.

    Returns
    -------
    alphas, weights : ndarray of float64, shape (steps,)
    """
    method = check_choice("method", method, IG_METHODS)
    steps = check_int("steps", steps, minimum=2 if method == "riemann_trapezoid" else 1)
    if method == "gausslegendre":
        nodes, weights = np.polynomial.legendre.leggauss(steps)
        return 0.5 * (nodes + 1), 0.5 * weights
    n = steps
    if method == "riemann_trapezoid":
        weights = np.full(n, 1 / (n - 1))
        weights[[0, -1]] /= 2
        return np.linspace(0, 1, n), weights
    offset = {"riemann_left": 0.0, "riemann_middle": 0.5, "riemann_right": 1.0}[method]
    return (np.arange(n) + offset) / n, np.full(n, 1 / n)


def integrated_gradients(
    model: nn.Module,
    x: Any,
    target: Any,
    baseline: Any = None,
    steps: int = 50,
    *,
    method: str = "gausslegendre",
    batch_size: int | None = None,
) -> torch.Tensor:
    """Integrated gradients: ``(x - x') * integral_0^1 grad score_c(x' + a (x - x')) da``.

    The integral is a quadrature (:func:`ig_weights`) over ``steps`` points of the straight path
    from the baseline ``x'`` to ``x``. Completeness: the attributions of one image add up to
    ``score_c(x) - score_c(x')``, up to the quadrature error (check it; more steps if not).

    Parameters
    ----------
    model : nn.Module
    x : Tensor or array, shape (N, ...)
    target : int or sequence of int
    baseline : float or Tensor, optional
        The reference input ``x'``: a number, or a tensor broadcastable to ``x``. Default 0 (in
        the model's input space; for normalised digits a black image is ``-mean / std``).
    steps : int
        Number of points on the path (>= 1; >= 2 for the trapezoid rule).
    method : str
        One of :data:`IG_METHODS`; default ``'gausslegendre'`` as in captum.
    batch_size : int, optional
        Path points evaluated per forward pass (default: all ``steps`` at once).

    Returns
    -------
    Tensor of the shape of ``x``.
    """
    check_module("model", model)
    alphas, weights = ig_weights(steps, method)
    x = _as_input(model, x)
    baseline = _baseline(baseline, x)
    chunk = steps if batch_size is None else check_int("batch_size", batch_size, minimum=1)
    total = torch.zeros_like(x)
    diff = x - baseline
    with _evaluating(model):
        for start in range(0, steps, chunk):
            a = torch.as_tensor(alphas[start : start + chunk], dtype=x.dtype, device=x.device)
            w = torch.as_tensor(weights[start : start + chunk], dtype=x.dtype, device=x.device)
            shape = (-1, *([1] * x.ndim))
            path = (baseline + a.reshape(shape) * diff).reshape(-1, *x.shape[1:])
            copies = len(a)  # targets for `copies` stacked copies of the batch
            grad = _input_grad(model, path, target, len(x), lambda t, k=copies: t.repeat(k))
            total += (w.reshape(shape) * grad.reshape(len(a), *x.shape)).sum(0)
    return (diff * total).detach()


def _baseline(baseline: Any, x: torch.Tensor, name: str = "baseline") -> torch.Tensor:
    if baseline is None:
        return torch.zeros_like(x)
    if isinstance(baseline, numbers.Real) and not isinstance(baseline, bool):
        return torch.full_like(x, check_real(name, baseline))
    if not isinstance(baseline, torch.Tensor):
        baseline = torch.from_numpy(np.ascontiguousarray(check_array(name, baseline)))
    b = baseline.detach().to(device=x.device, dtype=x.dtype)
    try:
        return torch.broadcast_to(b, x.shape).clone()
    except RuntimeError:
        raise ValueError(
            f"{name} must be a number or broadcastable to x's shape {tuple(x.shape)}, "
            f"got shape {tuple(b.shape)}"
        ) from None


# --------------------------------------------------------------------------- occlusion


def _window_starts(size: int, window: int, stride: int) -> list[int]:
    # As captum: ceil((size - window) / stride) + 1 positions; the last may hang over the edge
    # and is clipped, so every pixel is covered.
    count = -(-(size - window) // stride) + 1
    return [i * stride for i in range(count)]


def occlusion(
    model: nn.Module,
    x: Any,
    target: Any,
    window: int | tuple[int, int],
    stride: int | tuple[int, int] = 1,
    baseline: Any = 0.0,
    *,
    batch_size: int = 256,
) -> torch.Tensor:
    """Occlusion sensitivity: the drop of the target score when a window is blanked out.

    A ``window`` slides over the image with ``stride`` (all channels at once); at each position
    the window is replaced by ``baseline`` and the drop ``score_c(x) - score_c(x_occluded)`` is
    credited to every pixel under the window. A pixel's attribution is the mean drop over the
    windows that cover it (captum's ``Occlusion`` with window ``(C, kh, kw)``). Positive: the
    pixel supports class c; negative: hiding it makes c more likely.

    Parameters
    ----------
    model : nn.Module
    x : Tensor or array, shape (N, C, H, W)
    target : int or sequence of int
    window : int or (int, int)
        Window (kh, kw), at most the image size.
    stride : int or (int, int)
        Step between windows, at most the window (so that every pixel is covered) unless the
        window spans the whole dimension.
    baseline : float or Tensor
        Fill value: a number or a tensor broadcastable to ``x``.
    batch_size : int
        Occluded images per forward pass.

    Returns
    -------
    Tensor of the shape of ``x`` (equal over channels).
    """
    check_module("model", model)
    x = _as_input(model, x, ndim=4)
    n, c, h, w = x.shape
    kh, kw = check_pair("window", window, minimum=1)
    sh, sw = check_pair("stride", stride, minimum=1)
    if kh > h or kw > w:
        raise ValueError(f"window must be at most the image size {(h, w)}, got {(kh, kw)}")
    if (sh > kh and kh < h) or (sw > kw and kw < w):
        raise ValueError(
            f"stride must be <= window {(kh, kw)} so that every pixel is covered, got {(sh, sw)}"
        )
    batch_size = check_int("batch_size", batch_size, minimum=1)
    fill = _baseline(baseline, x)
    masks = []
    for top in _window_starts(h, kh, sh):
        for left in _window_starts(w, kw, sw):
            m = torch.zeros(h, w, dtype=x.dtype, device=x.device)
            m[top : top + kh, left : left + kw] = 1
            masks.append(m)
    masks = torch.stack(masks)  # (P, H, W)
    counts = masks.sum(0)
    result = torch.empty_like(x)
    with _evaluating(model), torch.no_grad():
        out = model(x)
        target = _output_targets(out, target, n)
        base = _scores(out, target)
        for i in range(n):
            drops = []
            for start in range(0, len(masks), batch_size):
                m = masks[start : start + batch_size, None]  # (B, 1, H, W)
                occluded = x[i] * (1 - m) + fill[i] * m
                drops.append(base[i] - _scores(model(occluded), target[i].repeat(len(m))))
            drop = torch.cat(drops)
            heat = torch.einsum("p,phw->hw", drop, masks) / counts
            result[i] = heat.expand(c, h, w)
    return result


# --------------------------------------------------------------------------- Grad-CAM


def grad_cam(
    model: nn.Module,
    x: Any,
    target: Any,
    layer: str | nn.Module,
    *,
    relu: bool = True,
) -> torch.Tensor:
    """Grad-CAM heat maps, upsampled (bilinear) to the input size.

    With ``A^k`` the k-th feature map of ``layer`` (h x w) and ``y^c`` the target score:
    ``w_k = (1 / hw) sum_ij d y^c / d A^k_ij`` and ``L = ReLU(sum_k w_k A^k)``. The map is then
    resized to (H, W) with ``F.interpolate(mode='bilinear', align_corners=False)``, which is what
    captum's ``LayerGradCam(relu_attributions=True)`` + ``LayerAttribution.interpolate`` give.

    Parameters
    ----------
    model : nn.Module
    x : Tensor or array, shape (N, C, H, W)
    target : int or sequence of int
    layer : str or nn.Module
        A layer with 4-D output (N, K, h, w), usually the last convolutional block.
    relu : bool
        Apply the ReLU of the paper (keep only evidence *for* the class).

    Returns
    -------
    Tensor, shape (N, H, W); not normalised (divide by its max to draw it).
    """
    check_module("model", model)
    check_bool("relu", relu)
    x = _as_input(model, x, ndim=4)
    _, module = _resolve_layer(model, layer)
    store: dict[str, torch.Tensor] = {}

    def hook(mod, inputs, output):
        if not isinstance(output, torch.Tensor) or output.ndim != 4:
            shape = tuple(output.shape) if isinstance(output, torch.Tensor) else type(output)
            raise ValueError(f"layer must have a 4-D output (N, K, h, w), got {shape}")
        store["A"] = output
        # Hand a copy downstream: a later in-place op (ReLU(inplace=True)) then cannot
        # overwrite the activations we differentiate with respect to.
        return output.clone()

    handle = module.register_forward_hook(hook)
    try:
        with _evaluating(model):
            out = model(x)
            score = _scores(out, _output_targets(out, target, len(x)))
            activations = store["A"]
            (grads,) = torch.autograd.grad(score.sum(), activations)
    finally:
        handle.remove()
    weights = grads.mean(dim=(2, 3), keepdim=True)
    cam = (weights * activations).sum(1, keepdim=True)
    if relu:
        cam = F.relu(cam)
    cam = F.interpolate(cam, size=x.shape[2:], mode="bilinear", align_corners=False)
    return cam[:, 0].detach()


# --------------------------------------------------------------------------- activation maximisation


def total_variation(x: torch.Tensor, beta: float = 2.0) -> torch.Tensor:
    """Total variation ``sum_ij ((x[i,j+1] - x[i,j])^2 + (x[i+1,j] - x[i,j])^2)^(beta/2)``.

    The regulariser of Mahendran & Vedaldi (2015) over the last two dimensions, summed over
    everything else; ``beta = 1`` is the isotropic TV of image denoising, ``beta = 2`` (default)
    a smooth version. Pixels in the last row/column have no right/lower neighbour and are left
    out.

    Parameters
    ----------
    x : Tensor, shape (..., H, W) with H, W >= 2
    beta : float
        Exponent (> 0). For ``beta < 2`` a tiny 1e-8 inside the power keeps the gradient finite.

    Returns
    -------
    0-d Tensor (differentiable).
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if x.ndim < 2 or x.shape[-1] < 2 or x.shape[-2] < 2:
        raise ValueError(f"x must be (..., H, W) with H, W >= 2, got shape {tuple(x.shape)}")
    beta = check_positive_float("beta", beta)
    dw = x[..., :-1, 1:] - x[..., :-1, :-1]
    dh = x[..., 1:, :-1] - x[..., :-1, :-1]
    sq = dw**2 + dh**2
    if beta == 2.0:
        return sq.sum()
    return (sq + 1e-8).pow(beta / 2).sum()


def activation_maximization(
    model: nn.Module,
    layer: str | nn.Module,
    unit: int | Sequence[int],
    shape: Sequence[int],
    *,
    steps: int = 200,
    lr: float = 0.05,
    l2: float = 1e-3,
    tv: float = 1e-2,
    bounds: tuple[float, float] | None = None,
    seed: int = 0,
    init_std: float = 0.01,
    start: torch.Tensor | None = None,
) -> torch.Tensor:
    """An input that strongly excites one unit: gradient ascent with L2 and TV penalties.

    Maximises ``a(x) - l2 * ||x||^2 - tv * TV(x)`` with Adam, where ``a`` is the mean over
    positions of channel ``unit`` of ``layer``'s output (for a linear layer: output ``unit``,
    e.g. a class logit). Without the penalties the ascent tends to produce high-frequency
    patterns that excite the unit but look like nothing. Several units are optimised together
    as a batch, one image each; in eval mode the images do not interact, so this equals
    separate runs from the same starts.

    Parameters
    ----------
    model : nn.Module
    layer : str or nn.Module
        Layer whose output holds the unit.
    unit : int or sequence of int
        Channel (conv layers, output (N, K, h, w)) or output index (output (N, K)).
    shape : sequence of int
        Shape of one input, e.g. ``(1, 28, 28)``.
    steps : int
        Adam steps (>= 1).
    lr : float
        Adam learning rate (> 0).
    l2, tv : float
        Penalty weights (>= 0).
    bounds : (float, float), optional
        Clamp the image to [lo, hi] after every step (e.g. the normalised range of the pixels).
    seed : int
        Seed of the small random start (private generator).
    init_std : float
        Standard deviation of the random start (> 0).
    start : Tensor, optional
        Starting image(s), shape ``shape`` or (len(unit), *shape); overrides the random start.

    Returns
    -------
    Tensor of shape ``shape`` for one unit, (len(unit), *shape) for a sequence (detached).
    """
    check_module("model", model)
    _, module = _resolve_layer(model, layer)
    single = not isinstance(unit, (list, tuple, np.ndarray, torch.Tensor))
    units = [unit] if single else list(np.asarray(unit).reshape(-1).tolist())
    units = [check_int("unit", u, minimum=0) for u in units]
    if not units:
        raise ValueError("unit must name at least one unit, got an empty sequence")
    shape = tuple(check_int(f"shape[{i}]", s, minimum=1) for i, s in enumerate(shape))
    steps = check_int("steps", steps, minimum=1)
    lr = check_positive_float("lr", lr)
    l2 = check_nonnegative_float("l2", l2)
    tv = check_nonnegative_float("tv", tv)
    if bounds is not None:
        if len(bounds) != 2 or not bounds[0] < bounds[1]:
            raise ValueError(f"bounds must be (lo, hi) with lo < hi, got {bounds!r}")
    seed = check_int("seed", seed, minimum=0)
    init_std = check_positive_float("init_std", init_std)
    param = next((p for p in model.parameters() if p.is_floating_point()), None)
    dtype = param.dtype if param is not None else torch.float32
    device = param.device if param is not None else torch.device("cpu")
    n = len(units)
    if start is None:
        gen = torch.Generator().manual_seed(seed)
        x = torch.randn((n, *shape), generator=gen, dtype=dtype) * init_std
    else:
        x = torch.as_tensor(start).detach().to(dtype).clone()
        if tuple(x.shape) == shape:
            x = x.expand(n, *shape).clone()
        if tuple(x.shape) != (n, *shape):
            raise ValueError(
                f"start must have shape {shape} or {(n, *shape)}, got {tuple(x.shape)}"
            )
    x = x.to(device).requires_grad_(True)
    optimizer = torch.optim.Adam([x], lr=lr)
    rows = torch.arange(n)
    store: dict[str, torch.Tensor] = {}

    def hook(mod, inputs, output):
        store["a"] = output

    handle = module.register_forward_hook(hook)
    try:
        with _evaluating(model):
            for _ in range(steps):
                model(x)
                a = store["a"]
                if a.ndim < 2:
                    raise ValueError(
                        "layer must have an output (N, K, ...) with the units on axis 1, "
                        f"got shape {tuple(a.shape)}"
                    )
                if max(units) >= a.shape[1]:
                    raise ValueError(
                        f"unit must be in 0..{a.shape[1] - 1} for this layer, got {units}"
                    )
                act = a[rows, units].reshape(n, -1).mean(1).sum()
                objective = act - l2 * (x**2).sum() - tv * total_variation(x)
                # Gradient of the input only: the model's .grad stays untouched.
                (grad,) = torch.autograd.grad(-objective, x)
                optimizer.zero_grad(set_to_none=True)
                x.grad = grad
                optimizer.step()
                if bounds is not None:
                    with torch.no_grad():
                        x.clamp_(float(bounds[0]), float(bounds[1]))
    finally:
        handle.remove()
    x = x.detach()
    return x[0] if single else x


# --------------------------------------------------------------------------- sanity check


def randomized_copy(
    model: nn.Module, layers: str | Sequence[str] | None = None, seed: int = 0
) -> nn.Module:
    """A deep copy of ``model`` with some layers re-initialised (Adebayo et al. 2018).

    Parameters
    ----------
    model : nn.Module
        Left unchanged.
    layers : str or sequence of str, optional
        Layers to re-initialise with their own ``reset_parameters()`` (the default init of a
        fresh layer). Default: every layer that has one. Randomising from the output layer down,
        one layer more at a time, is the "cascading" test.
    seed : int
        Seed for the new weights (the global RNG state is saved and restored).

    Returns
    -------
    nn.Module in the same train/eval mode as ``model``.
    """
    check_module("model", model)
    seed = check_int("seed", seed, minimum=0)
    clone = copy.deepcopy(model)
    if layers is None:
        names = [n for n, m in clone.named_modules() if n and hasattr(m, "reset_parameters")]
    else:
        names = [layers] if isinstance(layers, str) else list(layers)
    modules = [_resolve_layer(clone, n, "layers")[1] for n in names]
    for n, m in zip(names, modules, strict=True):
        if not hasattr(m, "reset_parameters"):
            raise ValueError(f"layers: {n!r} has no parameters to re-initialise")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for m in modules:
            m.reset_parameters()
    return clone
