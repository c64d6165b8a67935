"""GAN Compression's subnet configurations: eight widths ``c0..c7`` in ngf units.

The table of what each entry sets is in :mod:`gancomp_lite.models.dynamic`,
the supernet these configurations select from.  They live here, in a module
that imports no network, because both the supernet (``models.dynamic``) and
the fixed sub-mobile generator (``models.resnet.SubMobileResnetGenerator``)
read them, and ``models.dynamic`` builds on ``models.resnet``.

Explained in chapter ``nb/09_ofa``.
"""
from __future__ import annotations

from typing import Sequence

from ..errors import GancompError

#: entries of a configuration (GAN Compression's current form)
N_ENTRIES = 8
#: entries of GAN Compression's legacy form
N_LEGACY = 6


class ConfigError(GancompError, ValueError):
    """A supernet configuration that is malformed, or outside the search space."""


# -- configurations ------------------------------------------------------------
def parse_config(config: str | Sequence[int]) -> tuple[int, ...]:
    """An 8-entry configuration from a string ``a_b_c_d_e_f_g_h`` (or the
    legacy 6-entry form) or a sequence of ints; positive ints only."""
    if isinstance(config, str):
        parts = config.strip().split("_")
        try:
            values = [int(p) for p in parts]
        except ValueError:
            raise ConfigError(f"malformed configuration {config!r}: expected {N_ENTRIES} (or "
                              f"the legacy {N_LEGACY}) positive integers joined by '_', "
                              f"for example 16_16_32_16_32_32_16_16") from None
    else:
        values = [int(v) for v in config]
    if len(values) == N_LEGACY:
        c0, c1, c2, c3, c4, c5 = values
        values = [c0, c1, c2, c3, c3, c3, c4, c5]
    if len(values) != N_ENTRIES or any(v < 1 for v in values):
        raise ConfigError(f"malformed configuration {config!r}: expected {N_ENTRIES} (or the "
                          f"legacy {N_LEGACY}) positive integers, got {len(values)} values")
    return tuple(values)


def format_config(config: Sequence[int]) -> str:
    """The string form ``a_b_c_d_e_f_g_h`` of a configuration."""
    return "_".join(str(int(v)) for v in parse_config(config))


def subnet_widths(config: Sequence[int], n_blocks: int = 9) -> dict:
    """The output width of every searchable layer for ``config`` (8 entries):
    ``first``, ``down1``, ``residual``, ``inner`` (one per block), ``up1``, ``up2``."""
    c = parse_config(config)
    if n_blocks % 3:
        raise ConfigError(f"the supernet groups its blocks in threes: n_blocks={n_blocks}")
    third = n_blocks // 3
    return {"first": c[0], "down1": 2 * c[1], "residual": 4 * c[2],
            "inner": [4 * c[3]] * third + [4 * c[4]] * third + [4 * c[5]] * third,
            "up1": 2 * c[6], "up2": c[7]}
