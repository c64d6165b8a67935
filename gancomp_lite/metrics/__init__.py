"""Metrics: cost (MACs, params), latency; image quality joins later."""
from .cost import CONVENTIONS, Cost, count_params, profile, profile_all, profile_macs
from .latency import Latency, measure_latency

__all__ = ["CONVENTIONS", "Cost", "Latency", "count_params", "measure_latency", "profile",
           "profile_all", "profile_macs"]
