"""experiments.latency: the decisions chapter 10 draws from a recorded benchmark."""
import statistics

from gancomp_lite.experiments import latency as L


def row(model, backend, times, status="ok", memory=None):
    r = {"model": model, "backend": backend, "status": status, "times_ms": list(times),
         "median_ms": statistics.median(times) if times else None}
    if memory is not None:
        r.update(process_samples_mb=list(memory), process_peak_mb=statistics.median(memory))
    return r


ROWS = [
    row("teacher", "eager", [100, 101, 99, 100, 102]),
    row("teacher", "onnxruntime", [60, 61, 59, 60, 62]),
    row("teacher", "openvino", [60.5, 59, 61.5, 60, 61]),            # tied with onnxruntime
    row("student", "eager", [10, 10.2, 9.8, 10.1, 9.9]),
    row("student", "onnxruntime", [4, 4.1, 3.9, 4.0, 4.05]),
    row("student", "openvino", [6, 6.1, 5.9, 6.0, 6.05]),            # clearly slower
    row("student", "compile", [], status="failed"),
]


def test_the_fastest_runtime_and_ties_with_the_runner_up():
    best = L.fastest(ROWS)
    assert best["teacher"]["backend"] == "onnxruntime" and best["student"]["backend"] == "onnxruntime"
    assert L.tied_winners(ROWS, ["eager", "onnxruntime", "openvino", "compile"]) == [
        ("teacher", "onnxruntime", "openvino")]
    assert L.runner_up(L.by_pair(ROWS), "student", ["eager", "onnxruntime", "compile"])["backend"] == "eager"


def test_versus_sorts_each_network_by_the_rule_and_skips_pairs_that_did_not_run():
    v = L.versus(ROWS, ["teacher", "student"], "openvino", "onnxruntime")
    assert v == {"slower": ["student"], "faster": [], "tied": ["teacher"]}
    assert L.versus(ROWS, ["student"], "compile", "eager") == {"slower": [], "faster": [], "tied": []}


def test_a_speedup_goal_is_met_missed_or_a_tie():
    teacher, student = L.fastest(ROWS)["teacher"], L.fastest(ROWS)["student"]
    assert L.speedup_goal(student, teacher, 10) == "met"          # 40 ms < 60 ms, clearly
    assert L.speedup_goal(student, teacher, 20) == "not met"      # 80 ms > 60 ms, clearly
    assert L.speedup_goal(student, teacher, 15) == "inconclusive"  # 60 ms against 60 ms


def test_the_leanest_runtimes_are_those_not_clearly_above_the_smallest():
    rows = [row("s", "eager", [1, 2], memory=[50, 52]), row("s", "onnxruntime", [1, 2], memory=[30, 31]),
            row("s", "openvino", [1, 2], memory=[30.5, 31.5]), row("s", "compile", [1, 2])]
    assert L.leanest(rows, "s", ["eager", "onnxruntime", "openvino", "compile"]) == ["onnxruntime",
                                                                                     "openvino"]
    assert L.leanest(rows, "absent", ["eager"]) == []
