"""Validation splits for labels that look ahead: purged k-fold and purged walk-forward, with an
embargo (López de Prado, Advances in Financial Machine Learning, ch. 7).

Every row is an event: it starts at its bar (start) and its label is only known at `end` (the
fixed horizon's last bar, or the barrier touched). A test fold is a run of consecutive rows. A
training row whose [start, end] overlaps the fold's span (its first start to its last end) is
purged: its label was settled by prices the test rows' labels also see. The `embargo` rows right
after a test fold are dropped from training too: their features overlap the fold's labels.
Rows without a label must be left out before splitting.
"""

from dataclasses import dataclass

import numpy as np

from marketdata.core.errors import InvalidInput


@dataclass(frozen=True)
class Split:
    fold: int
    train: np.ndarray  # row positions, ascending
    test: np.ndarray


def purged_kfold(starts: np.ndarray, ends: np.ndarray, folds: int, embargo: int = 0) -> list[Split]:
    """k consecutive test folds over all the rows; each trains on every other row not purged or
    embargoed."""
    starts, ends = _events(starts, ends, folds, embargo)
    return [
        _split(k, test, np.arange(len(starts)), starts, ends, embargo)
        for k, test in enumerate(np.array_split(np.arange(len(starts)), folds))
    ]


def purged_walk_forward(starts: np.ndarray, ends: np.ndarray, folds: int, embargo: int = 0) -> list[Split]:
    """The rows cut into folds + 1 consecutive blocks; fold k tests on block k + 1 and trains on
    the rows before it, purged (no training row's label reaches into the test span)."""
    starts, ends = _events(starts, ends, folds + 1, embargo)
    blocks = np.array_split(np.arange(len(starts)), folds + 1)
    return [_split(k, test, np.arange(test[0]), starts, ends, embargo) for k, test in enumerate(blocks[1:])]


def _split(
    fold: int, test: np.ndarray, candidates: np.ndarray, starts: np.ndarray, ends: np.ndarray, embargo: int
) -> Split:
    span_start, span_end = starts[test[0]], ends[test].max()
    overlapping = (ends[candidates] >= span_start) & (starts[candidates] <= span_end)
    embargoed = (candidates > test[-1]) & (candidates <= test[-1] + embargo)
    in_test = (candidates >= test[0]) & (candidates <= test[-1])
    return Split(fold, candidates[~(overlapping | embargoed | in_test)], test)


def _events(starts: np.ndarray, ends: np.ndarray, blocks: int, embargo: int) -> tuple[np.ndarray, np.ndarray]:
    starts, ends = np.asarray(starts), np.asarray(ends)
    if starts.shape != ends.shape or starts.ndim != 1:
        raise InvalidInput(f"one start and one end per row: {starts.shape} starts, {ends.shape} ends")
    if blocks < 2 or len(starts) < blocks:
        raise InvalidInput(f"{len(starts)} rows cannot be cut into {blocks} blocks (at least 2, a row each)")
    if embargo < 0:
        raise InvalidInput(f"the embargo is a number of rows, 0 or more, not {embargo}")
    if (ends < starts).any():
        raise InvalidInput("a row's label ends before it starts")
    if (starts[1:] < starts[:-1]).any():
        raise InvalidInput("rows must be in time order")
    return starts, ends
