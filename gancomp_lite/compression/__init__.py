"""Compression: decomposition (chapter ``nb/04_decomposition``), pruned
students by L1-norm filter selection (chapter ``nb/06_distillation``) and CAT's
one-step pruning to a MAC budget (chapter ``nb/07_cat``); once-for-all search
spaces, subnet costs, search and export (:mod:`.ofa`, chapter ``nb/09_ofa``)."""
from .decompose import STAGES, decompose, parse_stages, separable_stages
from .one_step import PruneReport, one_step_prune
from .prune import filter_l1, l1_select

__all__ = ["PruneReport", "STAGES", "decompose", "filter_l1", "l1_select", "one_step_prune",
           "parse_stages", "separable_stages"]
