"""Compression: decomposition (chapter ``nb/04_decomposition``) and pruned
students by L1-norm filter selection (chapter ``nb/06_distillation``); once-for-all
search joins later."""
from .decompose import STAGES, decompose, parse_stages, separable_stages
from .prune import filter_l1, l1_select

__all__ = ["STAGES", "decompose", "filter_l1", "l1_select", "parse_stages", "separable_stages"]
