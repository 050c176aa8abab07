"""A good guest: no subreaper unless the runner runs something, survives
fork(), stops its threads at interpreter exit. Each case runs its own
interpreter, so that nothing of this test process (its runs, its runtimes)
decides the outcome."""

import json
import subprocess
import sys
import textwrap

PRELUDE = textwrap.dedent("""
    import ctypes, json, os, sys
    import labrt

    def subreaper():
        value = ctypes.c_int(-1)
        PR_GET_CHILD_SUBREAPER = 37
        assert ctypes.CDLL(None).prctl(PR_GET_CHILD_SUBREAPER, ctypes.byref(value), 0, 0, 0) == 0
        return value.value
""")


def run(body, timeout=60):
    """Runs PRELUDE + body in a new interpreter; returns its JSON output."""
    done = subprocess.run([sys.executable, "-c", PRELUDE + textwrap.dedent(body)],
                          capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_kv_and_compat_do_not_make_the_process_a_subreaper():
    out = run("""
        from labrt.compat import ThreadSafeDict, get_test_execution_manager
        labrt.runtime().kv.set("k", 1)
        ThreadSafeDict({"a": 1}).set("b", 2)
        get_test_execution_manager().start_test("t.py", 1)
        print(json.dumps({"subreaper": subreaper()}))
    """)
    assert out == {"subreaper": 0}


def test_a_run_makes_the_process_a_subreaper():
    out = run("""
        rt = labrt.runtime()
        before = subreaper()
        run = rt.runner.start("/bin/true")
        rt.runner.wait(run["run_id"], timeout=30)
        print(json.dumps({"before": before, "after": subreaper()}))
    """)
    assert out == {"before": 0, "after": 1}


def test_fork_child_gets_a_clear_error_and_a_new_runtime():
    out = run("""
        from labrt.compat import ThreadSafeDict, get_service_status_manager
        old_kv = labrt.runtime().new_kv()
        old_kv.set("k", "parent")
        old_dict = ThreadSafeDict({"a": 1})
        old_manager = get_service_status_manager()
        old_events = old_kv.events()
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            report = {}
            for name, use in [("kv", lambda: old_kv.get("k")),
                              ("dict", lambda: old_dict.get("a")),
                              ("events", lambda: old_events.get(timeout=1))]:
                try:
                    use()
                    report[name] = "worked"
                except labrt.ForkError as exc:
                    report[name] = exc.code
            labrt.runtime().kv.set("child", 1)
            report["new_runtime"] = labrt.runtime().kv.get("child")
            report["new_dict"] = ThreadSafeDict({"x": 2}).get("x")
            report["new_manager"] = get_service_status_manager() is not old_manager
            os.write(w, json.dumps(report).encode())
            os.close(w)
            sys.exit(0)  # through atexit: the child's runtime stops, the parent's is left alone
        os.close(w)
        with os.fdopen(r) as f:
            child = json.loads(f.read())
        _, status = os.waitpid(pid, 0)
        print(json.dumps({"child": child, "child_exit": os.waitstatus_to_exitcode(status),
                          "parent": old_kv.get("k"), "parent_dict": old_dict.get("a")}))
    """)
    assert out["child"] == {"kv": "shutting_down", "dict": "shutting_down",
                            "events": "shutting_down", "new_runtime": 1,
                            "new_dict": 2, "new_manager": True}
    assert out["child_exit"] == 0
    assert out["parent"] == "parent" and out["parent_dict"] == 1


def test_interpreter_exit_stops_the_runtime():
    # A callback subscription, an open iterator and a daemon thread blocked
    # in a call must not keep the process alive or crash its exit.
    out = run("""
        import threading
        rt = labrt.runtime()
        kv = rt.new_kv()
        kv.subscribe(lambda event: None)
        kv.events()
        blocked = threading.Event()
        def reader():
            events = kv.events()
            blocked.set()
            events.get()
        threading.Thread(target=reader, daemon=True).start()
        assert blocked.wait(10)
        kv.set("k", 1)
        print(json.dumps({"ok": True}))
    """, timeout=30)
    assert out == {"ok": True}
