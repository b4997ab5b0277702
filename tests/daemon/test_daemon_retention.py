"""Job history retention in a real `runner serve`: each limit applies on its own (an age alone, or
a count alone, prunes), only finished jobs go, and the first check comes soon after start."""

from __future__ import annotations

from pathlib import Path

from tests.daemon.conftest import Sink, wait_for, write
from tests.daemon.test_daemon_signals import TWO_STEPS, Daemons, post


def test_a_count_alone_keeps_only_the_newest_finished_jobs(
    tmp_path: Path, sink: Sink, daemons: Daemons
) -> None:
    daemon = daemons([write(tmp_path / "r.yaml", TWO_STEPS, SINK=sink.url)],
                     env={"RUNNER_RETENTION_COUNT": "2", "RUNNER_PRUNE_EVERY": "300ms"}).start()
    ids = [post(daemon, "work", n)[1]["job_id"] for n in range(5)]
    wait_for(lambda: [j["id"] for j in daemon.jobs()] == ids[:-3:-1], 15, "the 2 newest kept")
    assert daemon.stop() == 0


def test_an_age_alone_prunes_what_is_older(tmp_path: Path, sink: Sink, daemons: Daemons) -> None:
    daemon = daemons([write(tmp_path / "r.yaml", TWO_STEPS, SINK=sink.url)],
                     env={"RUNNER_RETENTION_AGE": "1s", "RUNNER_PRUNE_EVERY": "300ms"}).start()
    for n in range(3):
        post(daemon, "work", n)
    wait_for(lambda: len(sink.for_path("/second")) == 3, 10, "the three jobs to run")
    wait_for(lambda: daemon.jobs() == [], 15, "every finished job older than 1s pruned")
    assert any(e["message"] == "pruned job history" for e in daemon.log_entries())
    assert daemon.stop() == 0
