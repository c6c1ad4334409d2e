"""The object a kernel author's decorator returns: callable eagerly, traced by
the bridge under torch.compile."""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from helion_ops import dynamo_bridge

from ._config_store import ConfigStore
from ._configured import ConfiguredHelionKernel
from ._eager import PlanCache, call_signature, direct_launch_enabled, fast_path_enabled
from ._errors import InvalidSettingsError
from ._platform import current_platform
from ._policy import MissingConfigPolicy, missing_config_policy, parse_policy
from ._selection import ConfigPicker, KeySpec
from ._shapes import InputGeneratorError
from ._variants import check_variants

InputGenerator = Callable[[], dict[str, tuple[Any, ...]]]


def settings_dict(helion_settings: Any, op_name: str) -> dict[str, Any]:
    """Validate helion settings as vLLM does and return them as a dict."""
    if helion_settings is None:
        return {}
    if isinstance(helion_settings, Mapping):
        settings = dict(helion_settings)
    else:
        settings = dict(helion_settings.to_dict())
        from helion.runtime.settings import default_autotuner_fn

        if settings.get("autotuner_fn") is default_autotuner_fn:
            settings.pop("autotuner_fn")
        settings = {k: v for k, v in settings.items() if k in _explicit_settings(helion_settings)}
    if settings.get("autotuner_fn") is not None:
        raise InvalidSettingsError(
            f"op {op_name!r}: helion_settings sets autotuner_fn, but registered kernels select stored "
            "configs instead of autotuning. Remove autotuner_fn and pass register_kernel(config_picker=...) "
            "or keys=... to choose configs."
        )
    settings.pop("autotuner_fn", None)
    if settings.get("static_shapes") is True:
        warnings.warn(
            f"op {op_name!r}: static_shapes=True in helion_settings is overridden to False: registered "
            "kernels serve every batch size without recompiling.",
            UserWarning,
            stacklevel=4,
        )
    settings.pop("static_shapes", None)
    return settings


def _explicit_settings(settings: Any) -> set[str]:
    """Settings differing from Helion's defaults (a Settings object carries them all)."""
    import helion

    defaults = helion.Settings().to_dict()
    given = settings.to_dict()
    return {k for k, v in given.items() if k not in defaults or defaults[k] is not v and defaults[k] != v}


class HelionKernelWrapper:
    """A registered op: ``wrapper(*args)`` runs the configured kernel."""

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        op_name: str,
        config_picker: ConfigPicker | None,
        keys: KeySpec | None,
        fake_impl: Callable[..., Any] | None,
        helion_settings: Any,
        input_generator: InputGenerator | None,
        reference: Callable[..., Any] | None,
        config_dirs: list[Path],
        missing_config: str | MissingConfigPolicy | None,
        mutates_args: list[str] | None = None,
        validate: Callable[..., None] | None = None,
        tuning_configs: Callable[[tuple[Any, ...]], Sequence[Mapping[str, Any]]] | None = None,
        variants: Mapping[str, Callable[..., Any]] | None = None,
    ) -> None:
        self.op_name = op_name
        self.raw_kernel_func = fn
        self.module = getattr(fn, "__module__", "?")
        self.reference = reference
        self.input_generator = input_generator
        if config_picker is not None and keys:
            raise InvalidSettingsError(
                f"op {op_name!r}: register_kernel got both config_picker= and keys=; they are two ways of "
                "choosing a call's config entry and only one can apply. Pass one of them."
            )
        self.config_picker = config_picker
        self.keys = dict(keys) if keys else None
        self.helion_settings = settings_dict(helion_settings, op_name)
        self.config_store = ConfigStore.layered(config_dirs)
        # A per-kernel policy is checked here; the process policy is read at each use.
        self._missing_config = None if missing_config is None else parse_policy(missing_config, "missing_config")
        self._fake_impl = fake_impl
        self._mutates_args = mutates_args
        self.validate = validate
        self.tuning_configs = tuning_configs
        # Other kernel functions behind the op, by name (``_variants``).
        self.variants = check_variants(op_name, fn, variants, mutates_args)
        self._lock = threading.Lock()
        # Eager plans by call signature (None: fast path off for this process).
        self._plans: PlanCache | None = PlanCache() if fast_path_enabled() else None
        self.__doc__ = fn.__doc__
        # Built here, at registration, outside any traced region.
        self.configured = self._configure(current_platform())
        self.prepared = dynamo_bridge.prepare_kernel(
            self.configured.kernel,
            op_name=op_name,
            impl=self._run_eager,
            # The pure-PyTorch reference, run on FakeTensors, gives outputs with
            # the caller's symbolic sizes and adds no guards; Helion's output-spec
            # inference guards on sizes (a recompile per batch size with
            # torch 2.13 + helion 1.5.1), so it is only the last resort.
            fake_impl=fake_impl or reference,
            mutates_args=mutates_args,
            validate=validate,
            # One HOP node runs one kernel: where an entry of this platform
            # names a variant, the kernel is picked per call (custom op).
            hop_allowed=not self.configured.runs_variants,
        )

    def _configure(self, platform: str) -> ConfiguredHelionKernel:
        return ConfiguredHelionKernel(
            self.op_name,
            self.raw_kernel_func,
            platform=platform,
            entries=self.config_store.load(self.op_name, platform),
            helion_settings=self.helion_settings,
            config_picker=self.config_picker,
            keys=self.keys,
            policy=lambda: self.policy,
            platforms_with_configs=self.config_store.platforms(self.op_name),
            variants=self.variants,
        )

    def function_of(self, variant: str | None) -> Callable[..., Any]:
        """The kernel function of ``variant`` (an entry's ``variant`` field; None: the op's own)."""
        return self.raw_kernel_func if variant is None else self.variants[variant]

    @property
    def policy(self) -> MissingConfigPolicy:
        return missing_config_policy(self._missing_config)

    @property
    def kernel(self) -> Any:
        """The configured ``helion.Kernel`` (what Dynamo traces)."""
        return self.configured.kernel

    @property
    def platform(self) -> str:
        return self.configured.platform

    def _run_full(self, args: tuple[Any, ...], signature: Any) -> Any:
        if self.validate is not None:
            self.validate(*args)
        if self.reference is not None and _has_empty_tensor(args):
            # No kernel launch for zero tokens: Triton refuses an empty grid on
            # some paths, and the reference returns correctly shaped empties.
            return self.reference(*args)
        configured = self.configured
        entry = configured.entry_for(args)
        stored = entry is not None
        if not stored:
            # No config for this platform, or none for this call's key: the
            # policy decides, per call (ERROR for a missing key is raised by
            # the configured kernel's config lookup, naming the key).
            policy = self.policy
            if policy is MissingConfigPolicy.ERROR and not configured.has_configs:
                raise configured.missing_config_error("no configs")
            if policy is MissingConfigPolicy.REFERENCE and self.reference is not None:
                missing = (
                    f"no configs for platform {configured.platform!r}"
                    if not configured.has_configs
                    else f"no config for key {configured.selected_key(*args)!r} on platform {configured.platform!r}"
                )
                configured._warn_once(f"{missing}; running the pure-PyTorch reference")
                return self.reference(*args)
        kernel = configured.kernel_for(entry)
        result = kernel(*args)
        # A plan only for a stored config: calls that fall back (missing
        # config) keep reading the policy, which may change, at every call.
        if signature is not None and stored:
            plan = dynamo_bridge.direct_call(kernel, args, launch_directly=direct_launch_enabled())
            if plan is not None:
                self._plans.add(signature, plan)  # type: ignore[union-attr]
        return result

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """An eager call (also the custom op's implementation inside compiled
        graphs, as ``_run_eager``): the plan of a signature seen before, else
        the full path."""
        if kwargs:
            args = self.kernel.normalize_args(*args, **kwargs)
        signature = call_signature(args) if self._plans is not None else None
        if signature is not None:
            plan = self._plans.get(signature)  # type: ignore[union-attr]
            if plan is not None:
                return plan(*args)
        return self._run_full(args, signature)

    # The same method, not a wrapper of it: a Python call less per eager call.
    _run_eager = __call__

    def get_inputs(self) -> dict[str, tuple[Any, ...]]:
        """The input generator's ``{shape name: args}`` (vLLM's wrapper has the same method)."""
        if self.input_generator is None:
            raise InputGeneratorError(
                f"op {self.op_name!r} has no input generator; pass register_kernel(input_generator=...)"
            )
        return self.input_generator()

    def __repr__(self) -> str:
        return f"<helion-ops kernel {self.op_name!r} platform={self.platform!r} configs={len(self.configured.entries)}>"


def _has_empty_tensor(args: tuple[Any, ...]) -> bool:
    import torch

    return any(isinstance(a, torch.Tensor) and a.numel() == 0 for a in args)


def _kernel_of(wrapper: HelionKernelWrapper) -> Any:
    return wrapper.kernel


dynamo_bridge.register_wrapper_type(HelionKernelWrapper, _kernel_of)
