"""The checker against the test table (tests/data/check_table.py): formulas students write, with the
verdict their textbook or course gives them. The table is data; this file only runs it."""
import pytest

import symbackprop as sb
from symbackprop.checker import check
from data.check_table import NETWORKS, ROWS

_NETWORKS = {name: sb.Network(**spec) for name, spec in NETWORKS.items()}

#: Rows the checker does not read yet (the issue's work list); empty when the issue is done.
PENDING: set = set()


def _id(row) -> str:
    return f"{row.notation}:{row.formula}"


@pytest.mark.parametrize("row", ROWS, ids=[_id(r) for r in ROWS])
def test_table_row(row):
    if _id(row) in PENDING:
        pytest.xfail("not read yet")
    verdict = check(row.formula, _NETWORKS[row.network], notation=row.notation)
    assert verdict.verdict == row.verdict, f"{row.source}\n{verdict.summary()}"
    for word in row.words:
        assert word in verdict.diagnosis, f"{row.source}: '{word}' missing\n{verdict.summary()}"


def test_table_is_large_and_spans_the_notations():
    assert len(ROWS) >= 60
    assert {row.notation for row in ROWS} == {"ng-ml", "ng-dls", "nielsen", "goodfellow", "bishop"}
    assert {row.verdict for row in ROWS} == {"correct", "incorrect"}
    assert all(row.source for row in ROWS)
