"""Argument checks shared by the public functions.

Every check raises ``TypeError`` (wrong kind of value) or ``ValueError`` (right kind, wrong value)
with a message that names the argument, shows the value and states the valid range.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np


def check_int(name: str, value: Any, *, minimum: int | None = None) -> int:
    """Return ``value`` as an int; reject bools, floats and values below ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def check_pair(name: str, value: Any, *, minimum: int | None = None) -> tuple[int, int]:
    """Accept an int or a pair of ints (height, width), like torch's ``_pair``."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
        return (
            check_int(f"{name}[0]", value[0], minimum=minimum),
            check_int(f"{name}[1]", value[1], minimum=minimum),
        )
    v = check_int(name, value, minimum=minimum)
    return v, v


def check_positive_float(name: str, value: Any) -> float:
    """Return ``value`` as a float that is finite and > 0."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r} ({type(value).__name__})")
    value = float(value)
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value}")
    return value


def check_bool(name: str, value: Any) -> bool:
    """Return ``value`` if it is ``True`` or ``False`` (numpy's ``bool_`` too); reject 0/1 and strings."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r} ({type(value).__name__})")
    return bool(value)


def _real(name: str, value: Any) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r} ({type(value).__name__})")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value}")
    return value


def check_real(name: str, value: Any) -> float:
    """Return ``value`` as a finite float of any sign; reject bools and non-numbers."""
    return _real(name, value)


def check_nonnegative_float(name: str, value: Any) -> float:
    """Return ``value`` as a float that is finite and >= 0."""
    value = _real(name, value)
    if value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value}")
    return value


def check_unit_interval(name: str, value: Any) -> float:
    """Return ``value`` as a float in the closed interval [0, 1] (a probability, a threshold)."""
    value = _real(name, value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {value}")
    return value


def check_positive_floats(name: str, values: Any) -> tuple[float, ...]:
    """Return a non-empty sequence of finite numbers > 0 (or one number) as a tuple of floats."""
    if isinstance(values, numbers.Real) and not isinstance(values, (bool, np.bool_)):
        values = (values,)  # one anchor size, one ratio: no need to wrap it in a list
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise TypeError(f"{name} must be a sequence of numbers > 0, got {values!r}")
    values = tuple(values)
    if not values:
        raise ValueError(f"{name} must be a non-empty sequence of numbers > 0, got {values!r}")
    return tuple(check_positive_float(f"{name}[{i}]", v) for i, v in enumerate(values))


def check_module(name: str, value: Any) -> Any:
    """Return ``value`` if it is a ``torch.nn.Module`` (torch is imported only when called)."""
    from torch import nn  # lazy: the math modules that use this file must not import torch

    if not isinstance(value, nn.Module):
        raise TypeError(f"{name} must be a torch.nn.Module, got {type(value).__name__}")
    return value


def check_array(name: str, value: Any, *, ndim: int | tuple[int, ...] | None = None) -> np.ndarray:
    """Return ``value`` as a numeric numpy array with the expected number of dimensions."""
    if hasattr(value, "detach") and hasattr(value, "numpy"):  # a torch tensor
        value = value.detach().cpu().numpy()
    arr = np.asarray(value)
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)
    ):
        raise TypeError(f"{name} must be a numeric array, got dtype {arr.dtype}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in allowed:
            want = " or ".join(str(a) for a in allowed)
            raise ValueError(f"{name} must have {want} dimensions, got shape {arr.shape}")
    return arr


def check_choice(name: str, value: Any, choices) -> Any:
    """Return ``value`` if it is one of ``choices``; the error lists them."""
    if value not in choices:
        valid = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name} must be one of {valid}; got {value!r}")
    return value
