"""What changed between torch releases on the CPU paths: one named switch per difference.

Each :class:`CpuRelease` is a range of torch releases whose CPU op programs are identical; the
recipes (forloop.py, foreach.py, fused.py) read these switches, so two releases diff as two rows
of this table, and every program stays one function that mirrors torch's source.  Every switch
was read in the source at the releases named and then confirmed (or corrected) by golden
fixtures recorded from those releases (tests/fixtures/releases, scripts/record_release_fixtures.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class CpuRelease:
    """One range of torch releases with the same CPU AdamW op programs.

    ``first`` / ``last``: the range of minor releases, inclusive ("1.13", "2.0"): patch releases
    do not change these kernels.

    ``momentum``: how ``exp_avg`` moves toward the gradient:
      * ``"mul_add"``: ``exp_avg.mul_(beta1).add_(grad, alpha=1 - beta1)`` (two kernels, two
        bf16 roundings; torch/optim/adamw.py@v1.13.1, @v2.0.1);
      * ``"lerp"``: ``exp_avg.lerp_(grad, 1 - beta1)`` (one kernel; adam.py/adamw.py@v2.1.0 on).

    ``mul_scalar_via``: how ``tensor.mul_(python_float)`` reads its scalar on a bf16 tensor:
      * ``"f32"``: ``iter.original_scalar_value<opmath_t>()`` (BinaryOpsKernel.cpp, the double
        read as float);
      * ``"bf16"``: the scalar is wrapped into a 0-dim tensor cast to the common dtype, bf16, first.

    ``bc2_sqrt``: the host's ``sqrt(1 - beta2**step)``: ``"math.sqrt"`` (``_dispatch_sqrt``) or
    ``"pow"`` (``bias_correction2 ** 0.5``, libm ``pow``).

    ``forloop_decay_always`` / ``foreach_decay_always``: AdamW multiplies ``param`` by ``1 - lr*wd``
    even when wd == 0 (``param.mul_(1.0)``: values unchanged, NaN patterns rewritten by position).

    ``fused_cpu``: ``fused=True`` runs on CPU tensors (FusedAdamKernel.cpp exists).

    ``avx512_block64``: on AVX512 the elementwise loop takes 64 bf16 per block (two vectors) and
    the scalar tail is ``len % 64`` (layout.elementwise_avx512_block64); else 32.
    """

    first: str
    last: str
    read_at: tuple[str, ...]
    """the git tags whose source was read for this row"""
    momentum: Literal["mul_add", "lerp"]
    mul_scalar_via: Literal["f32", "bf16"]
    bc2_sqrt: Literal["math.sqrt", "pow"]
    forloop_decay_always: bool
    foreach_decay_always: bool
    fused_cpu: bool
    avx512_block64: bool

    @property
    def label(self) -> str:
        """``"2.13"`` or ``"1.13-2.0"``."""
        return self.first if self.first == self.last else f"{self.first}-{self.last}"

    def at(self, path: str) -> str:
        """``path@v1.13.1,v2.0.1``: a source citation for this range."""
        return f"{path}@{','.join(self.read_at)}"

    @property
    def minors(self) -> list[str]:
        """The minor releases in this range (``"1.13"``, ``"2.0"``)."""
        return [m for m in MINOR_RELEASES if self.covers(m)]

    @property
    def adamw_is_adam(self) -> bool:
        """From 2.7 AdamW is ``Adam(decoupled_weight_decay=True)`` (adam.py); before, adamw.py."""
        return minor_key(self.first) >= (2, 7)

    def covers(self, release: str) -> bool:
        return range_covers(self.label, release)


MINOR_RELEASES = ("1.13", *(f"2.{i}" for i in range(15)))
"""1.13 and every 2.x minor release up to the newest installable here (2.14)."""


def release_key(release: str) -> tuple[int, int, int]:
    """``"2.10.1+cu128"`` -> (2, 10, 1)."""
    patch = release.split("+")[0].split(".")[2:3] or ["0"]
    return (*minor_key(release), int("".join(ch for ch in patch[0] if ch.isdigit()) or 0))


def range_covers(label: str, release: str) -> bool:
    """Whether ``release`` (``"2.12.0+cu130"``, ``"2.11"``) lies in the range ``label``
    (``"1.13-2.0"``, ``"2.4"``), by minor release."""
    first, _, last = label.partition("-")
    return minor_key(first) <= minor_key(release) <= minor_key(last or first)


def minor_key(release: str) -> tuple[int, int]:
    """``"2.10.0+cu128"`` -> (2, 10): releases compare as numbers, not strings."""
    parts = release.split("+")[0].split(".")
    try:
        return int(parts[0]), int("".join(ch for ch in parts[1] if ch.isdigit()) or 0)
    except (IndexError, ValueError):
        raise KeyError(f"not a torch release: {release!r}") from None


# fmt: off
TORCH_1_13 = CpuRelease(
    "1.13", "2.0", ("v1.13.1", "v2.0.1"), momentum="mul_add", mul_scalar_via="bf16", bc2_sqrt="math.sqrt",
    forloop_decay_always=True, foreach_decay_always=True, fused_cpu=False, avx512_block64=True,
)
TORCH_2_1 = CpuRelease(
    "2.1", "2.3", ("v2.1.2", "v2.2.2", "v2.3.1"), momentum="lerp", mul_scalar_via="f32", bc2_sqrt="math.sqrt",
    forloop_decay_always=True, foreach_decay_always=False, fused_cpu=False, avx512_block64=False,
)
TORCH_2_4 = CpuRelease(
    "2.4", "2.4", ("v2.4.1",), momentum="lerp", mul_scalar_via="f32", bc2_sqrt="math.sqrt",
    forloop_decay_always=True, foreach_decay_always=False, fused_cpu=True, avx512_block64=False,
)
TORCH_2_5 = CpuRelease(
    "2.5", "2.6", ("v2.5.1", "v2.6.0"), momentum="lerp", mul_scalar_via="f32", bc2_sqrt="pow",
    forloop_decay_always=True, foreach_decay_always=False, fused_cpu=True, avx512_block64=False,
)
TORCH_2_7 = CpuRelease(
    "2.7", "2.14", ("v2.7.1", "v2.8.0", "v2.9.1", "v2.10.0", "v2.12.0", "v2.13.0", "v2.14.1"), momentum="lerp",
    mul_scalar_via="f32", bc2_sqrt="pow", forloop_decay_always=False, foreach_decay_always=False, fused_cpu=True,
    avx512_block64=False,
)
# fmt: on
TORCH_2_13 = TORCH_2_7
"""The range holding 2.13.0, the release installed here and checked live (adamw-audit crosscheck)."""

CPU_RELEASES: tuple[CpuRelease, ...] = (TORCH_1_13, TORCH_2_1, TORCH_2_4, TORCH_2_5, TORCH_2_7)
"""Every range, oldest first."""


def cpu_release(release: str) -> CpuRelease:
    """The row covering ``release`` ("2.0.1", "2.0.1+cu117", "2.0"); KeyError names the ranges."""
    for row in CPU_RELEASES:
        if row.covers(release):
            return row
    known = ", ".join(f"{r.first}..{r.last}" for r in CPU_RELEASES)
    raise KeyError(f"no CPU recipe for torch {release} (known ranges: {known})")


FIXTURE_RELEASES: tuple[str, ...] = (
    "1.13.1",
    "2.0.1",
    "2.1.2",
    "2.2.2",
    "2.3.1",
    "2.4.1",
    "2.5.1",
    "2.6.0",
    "2.7.1",
    "2.12.0",
    "2.14.1",
)
"""Releases whose golden fixtures (tests/fixtures/releases/torch-X) this catalog replays bit-exactly
(tests/test_release_fixtures.py fails if a listed release has none, or one does not replay)."""
