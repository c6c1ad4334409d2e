"""A Helion kernel driven by stored configs instead of the autotuner.

Helion computes a cache key per call (our ``key`` hook) and, on a miss, asks
its autotuner for a config. We make the key the selected config key (plus a
size-1 bucket where the bridge says helion needs it) and replace the
autotuner with a preset search that returns the stored config for that key.
Both go through the same ``ConfigSelector``, so the key and the config agree.
An op with variants (``_variants``) has one such kernel per function; each
serves only the keys whose entries name it.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import Any

from helion_ops import dynamo_bridge

from ._config_entries import VARIANT_FIELD, ConfigEntry
from ._errors import ConfigFileError, MissingConfigError, StoredConfigMismatchError
from ._policy import MissingConfigPolicy
from ._selection import ConfigPicker, ConfigSelector, KeySpec
from ._variants import variant_label


def stale_list_fields(config: Mapping[str, Any], default: Mapping[str, Any]) -> dict[str, str]:
    """The list fields of a stored ``config`` whose length differs from the
    kernel's ``default`` config's, each with what was stored and expected."""
    return {
        field: f"{field}: {len(value)} stored, {len(default[field])} in the kernel"
        for field, value in config.items()
        if isinstance(value, list) and isinstance(default.get(field), list) and len(value) != len(default[field])
    }


def _preset_search_class() -> type:
    from helion.autotuner.base_search import BaseAutotuner

    class PresetConfigSearch(BaseAutotuner):  # type: ignore[misc]
        """Returns the stored config for the call's key; never benchmarks."""

        def __init__(self, config: Any) -> None:
            self.config = config

        def autotune(self, *, skip_cache: bool = False) -> Any:
            return self.config

    return PresetConfigSearch


class ConfiguredHelionKernel:
    """The platform's configs bound to the op's Helion kernel (``.kernel``) and
    to one kernel per variant (``.kernels``, by variant name; None: the op's own)."""

    def __init__(
        self,
        op_name: str,
        fn: Callable[..., Any],
        *,
        platform: str,
        entries: Mapping[str, ConfigEntry],
        helion_settings: Mapping[str, Any],
        config_picker: ConfigPicker | None,
        keys: KeySpec | None,
        policy: Callable[[], MissingConfigPolicy],
        platforms_with_configs: list[str],
        variants: Mapping[str, Callable[..., Any]] | None = None,
    ) -> None:
        import helion

        self.op_name = op_name
        self.platform = platform
        self.entries = dict(entries)
        # Read at each use: the process policy may change after registration.
        self._policy = policy
        self.platforms_with_configs = platforms_with_configs
        self.selector = ConfigSelector(op_name, fn, self.entries, config_picker=config_picker, keys=keys)
        self._warned = False
        self._stale_warned: set[str] = set()
        self._search = _preset_search_class()
        functions: dict[str | None, Callable[..., Any]] = {None: fn}
        functions.update(variants or {})
        self._check_entry_variants(functions)
        self.kernels: dict[str | None, Any] = {
            name: helion.kernel(
                function,
                **{**helion_settings, "static_shapes": False},
                # The selected key, plus the bridge's guards (equal sizes; size-1
                # buckets where this helion needs them).
                key=dynamo_bridge.guarded_key(self.selected_key),
                autotuner_fn=self._autotuner_for(name),
            )
            for name, function in functions.items()
        }
        self.kernel = self.kernels[None]

    def _check_entry_variants(self, functions: Mapping[str | None, Callable[..., Any]]) -> None:
        known = [name for name in functions if name is not None]
        for kid, entry in self.entries.items():
            if entry.variant is not None and entry.variant not in functions:
                raise ConfigFileError(
                    f"op {self.op_name!r}: the config entry for key {kid!r} on platform {self.platform!r}"
                    f"{entry.origin} is for "
                    f"variant {entry.variant!r}, which the op does not have (its variants: "
                    f"{', '.join(known) or 'none'}). Correct the entry's {VARIANT_FIELD!r} field, remove it (the "
                    f"entry then runs the op's own kernel), or re-tune it with `helion-ops autotune {self.op_name} "
                    f"--platform {self.platform}`."
                )

    @property
    def policy(self) -> MissingConfigPolicy:
        return self._policy()

    @property
    def has_configs(self) -> bool:
        return bool(self.entries)

    def selected_key(self, *args: Any) -> str:
        """The config key id a call selects."""
        return self.selector.select(args)

    @property
    def runs_variants(self) -> bool:
        """Whether an entry of this platform is for one of the op's variants
        (else the op's own kernel serves every call, as one HOP node can)."""
        return any(entry.variant is not None for entry in self.entries.values())

    def entry_for(self, args: tuple[Any, ...]) -> ConfigEntry | None:
        """The stored entry serving ``args``; None where the missing-config policy decides."""
        return self.entries.get(self.selector.select(args))

    def kernel_for(self, entry: ConfigEntry | None) -> Any:
        """The Helion kernel that runs ``entry``'s config (the op's own without an entry)."""
        return self.kernels[entry.variant] if entry is not None else self.kernel

    def missing_config_error(self, detail: str) -> MissingConfigError:
        have = ", ".join(self.platforms_with_configs) or "none"
        return MissingConfigError(
            f"op {self.op_name!r}: {detail} on platform {self.platform!r}; platforms with configs: {have}. "
            f"Run `helion-ops autotune {self.op_name}` on this GPU, or choose the missing-config policy "
            "'default' or 'reference' (register_kernel(missing_config=...) or HELION_OPS_MISSING_CONFIG)."
        )

    def _warn_once(self, message: str) -> None:
        if not self._warned:
            self._warned = True
            warnings.warn(f"op {self.op_name!r}: {message}", RuntimeWarning, stacklevel=4)

    def config_for(self, bound_kernel: Any, args: tuple[Any, ...], variant: str | None = None) -> Any:
        """The config kernel ``variant`` runs for ``args``: its stored entry's,
        else what the missing-config policy says. An entry for another variant
        counts as missing here: the op's wrapper never sends its key to this
        kernel, only a direct call of ``.kernels[...]`` can."""
        import helion

        selected = self.selector.select(args)
        entry = self.entries.get(selected)
        if entry is not None and entry.variant == variant:
            self._check_fits(bound_kernel, selected, entry.config)
            return helion.Config(**self._without_stale_lists(bound_kernel, selected, entry.config))
        if entry is None:
            if self.policy is MissingConfigPolicy.ERROR:
                raise self.missing_config_error(f"no config entry for key {selected!r}")
            missing, fix = f"no config for key {selected!r}", f"tune it with `helion-ops autotune {self.op_name}`"
        else:
            missing = (
                f"the config entry for key {selected!r} is for variant {variant_label(entry.variant)!r}, and "
                f"variant {variant_label(variant)!r} was called"
            )
            fix = "call the op itself, which runs the entry's variant"
            if self.policy is MissingConfigPolicy.ERROR:
                raise self.missing_config_error(f"{missing} ({fix})")
        self._warn_once(f"{missing} on platform {self.platform!r}; using Helion's default config ({fix})")
        return bound_kernel.config_spec.default_config()

    def _check_fits(self, bound_kernel: Any, key: str, config: dict[str, Any]) -> None:
        """Helion's own check of a config against the bound kernel (once per
        binding), so that a stored entry written for another kernel or helion
        fails here, naming op, platform and key, not deep inside Helion."""
        import helion

        try:
            bound_kernel.config_spec.normalize(helion.Config(**config))
        except Exception as exc:
            reason = " ".join(str(exc).split()) or type(exc).__name__
            raise StoredConfigMismatchError(
                f"op {self.op_name!r}: the stored config for key {key!r} on platform {self.platform!r} does not "
                f"fit this kernel: {reason}. Found {config}. Re-tune it (`helion-ops autotune {self.op_name} "
                f"--platform {self.platform}`) or correct the entry in the op's {self.platform}.json."
            ) from exc

    def _without_stale_lists(self, bound_kernel: Any, key: str, config: dict[str, Any]) -> dict[str, Any]:
        """``config`` without its per-load or per-loop lists whose length is
        not the kernel's, with a warning (once per key).

        Helion's normalize takes such a list as it is (helion 1.5: an
        eviction list one load short passes and marks the wrong loads), so an
        entry tuned for an earlier form of the kernel would run a config
        nobody measured. Dropped, the field takes Helion's default: the call
        still runs, as tuned in every other field."""
        stale = stale_list_fields(config, bound_kernel.config_spec.default_config().config)
        if not stale:
            return config
        if key not in self._stale_warned:
            self._stale_warned.add(key)
            warnings.warn(
                f"op {self.op_name!r}: the stored config for key {key!r} on platform {self.platform!r} has "
                f"lists of another length than this kernel's ({'; '.join(stale.values())}); running it "
                f"without {', '.join(stale)} (Helion's default for them). Re-tune it (`helion-ops autotune "
                f"{self.op_name} --platform {self.platform}`).",
                RuntimeWarning,
                stacklevel=2,
            )
        return {field: value for field, value in config.items() if field not in stale}

    def _autotuner_for(self, variant: str | None) -> Callable[..., Any]:
        def autotuner(bound_kernel: Any, args: tuple[Any, ...], **_: Any) -> Any:
            return self._search(self.config_for(bound_kernel, tuple(args), variant))

        return autotuner
