"""Purged k-fold and walk-forward splits: the indices, worked out by hand."""

import numpy as np
import pandas as pd
import pytest

from marketdata.core.errors import InvalidInput
from strategies.core.models.validation import purged_kfold, purged_walk_forward


def events(n: int, horizon: int):
    """n daily rows whose labels end `horizon` days later."""
    starts = pd.date_range("2024-01-01", periods=n, freq="D").to_numpy()
    return starts, starts + np.timedelta64(horizon, "D")


def test_kfold_purges_rows_whose_labels_overlap_the_test_fold_and_embargoes_the_next_ones():
    # Given 10 rows whose labels end a day later, cut into 5 folds of 2, with an embargo of 2 rows
    starts, ends = events(10, 1)

    splits = purged_kfold(starts, ends, 5, embargo=2)

    # Then fold 1 tests rows 2-3 (days 2 to 4): row 1 (days 1-2) and row 4 (days 4-5) overlap and
    # are purged; row 5 is embargoed; every other row trains
    assert [s.test.tolist() for s in splits] == [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9]]
    assert splits[1].train.tolist() == [0, 6, 7, 8, 9]
    assert splits[0].train.tolist() == [4, 5, 6, 7, 8, 9]  # row 2 purged, rows 2-3 embargoed
    assert splits[4].train.tolist() == [0, 1, 2, 3, 4, 5, 6]  # row 7 purged; nothing after to embargo
    assert [s.fold for s in splits] == [0, 1, 2, 3, 4]


def test_without_overlap_or_embargo_kfold_trains_on_every_other_row():
    starts, ends = events(6, 0)  # labels known at their own bar

    splits = purged_kfold(starts, ends, 3)

    assert [s.train.tolist() for s in splits] == [[2, 3, 4, 5], [0, 1, 4, 5], [0, 1, 2, 3]]


def test_longer_labels_purge_more():
    starts, ends = events(12, 3)

    split = purged_kfold(starts, ends, 3)[1]  # tests rows 4-7: days 4 to 10

    assert split.test.tolist() == [4, 5, 6, 7]
    assert split.train.tolist() == [0, 11]  # rows 1-3 end on days 4-6, rows 8-10 start by day 10


def test_walk_forward_trains_only_on_earlier_rows_whose_labels_end_before_the_test():
    starts, ends = events(12, 2)

    splits = purged_walk_forward(starts, ends, 3)

    # Blocks of 3: fold k tests block k + 1; the last 2 rows before it are purged (their labels
    # end inside it)
    assert [s.test.tolist() for s in splits] == [[3, 4, 5], [6, 7, 8], [9, 10, 11]]
    assert [s.train.tolist() for s in splits] == [[0], [0, 1, 2, 3], [0, 1, 2, 3, 4, 5, 6]]


def test_splits_take_integer_times_too_and_never_mix_test_into_train():
    starts = np.arange(100)
    splits = purged_kfold(starts, starts + 5, 4, embargo=3)

    for split in splits:
        assert not set(split.train) & set(split.test)
        assert all(
            starts[i] + 5 < starts[split.test[0]] or starts[i] > starts[split.test[-1]] + 5
            for i in split.train
        )
        assert not set(split.train) & set(range(split.test[-1] + 1, split.test[-1] + 4))


@pytest.mark.parametrize(
    ("starts", "ends", "folds", "embargo", "message"),
    [
        (np.arange(5), np.arange(4), 2, 0, "one start and one end per row"),
        (np.arange(3), np.arange(3), 5, 0, "3 rows cannot be cut into 5 blocks"),
        (np.arange(6), np.arange(6), 1, 0, "cannot be cut into 1 blocks"),
        (np.arange(6), np.arange(6), 2, -1, "the embargo is a number of rows, 0 or more"),
        (np.arange(6), np.arange(6) - 1, 2, 0, "a row's label ends before it starts"),
        (np.arange(6)[::-1], np.arange(6)[::-1] + 1, 2, 0, "rows must be in time order"),
    ],
)
def test_bad_events_are_refused(starts, ends, folds, embargo, message):
    with pytest.raises(InvalidInput, match=message):
        purged_kfold(starts, ends, folds, embargo)
