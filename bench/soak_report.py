"""bench/soak's measuring side: /proc readings of the daemon, the sample
table, least-squares slopes, leftover processes and the gnuplot plot."""
import os
import subprocess
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")
COOKIE_VAR = b"LABRT_RUN_COOKIE="
COLUMNS = ["t_s", "rss_kb", "fds", "fds_not_proc", "threads", "cpu_pct", "zombies",
           "system_procs", "load1", "runs", "kv_writes", "kv_conflicts",
           "kv_max_ms", "sse_streams", "sse_events", "churned", "heap_kb",
           "heap_free_kb", "events_kb", "heap_net_kb"]


def boot_seconds():
    return time.clock_gettime(time.CLOCK_BOOTTIME)


def read_stat(pid):
    """(state, ppid, pgrp, utime+stime ticks, start ticks) or None if gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            text = f.read()
    except OSError:
        return None
    # comm may hold spaces and parentheses: the fields start after the last ')'.
    fields = text[text.rindex(b")") + 2:].split()
    return (fields[0].decode(), int(fields[1]), int(fields[2]),
            int(fields[11]) + int(fields[12]), int(fields[19]))


def pids():
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def describe(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "?"


def environ_has(pid, needle):
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            return needle in f.read().split(b"\0")
    except OSError:
        return False


def survivors(cookies, pgids=(), before_ticks=None):
    """Processes that carry one of `cookies` in their environment, or sit in
    one of `pgids` and started before `before_ticks` (a pid reused for a new
    group later is somebody else's). Zombies are left to zombies()."""
    wanted = {COOKIE_VAR + c.encode() for c in cookies if c}
    found = []
    for pid in pids():
        st = read_stat(pid)
        if st is None or st[0] == "Z" or pid == os.getpid():
            continue
        in_group = st[2] in pgids and (before_ticks is None
                                       or st[4] <= before_ticks)
        if in_group or any(environ_has(pid, w) for w in wanted):
            found.append(f"{pid} ({describe(pid)})")
    return found


def zombies(parent):
    """The (pid, start ticks) of `parent`'s children in state Z."""
    out = set()
    for pid in pids():
        st = read_stat(pid)
        if st and st[0] == "Z" and st[1] == parent:
            out.add((pid, st[4]))
    return out


def own_fds(pid):
    """What each of `pid`'s descriptors refers to."""
    out = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            out.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except OSError:
            pass  # closed meanwhile
    return out


def fds_not_proc(fds):
    """Those of `fds` (own_fds) outside /proc: the monitor's /proc files
    follow the machine's process count, the rest are the daemon's own."""
    return [f for f in fds if not f.startswith("/proc/")]


def fds_and_threads(pid):
    """(fds outside /proc, threads) of `pid`: what a rest point waits on."""
    with open(f"/proc/{pid}/status", encoding="utf-8") as f:
        threads = next(int(line.split()[1]) for line in f if line.startswith("Threads:"))
    return len(fds_not_proc(own_fds(pid))), threads


class Sampler:
    """Writes one row of COLUMNS per call to `sample`; `counters` is a
    callable returning the driver's counters for the row."""

    def __init__(self, pid, path, counters):
        self.pid, self.counters = pid, counters
        self.out = open(path, "w", encoding="utf-8")
        self.out.write("\t".join(COLUMNS) + "\n")
        self.t0 = time.monotonic()
        self.last = (self.t0, read_stat(pid)[3])
        self.rows = []
        self.seen_zombies = set()
        self.lasting_zombies = set()  # seen in two samples running

    def sample(self):
        now = time.monotonic()
        st = read_stat(self.pid)
        if st is None:
            return False
        status = {}
        with open(f"/proc/{self.pid}/status", encoding="utf-8") as f:
            for line in f:
                key, _, value = line.partition(":")
                status[key] = value.split()
        fds = own_fds(self.pid)
        cpu = (st[3] - self.last[1]) / CLK_TCK / max(now - self.last[0], 1e-9)
        self.last = (now, st[3])
        zs = zombies(self.pid)
        self.lasting_zombies |= zs & self.seen_zombies
        self.seen_zombies = zs
        row = [round(now - self.t0, 1), int(status["VmRSS"][0]), len(fds),
               len(fds_not_proc(fds)),
               int(status["Threads"][0]), round(100 * cpu, 2), len(zs),
               len(pids()), os.getloadavg()[0]] + list(self.counters())
        self.rows.append(row)
        self.out.write("\t".join(str(x) for x in row) + "\n")
        self.out.flush()
        return True

    def close(self):
        self.out.close()


def slope_pct_per_hour(ts, ys):
    """Least-squares slope of ys over ts (seconds), as % of the mean per hour."""
    n = len(ts)
    if n < 3:
        return None
    mt, my = sum(ts) / n, sum(ys) / n
    var = sum((t - mt) ** 2 for t in ts)
    if var == 0 or my == 0:
        return None
    slope = sum((t - mt) * (y - my) for t, y in zip(ts, ys)) / var
    return 100.0 * slope * 3600.0 / my


def trends(rows, warmup_s):
    """{column: (first, last, mean, slope %/h)} after the warm-up."""
    kept = [r for r in rows if r[0] >= warmup_s]
    out = {}
    for name, _ in FIGURES:
        i = COLUMNS.index(name)
        ys = [r[i] for r in kept]
        if ys:
            out[name] = (ys[0], ys[-1], sum(ys) / len(ys),
                         slope_pct_per_hour([r[0] for r in kept], ys))
    return out, len(kept)


PLOT = """
set terminal png size 1200,800
set output '{png}'
set multiplot layout 2,2 title '{title}'
set xlabel 'minutes'
set grid
set datafile separator '\t'
set key center right
set yrange [0:*]
set arrow 1 from {warm},graph 0 to {warm},graph 1 nohead dashtype 2
set title 'memory (MiB)'
plot '{tsv}' skip 1 using ($1/60):($2/1024) with lines lw 2 title 'RSS', \
     '' skip 1 using ($1/60):($17/1024) with lines lw 2 title 'heap in use', \
     '' skip 1 using ($1/60):($18/1024) with lines lw 1 title 'heap held free', \
     '' skip 1 using ($1/60):($20/1024) with lines lw 1 title 'heap in use less the event hub'{rest_rss}
set title 'open fds'
plot '{tsv}' skip 1 using ($1/60):3 with lines lw 2 title 'all', \
     '' skip 1 using ($1/60):4 with lines lw 2 title 'outside /proc', \
     '' skip 1 using ($1/60):8 with lines lw 1 title 'processes on the machine'{rest_fds}
set title 'threads'
plot '{tsv}' skip 1 using ($1/60):5 with lines lw 2 title 'all samples'{rest_threads}
set title 'CPU (% of one core)'
plot '{tsv}' skip 1 using ($1/60):6 with lines lw 1 notitle
unset multiplot
"""


def plot(tsv, png, title, warmup_s, rest_tsv=None):
    def points(column, what):
        if not rest_tsv:
            return ""
        return (f", '{rest_tsv}' skip 1 using ($1/60):({column}) "
                f"with points pt 7 ps 1.2 title '{what} at rest'")
    script = PLOT.format(png=png, tsv=tsv, title=title, warm=warmup_s / 60,
                         rest_rss=points("$2/1024", "RSS"),
                         rest_fds=points("$4", "outside /proc"),
                         rest_threads=points("$5", "threads"))
    subprocess.run(["gnuplot"], input=script.encode(), check=True)


# fds_not_proc is the target: the monitor keeps each process's /proc files
# open, so all fds follow the machine's process count.
FIGURES = [("rss_kb", "RSS (KiB)"), ("heap_kb", "heap in use (KiB)"),
           ("events_kb", "the event hub's events (KiB)"),
           ("heap_net_kb", "heap in use less the hub's events (KiB)"),
           ("heap_free_kb", "heap held free (KiB)"), ("fds", "open fds"),
           ("fds_not_proc", "fds outside /proc"), ("threads", "threads"),
           ("cpu_pct", "CPU (% of one core)")]
# The hub's events are bounded (4096, 8 MiB) and their size follows the
# churn's mix: heap in use is judged net of them.
UNJUDGED = ("cpu_pct", "fds", "heap_free_kb", "heap_kb", "events_kb")
COUNTS = """\
- runs: {runs}; second starts refused with 409: {refused_starts}
- processes of ended runs still alive: {survivors}
- zombie children of the daemon: {zombies_end} at the end, {zombies_lasting} seen in two samples running
- kv increments: {kv_writes} ({kv_conflicts} stale If-Match retries, {kv_uncertain} unanswered PUTs); lost: {kv_lost}
- events read by vanishing readers: {sse_events}; watched processes churned: {churned}
- unexpected API answers: {unexpected}
- rest points after the warm-up: {rests}; ones that did not settle within 30 s: {unsettled}
"""


def signed(slope):
    return "n/a" if slope is None else f"{slope:+.2f}"


def report(out, sampler, churn_rows, warmup, duration, counts, findings, rest_rows=()):
    """summary.md and soak.png in `out`; 0 if every target is met. Slopes
    use the first `churn_rows` samples: the rest are from after the churn.
    With rest points (three or more after the warm-up) the targets are
    judged on those, and the slopes of all samples are shown beside them."""
    rows = sampler.rows
    trend, n = trends(rows[:churn_rows], warmup)
    at_rest, rests = trends(rest_rows, warmup)
    judged = at_rest if rests >= 3 else trend
    loads = [r[COLUMNS.index("load1")] for r in rows]
    lines = [f"Soak of {duration / 60:.1f} min, {len(rows)} samples ({n} between the "
             f"{warmup / 60:.1f} min warm-up and the end of the churn), load1 {min(loads):.1f}-{max(loads):.1f}",
             "", "| after warm-up | first | last | mean | slope %/h | at rest: first | last | slope %/h | target |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for name, label in FIGURES:
        first, last, mean, slope = trend.get(name, (0, 0, 0, None))
        rest = "| - | - | - " if name == "cpu_pct" or rests < 3 else \
            "| {:g} | {:g} | {} ".format(*at_rest[name][:2], signed(at_rest[name][3]))
        target = "-"
        if name not in UNJUDGED:
            slope_judged = judged[name][3] if name in judged else None
            met = slope_judged is not None and slope_judged < 1.0
            target = "< 1 %/h: " + ("met" if met else "**missed**")
            if not met:
                where = "at rest" if rests >= 3 else "after the warm-up"
                findings.insert(0, f"{label}: slope {signed(slope_judged)} %/h {where}")
        lines.append(f"| {label} | {first:g} | {last:g} | {mean:.1f} | {signed(slope)} {rest}| {target} |")
    lines += ["", COUNTS.format(rests=rests, **counts)]
    lines += ["findings:" if findings else "all targets met"] + [f"- {f}" for f in findings]
    text = "\n".join(lines) + "\n"
    with open(os.path.join(out, "summary.md"), "w", encoding="utf-8") as f:
        f.write(text)
    print(text, end="")
    png, tsv = os.path.join(out, "soak.png"), sampler.out.name
    try:
        plot(tsv, png, f"labctl serve soak, {duration / 60:.1f} min", warmup,
             os.path.join(out, "rest.tsv") if rest_rows else None)
        print(f"soak: table {tsv}, plot {png}")
    except (OSError, subprocess.CalledProcessError) as ex:
        print(f"soak: no plot ({ex}); scripts/bootstrap bench installs gnuplot-nox")
    return 1 if findings else 0
