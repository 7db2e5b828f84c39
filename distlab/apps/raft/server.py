"""One Raft server: terms, elections, the replicated log, the commit index, a key-value store.

Follows Figure 2 of Ongaro & Ousterhout, "In Search of an Understandable Consensus
Algorithm", USENIX ATC 2014 (the "paper" below), on ``distlab.concepts.events``:

- **State on disk** — ``term`` (currentTerm), ``voted_for``, ``log`` — survives a crash
  (each handler updates it before any reply leaves, as if written to disk first). The
  rest (role, commit index, the store, ``next_index``/``match_index``, waiting reads) is
  lost: ``recover`` forgets it; the store is rebuilt from the log as the commit index is
  learnt anew.
- **Election** (§5.2): a follower that hears no leader for a randomised, seeded election
  timeout becomes a candidate in a new term and asks for votes; a majority (a quorum)
  makes it leader. A vote goes only to a candidate whose log is at least as up to date
  (§5.4.1).
- **Log replication** (§5.3): ``append`` messages (AppendEntries) carry the entries after
  ``prev_index`` and double as heartbeats; a follower refuses them unless its entry at
  ``prev_index`` has ``prev_term``, and truncates only at a real conflict (messages may
  arrive late or twice).
- **Commit rule** (§5.4.2): the leader advances the commit index to N only when a majority
  holds N *and* entry N is from its current term; a new leader commits a no-op first (§8).
- **Clients** (§8; Ongaro's thesis, Stanford 2014, §6.3): non-leaders redirect; each client
  numbers its operations, and the store remembers the last number applied per client, so
  a write retried after a timeout takes effect once.
- **Reads**: ``reads="log"`` (naive) appends each read to the log and answers when it is
  applied. ``reads="read_index"`` (thesis §6.4, what etcd does) skips the log write: the
  leader notes its commit index, confirms with one heartbeat round to a majority that it
  is still leader, and answers once it has applied that far. Both are linearizable
  (Herlihy & Wing, TOPLAS 1990). A leader lease would save that round but is safe only if
  clocks drift by a bounded amount (thesis §6.4.1); the simulator's clocks are perfect, so
  a lease would pass every test here and teach a dependence the learner cannot see.
- A leader that has not heard from a majority for a minimum election timeout steps down
  (thesis §6.2), so clients on a minority side are redirected instead of waiting. Not
  built: snapshots and log compaction, membership changes, pre-vote.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Hashable

from distlab.checks import sequence
from distlab.concepts.events import MessageNetwork

__all__ = ["LogEntry", "RaftServer"]


@dataclass(frozen=True)
class LogEntry:
    """One log entry: the ``term`` of the leader that created it and a command —
    ``kind`` ``"noop"``, ``"write"`` (``key`` := ``value``) or ``"read"`` (of ``key``),
    sent by ``client`` as its operation number ``seq``."""
    term: int
    kind: str
    key: Hashable = None
    value: Hashable = None
    client: Hashable = None
    seq: int = 0


def _check_server(name, servers, net, timing, on_leader) -> None:
    try:
        hash(name)
    except TypeError:
        raise TypeError(f"name must be hashable, got {type(name).__name__}") from None
    if name is None or isinstance(name, bool):
        raise TypeError(f"name must name the server, got {name!r}")
    if name not in sequence("servers", servers):
        raise ValueError(f"servers must include name {name!r}, got {servers!r}")
    if not isinstance(net, MessageNetwork):
        raise TypeError(f"net must be a MessageNetwork, got {type(net).__name__}")
    fields = ("heartbeat", "election_min", "election_max", "reads")
    if not all(hasattr(timing, f) for f in fields):
        raise TypeError(f"timing must be a RaftConfig (it needs {', '.join(fields)}), "
                        f"got {type(timing).__name__}")
    if on_leader is not None and not callable(on_leader):
        raise TypeError(f"on_leader must be callable or None, got {type(on_leader).__name__}")


class RaftServer:
    """A Raft server named ``name`` among ``servers`` on ``net``.

    ``timing`` has ``heartbeat``, ``election_min`` and ``election_max`` (seconds) and
    ``reads`` (``"log"`` or ``"read_index"``); ``on_leader(term, name)`` is called when
    this server becomes leader. Messages are dicts with a ``"type"``. Raises ``TypeError``
    (a name that is None or unhashable, servers not a list, net not a MessageNetwork,
    timing without those fields, on_leader not callable) or ``ValueError`` (name not
    among servers).
    """

    def __init__(self, name: Hashable, servers: list, net: MessageNetwork, timing,
                 on_leader: Callable | None = None):
        _check_server(name, servers, net, timing, on_leader)
        self.name, self.peers = name, [s for s in servers if s != name]
        self.majority = len(servers) // 2 + 1
        self.net, self.sim, self.timing, self.on_leader = net, net.sim, timing, on_leader
        self.term, self.voted_for, self.log = 0, None, []        # on disk
        self._election_timer = self._heartbeat_timer = None
        self._forget()
        net.add_node(name, self.receive, on_recover=self.recover)
        self._reset_election_timer()

    def _forget(self) -> None:
        """Reset the volatile state (a fresh process)."""
        self.role, self.leader = "follower", None
        self.commit_index = self.last_applied = 0
        self.data, self.sessions = {}, {}       # the state machine; client -> (seq, result)
        self.next_index, self.match_index, self.heard, self.acked = {}, {}, {}, {}
        self.votes, self.round, self.reads = set(), 0, []   # reads: ReadIndex reads waiting

    def recover(self) -> None:
        """Come back from a crash (the network's ``on_recover`` hook) as a fresh process."""
        for timer in (self._election_timer, self._heartbeat_timer):
            if timer is not None:
                timer.cancel()                  # timers of the crashed process are gone
        self._forget()
        self._reset_election_timer()

    # -- the log ----------------------------------------------------------------------------
    @property
    def last_index(self) -> int:
        return len(self.log)

    def term_at(self, index: int) -> int:
        return self.log[index - 1].term if index > 0 else 0

    def _send(self, dst, **payload) -> None:
        self.net.send(self.name, dst, payload)

    # -- timers and roles -------------------------------------------------------------------
    def _reset_election_timer(self) -> None:
        if self._election_timer is not None:
            self._election_timer.cancel()
        timeout = self.sim.rng.uniform(self.timing.election_min, self.timing.election_max)
        self._election_timer = self.net.schedule_on(self.name, timeout, self._start_election)

    def _become_follower(self, term: int) -> None:
        if term > self.term:
            self.term, self.voted_for = term, None
        if self.role != "follower":
            self.role, self.reads = "follower", []
            if self._heartbeat_timer is not None:
                self._heartbeat_timer.cancel()
            self._reset_election_timer()

    def _start_election(self) -> None:
        self.term, self.voted_for, self.votes = self.term + 1, self.name, {self.name}
        self.role, self.leader = "candidate", None
        self._reset_election_timer()            # a split vote tries again, later, at random
        for peer in self.peers:
            self._send(peer, type="vote", term=self.term, last_index=self.last_index,
                       last_term=self.term_at(self.last_index))
        self._count_votes()

    def _count_votes(self) -> None:
        if self.role != "candidate" or len(self.votes) < self.majority:
            return
        self.role, self.leader = "leader", self.name
        self._election_timer.cancel()
        self.next_index = {p: self.last_index + 1 for p in self.peers}
        self.match_index = {p: 0 for p in self.peers}
        self.heard = {p: self.sim.now for p in self.peers}
        self.acked = {p: 0 for p in self.peers}
        self.log.append(LogEntry(self.term, "noop"))   # commit something of this term (§8)
        if self.on_leader is not None:
            self.on_leader(self.term, self.name)
        self._heartbeat()
        self._advance_commit()                  # a cluster of one commits at once

    def _heartbeat(self) -> None:
        if self.role != "leader":
            return
        recent = sum(self.sim.now - t < self.timing.election_min for t in self.heard.values())
        if 1 + recent < self.majority:
            self._become_follower(self.term)    # cut off from a majority: step down
            return
        self._broadcast()
        self._heartbeat_timer = self.net.schedule_on(self.name, self.timing.heartbeat,
                                                     self._heartbeat)

    def _broadcast(self) -> None:
        """Send every follower what it lacks, as one new heartbeat round."""
        self.round += 1
        for peer in self.peers:
            self._replicate(peer)

    def _replicate(self, peer) -> None:
        prev = self.next_index[peer] - 1
        self._send(peer, type="append", term=self.term, prev_index=prev,
                   prev_term=self.term_at(prev), entries=tuple(self.log[prev:]),
                   commit=self.commit_index, round=self.round)

    # -- messages ---------------------------------------------------------------------------
    def receive(self, message) -> None:
        """Handle one ``distlab.concepts.events.Message`` (the network's handler)."""
        p, src = message.payload, message.src
        if p.get("term", 0) > self.term:
            self._become_follower(p["term"])    # a newer term: whatever we were, we follow
        getattr(self, "_on_" + p["type"])(src, p)

    def _on_vote(self, src, p) -> None:
        up_to_date = (p["last_term"], p["last_index"]) >= (self.term_at(self.last_index),
                                                           self.last_index)
        granted = p["term"] == self.term and self.voted_for in (None, src) and up_to_date
        if granted:
            self.voted_for = src
            self._reset_election_timer()
        self._send(src, type="voted", term=self.term, granted=granted)

    def _on_voted(self, src, p) -> None:
        if p["term"] == self.term and p["granted"]:
            self.votes.add(src)
            self._count_votes()

    def _on_append(self, src, p) -> None:
        if p["term"] < self.term:
            self._send(src, type="appended", term=self.term, success=False, match=0,
                       hint=0, round=p["round"])
            return
        if self.role == "candidate":
            self.role = "follower"              # someone else won this term
        self.leader = src
        self._reset_election_timer()
        prev = p["prev_index"]
        if prev > self.last_index or self.term_at(prev) != p["prev_term"]:
            self._send(src, type="appended", term=self.term, success=False, match=0,
                       hint=min(prev, self.last_index + 1), round=p["round"])
            return
        for index, entry in enumerate(p["entries"], start=prev + 1):
            if index <= self.last_index:
                if self.term_at(index) == entry.term:
                    continue                    # already have it (a late or repeated message)
                del self.log[index - 1:]        # a real conflict: drop it and what follows
            self.log.append(entry)
        match = prev + len(p["entries"])
        if min(p["commit"], match) > self.commit_index:
            self.commit_index = min(p["commit"], match)
            self._apply()
        self._send(src, type="appended", term=self.term, success=True, match=match, hint=0,
                   round=p["round"])

    def _on_appended(self, src, p) -> None:
        if self.role != "leader" or p["term"] != self.term:
            return
        self.heard[src] = self.sim.now
        self.acked[src] = max(self.acked[src], p["round"])
        if p["success"]:
            self.match_index[src] = max(self.match_index[src], p["match"])
            self.next_index[src] = max(self.next_index[src], p["match"] + 1)
            self._advance_commit()
        else:
            self.next_index[src] = max(self.match_index[src] + 1,
                                       min(self.next_index[src] - 1, p["hint"]))
            self._replicate(src)
        self._serve_reads()

    def _advance_commit(self) -> None:
        for index in range(self.last_index, self.commit_index, -1):
            if self.term_at(index) != self.term:
                break                           # only entries of the current term count
            if 1 + sum(m >= index for m in self.match_index.values()) >= self.majority:
                self.commit_index = index
                self._apply()
                break

    def _apply(self) -> None:
        while self.last_applied < self.commit_index:
            self.last_applied += 1
            entry = self.log[self.last_applied - 1]
            result = self._execute(entry)
            if self.role == "leader" and entry.term == self.term and entry.kind != "noop":
                self._send(entry.client, type="reply", seq=entry.seq, value=result)

    def _execute(self, entry: LogEntry):
        if entry.kind == "noop":
            return None
        done, result = self.sessions.get(entry.client, (0, None))
        if entry.seq <= done:
            return result                       # a retried command: applied once already
        if entry.kind == "write":
            self.data[entry.key], result = entry.value, None
        else:
            result = self.data.get(entry.key)
        self.sessions[entry.client] = (entry.seq, result)
        return result

    # -- clients ----------------------------------------------------------------------------
    def _on_request(self, src, p) -> None:
        if self.role != "leader":
            self._send(src, type="redirect", seq=p["seq"], leader=self.leader)
            return
        done, result = self.sessions.get(src, (0, None))
        if p["seq"] <= done:                    # already applied: answer from the session
            self._send(src, type="reply", seq=p["seq"], value=result)
        elif p["kind"] == "read" and self.timing.reads == "read_index":
            self.reads.append({"client": src, "seq": p["seq"], "key": p["key"],
                               "index": None, "round": None})
            self._serve_reads()
        elif not any(e.client == src and e.seq == p["seq"] and e.term == self.term
                     for e in self.log[self.commit_index:]):   # a retry already in the log
            self.log.append(LogEntry(self.term, p["kind"], p["key"], p.get("value"), src,
                                     p["seq"]))
            self._broadcast()
            self._advance_commit()

    def _serve_reads(self) -> None:
        """ReadIndex: answer each read once a heartbeat round sent after it arrived was
        acknowledged by a majority and the store has applied up to its read index."""
        if self.role != "leader" or self.term_at(self.commit_index) != self.term:
            return                              # our no-op is not committed yet (§8)
        fresh = [r for r in self.reads if r["index"] is None]
        for read in fresh:
            read["index"], read["round"] = self.commit_index, self.round + 1
        if fresh:
            self._broadcast()
        rounds = sorted([self.round] + list(self.acked.values()), reverse=True)
        confirmed = rounds[self.majority - 1]   # the round a majority has acknowledged
        waiting = []
        for read in self.reads:
            if read["round"] <= confirmed and self.last_applied >= read["index"]:
                self._send(read["client"], type="reply", seq=read["seq"],
                           value=self.data.get(read["key"]))
            else:
                waiting.append(read)
        self.reads = waiting
