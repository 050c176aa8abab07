import multiprocessing
import queue
import subprocess
import threading

import pytest

import labrt


@pytest.fixture
def rt():
    """A runtime of the test's own, shut down after it."""
    runtime = labrt.Runtime()
    yield runtime
    runtime.shutdown()


# Processes of a test start fresh: a fork would copy this one's runtime.
spawn = multiprocessing.get_context("spawn")


def run_all(target, arg_lists, timeout=120):
    """Runs target(*args) in a spawned process per entry of `arg_lists`, at
    once; asserts that each ended well."""
    procs = [spawn.Process(target=target, args=args) for args in arg_lists]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout)
        assert p.exitcode == 0


def started(argv, marker, timeout=30, **popen):
    """Starts `argv` and waits for a line of its stderr that holds `marker`:
    the process and the word after the marker (a URL, say). Its stderr goes
    on being read until it ends, so that the pipe never fills."""
    proc = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True, **popen)
    found = queue.Queue()

    def read():
        for line in proc.stderr:
            if marker in line:
                found.put(line.split(marker, 1)[1].split()[0])
        found.put(None)

    threading.Thread(target=read, daemon=True).start()
    try:
        word = found.get(timeout=timeout)
    except queue.Empty:
        word = None
    if word is None:
        proc.kill()
        proc.wait()
        pytest.fail(f"{argv[0]} did not say {marker!r} within {timeout} s")
    return proc, word
