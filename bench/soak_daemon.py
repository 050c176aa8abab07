"""bench/soak's daemon: a work directory with the config, the watched
binaries and the runner root, and `labctl serve` started on a free port."""
import json
import os
import re
import shutil
import subprocess
import time

HERE = os.path.dirname(os.path.abspath(__file__))
# The watched service that bench/soak_tree/stubborn.sh starts (by this name).
RUN_SERVICE = "soak_runsvc"


def default_labctl():
    repo = os.path.dirname(HERE)
    for preset in ("release", "ci-dev", "dev"):
        path = os.path.join(repo, "build", preset, "examples", "labctl", "labctl")
        if os.access(path, os.X_OK):
            return path
    return None


def prepare(out, labctl):
    """Fills `out`; returns the config's path and {service: its binary}, the
    binaries being copies of /bin/sleep that the rules match (RUN_SERVICE is
    brought up by the runs). Matches are unique to this soak, so that two
    soaks at once do not see each other's processes. State from an earlier
    soak in the same directory is removed: the kv check needs fresh counters."""
    bin_dir, tree, state = (os.path.join(out, d) for d in ("bin", "tree", "state"))
    shutil.rmtree(state, ignore_errors=True)
    for d in (bin_dir, tree, state):
        os.makedirs(d, exist_ok=True)
    # Copies, so that a rebuild during a long soak cannot swap the binaries
    # (a relink of the shim once failed two starts: the file was missing).
    shutil.copy2(labctl, os.path.join(bin_dir, "labctl"))
    shim = os.path.join(os.path.dirname(labctl), "..", "..", "labrt-shim")
    runner_shim = {}
    if os.access(shim, os.X_OK):
        shutil.copy2(shim, os.path.join(bin_dir, "labrt-shim"))
        runner_shim = {"shim": os.path.join(os.path.abspath(bin_dir), "labrt-shim")}
    src = os.path.join(HERE, "soak_tree")
    for script in os.listdir(src):
        shutil.copy2(os.path.join(src, script), os.path.join(tree, script))
    tag = f"sk{os.getpid()}"  # comm names have at most 15 characters
    binaries = {f"soak_comm_{i}": f"{tag}_c{i}" for i in range(3)}
    binaries.update(soak_exe="soak_exe", soak_cmdline="soak_cl", **{RUN_SERVICE: RUN_SERVICE})
    services = {name: os.path.join(bin_dir, b) for name, b in binaries.items()}
    for path in services.values():
        shutil.copy2("/bin/sleep", path)
    rules = [{"name": n, "match": {"comm": binaries[n]}} for n in binaries if "comm_" in n]
    rules += [{"name": n, "match": {"exe": services[n]}} for n in ("soak_exe", RUN_SERVICE)]
    rules.append({"name": "soak_cmdline",
                  "match": {"cmdline": re.escape(services["soak_cmdline"]) + " [0-9]"}})
    config = {
        "name": "soak",
        "services": rules,
        "monitor": {"interval_ms": 1000},
        "runner": {"roots": ["./tree"], "logs_dir": "./state/logs",
                   "grace_ms": 300, "timeout_ms": 0,
                   "log_max_bytes": 262144, "stop_on_shutdown": True, **runner_shim},
        "state_dir": "./state",
        "http": {"listen": "127.0.0.1:0", "max_streams": 32},
    }
    path = os.path.join(out, "labrt.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2)
    return path, services


def start(out, config, deadline_s=20):
    """(process, port) of `labctl serve`, its stderr going to daemon.log."""
    log_path = os.path.join(out, "daemon.log")
    log = open(log_path, "w", encoding="utf-8")
    proc = subprocess.Popen([os.path.join(out, "bin", "labctl"), "serve",
                             "--config", config], stdout=log, stderr=log,
                            stdin=subprocess.DEVNULL)
    until = time.monotonic() + deadline_s
    while time.monotonic() < until and proc.poll() is None:
        with open(log_path, encoding="utf-8", errors="replace") as f:
            m = re.search(r"serving on http://127\.0\.0\.1:(\d+)", f.read())
        if m:
            return proc, int(m.group(1))
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    raise RuntimeError(f"labctl serve did not start; see {log_path}")


def stop(proc, deadline_s=30):
    """SIGTERM, as an operator would; the exit code, or None on a hang."""
    proc.terminate()
    try:
        return proc.wait(deadline_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return None
