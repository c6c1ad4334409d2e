"""Which stored config each of an op's generator shapes gets on this platform.

The key is computed through the wrapper's own selector, the same call the
kernel makes, on tensors made on the ``meta`` device (sizes only, nothing
allocated), so ``helion-ops doctor`` can tell which shapes run a config tuned
for exactly them, which borrow the nearest one, and which have none.
"""

from __future__ import annotations

import dataclasses
import enum
from typing import TYPE_CHECKING, Any

from ._autotune import tuning_key
from ._config_entries import key_id
from ._errors import HelionOpsError
from ._shapes import accepts_argument, generate_inputs

if TYPE_CHECKING:
    from ._wrapper import HelionKernelWrapper


class KeyMatch(str, enum.Enum):
    EXACT = "exact"  # an entry with the key autotune writes for this shape
    NEAREST = "nearest"  # another keyed entry, by the selection rule
    DEFAULT = "default"  # the file's default entry (empty key)
    NONE = "none"  # no entry: the missing-config policy decides


@dataclasses.dataclass(frozen=True)
class ShapeCoverage:
    shape: str
    selected_key: str
    match: KeyMatch


class CoverageUnavailable(HelionOpsError, RuntimeError):
    """The op's shapes cannot be made without allocating real tensors (or at all)."""


def shape_coverage(wrapper: HelionKernelWrapper, shape: str, args: tuple[Any, ...]) -> ShapeCoverage:
    entries = wrapper.configured.entries
    selected = wrapper.configured.selector.select(args)
    if selected not in entries:
        return ShapeCoverage(shape, selected, KeyMatch.NONE)
    if selected == "default":
        return ShapeCoverage(shape, selected, KeyMatch.DEFAULT)
    own = _own_key(wrapper, shape, args)
    if own is not None and key_id(own) == selected:
        return ShapeCoverage(shape, selected, KeyMatch.EXACT)
    return ShapeCoverage(shape, selected, KeyMatch.NEAREST)


def _own_key(wrapper: HelionKernelWrapper, shape: str, args: tuple[Any, ...]) -> dict[str, Any] | None:
    """The key ``helion-ops autotune`` would write for this shape (its
    dimensions for ``keys=``; for a picker, the shape's own key if the picker
    chooses it when offered, else its choice among the stored keys); None if
    that cannot be told."""
    known = [entry.key for entry in wrapper.configured.entries.values()]
    try:
        return tuning_key(wrapper, shape, args, known)
    except HelionOpsError:  # a picker naming a key id no entry has
        return None


def meta_inputs(wrapper: HelionKernelWrapper) -> dict[str, tuple[Any, ...]]:
    """The generator's shapes on the meta device; CoverageUnavailable where that is impossible."""
    if wrapper.input_generator is None:
        raise CoverageUnavailable(f"op {wrapper.op_name!r} has no input generator")
    if not accepts_argument(wrapper, "device"):
        raise CoverageUnavailable(
            f"op {wrapper.op_name!r}: its input generator takes no device argument, so its shapes "
            "cannot be made on 'meta' without allocating them"
        )
    try:
        return generate_inputs(wrapper, device="meta")
    except HelionOpsError:
        raise
    except Exception as exc:  # a generator that reads tensor values cannot run on meta
        raise CoverageUnavailable(
            f"op {wrapper.op_name!r}: its input generator failed on device 'meta' ({type(exc).__name__}: {exc})"
        ) from exc


def generator_coverage(wrapper: HelionKernelWrapper) -> list[ShapeCoverage]:
    return [shape_coverage(wrapper, name, args) for name, args in meta_inputs(wrapper).items()]
