"""``register_kernel``: the one decorator a kernel author uses."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from . import _registry
from ._policy import MissingConfigPolicy
from ._selection import ConfigPicker, KeySpec
from ._wrapper import HelionKernelWrapper, InputGenerator


def register_kernel(
    op_name: str | None = None,
    *,
    config_picker: ConfigPicker | None = None,
    keys: KeySpec | None = None,
    fake_impl: Callable[..., Any] | None = None,
    helion_settings: Any = None,
    input_generator: InputGenerator | None = None,
    reference: Callable[..., Any] | None = None,
    configs: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None = None,
    missing_config: str | MissingConfigPolicy | None = None,
    mutates_args: Sequence[str] | None = None,
    validate: Callable[..., None] | None = None,
    tuning_configs: Callable[[tuple[Any, ...]], Sequence[Mapping[str, Any]]] | None = None,
    variants: Mapping[str, Callable[..., Any]] | None = None,
) -> Callable[[Callable[..., Any]], HelionKernelWrapper]:
    """Register a Helion kernel function as an op with stored, per-platform configs.

    ``op_name`` defaults to the function's name. Configs are read from
    ``configs`` (a directory or several, laid out as ``<dir>/<op>/<platform>.json``)
    under any user directories in ``HELION_OPS_CONFIG_DIR``. Choose the entry
    with ``config_picker(args, keys) -> key | None`` or declaratively with
    ``keys={"field": ("arg", dim), ...}``. ``missing_config`` is the policy
    when this platform has no config (error / default / reference).
    ``fake_impl`` and ``mutates_args`` default to what the bridge infers.
    ``validate(*args)`` checks the inputs (raise ``InputValidationError``):
    before every eager call, and once at trace time under torch.compile.
    With a ``reference``, calls with an empty tensor (0 tokens) return the
    reference's empty outputs without launching the kernel.
    ``tuning_configs(args)`` lists candidate configs (partial ``helion.Config``
    fields laid over Helion's default) for ``helion-ops autotune --effort sweep``.
    ``variants={"name": fn}`` puts other kernel functions (same parameters)
    behind the op: a config entry names the one it is for in its ``variant``
    field, a call runs the kernel of the entry it selects, and autotune
    writes the fastest variant per key.
    """

    def decorate(fn: Callable[..., Any]) -> HelionKernelWrapper:
        name = op_name or fn.__name__
        # Claimed first, so that a duplicate name fails here, naming the module
        # that has it, before the wrapper (custom op, side table) is built.
        token = _registry.reserve(name, getattr(fn, "__module__", "?"))
        if configs is None:
            dirs: list[Path] = []
        elif isinstance(configs, (str, os.PathLike)):
            dirs = [Path(configs)]
        else:
            dirs = [Path(c) for c in configs]
        try:
            # Built in this frame: the wrapper's warnings point at the caller's
            # decorator line through a fixed stack level.
            wrapper = HelionKernelWrapper(
                fn,
                op_name=name,
                config_picker=config_picker,
                keys=keys,
                fake_impl=fake_impl,
                helion_settings=helion_settings,
                input_generator=input_generator,
                reference=reference,
                config_dirs=dirs,
                missing_config=missing_config,
                mutates_args=list(mutates_args) if mutates_args is not None else None,
                validate=validate,
                tuning_configs=tuning_configs,
                variants=variants,
            )
            _registry.add(wrapper, token)
        finally:
            _registry.release(name, token)
        return wrapper

    return decorate
