"""The pure parts of ``bench.soak``'s report: RSS slopes, the log's unhandled errors, which calls count lost."""

from __future__ import annotations

from bench import soak


def test_rss_slope_is_per_pid_after_warm_up_and_the_longest_life_wins():
    t0 = 1_000_000.0
    samples = [("desk", 10, t0 + s, 50_000 + (5_000 if s < soak.WARMUP else 0) + int(s * 1000 / 60))
               for s in range(0, 300, 5)]                                      # +1000 KB/min after a warm-up bump
    samples += [("desk", 11, t0 + 300 + s, 90_000) for s in range(0, 40, 5)]   # restarted: a shorter life
    memory = soak.memory_slopes(samples)
    assert memory["desk"]["pid"] == 10
    assert abs(memory["desk"]["slope_kb_min"] - 1000) < 20 and not memory["desk"]["flat"]
    flat = soak.memory_slopes([("media", 7, t0 + s, 40_000 + (s % 2) * 8) for s in range(0, 300, 5)])
    assert abs(flat["media"]["slope_kb_min"]) < 5 and flat["media"]["flat"]
    constant = soak.memory_slopes([("postgres", 8, t0 + s, 23_000) for s in range(0, 300, 5)])
    assert constant["postgres"]["slope_kb_min"] == 0 and constant["postgres"]["flat"]


def test_log_errors_are_ours_uvicorns_and_tracebacks_with_their_time(tmp_path):
    log = tmp_path / "run.log"
    log.write_text("2026-12-05 03:06:25,898 WARNING a: an ERROR in the text is no error line\n"
                   "2026-12-05 03:06:26,000 ERROR panoramisk.manager: Connection lost\n"
                   "INFO:     127.0.0.1:1 - \"GET / HTTP/1.1\" 200 OK\n"
                   "ERROR:    Exception in ASGI application\n"
                   "Traceback (most recent call last):\n")
    found = soak.log_errors(log)
    assert [line.split()[0] for _, line in found] == ["2026-12-05", "ERROR:", "Traceback"]
    assert found[0][0] == found[1][0] == found[2][0]   # the time of the last stamped line


def test_a_call_is_lost_unless_answered_or_ended_by_the_harness_limit():
    run = soak.Soak.__new__(soak.Soak)
    lost = soak.Soak.call_lost
    assert lost(run, soak.CallRun("a", 0.0, joined=False))
    assert not lost(run, soak.CallRun("b", 0.0, joined=True, answered=1))
    assert not lost(run, soak.CallRun("c", 0.0, joined=True, left="left the queue unanswered 30 s after it was placed"))
    assert lost(run, soak.CallRun("d", 0.0, joined=True, left="left the queue unanswered 12 s after it was placed"))
    assert lost(run, soak.CallRun("e", 0.0, joined=True, left="neither answered nor gone after 120 s"))
