"""``asv_bench/compare.py``, the table that speed claims are made with: each side runs in a
process of its own, and the ratios are to PyTorch and to the faster peer."""

import os

import pytest

ASV_BENCH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "asv_bench")


@pytest.fixture
def compare(monkeypatch):
    monkeypatch.syspath_prepend(ASV_BENCH)
    import compare

    return compare


SIDES = [("numba", "numba"), ("torch", "PyTorch"), ("keras", "Keras-JAX")]


def test_the_best_peer_is_the_faster_one_per_workload(compare):
    rates = {
        ("W1", "numba"): 300.0,
        ("W1", "torch"): 200.0,
        ("W1", "keras"): 100.0,
        ("W2", "numba"): 300.0,
        ("W2", "torch"): 100.0,
        ("W2", "keras"): 250.0,
    }
    rows = compare.table(["W1", "W2"], SIDES, rates, with_torch=True).splitlines()
    assert rows[0].endswith("| numba / PyTorch | numba / best peer |")
    assert rows[2].endswith("| 1.50x | 1.50x (PyTorch) |")
    assert rows[3].endswith("| 3.00x | 1.20x (Keras-JAX) |")


def test_without_keras_the_table_has_no_best_peer_column(compare):
    rates = {("W1", "numba"): 300.0, ("W1", "torch"): 200.0}
    table = compare.table(["W1"], SIDES[:2], rates, with_torch=True)
    assert "best peer" not in table
    assert table.splitlines()[2].endswith("| 1.50x |")


def test_a_missing_side_reads_not_available(compare):
    rates = {("W1", "numba"): 300.0, ("W1", "keras"): 100.0}
    row = compare.table(["W1"], SIDES, rates, with_torch=True).splitlines()[2]
    assert row.endswith("| 300 | n/a | 100 | n/a | 3.00x (Keras-JAX) |")


def test_each_side_is_timed_in_a_process_of_its_own(compare, capsys, monkeypatch):
    def built_here(*args):
        raise AssertionError("a side was built in the comparing process")

    monkeypatch.setattr(compare, "make_runner", built_here)  # a spawned child has its own
    compare.main(
        ["--workloads", "W5", "--backends", "numpy", "--no-torch", "--no-keras"]
        + ["--repeat", "2", "--seconds", "0.01", "--pause", "0", "--threads", "1"]
    )
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("| W5 "))
    rate = row.split("|")[2].strip()
    assert rate != "n/a" and rate[0].isdigit()
    assert "each side in its own process" in out


def test_a_failing_side_names_its_workload_and_side(compare):
    worker = compare.SideProcess("W5", "no-such-backend", 1, "wall")
    try:
        with pytest.raises(RuntimeError, match="W5 on no-such-backend failed"):
            worker.wait_ready()
    finally:
        worker.stop()
