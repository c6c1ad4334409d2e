"""A kernel's Python signature as a torch.library schema, and the arguments
it writes in place (read from its source, so no helion internals are needed)."""

from __future__ import annotations

import ast
import inspect
import textwrap
import typing
from collections.abc import Callable, Sequence

import torch

from ._errors import SchemaInferenceError

_SCALARS: dict[object, str] = {float: "float", int: "SymInt", bool: "bool", torch.dtype: "ScalarType"}


def _is_tensor_list(hint: object) -> bool:
    origin = typing.get_origin(hint)
    if origin in (list, tuple, Sequence, typing.Sequence):
        inner = typing.get_args(hint)
        return bool(inner) and inner[0] is torch.Tensor and (origin is not tuple or inner[-1] is Ellipsis or len(inner) == 1)
    return False


def _optional_inner(hint: object) -> object | None:
    if typing.get_origin(hint) in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        members = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(members) == 1 and len(typing.get_args(hint)) == 2:
            return members[0]
    return None


def _arg_type(hint: object, *, mutated: bool, where: str) -> str:
    if hint is torch.Tensor:
        return "Tensor(a!)" if mutated else "Tensor"
    if _is_tensor_list(hint):
        return "Tensor(a!)[]" if mutated else "Tensor[]"
    inner = _optional_inner(hint)
    if inner is not None:
        return _arg_type(inner, mutated=mutated, where=where) + "?"
    if hint in _SCALARS:
        return _SCALARS[hint]
    raise SchemaInferenceError(
        f"{where}: expected an annotation of torch.Tensor, list[torch.Tensor], float, "
        f"int, bool or torch.dtype (optionally | None), found {hint!r}. "
        "Annotate the kernel parameter, or pass fake_impl/mutates_args explicitly."
    )


def _return_type(hint: object, where: str) -> str:
    if hint is None or hint is type(None):
        return "()"
    if hint is torch.Tensor:
        return "Tensor"
    if typing.get_origin(hint) is tuple:
        parts = typing.get_args(hint)
        if parts and all(p is torch.Tensor for p in parts):
            return "(" + ", ".join("Tensor" for _ in parts) + ")"
    raise SchemaInferenceError(
        f"{where}: the return annotation must be torch.Tensor, tuple[torch.Tensor, ...] "
        f"or None, found {hint!r}. Add a return annotation to the kernel function."
    )


def _default(value: object) -> str:
    if value is None:
        return "None"
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, torch.dtype):
        return str(value).removeprefix("torch.")
    raise SchemaInferenceError(f"unsupported default value {value!r} in a custom-op schema")


def infer_schema(fn: Callable[..., object], op_name: str, mutated: Sequence[str]) -> str:
    """``(Tensor x, float eps=1e-06) -> Tensor`` for ``fn``; mutated tensors get ``(a!)``."""
    try:
        hints = typing.get_type_hints(fn)
    except Exception as exc:
        raise SchemaInferenceError(f"op {op_name!r}: cannot read annotations: {exc}") from exc
    params = []
    for name, param in inspect.signature(fn).parameters.items():
        if name not in hints:
            raise SchemaInferenceError(
                f"op {op_name!r}: parameter {name!r} has no annotation; expected a type such as torch.Tensor or float"
            )
        text = f"{_arg_type(hints[name], mutated=name in mutated, where=f'op {op_name!r}, parameter {name!r}')} {name}"
        if param.default is not inspect.Parameter.empty:
            text += "=" + _default(param.default)
        params.append(text)
    if "return" not in hints:
        raise SchemaInferenceError(
            f"op {op_name!r}: the kernel function has no return annotation; expected torch.Tensor, "
            "tuple[torch.Tensor, ...] or None"
        )
    return f"({', '.join(params)}) -> {_return_type(hints['return'], f'op {op_name!r}')}"


def mutated_parameters(fn: Callable[..., object]) -> list[str]:
    """Parameters written in place: ``x[...] = v``, ``x[...] += v`` or ``hl.atomic_*(x, ...)``."""
    params = list(inspect.signature(fn).parameters)
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    except (OSError, TypeError, SyntaxError):
        return []
    found: list[str] = []

    def note(node: ast.AST) -> None:
        while isinstance(node, ast.Subscript):
            node = node.value
            if isinstance(node, ast.Name) and node.id in params and node.id not in found:
                found.append(node.id)

    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                for elt in target.elts if isinstance(target, ast.Tuple) else [target]:
                    if isinstance(elt, ast.Subscript):
                        note(elt)
        elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Subscript):
            note(node.target)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr.startswith("atomic_")
            and node.args
            and isinstance(node.args[0], ast.Name)
            and node.args[0].id in params
            and node.args[0].id not in found
        ):
            found.append(node.args[0].id)
    return [p for p in params if p in found]
