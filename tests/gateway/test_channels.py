"""gateway/channels.py: which side a Socket.IO request goes to, on a clock the test moves."""

from __future__ import annotations

from gateway.channels import IDLE_S, ChannelSessions, handshake_sid, session_id

KEY = "SOCKETIO /socket.io/"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_sid_of_a_request_and_of_a_handshake():
    assert session_id(b"EIO=4&transport=polling&sid=abc-1_X&t=5") == "abc-1_X"
    assert session_id(b"EIO=4&transport=polling&t=5") is None
    opened = b'0{"sid":"Lbo5JLzTotvW3g2LAAAA","upgrades":["websocket"],"pingInterval":20000}'
    assert handshake_sid(opened) == "Lbo5JLzTotvW3g2LAAAA"
    assert handshake_sid(b"ok") is None


def test_a_session_stays_on_its_side_until_the_flip_has_drained():
    clock = Clock()
    sessions = ChannelSessions(drain_s=10, clock=clock)
    assert sessions.route(KEY, "flask", None) == "flask"  # a handshake: the owner
    sessions.opened("old", "flask")
    assert sessions.route(KEY, "flask", "old") == "flask"
    clock.now += 1
    # Flipped: new sessions go to fastapi, the old one stays on flask for the drain.
    assert sessions.route(KEY, "fastapi", None) == "fastapi"
    sessions.opened("new", "fastapi")
    clock.now += 9.9
    assert sessions.route(KEY, "fastapi", "old") == "flask"
    assert sessions.keeps(KEY, "flask", "fastapi")
    clock.now += 0.1
    # Drained: the old session is ended (None), the new one goes on.
    assert sessions.route(KEY, "fastapi", "old") is None
    assert not sessions.keeps(KEY, "flask", "fastapi")
    assert sessions.route(KEY, "fastapi", "new") == "fastapi"
    # Ended once: asked again, it is unknown and goes to the owner, which refuses it.
    assert sessions.route(KEY, "fastapi", "old") == "fastapi"
    assert len(sessions) == 1


def test_flipping_back_within_the_drain_keeps_every_session():
    clock = Clock()
    sessions = ChannelSessions(drain_s=10, clock=clock)
    sessions.route(KEY, "flask", None)
    sessions.opened("a", "flask")
    sessions.route(KEY, "fastapi", None)
    clock.now += 5
    assert sessions.route(KEY, "flask", "a") == "flask"
    clock.now += 60
    assert sessions.route(KEY, "flask", "a") == "flask"


def test_an_unknown_sid_goes_to_the_owner_and_forgotten_sessions_are_swept():
    clock = Clock()
    sessions = ChannelSessions(drain_s=10, clock=clock)
    assert sessions.route(KEY, "fastapi", "never-seen") == "fastapi"
    sessions.opened("gone", "fastapi")
    sessions.opened("live", "fastapi")
    clock.now += IDLE_S - 1
    sessions.route(KEY, "fastapi", "live")
    clock.now += 2
    sessions.sweep()
    assert len(sessions) == 1
    sessions.ended("live")
    assert len(sessions) == 0
