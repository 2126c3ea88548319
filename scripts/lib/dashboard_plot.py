#!/usr/bin/env python3
"""The dashboard's main panels, drawn from a real run's metrics.

    dashboard_plot.py scrape URL SECONDS OUT.tsv   # sample /metrics every second
    dashboard_plot.py plot IN.tsv PHASES.tsv OUT.png

`scrape` appends `t<TAB>series<TAB>value` for every series of every sample
(bounded: SECONDS samples, then it stops). `plot` computes what the
Grafana panels' PromQL computes (per-second rates of counters, quantiles
of histogram buckets over a 5 s window) and draws six panels with gnuplot
into one PNG; PHASES.tsv (`start<TAB>end<TAB>label`, seconds from the
first sample) shades the load phases.
"""

import collections
import os
import subprocess
import sys
import tempfile
import time
import urllib.request


def scrape(url, seconds, out):
    t0 = time.monotonic()
    with open(out, "w", encoding="utf-8") as f:
        for i in range(int(seconds)):
            target = t0 + i
            time.sleep(max(0.0, target - time.monotonic()))
            now = time.monotonic() - t0
            try:
                text = urllib.request.urlopen(url, timeout=2).read().decode()
            except OSError:
                continue
            for line in text.splitlines():
                if not line or line.startswith("#"):
                    continue
                series, _, value = line.rpartition(" ")
                f.write(f"{now:.3f}\t{series}\t{value}\n")
            f.flush()


def load(path):
    samples = collections.OrderedDict()  # t -> {series: value}
    with open(path, encoding="utf-8") as f:
        for line in f:
            t, series, value = line.rstrip("\n").split("\t")
            samples.setdefault(float(t), {})[series] = float(value)
    return list(samples.items())


def labels(series):
    if "{" not in series:
        return series, {}
    name, rest = series.split("{", 1)
    out = {}
    for kv in rest.rstrip("}").split(","):
        k, _, v = kv.partition("=")
        out[k] = v.strip('"')
    return name, out


def rates(samples, pick, window=1):
    """Per-second rate of the sum of the series `pick` selects."""
    out = []
    for i in range(window, len(samples)):
        (t0, a), (t1, b) = samples[i - window], samples[i]
        d = sum(v for s, v in b.items() if pick(s)) - sum(v for s, v in a.items() if pick(s))
        out.append((t1, max(0.0, d) / (t1 - t0)))
    return out


def quantile(samples, name, q, window=5):
    """histogram_quantile(q, rate(name_bucket[window])) as Prometheus does it:
    linear within the bucket."""
    out = []
    for i in range(window, len(samples)):
        a, b = samples[i - window][1], samples[i][1]
        buckets = []
        for s, v in b.items():
            n, l = labels(s)
            if n == name + "_bucket":
                le = float("inf") if l["le"] == "+Inf" else float(l["le"])
                buckets.append((le, v - a.get(s, 0.0)))
        buckets.sort()
        if not buckets or buckets[-1][1] <= 0:
            continue
        rank = q * buckets[-1][1]
        prev_le, prev_c = 0.0, 0.0
        for le, c in buckets:
            if c >= rank:
                if le == float("inf"):
                    value = prev_le
                else:
                    value = prev_le + (le - prev_le) * (rank - prev_c) / max(c - prev_c, 1e-9)
                out.append((samples[i][0], value))
                break
            prev_le, prev_c = le, c
    return out


def gauge(samples, name):
    return [(t, s[name]) for t, s in samples if name in s]


def write(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        for t, v in rows:
            f.write(f"{t:.3f}\t{v:.6g}\n")


def plot(tsv, phases_path, png):
    samples = load(tsv)
    if len(samples) < 10:
        sys.exit(f"{tsv}: too few samples ({len(samples)})")
    d = tempfile.mkdtemp(prefix="dashplot-")
    series = {}

    def req(op=None, code=None, not_code=None):
        def pick(s):
            n, l = labels(s)
            return (n == "pyzord_requests_total"
                    and (op is None or l.get("op") == op)
                    and (code is None or l.get("code") == code)
                    and (not_code is None or l.get("code") != not_code))
        return pick

    series["check200"] = rates(samples, req("check", "200"))
    series["report200"] = rates(samples, req("report", "200"))
    series["report429"] = rates(samples, req("report", "429"))
    series["whitelist403"] = rates(samples, req("whitelist", "403"))
    for q in (0.5, 0.99):
        series[f"lat{int(q * 100)}"] = [(t, v * 1000) for t, v in quantile(samples, "pyzord_request_duration_seconds", q)]
        series[f"store{int(q * 100)}"] = [(t, v * 1000) for t, v in quantile(samples, "pyzord_store_duration_seconds", q)]
    series["records"] = [(t, v / 1e6) for t, v in gauge(samples, "pyzord_store_records")]
    series["bytes"] = [(t, v / 2**20) for t, v in gauge(samples, "pyzord_store_size_bytes")]
    series["queue"] = gauge(samples, "pyzord_store_queue_depth")
    series["limited"] = rates(samples, lambda s: s == "pyzord_rate_limited_total")
    series["batch"] = []
    for (t, r), (_, c) in zip(rates(samples, lambda s: s == "pyzord_batch_size_sum"),
                              rates(samples, lambda s: s == "pyzord_batch_size_count")):
        if c > 0:
            series["batch"].append((t, r / c))
    for k, rows in series.items():
        write(os.path.join(d, k), rows)

    phases = []
    with open(phases_path, encoding="utf-8") as f:
        for line in f:
            a, b, label = line.rstrip("\n").split("\t")
            phases.append((float(a), float(b), label))
    shade = "\n".join(
        f'set object {i + 1} rect from {a},graph 0 to {b},graph 1 behind '
        f'fc rgb "{"#f2f2f2" if i % 2 else "#e6eef8"}" fs solid noborder'
        for i, (a, b, _) in enumerate(phases))
    tags = "\n".join(
        f'set label {i + 1} "{label}" at {(a + b) / 2},graph 0.93 center font ",8"'
        for i, (a, b, label) in enumerate(phases))
    f = lambda k: os.path.join(d, k)  # noqa: E731
    script = f"""
set terminal pngcairo size 1400,1150 font "DejaVu Sans,9" noenhanced
set output "{png}"
set multiplot layout 3,2 title "pyzord (file store) under pyzor-load: the dashboard's main panels, from its /metrics sampled every second" font ",11"
set grid ytics lc rgb "#dddddd"
set xrange [0:{samples[-1][0]:.0f}]
set xlabel "seconds"
set key left top at graph 0.01,0.87 font ",8" opaque
set datafile separator "\\t"
{shade}
{tags}

set title "Requests by operation and code (req/s)"
set yrange [0:*]
plot "{f('check200')}" u 1:2 w l lw 1.5 t "check 200", \\
     "{f('report200')}" u 1:2 w l lw 1.5 t "report 200", \\
     "{f('report429')}" u 1:2 w l lw 1.5 t "report 429 (rate limit)", \\
     "{f('whitelist403')}" u 1:2 w l lw 1.5 t "whitelist 403 (anonymous)"

set title "Reply latency (ms): receiving a batch to sending its replies"
set logscale y
set yrange [0.01:*]
plot "{f('lat50')}" u 1:2 w l lw 1.5 t "p50", "{f('lat99')}" u 1:2 w l lw 1.5 t "p99"

set title "Store time (ms): a batch in the store, its commit to disk included"
plot "{f('store50')}" u 1:2 w l lw 1.5 t "p50", "{f('store99')}" u 1:2 w l lw 1.5 t "p99"
unset logscale y

set title "Database size"
set yrange [0:*]
set ylabel "million digests"
set y2label "MiB on disk"
set y2tics
set y2range [0:*]
plot "{f('records')}" u 1:2 w l lw 1.5 t "digests (pyzord_store_records)", \\
     "{f('bytes')}" u 1:2 axes x1y2 w l lw 1.5 t "bytes (pyzord_store_size_bytes)"
unset y2tics
unset y2label
unset ylabel

set title "Commit queue depth (batches) and mean batch size (datagrams)"
plot "{f('queue')}" u 1:2 w l lw 1.5 t "pyzord_store_queue_depth", \\
     "{f('batch')}" u 1:2 w l lw 1.5 t "datagrams per batch"

set title "Refused updates (per second)"
plot "{f('limited')}" u 1:2 w l lw 1.5 t "rate-limited (pyzord_rate_limited_total)"
unset multiplot
"""
    subprocess.run(["gnuplot"], input=script, text=True, check=True)
    for k in series:
        os.unlink(f(k))
    os.rmdir(d)


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "scrape":
        scrape(sys.argv[2], float(sys.argv[3]), sys.argv[4])
    elif len(sys.argv) == 5 and sys.argv[1] == "plot":
        plot(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
