#!/usr/bin/env python3
"""bench_stats.py - the arithmetic of tests/vm/bench.sh (make bench).

    bench_stats.py line FIO_JSON
        one line for the log: IOPS, MiB/s, mean and p99 completion latency
    bench_stats.py report SAMPLES_TSV FACTS_TSV OUT_JSON
        the tables (medians, ratios to the kernel's fileio, their spread),
        the daemon's figures, and the same as one JSON file

SAMPLES_TSV, one fio run a line: section, workload, target, round, fio JSON
file, the daemon's CPU ticks over the run and the bytes its LUNs moved
(/sys/block/*/stat) over the same window ("-" for the kernel's runs).
FACTS_TSV: key, value lines (settings, thread counts, memory, notes).
Figures only: nothing here passes or fails.
"""
import json
import statistics
import sys

# name, group, label, goal (ratio to the kernel's fileio; None: no goal)
WORKLOADS = [
    ("randread-4k-qd1", "4 KiB random", "read qd1", 0.50),
    ("randread-4k-qd16", "4 KiB random", "read qd16", 0.90),
    ("randread-4k-qd64", "4 KiB random", "read qd64", 0.90),
    ("randwrite-4k-qd1", "4 KiB random", "write qd1", 0.50),
    ("randwrite-4k-qd16", "4 KiB random", "write qd16", 0.90),
    ("randwrite-4k-qd64", "4 KiB random", "write qd64", 0.90),
    ("read-1m-qd4", "1 MiB sequential", "read qd4", 0.60),
    ("write-1m-qd4", "1 MiB sequential", "write qd4", 0.60),
    ("randrw70-4k-qd16", "4 KiB random 70/30 read/write", "one LUN qd16", None),
    ("four-luns-randrw70-4k-qd16", "4 KiB random 70/30 read/write",
     "4 LUNs qd16 each", None),
]


def fio_figures(path):
    """iops, MiB/s, mean and p99 completion latency (us), I/O size."""
    with open(path) as f:
        text = f.read()
    job = json.loads(text[text.index("{"):])["jobs"][0]
    if job.get("error"):
        raise ValueError("fio job error %s" % job["error"])
    # bench.sh runs fio with --unified_rw_reporting=mixed and
    # --group_reporting: one job, one "mixed" section.
    s = job["mixed"]
    p99 = s["clat_ns"].get("percentile", {}).get("99.000000", 0)
    return {
        "iops": s["iops"],
        "mibs": s["bw_bytes"] / 1048576.0,
        "mean_us": s["clat_ns"]["mean"] / 1000.0,
        "p99_us": p99 / 1000.0,
        "io_size": s["io_bytes"] / s["total_ios"] if s["total_ios"] else 0,
    }


def read_samples(path, clk_tck):
    """{(section, workload, target): {round: figures}}"""
    out = {}
    with open(path) as f:
        for line in f:
            fields = line.rstrip("\n").split("\t")
            if len(fields) != 7:
                continue
            section, wl, target, rnd, js, ticks, nbytes = fields
            try:
                fig = fio_figures(js)
            except (OSError, ValueError, KeyError, IndexError) as e:
                print("bench: %s: unreadable (%s), left out" % (js, e))
                continue
            fig["cpu_us_per_io"] = None
            if ticks != "-" and fig["io_size"] > 0 and int(nbytes) > 0:
                ios = int(nbytes) / fig["io_size"]
                fig["cpu_us_per_io"] = int(ticks) * 1e6 / clk_tck / ios
            out.setdefault((section, wl, target), {})[int(rnd)] = fig
    return out


def summary(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values),
            "max": max(values), "n": len(values)}


def target_summary(rounds):
    return {k: summary([r[k] for r in rounds.values()])
            for k in ("iops", "mibs", "mean_us", "p99_us", "cpu_us_per_io")}


def ratios(a, b):
    """Ratio a/b of IOPS, round by round (only rounds both have)."""
    return [a[r]["iops"] / b[r]["iops"] for r in sorted(a)
            if r in b and b[r]["iops"] > 0]


def med(s, key, fmt="%.0f"):
    v = s.get(key)
    return fmt % v["median"] if v else "-"


def lat(s):
    return "%s/%s" % (med(s, "mean_us"), med(s, "p99_us"))


def workload_table(samples, section, side):
    """Print one table per group; return the JSON for this section."""
    result = {}
    group = None
    hdr = "%-17s %9s %9s %10s %15s %15s %6s %11s %6s" % (
        "workload", side + " IOPS", "kern IOPS", side + " MiB/s",
        side + " mean/p99", "kern mean/p99", "ratio", "min-max", "goal")
    for name, grp, label, goal in WORKLOADS:
        a = samples.get((section, name, side))
        k = samples.get((section, name, "kernel"))
        if not a and not k:
            continue
        a, k = a or {}, k or {}
        if grp != group:
            group = grp
            print("\n%s (latency: completion, us; figures: medians)" % grp)
            print(hdr)
        sa, sk = target_summary(a), target_summary(k)
        r = summary(ratios(a, k))
        spread = "%.2f-%.2f" % (r["min"], r["max"]) if r else "-"
        print("%-17s %9s %9s %10s %15s %15s %6s %11s %6s" % (
            label, med(sa, "iops"), med(sk, "iops"), med(sa, "mibs", "%.1f"),
            lat(sa), lat(sk), "%.2f" % r["median"] if r else "-", spread,
            ">=%.2f" % goal if goal is not None else "-"))
        result[name] = {"group": grp, "label": label, "goal": goal,
                        side: {"summary": sa, "rounds": a},
                        "kernel": {"summary": sk, "rounds": k},
                        "ratio": r, "ratio_rounds": ratios(a, k)}
    return result


def cpu_block(result, side):
    print("\n%s daemon: CPU time per I/O, us (user+system over the whole fio"
          " run; median, min-max over rounds)" % side)
    for name, w in result.items():
        c = w[side]["summary"]["cpu_us_per_io"]
        if c:
            print("  %-32s %7.1f  (%.1f-%.1f)" % (name, c["median"], c["min"], c["max"]))
        else:
            print("  %-32s       -" % name)


def num(facts, key):
    try:
        return float(facts[key])
    except (KeyError, ValueError):
        return None


def daemon_block(facts):
    """Threads and memory of our daemon; returns them for the JSON."""
    t = {n: num(facts, "tasks_%d_luns" % n) for n in (0, 1, 4, 16)}
    out = {"tasks": t}
    print("\nour daemon: threads (/proc/PID/task)")
    print("  with 0, 1, 4, 16 LUNs open: %s" % ", ".join(
        "%.0f" % v if v is not None else "-" for v in t.values()))
    for lo, hi in ((1, 4), (4, 16)):
        if t[lo] is not None and t[hi] is not None:
            per = (t[hi] - t[lo]) / (hi - lo)
            out["per_lun_%d_to_%d" % (lo, hi)] = per
            print("  per LUN, %d -> %d LUNs: %.2f (goal <= 2)" % (lo, hi, per))
    rss = {k: num(facts, k) for k in
           ("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem")}
    out["memory_kib_16_luns"] = rss
    out["byhand_luns_failed"] = facts.get("byhand_failed")
    print("our daemon: memory with 16 LUNs open (4 after I/O, 12 idle)")
    if rss["VmRSS"] is not None:
        print("  VmRSS %.1f MiB (goal < 64 MiB); VmHWM %.1f MiB (peak of the"
              " whole run)" % (rss["VmRSS"] / 1024, (rss["VmHWM"] or 0) / 1024))
        print("  RssAnon %s, RssFile %s, RssShmem %s KiB" % tuple(
            "%.0f" % v if v is not None else "-" for v in
            (rss["RssAnon"], rss["RssFile"], rss["RssShmem"])))
    else:
        print("  not measured (see the log above)")
    if facts.get("byhand_failed", "0") != "0":
        print("  note: %s of the 12 LUNs made in configfs failed to open"
              % facts["byhand_failed"])
    return out


def report(samples_path, facts_path, out_path):
    facts = {}
    with open(facts_path) as f:
        for line in f:
            if "\t" in line:
                k, v = line.rstrip("\n").split("\t", 1)
                facts[k] = v
    clk_tck = float(facts.get("clk_tck", 100))
    samples = read_samples(samples_path, clk_tck)
    print("\n=== make bench: ours (user:file) / kernel fileio, same tmpfs, "
          "same boot; %s rounds of %s s per job, interleaved" %
          (facts.get("rounds", "?"), facts.get("secs", "?")))
    print("ratio: ours/kernel IOPS, paired round by round; figures, not pass/fail")
    main = workload_table(samples, "main", "ours")
    cpu_block(main, "ours")
    doc = {"settings": {k: facts.get(k) for k in
                        ("secs", "rounds", "size_mb", "kernel", "commit",
                         "date", "clk_tck", "peer_rounds")},
           "units": "iops; mibs MiB/s; mean_us, p99_us completion latency"
                    " (clat) in us; cpu_us_per_io daemon CPU us per I/O;"
                    " memory KiB; ratio IOPS ours/kernel per round",
           "workloads": main, "daemon": daemon_block(facts)}
    print("\nDebian's tcmu-runner (peer): " + facts.get("peer_note", "not run"))
    if any(k[0] == "peer" for k in samples):
        print("NOT like for like: its qcow handler on a qcow v1 image "
              "(it has no file handler), against the same kernel fileio LUN")
        doc["peer"] = workload_table(samples, "peer", "peer")
        cpu_block(doc["peer"], "peer")
    doc["peer_note"] = facts.get("peer_note")
    with open(out_path, "w") as f:
        json.dump(doc, f, indent=1, sort_keys=True)
    print("\nfigures as JSON: %s" % out_path)


def main(argv):
    if len(argv) == 3 and argv[1] == "line":
        try:
            f = fio_figures(argv[2])
        except (OSError, ValueError, KeyError, IndexError) as e:
            sys.exit("unreadable fio output %s: %r" % (argv[2], e))
        print("%.0f IOPS, %.1f MiB/s, clat mean %.0f us, p99 %.0f us" % (
            f["iops"], f["mibs"], f["mean_us"], f["p99_us"]))
    elif len(argv) == 5 and argv[1] == "report":
        report(argv[2], argv[3], argv[4])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
