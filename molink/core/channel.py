"""Channel lifecycle: proposed → active → suspended → restored → closed.

Each change is a signed ``channel.event`` by one party. The rule (the same on every
node, so every party reaches the same state from the same events):

* ``propose`` creates a channel in state *proposed*; it becomes *active* once every
  voting member has sent ``agree``.
* ``suspend``: any one voting member may suspend an *active* or *restored* channel.
  An emergency channel can never be suspended.
* ``restore``: a *suspended* channel is *restored* once every voting member has sent
  ``restore`` (votes are counted from the suspension on).
* ``close``: the channel is *closed* once every voting member has sent ``close``.
  Nothing reopens a closed channel.

Voting members are the members less the mediator: the mediator convenes and
witnesses, it does not decide for the parties.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from molink.errors import Forbidden, InvalidInput, StateConflict

__all__ = ["ACTIONS", "OPEN_STATES", "STATES", "ChannelEvent", "ChannelState", "apply_event"]

STATES = ("proposed", "active", "suspended", "restored", "closed")
OPEN_STATES = frozenset({"active", "restored"})
ACTIONS = ("propose", "agree", "suspend", "restore", "close")
_UNANIMOUS = {"agree": ("proposed", "active"), "restore": ("suspended", "restored")}


@dataclass(frozen=True, slots=True)
class ChannelEvent:
    party: str
    action: str
    reason: str

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise InvalidInput(f"unknown channel action {self.action!r}; use one of {ACTIONS}")
        if not self.reason.strip():
            raise InvalidInput("a channel change needs a reason")
        if len(self.reason) > 2000:
            raise InvalidInput("reason is longer than 2000 characters")


@dataclass(frozen=True, slots=True)
class ChannelState:
    """A channel's membership and lifecycle state, with votes counted so far."""

    id: str
    members: frozenset[str]
    state: str
    mediator: str | None = None
    emergency: bool = False
    votes: frozenset[str] = frozenset()
    vote_action: str | None = None

    @property
    def voters(self) -> frozenset[str]:
        return self.members - ({self.mediator} if self.mediator else set())

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES


def apply_event(channel: ChannelState, event: ChannelEvent) -> ChannelState:
    """The channel after ``event``, or a typed error if the rule does not allow it.

    Raises:
        Forbidden: the party is not a voting member.
        StateConflict: the action does not fit the state (e.g. suspending the emergency
            line, restoring an active channel, anything on a closed channel).
    """
    if event.party not in channel.voters:
        raise Forbidden(f"{event.party} is not a voting member of {channel.id}")
    if channel.state == "closed":
        raise StateConflict(f"channel {channel.id} is closed")
    action = event.action
    if action == "propose":
        raise StateConflict(f"channel {channel.id} exists already")
    if action == "suspend":
        if channel.emergency:
            raise StateConflict(f"{channel.id} is an emergency line: it is never suspended")
        if not channel.is_open:
            raise StateConflict(f"channel {channel.id} is {channel.state}, not open")
        return replace(channel, state="suspended", votes=frozenset(), vote_action=None)
    if action == "close":
        return _vote(channel, event, target="closed")
    required, target = _UNANIMOUS[action]
    if channel.state != required:
        raise StateConflict(f"cannot {action} channel {channel.id}: it is {channel.state}")
    return _vote(channel, event, target=target)


def _vote(channel: ChannelState, event: ChannelEvent, *, target: str) -> ChannelState:
    votes = channel.votes if channel.vote_action == event.action else frozenset()
    votes = votes | {event.party}
    if votes >= channel.voters:
        return replace(channel, state=target, votes=frozenset(), vote_action=None)
    return replace(channel, votes=votes, vote_action=event.action)
