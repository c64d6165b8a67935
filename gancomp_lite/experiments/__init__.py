"""Experiments that chapters run live and that recorded commands run longer.

Each experiment is one function returning plain rows (dicts), so a chapter's
live run and the recorded run (``gancomp-lite sweep-...``, results shipped in
``data/results/`` with their command) go through the same code.
"""
