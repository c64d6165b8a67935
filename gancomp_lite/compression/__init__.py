"""Compression: decomposition now; pruning and once-for-all search join later."""
from .decompose import STAGES, decompose, parse_stages, separable_stages

__all__ = ["STAGES", "decompose", "parse_stages", "separable_stages"]
