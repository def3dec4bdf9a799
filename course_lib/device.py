"""Where tensors live: one helper so no page or test hard-codes a device."""

from __future__ import annotations

import os

import torch

__all__ = ["default_device", "cuda_available"]


def cuda_available() -> bool:
    """Return True when PyTorch sees a usable CUDA device."""
    return torch.cuda.is_available()


def default_device() -> torch.device:
    """The device the course computes on: CUDA when present, else the CPU.

    Set the environment variable ``COURSE_DEVICE`` (for example ``cpu`` or
    ``cuda:1``) to override the choice.

    Example:
        >>> x = torch.zeros(3, device=default_device())
    """
    forced = os.environ.get("COURSE_DEVICE")
    if forced:
        return torch.device(forced)
    return torch.device("cuda") if cuda_available() else torch.device("cpu")
