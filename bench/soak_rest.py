"""bench/soak's rest points: every few minutes the churn pauses, the daemon
settles, and one sample is taken with nothing in flight.

Between rests the daemon's fds and threads count the connections and runs
open at that instant, and a fit of those samples cannot tell a drift of
1 %/h from that noise within an hour. At rest nothing is open, so what a
leak leaves behind shows as a step from one rest to the next."""
import socket
import threading
import time


class Gate:
    """Lets the churn threads run, or holds each one between two of its
    operations. Streams that would block a pause (an event reader waiting
    for the next event) are tracked and cut when the pause begins."""

    def __init__(self, workers):
        self.cv = threading.Condition()
        self.paused = False
        self.held = 0
        self.workers = workers
        self.socks = set()

    def turn(self, stop):
        """A churn thread's call between two operations: returns at once
        unless a pause is on, else when it is over (or `stop` is set)."""
        with self.cv:
            if not self.paused:
                return
            self.held += 1
            self.cv.notify_all()
            while self.paused and not stop.is_set():
                self.cv.wait(0.5)
            self.held -= 1

    def track(self, sock):
        """`sock` is read until its stream ends: a pause cuts it short."""
        with self.cv:
            self.socks.add(sock)
            if self.paused:
                cut(sock)

    def untrack(self, sock):
        with self.cv:
            self.socks.discard(sock)

    def hold(self, deadline_s):
        """Pauses the churn; True once every thread is held."""
        with self.cv:
            self.paused = True
            for sock in self.socks:
                cut(sock)
            return self.cv.wait_for(lambda: self.held == self.workers, deadline_s)

    def release(self):
        with self.cv:
            self.paused = False
            self.cv.notify_all()


def cut(sock):
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # closed already


def settle(read, quiet_s=3.0, deadline_s=30.0):
    """Polls `read()` (the daemon's fds and threads) until it has not
    changed for `quiet_s`: the server ends a connection's thread, and joins
    it, a moment after the client is gone. False if it never settles."""
    until = time.monotonic() + deadline_s
    last, since = read(), time.monotonic()
    while time.monotonic() < until:
        time.sleep(0.25)
        now = read()
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            return True
    return False


class RestPoints:
    """Takes a rest sample into `sampler` every `every_s` seconds of churn."""

    def __init__(self, gate, sampler, read, every_s, stats, list_fds):
        self.gate, self.sampler, self.read = gate, sampler, read
        self.every_s, self.stats, self.list_fds = every_s, stats, list_fds
        self.fds_log = open(sampler.out.name.replace(".tsv", "-fds.txt"), "w", encoding="utf-8")
        self.next = time.monotonic() + every_s
        self.unsettled = 0

    def close(self):
        self.sampler.close()
        self.fds_log.close()

    def due(self):
        return self.every_s > 0 and time.monotonic() >= self.next

    def take(self):
        if not self.gate.hold(90):
            self.stats.error(f"the churn did not pause within 90 s "
                             f"({self.gate.held} of {self.gate.workers} threads held)")
        try:
            if not settle(self.read):
                self.unsettled += 1
            # What each fd is, so a step at rest can be named; read before
            # the sample, whose heap figures come through a connection.
            fds = sorted(self.list_fds())
            self.sampler.sample()
            self.fds_log.write(f"{self.sampler.rows[-1][0]}\t" + " ".join(fds) + "\n")
            self.fds_log.flush()
        finally:
            self.gate.release()
            self.next = time.monotonic() + self.every_s
