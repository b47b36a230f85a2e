"""Each moment a power cut can hit one image's handling, shown on the real agent.

A "crash" here abandons the agent without saving state (its stores are only closed so the
next agent in this process may open them, as a new process would after a kill): every
step already committed stays, nothing else. The whole process under SIGKILL is
``test_crash_soak.py``.
"""

from __future__ import annotations

import collections
import contextlib
import json
import shutil
from pathlib import Path

from fieldagent.config.site import load_site_config
from fieldagent.service.agent import Agent
from fieldcontract.batch import read_batch
from tests.service.conftest import camera_day, drop_and_run, write_site
from tests.sinks.servers import Receiver
from tests.support.clock import SimClock


def _agent(config: Path, clock: SimClock) -> Agent:
    return Agent(load_site_config(config), base_dir=config.parent, clock=clock,
                 sleep=clock.sleep)


def _power_cut(agent: Agent) -> None:
    """Gone without a goodbye: no state saved, no batch flushed."""
    for close in (agent.dispatcher.close, agent.outbox.close,
                  agent.batcher.journal.close):
        with contextlib.suppress(Exception):  # already closed by the crash being simulated
            close()
    for watcher in agent.inboxes.values():
        watcher.close()


def _take_and_analyse(agent: Agent, clock: SimClock) -> list:
    """Take what is in the inbox and analyse it, and nothing else (no chores)."""
    agent.poll_sources()
    clock.sleep(1)
    agent.poll_sources()
    results = []
    while (r := agent.process_next()) is not None:
        results.append(r)
    return results


def _finish(agent: Agent) -> None:
    agent.batcher.flush()
    agent.deliver_alerts()
    agent.uploader.run_until_idle()
    agent.close()


def _records(tmp: Path) -> list[dict]:
    return [r for p in (tmp / "cloud" / "raw" / "signals").rglob("*.gz")
            for r in read_batch(p.read_bytes())[1]]


def _transitions(tmp: Path) -> collections.Counter[tuple[str, str]]:
    docs = [json.loads(p.read_bytes()) for p in (tmp / "cloud" / "raw" / "alert").rglob("*.json")]
    return collections.Counter((d["key"], d["state"]) for d in docs)


def test_a_file_offered_again_after_its_records_were_kept_is_only_finished(
    tmp_path: Path,
) -> None:
    """Killed after the image's records committed, before its file was finished."""
    config = write_site(tmp_path, None)
    clock = SimClock()
    inbox = tmp_path / "inbox" / "bench-a"
    images = camera_day(tmp_path, frames=3)
    agent = _agent(config, clock)
    for ts, src in images:  # keep_mtime: the file left in .taken below is the same file
        drop_and_run(agent, clock, ts, src, inbox, keep_mtime=True)
    _power_cut(agent)
    again = inbox / ".taken" / "offered-again.jpg"  # as left in .taken by the kill
    shutil.copy2(images[1][1], again)  # the same file: content and modification time

    agent = _agent(config, clock)  # the restarted agent is offered the file again
    (result,) = _take_and_analyse(agent, clock)
    _finish(agent)
    assert not again.exists() and not [p for p in inbox.rglob("*.jpg")]
    stamps = collections.Counter(r["image_sha256"] for r in _records(tmp_path)
                                 if r.get("type") == "image")
    assert len(stamps) == 3 and set(stamps.values()) == {1}
    assert result.status == "duplicate" and "already analysed" in (result.message or "")


def test_killed_between_outbox_and_journal_commit_the_image_is_handled_once(
    tmp_path: Path, receiver: Receiver,
) -> None:
    """Alerts and sample are in the outbox and with the sinks, the records' commit never
    happened: the restarted agent analyses the file again from the checkpoint before it
    and every object, record and delivery exists once."""
    config = write_site(tmp_path, receiver.url)
    clock = SimClock()
    inbox = tmp_path / "inbox" / "bench-a"
    images = camera_day(tmp_path, frames=12)
    agent = _agent(config, clock)
    fed = 0
    for ts, src in images:  # up to and including the image that raises the first alert
        fed += 1
        if any(r.alerts for r in drop_and_run(agent, clock, ts, src, inbox)):
            break
    assert fed < len(images), "the episode never raised an alert"
    ts, src = images[fed]
    agent.batcher.journal.close()  # the power goes exactly at the records' commit
    clock.now = ts
    shutil.copy(src, inbox / src.name)
    try:
        _take_and_analyse(agent, clock)
    except Exception:  # the commit failed: what was done before it stays done
        pass
    else:
        raise AssertionError("the records' commit should have failed")
    _power_cut(agent)

    agent = _agent(config, clock)  # the interrupted file is offered again from .taken
    assert [r.status for r in _take_and_analyse(agent, clock)] == ["ok"]
    for ts, src in images[fed + 1:]:
        drop_and_run(agent, clock, ts, src, inbox)
    _finish(agent)

    images_seen = collections.Counter(r["image_sha256"] for r in _records(tmp_path)
                                      if r.get("type") == "image")
    assert len(images_seen) == len(images) and set(images_seen.values()) == {1}
    transitions = _transitions(tmp_path)
    assert transitions and set(transitions.values()) == {1}
    keys = collections.Counter(r.headers.get("idempotency-key") for r in receiver.requests)
    assert receiver.requests and set(keys.values()) == {1}


def test_after_a_crash_the_alert_rules_continue_the_same_episodes(tmp_path: Path) -> None:
    """State is committed with each image, not once a minute: a crashed and restarted
    agent stores exactly the alert transitions of an agent that never stopped."""
    images = camera_day(tmp_path, frames=12)
    runs = {}
    for name, crash_after in (("steady", None), ("crashed", 7)):
        base = tmp_path / name
        base.mkdir()
        config = write_site(base, None)
        clock = SimClock()
        inbox = base / "inbox" / "bench-a"
        agent = _agent(config, clock)
        for i, (ts, src) in enumerate(images):
            if i != crash_after:
                drop_and_run(agent, clock, ts, src, inbox)
                continue
            clock.now = ts  # analysed, then killed before any chore saved state
            shutil.copy(src, inbox / src.name)
            assert [r.status for r in _take_and_analyse(agent, clock)] == ["ok"]
            _power_cut(agent)
            agent = _agent(config, clock)
        _finish(agent)
        runs[name] = _transitions(base)
    assert runs["steady"] and any(state == "raised" for _, state in runs["steady"])
    assert runs["crashed"] == runs["steady"]


def test_the_same_bytes_sent_again_as_a_new_file_are_analysed(tmp_path: Path) -> None:
    """A frozen camera re-sends identical bytes: each new file is a new image (the
    frozen-frame check needs it); only a file offered again after a crash is skipped."""
    config = write_site(tmp_path, None)
    clock = SimClock()
    inbox = tmp_path / "inbox" / "bench-a"
    (ts, src), = camera_day(tmp_path, frames=1)
    agent = _agent(config, clock)
    results = []
    for i in range(4):  # the camera uploads the same picture under new names
        copy = tmp_path / "camera-out" / f"again-{i}.jpg"
        shutil.copyfile(src, copy)
        results += drop_and_run(agent, clock, ts, copy, inbox)
    _finish(agent)
    assert [r.status for r in results] == ["ok"] * 4
    assert "frozen" in results[-1].quality.flag_names  # type: ignore[union-attr]
    stamps = collections.Counter(r["file"] for r in _records(tmp_path) if r.get("type") == "image")
    assert set(stamps) == {f"again-{i}.jpg" for i in range(4)} and set(stamps.values()) == {1}
