"""HelionKernelWrapper end to end in Triton's CPU interpreter: stored configs per
key, settings validation, and the missing-config policies."""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path
from typing import Any

import helion
import pytest
import torch
from op_names import unique
from toy_kernels import scale_rows, scale_rows_ref

from helion_ops.core import (
    CONFIG_DIR_ENV_VAR,
    MISSING_CONFIG_ENV_VAR,
    InvalidSettingsError,
    MissingConfigError,
    StoredConfigMismatchError,
    UnknownConfigKeyError,
    UnknownOpError,
    get_kernel,
    interpreter_active,
    register_kernel,
    set_missing_config_policy,
)

pytestmark = pytest.mark.skipif(
    torch.cuda.is_available() or not interpreter_active(),
    reason="runs Helion kernels on CPU tensors: needs TRITON_INTERPRET=1 and platform 'cpu'",
)







def write_configs(directory: Path, op: str, platform: str, entries: list[dict[str, Any]]) -> None:
    path = directory / op / f"{platform}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(entries), encoding="utf-8")


def make_args(rows: int, cols: int = 8, dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.randn(rows, cols, dtype=dtype), torch.randn(cols, dtype=dtype)


def op_warnings(record: list[warnings.WarningMessage], op: str, category: type[Warning]) -> list[str]:
    return [str(w.message) for w in record if issubclass(w.category, category) and f"op {op!r}" in str(w.message)]


# ---------------------------------------------------------------- stored configs per key

SMALL = {"block_sizes": [2], "num_warps": 2}
LARGE = {"block_sizes": [16], "num_warps": 8}


def test_keys_select_different_stored_configs(names: list[str], tmp_path: Path) -> None:
    op = unique("keyed")
    names.append(op)
    write_configs(tmp_path, op, "cpu", [{"key": {"rows": 4}, "config": SMALL}, {"key": {"rows": 32}, "config": LARGE}])
    wrapper = register_kernel(op, configs=tmp_path, keys={"rows": ("x", 0)}, reference=scale_rows_ref)(scale_rows)
    assert wrapper.platform == "cpu"
    assert sorted(wrapper.configured.entries) == ["rows=32", "rows=4"]

    small, small_too, large = make_args(4), make_args(3), make_args(32)
    with warnings.catch_warnings():
        # Every key has a config: no fallback warning may be issued.
        warnings.filterwarnings("error", message=f"op '{op}'", category=RuntimeWarning)
        for call_args in (small, small_too, large):
            torch.testing.assert_close(wrapper(*call_args), scale_rows_ref(*call_args))
        # Keyword arguments take the same path.
        torch.testing.assert_close(wrapper(large[0], w=large[1]), scale_rows_ref(*large))

    bound_small = wrapper.kernel.bind(small)
    bound_large = wrapper.kernel.bind(large)
    # Helion compiled the stored config of each key, not one config for both.
    assert bound_small is not bound_large
    assert bound_small._config == helion.Config(**SMALL)
    assert bound_large._config == helion.Config(**LARGE)
    assert bound_small._config != bound_large._config
    assert bound_small._run is not None and bound_large._run is not None
    assert bound_small._run is not bound_large._run
    # 3 rows maps to key rows=4: served by the same bound kernel, no recompile.
    assert wrapper.kernel.bind(small_too) is bound_small
    # What the preset search hands to Helion for each shape.
    assert wrapper.configured.config_for(bound_small, small) == helion.Config(**SMALL)
    assert wrapper.configured.config_for(bound_large, make_args(100)) == helion.Config(**LARGE)


def picker_by_rows(args: tuple[Any, ...], keys: list[dict[str, Any]]) -> dict[str, Any] | None:
    return {"big": 1} if args[0].shape[0] > 8 else None


def test_config_picker_selects_stored_configs(names: list[str], tmp_path: Path) -> None:
    op = unique("picked")
    names.append(op)
    write_configs(tmp_path, op, "cpu", [{"key": {}, "config": SMALL}, {"key": {"big": 1}, "config": LARGE}])
    wrapper = register_kernel(op, configs=tmp_path, config_picker=picker_by_rows)(scale_rows)
    small, large = make_args(5), make_args(20)
    torch.testing.assert_close(wrapper(*small), scale_rows_ref(*small))
    torch.testing.assert_close(wrapper(*large), scale_rows_ref(*large))
    assert wrapper.kernel.bind(small)._config == helion.Config(**SMALL)
    assert wrapper.kernel.bind(large)._config == helion.Config(**LARGE)


def picker_unknown(args: tuple[Any, ...], keys: list[dict[str, Any]]) -> dict[str, Any]:
    return {"rows": 12345}


def test_config_picker_unknown_key_on_call(names: list[str], tmp_path: Path) -> None:
    op = unique("badpick")
    names.append(op)
    write_configs(tmp_path, op, "cpu", [{"key": {}, "config": SMALL}, {"key": {"rows": 4}, "config": SMALL}])
    wrapper = register_kernel(op, configs=tmp_path, config_picker=picker_unknown)(scale_rows)
    with pytest.raises(
        UnknownConfigKeyError, match=rf"op '{op}': config_picker returned key 'rows=12345'.*\['default', 'rows=4'\]"
    ):
        wrapper(*make_args(4))


def test_user_config_dir_overrides_shipped(names: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    op = unique("layered")
    names.append(op)
    shipped, user = tmp_path / "shipped", tmp_path / "user"
    write_configs(shipped, op, "cpu", [{"key": {}, "config": SMALL}])
    write_configs(user, op, "cpu", [{"key": {}, "config": LARGE}])
    monkeypatch.setenv(CONFIG_DIR_ENV_VAR, str(user))
    wrapper = register_kernel(op, configs=shipped)(scale_rows)
    call_args = make_args(6)
    torch.testing.assert_close(wrapper(*call_args), scale_rows_ref(*call_args))
    assert wrapper.kernel.bind(call_args)._config == helion.Config(**LARGE)


# ---------------------------------------------------------------- settings


def my_autotuner(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("must never run")


@pytest.mark.parametrize("as_settings_object", [False, True])
def test_autotuner_fn_is_refused(names: list[str], tmp_path: Path, as_settings_object: bool) -> None:
    op = unique("tuner")
    names.append(op)
    settings: Any = helion.Settings(autotuner_fn=my_autotuner) if as_settings_object else {"autotuner_fn": my_autotuner}
    with pytest.raises(InvalidSettingsError, match=rf"op '{op}': helion_settings sets autotuner_fn.*config_picker"):
        register_kernel(op, configs=tmp_path, helion_settings=settings)(scale_rows)
    with pytest.raises(UnknownOpError):
        get_kernel(op)
    # Nothing was defined: the name is still free.
    wrapper = register_kernel(op, configs=tmp_path, missing_config="default")(scale_rows)
    assert get_kernel(op) is wrapper


def test_static_shapes_true_warns_once_and_stays_dynamic(names: list[str], tmp_path: Path) -> None:
    op = unique("static")
    names.append(op)
    write_configs(tmp_path, op, "cpu", [{"key": {}, "config": SMALL}])
    with pytest.warns(UserWarning, match=r"static_shapes=True in helion_settings is overridden to False") as record:
        wrapper = register_kernel(op, configs=tmp_path, helion_settings={"static_shapes": True})(scale_rows)
    assert len(op_warnings(record.list, op, UserWarning)) == 1
    # The warning points at the registration, not at helion_ops internals.
    static_warning = next(w for w in record.list if "static_shapes" in str(w.message))
    assert static_warning.filename == __file__

    assert wrapper.kernel.settings.static_shapes is False
    assert "static_shapes" not in wrapper.helion_settings
    five, seven = make_args(5), make_args(7)
    with warnings.catch_warnings(record=True) as later:
        warnings.simplefilter("always")
        torch.testing.assert_close(wrapper(*five), scale_rows_ref(*five))
        torch.testing.assert_close(wrapper(*seven), scale_rows_ref(*seven))
    assert op_warnings(later, op, UserWarning) == []
    # Dynamic shapes: one bound kernel serves both row counts.
    assert wrapper.kernel.bind(five) is wrapper.kernel.bind(seven)


def test_other_settings_are_passed_to_helion(names: list[str], tmp_path: Path) -> None:
    op = unique("settings")
    names.append(op)
    wrapper = register_kernel(
        op, configs=tmp_path, helion_settings={"index_dtype": torch.int64}, missing_config="default"
    )(scale_rows)
    assert wrapper.kernel.settings.index_dtype == torch.int64


# ---------------------------------------------------------------- missing-config policies


def configs_for_other_platforms(directory: Path, op: str) -> None:
    for platform in ("nvidia_h200", "nvidia_h100"):
        write_configs(directory, op, platform, [{"key": {}, "config": LARGE}])


def test_policy_error_raises_on_call(names: list[str], tmp_path: Path) -> None:
    op = unique("strict")
    names.append(op)
    configs_for_other_platforms(tmp_path, op)
    wrapper = register_kernel(op, configs=tmp_path, missing_config="error")(scale_rows)
    with pytest.raises(
        MissingConfigError,
        match=rf"op '{op}': no configs on platform 'cpu'; platforms with configs: nvidia_h100, nvidia_h200\.",
    ):
        wrapper(*make_args(4))


def test_policy_error_without_any_config(names: list[str], tmp_path: Path) -> None:
    op = unique("strict")
    names.append(op)
    wrapper = register_kernel(op, configs=tmp_path, missing_config="error")(scale_rows)
    with pytest.raises(MissingConfigError, match=rf"op '{op}': .*platform 'cpu'; platforms with configs: none"):
        wrapper(*make_args(4))


def test_policy_default_warns_once_and_computes(names: list[str], tmp_path: Path) -> None:
    op = unique("lenient")
    names.append(op)
    configs_for_other_platforms(tmp_path, op)
    wrapper = register_kernel(op, configs=tmp_path, missing_config="default", reference=scale_rows_ref)(scale_rows)
    first, second = make_args(4), make_args(6, dtype=torch.float64)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        out_first = wrapper(*first)
        # Another dtype: another bound kernel, another config lookup, no second warning.
        out_second = wrapper(*second)
    torch.testing.assert_close(out_first, scale_rows_ref(*first))
    torch.testing.assert_close(out_second, scale_rows_ref(*second))
    assert wrapper.kernel.bind(first) is not wrapper.kernel.bind(second)
    messages = op_warnings(record, op, RuntimeWarning)
    assert len(messages) == 1
    assert "platform 'cpu'" in messages[0] and "Helion's default config" in messages[0]


def test_policy_reference_runs_the_reference(names: list[str], tmp_path: Path) -> None:
    op = unique("ref")
    names.append(op)
    configs_for_other_platforms(tmp_path, op)
    calls: list[tuple[Any, ...]] = []
    results: list[torch.Tensor] = []

    def reference(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        calls.append((x, w))
        results.append(scale_rows_ref(x, w))
        return results[-1]

    wrapper = register_kernel(op, configs=tmp_path, missing_config="reference", reference=reference)(scale_rows)
    first, second = make_args(4), make_args(9)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        out_first = wrapper(*first)
        out_second = wrapper(*second)
    assert out_first is results[0] and out_second is results[1]
    assert len(calls) == 2 and calls[0][0] is first[0] and calls[1][1] is second[1]
    torch.testing.assert_close(out_first, first[0] * first[1])
    messages = op_warnings(record, op, RuntimeWarning)
    assert len(messages) == 1
    assert "pure-PyTorch reference" in messages[0] and "platform 'cpu'" in messages[0]


def test_policy_reference_without_reference_uses_default_config(names: list[str], tmp_path: Path) -> None:
    op = unique("noref")
    names.append(op)
    wrapper = register_kernel(op, configs=tmp_path, missing_config="reference")(scale_rows)
    call_args = make_args(3)
    with pytest.warns(RuntimeWarning, match=rf"op '{op}': no config for key 'default'"):
        out = wrapper(*call_args)
    torch.testing.assert_close(out, scale_rows_ref(*call_args))


@pytest.mark.parametrize("policy", ["reference", "error"])
def test_policy_applies_to_a_key_without_entry(names: list[str], tmp_path: Path, policy: str) -> None:
    """This platform has configs, but not for the key a call picks (no default
    entry): the policy decides for that call as it does for a platform without
    configs, while calls whose key has an entry run the kernel."""
    op = unique(f"keymiss_{policy}")
    names.append(op)
    write_configs(tmp_path, op, "cpu", [{"key": {"big": 1}, "config": LARGE}])
    calls: list[int] = []

    def reference(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        calls.append(x.shape[0])
        return scale_rows_ref(x, w)

    wrapper = register_kernel(op, configs=tmp_path, config_picker=picker_by_rows, missing_config=policy, reference=reference)(
        scale_rows
    )
    large, small = make_args(20), make_args(5)
    torch.testing.assert_close(wrapper(*large), scale_rows_ref(*large))
    assert calls == []
    if policy == "error":
        with pytest.raises(MissingConfigError, match=rf"op '{op}': no config entry for key 'default' on platform 'cpu'"):
            wrapper(*small)
        return
    with pytest.warns(RuntimeWarning, match=rf"op '{op}': no config for key 'default' on platform 'cpu'; running the pure-PyTorch reference"):
        out = wrapper(*small)
    torch.testing.assert_close(out, scale_rows_ref(*small))
    assert calls == [5]


def test_keys_entry_with_a_string_value_is_refused_naming_it(names: list[str], tmp_path: Path) -> None:
    from helion_ops.core import ConfigFileError

    op = unique("strkey")
    names.append(op)
    write_configs(tmp_path, op, "cpu", [{"key": {"rows": 4}, "config": SMALL}, {"key": {"rows": "large"}, "config": LARGE}])
    # Configs are loaded when the op is registered (outside any traced region), as a bad file's errors are.
    where = re.escape(f"({tmp_path / op / 'cpu.json'}, entry 1)")
    with pytest.raises(ConfigFileError, match=rf"op '{op}': config entry 'rows=large' {where} has rows='large'; .* must be integers"):
        register_kernel(op, configs=tmp_path, keys={"rows": ("x", 0)})(scale_rows)


def test_process_policy_and_env_var_apply_at_call_time(
    names: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    op = unique("global")
    names.append(op)
    wrapper = register_kernel(op, configs=tmp_path)(scale_rows)  # no per-kernel policy
    call_args = make_args(4)
    set_missing_config_policy("error")
    with pytest.raises(MissingConfigError, match=rf"op '{op}'"):
        wrapper(*call_args)
    set_missing_config_policy(None)
    monkeypatch.setenv(MISSING_CONFIG_ENV_VAR, "error")
    with pytest.raises(MissingConfigError, match=rf"op '{op}'"):
        wrapper(*call_args)
    # The per-kernel policy wins over the environment.
    op_default = unique("global")
    names.append(op_default)
    lenient = register_kernel(op_default, configs=tmp_path, missing_config="default")(scale_rows)
    with pytest.warns(RuntimeWarning, match=rf"op '{op_default}'"):
        torch.testing.assert_close(lenient(*call_args), scale_rows_ref(*call_args))


def picker_none(args: tuple[Any, ...], keys: list[dict[str, Any]]) -> None:
    return None


def test_policy_error_for_a_missing_key(names: list[str], tmp_path: Path) -> None:
    # This platform has configs, but none for the key the picker chose.
    op = unique("nokey")
    names.append(op)
    write_configs(tmp_path, op, "cpu", [{"key": {"rows": 4}, "config": SMALL}])
    wrapper = register_kernel(op, configs=tmp_path, config_picker=picker_none, missing_config="error")(scale_rows)
    with pytest.raises(MissingConfigError, match=rf"op '{op}': no config entry for key 'default' on platform 'cpu'"):
        wrapper(*make_args(4))


def test_process_policy_applies_to_a_missing_key(names: list[str], tmp_path: Path) -> None:
    op = unique("nokey")
    names.append(op)
    write_configs(tmp_path, op, "cpu", [{"key": {"rows": 4}, "config": SMALL}])
    wrapper = register_kernel(op, configs=tmp_path, config_picker=picker_none)(scale_rows)  # registered under 'default'
    set_missing_config_policy("error")
    assert wrapper.policy.value == "error"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(MissingConfigError, match=rf"op '{op}': no config entry for key 'default'"):
            wrapper(*make_args(4))


def test_invalid_policy_is_refused(names: list[str], tmp_path: Path) -> None:
    op = unique("badpolicy")
    names.append(op)
    expected = r"missing_config: expected a missing-config policy, one of error, default, reference; found 'sometimes'"
    with pytest.raises(InvalidSettingsError, match=expected):
        register_kernel(op, configs=tmp_path, missing_config="sometimes")(scale_rows)
    with pytest.raises(InvalidSettingsError, match=r"set_missing_config_policy: expected .*; found 'never'"):
        set_missing_config_policy("never")


def test_config_picker_and_keys_together_are_refused(names: list[str], tmp_path: Path) -> None:
    op = unique("pickandkeys")
    names.append(op)
    with pytest.raises(InvalidSettingsError, match=rf"op '{op}': register_kernel got both config_picker= and keys=;"):
        register_kernel(op, configs=tmp_path, config_picker=picker_by_rows, keys={"rows": ("x", 0)})(scale_rows)


@pytest.mark.parametrize(
    "config",
    [{"block_sizes": [4, 4], "num_warps": 2}, {"block_sizes": [4], "reduction_loops": [8, 8]}],
    ids=["two-block-sizes-for-one-tile", "reduction-loop-the-kernel-lacks"],
)
def test_a_stored_config_that_does_not_fit_the_kernel_names_op_platform_and_key(
    names: list[str], tmp_path: Path, config: dict[str, Any]
) -> None:
    """Well formed (the store accepts it) but wrong for this kernel: the first call
    fails with the op, platform and key, and how to fix it, not inside Helion."""
    op = unique("misfit")
    names.append(op)
    write_configs(tmp_path, op, "cpu", [{"key": {"rows": 4}, "config": config}])
    wrapper = register_kernel(op, configs=tmp_path, keys={"rows": ("x", 0)})(scale_rows)
    with pytest.raises(
        StoredConfigMismatchError,
        match=rf"op '{op}': the stored config for key 'rows=4' on platform 'cpu' does not fit this kernel: .*"
        rf"Re-tune it \(`helion-ops autotune {op} --platform cpu`\)",
    ):
        wrapper(*make_args(4))


def test_a_stored_list_of_another_length_is_dropped_with_one_warning(names: list[str], tmp_path: Path) -> None:
    """Helion's normalize takes an eviction list one load short as it is (it
    would mark the wrong loads): the call runs without that list, Helion's
    default in its place, and warns once for the key, naming the field."""
    op = unique("stale_list")
    names.append(op)
    config = {"block_sizes": [4], "load_eviction_policies": ["last"] * 3}
    write_configs(tmp_path, op, "cpu", [{"key": {"rows": 4}, "config": config}])
    wrapper = register_kernel(op, configs=tmp_path, keys={"rows": ("x", 0)})(scale_rows)
    args = make_args(4)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        torch.testing.assert_close(wrapper(*args), scale_rows_ref(*args))
        wrapper(*make_args(4))
    (message,) = op_warnings(record, op, RuntimeWarning)
    assert re.search(
        rf"op '{op}': the stored config for key 'rows=4' on platform 'cpu' has lists of another length than "
        r"this kernel's \(load_eviction_policies: 3 stored, \d+ in the kernel\); running it without "
        rf"load_eviction_policies .*`helion-ops autotune {op} --platform cpu`",
        message,
    ), message
