"""Exceptions raised by gancomp-lite.

Every error that bad input can cause is one of these, so a reader gets one
clear message instead of a deep traceback: what was wrong, where, and what was
expected.
"""


class GancompError(Exception):
    """Base class of every gancomp-lite error."""


class ScaleError(GancompError, ValueError):
    """``GANCOMP_SCALE`` (or a ``scale=`` argument) names no known scale."""


class DatasetLayoutError(GancompError, FileNotFoundError):
    """A dataset folder does not have the expected layout."""


class ImageSizeError(GancompError, ValueError):
    """An image, or a requested size, does not have the expected shape."""


class CheckpointError(GancompError, ValueError):
    """A checkpoint is corrupt, fails its checksum, or does not fit a model."""


class MissingDownloadError(GancompError, FileNotFoundError):
    """A dataset or weight file that must be downloaded is not on disk."""


class BudgetError(GancompError, ValueError):
    """A MAC or parameter budget that no architecture can meet."""


class OutputExistsError(GancompError, FileExistsError):
    """A command would replace a file or folder it did not just create."""


class DatasetSizeError(GancompError, ValueError):
    """A dataset too small for what is asked of it (fewer items than one batch)."""


class CorruptImageError(GancompError, ValueError):
    """An image file in a dataset folder cannot be decoded."""


class DataChangeWarning(UserWarning):
    """A dataset's images are changed on the way in (converted to RGB, resized
    out of their aspect ratio): said once per dataset, with the counts."""


class ScoreTableWarning(UserWarning):
    """A shipped score table does not match the supernet or evaluation set it
    is read for: said in one line, with what is done instead (its scores used
    after a live check, or subnets scored live)."""


def check_number(value, what: str, minimum: float | None = None, maximum: float | None = None,
                 above: float | None = None, error: type = GancompError) -> float:
    """``value`` as a float if it is a finite number within the bounds
    (``minimum <= value <= maximum``, ``value > above``); otherwise one
    ``error`` naming ``what``: ``nan`` and ``inf`` are never a budget, a
    weight or a probability."""
    import math

    try:
        number = float(value)
    except (TypeError, ValueError):
        raise error(f"{what} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise error(f"{what} must be a finite number, got {value!r}")
    if minimum is not None and number < minimum or maximum is not None and number > maximum:
        lo = "-inf" if minimum is None else f"{minimum:g}"
        hi = "inf" if maximum is None else f"{maximum:g}"
        raise error(f"{what} must be in [{lo}, {hi}], got {number:g}")
    if above is not None and number <= above:
        raise error(f"{what} must be above {above:g}, got {number:g}")
    return number
