#!/usr/bin/python3
"""make bench: generates the workload in a temporary directory, runs every
figure of issue 7 at least BENCH_RUNS (5) times together with its reference
(Python csv, psql, a SQL query, wrk, curl), prints a table of
min / median / max and ratios, and writes bench/results.json.

Environment (or make variables): BENCH_SCALE=small|medium|full (default full:
100,000 indicators x 100 months), BENCH_N / BENCH_M to override the scale,
BENCH_RUNS (default 5), BENCH_ONLY=csv,pg,eval,webhook,email,idle,once (a
subset), BENCH_KEEP=1 (keep the temporary directory, for debugging),
BENCH_RESULTS (where the JSON goes; default bench/results.json).

Everything it starts (PostgreSQL cluster, HTTP receiver, SMTP server,
daemon) is stopped and the temporary directory removed on exit, also after
an error or Ctrl-C.  Nothing here asserts a time: figures are reported.
"""
import argparse, datetime, json, os, platform, re, shutil, signal, socket, statistics
import subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY = "/usr/bin/python3"
SCALES = {"small": (10000, 12), "medium": (50000, 50), "full": (100000, 100)}
EVAL_POINTS = 120                 # points per indicator for the evaluation figure
WEBHOOKS, EMAILS = 2000, 500
HTTP_PARALLEL, HTTP_PER_HOST = 8, 4   # the daemon's defaults (http_max_parallel / _per_host)
NOW = "2026-01-20T09:00"
PYREF = "Python csv: Python 3 csv module, same parse + per-indicator sum (bench/ref_csv.py)"

ap = argparse.ArgumentParser()
ap.add_argument("--build", default="build")
ap.add_argument("--scale", default=os.environ.get("BENCH_SCALE") or "full")
opts = ap.parse_args()
BUILD = os.path.join(ROOT, opts.build)
if opts.scale not in SCALES:
    sys.exit("bench: BENCH_SCALE must be one of %s" % ", ".join(SCALES))
N, M = SCALES[opts.scale]
N = int(os.environ.get("BENCH_N") or N)
M = int(os.environ.get("BENCH_M") or M)
RUNS = int(os.environ.get("BENCH_RUNS") or 5)
ONLY = set(filter(None, (os.environ.get("BENCH_ONLY") or "").split(",")))
KEEP = os.environ.get("BENCH_KEEP") == "1"
RESULTS = os.environ.get("BENCH_RESULTS") or os.path.join(ROOT, "bench", "results.json")
T0 = time.monotonic()


def log(msg):
    sys.stderr.write("bench [%5.0fs] %s\n" % (time.monotonic() - T0, msg))
    sys.stderr.flush()


def want(name):
    return not ONLY or name in ONLY


def run(cmd, env=None, stdout=subprocess.PIPE, check=True, timeout=3600, **kw):
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run(cmd, env=e, stdout=stdout, stderr=subprocess.PIPE, text=True,
                       timeout=timeout, **kw)
    if check and p.returncode != 0:
        raise RuntimeError("%s: exit %d: %s" % (" ".join(cmd)[:200], p.returncode,
                                               (p.stderr or "").strip()[-2000:]))
    return p


def timed(cmd, env=None, check=True, stdout=subprocess.DEVNULL):
    """Runs cmd under /usr/bin/time; returns (wall seconds, peak RSS kB, process)."""
    tf = os.path.join(TMP, "time.out")
    t0 = time.monotonic()
    p = run(["/usr/bin/time", "-f", "%M", "-o", tf] + cmd, env=env, check=check, stdout=stdout)
    sec = time.monotonic() - t0
    with open(tf) as f:
        rss = int(f.read().strip().splitlines()[-1])
    return sec, rss, p


def jlines(text):
    return [json.loads(l) for l in text.splitlines() if l.startswith("{")]


def stats(xs):
    xs = [x for x in xs if x is not None]
    if not xs:
        return None
    return {"min": min(xs), "median": statistics.median(xs), "max": max(xs), "runs": xs}


FIGURES = []


def figure(key, name, unit, ours, ref=None, ref_name=None, ratio=None, goal=None, met=None,
           note=None, extra=None, better="higher"):
    """ours, ref: lists of per-run values; ratio: how many times better (or the
    fraction of the reference), from the medians."""
    f = {"key": key, "figure": name, "unit": unit, "traguardo": stats(ours),
         "reference": stats(ref) if ref else None, "reference_name": ref_name,
         "ratio": ratio, "goal": goal, "met": met, "note": note, "better": better}
    if extra:
        f.update(extra)
    FIGURES.append(f)
    return f


def med(xs):
    return statistics.median(xs)


# ---------------------------------------------------------------- servers

PROCS = []


def start(cmd, **kw):
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kw)
    PROCS.append(p)
    return p


def stop(p, timeout=10):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    if p in PROCS:
        PROCS.remove(p)


def wait_file(path, proc, timeout=20):
    t = time.monotonic() + timeout
    while not os.path.exists(path):
        if proc.poll() is not None:
            raise RuntimeError("%s exited: %s" % (proc.args[1], proc.stderr.read()[-1000:]))
        if time.monotonic() > t:
            raise RuntimeError("%s did not start" % proc.args[1])
        time.sleep(0.05)
    with open(path) as f:
        return int(f.read())


def http_get(port, path):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % path.encode())
    data = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        data += b
        if b"\r\n\r\n" in data:
            head, body = data.split(b"\r\n\r\n", 1)
            n = int(re.search(rb"Content-Length: (\d+)", head).group(1))
            if len(body) >= n:
                break
    s.close()
    return json.loads(data.split(b"\r\n\r\n", 1)[1])


# ---------------------------------------------------------------- machine

def curl_version():
    try:
        return run(["pkg-config", "--modversion", "libcurl"]).stdout.strip() or "?"
    except Exception:
        return "?"


def machine():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem = 0
    with open("/proc/meminfo") as f:
        mem = int(f.readline().split()[1]) // 1024
    try:
        rev = run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"]).stdout.strip()
        dirty = run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"]).stdout.strip()
        rev += "+changes" if dirty else ""
    except Exception:
        rev = "?"
    return {"nproc": os.cpu_count(), "cpu": model, "mem_mb": mem, "kernel": platform.release(),
            "python": platform.python_version(), "libcurl": curl_version(), "commit": rev,
            "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds")}


# ---------------------------------------------------------------- the figures

def bench_csv(d):
    log("CSV ingest: %d rows, %d runs each of traguardo, parse only, Python csv, psql \\copy" %
        (N * M, RUNS))
    ours, null, py, pg = [], [], [], []
    for i in range(RUNS):
        ours.append(jlines(run([BENCH, "csv", d["conf"]]).stdout)[0])
        null.append(jlines(run([BENCH, "csv-null", d["conf"]]).stdout)[0])
        py.append(jlines(run([PY, os.path.join(ROOT, "bench", "ref_csv.py"), d["csv"]]).stdout)[0])
        if d.get("pg"):
            psql(d, "TRUNCATE raw")
            sec, rss, _ = timed(["psql", d["pg"], "-q", "-c",
                                 "\\copy raw FROM '%s' WITH (FORMAT csv, DELIMITER ';', HEADER true)"
                                 % d["csv"]], env={"PGOPTIONS": "-c datestyle=ISO,DMY"})
            pg.append(sec)
            # the server's writes after the load (checkpoint, the kernel's
            # writeback) would fall into the next measurement: done here
            psql(d, "CHECKPOINT")
            os.sync()
        log("  run %d: traguardo %.2fs, parse only %.2fs, python %.2fs%s" %
            (i + 1, ours[-1]["sec"], null[-1]["sec"], py[-1]["sec"],
             ", psql %.2fs" % pg[-1] if pg else ""))
    for r in ours + null + py:
        if r["rows"] != N * M:
            raise RuntimeError("CSV: %d rows read, %d expected" % (r["rows"], N * M))
    rows, size = N * M, ours[0]["bytes"]
    t_rate = [rows / r["sec"] for r in ours]
    py_rate = [rows / r["sec"] for r in py]
    ratio_py = med(t_rate) / med(py_rate)
    figure("csv_rows", "CSV ingest file -> store: rows/s", "rows/s", t_rate, py_rate,
           PYREF, ratio_py, ">= 20x Python csv",
           ratio_py >= 20)
    if pg:
        pg_rate = [rows / s for s in pg]
        r = med(t_rate) / med(pg_rate)
        figure("csv_rows_psql", "CSV ingest file -> store: rows/s", "rows/s", t_rate, pg_rate,
               "psql \\copy: into a table (codice text, periodo date, valore text)", r, ">= 8x psql \\copy", r >= 8)
    figure("csv_mbs", "CSV ingest file -> store: MB/s", "MB/s",
           [size / 1e6 / r["sec"] for r in ours], [size / 1e6 / r["sec"] for r in py],
           PYREF, med(t_rate) / med(py_rate), None, None)
    null_rate = [rows / r["sec"] for r in null]
    figure("csv_parse_rows", "CSV parse only (counting sink): rows/s", "rows/s", null_rate,
           py_rate, PYREF, med(null_rate) / med(py_rate), None, None,
           note="the reader alone: what the store and the indicator lookup cost is the rest")
    growth = [(r["hwm_kb"] - r["rss_before_kb"]) / 1024 for r in ours]
    per_point = med(growth) * 1024 * 1024 / rows
    figure("csv_rss", "CSV ingest: peak RSS growth (store)", "MB", growth, None, None, None,
           "grows with indicators, not file size", None,
           note="%.1f bytes per point stored (the data are 12: tg_day + double), %.0fk page "
                "faults during the ingest; the config "
                "of %d indicators: %.0f MB RSS, loaded in %.2fs; Python csv peak RSS %.0f MB" %
                (per_point, med([r.get("faults", 0) for r in ours]) / 1000, N,
                 ours[0]["rss_before_kb"] / 1024, med([r["config_sec"] for r in ours]),
                 med([r["hwm_kb"] / 1024 for r in py])),
           better="lower")
    ngrowth = [(r["hwm_kb"] - r["rss_before_kb"]) / 1024 for r in null]
    # the same points from a file twice as big: the store must not grow
    twice = jlines(run([BENCH, "csv", d["conf2"]]).stdout)[0]
    g2 = (twice["hwm_kb"] - twice["rss_before_kb"]) / 1024
    figure("csv_rss_stream", "CSV parse only: peak RSS growth", "MB", ngrowth, None,
           None, None, "grows with indicators, not file size", med(ngrowth) < 16 and g2 < med(growth) * 1.1,
           note="same points from the file twice (%.0f MB): store growth %.0f MB vs %.0f MB (1 run)" %
                (twice["bytes"] / 1e6, g2, med(growth)), better="lower")


def psql(d, sql, env=None):
    return run(["psql", d["pg"], "-q", "-v", "ON_ERROR_STOP=1", "-c", sql], env=env)


def bench_pg(d):
    q = "SELECT codice, periodo, valore FROM kpi"
    log("PostgreSQL source: %d rows, %d runs each of traguardo and psql COPY TO STDOUT" % (N * M, RUNS))
    ours, ref, ref_rss = [], [], []
    for i in range(RUNS):
        ours.append(jlines(run([BENCH, "pg", d["pg"], q]).stdout)[0])
        sec, rss, _ = timed(["psql", d["pg"], "-q", "-c", "\\copy (%s) TO '/dev/null'" % q])
        ref.append(sec)
        ref_rss.append(rss / 1024)
        log("  run %d: traguardo %.2fs, psql %.2fs" % (i + 1, ours[-1]["sec"], sec))
    for r in ours:
        if r["measurements"] != N * M:
            raise RuntimeError("pg: %d rows, %d expected" % (r["measurements"], N * M))
    rate = [N * M / r["sec"] for r in ours]
    rrate = [N * M / s for s in ref]
    r = med(rate) / med(rrate)
    figure("pg_rows", "PostgreSQL source: rows/s", "rows/s", rate, rrate,
           "psql COPY: psql \\copy (SELECT ...) TO '/dev/null' (COPY TO STDOUT)", r, ">= 90% of COPY", r >= 0.9)
    growth = [(x["hwm_kb"] - x["rss_before_kb"]) / 1024 for x in ours]
    figure("pg_rss", "PostgreSQL source: client peak RSS over idle", "MB", growth, ref_rss,
           "psql: peak RSS of the whole process", None, "<= 20 MB over idle", med(growth) <= 20,
           note="idle (config loaded, loop created): %.1f MB" % (ours[0]["rss_before_kb"] / 1024),
           better="lower")


EVAL_SQL = """SELECT codice,
       max(valore) FILTER (WHERE rn = 1) AS latest,
       avg(valore) FILTER (WHERE rn <= 3) AS mean_last3,
       regr_slope(valore, -rn) AS slope
FROM (SELECT codice, valore,
             row_number() OVER (PARTITION BY codice ORDER BY periodo DESC) AS rn
      FROM ev) AS s
GROUP BY codice"""


def bench_eval(d):
    log("evaluation: %d indicators x %d points; %d repeats; the SQL query %d times" %
        (N, EVAL_POINTS, RUNS, RUNS))
    out = jlines(run([BENCH, "eval", d["conf"], str(EVAL_POINTS), str(RUNS)]).stdout)
    ev = [x["ns_per_indicator"] for x in out if x.get("phase") == "eval"]
    cyc = [x["sec"] for x in out if x.get("phase") == "cycle"]
    build = [x for x in out if x.get("phase") == "store_build"][0]
    build2 = [x for x in out if x.get("phase") == "store_build_by_period"][0]
    st = [x for x in out if x.get("phase") == "statuses"][0]
    ref = []
    if d.get("pg"):
        for i in range(RUNS):
            sec, _, _ = timed(["psql", d["pg"], "-q", "-c",
                               "\\copy (%s) TO '/dev/null'" % " ".join(EVAL_SQL.split())])
            ref.append(sec)
            log("  SQL run %d: %.2fs" % (i + 1, sec))
    figure("eval_ns", "evaluation: ns per indicator (120 points)", "ns", ev, None, None, None,
           "<= 450 ns", med(ev) <= 450, better="lower",
           note="statuses: " + ", ".join("%s %d" % (k, v) for k, v in st.items() if k != "phase"))
    r = med(ref) / med(cyc) if ref else None
    figure("eval_cycle", "evaluation: whole cycle (lookup + eval)", "s", cyc, ref or None,
           "SQL query: latest, mean of the last 3, regr_slope (row_number window)", r,
           ">= 100x the SQL query", r >= 100 if r else None, better="lower",
           note="store built in %.2fs by indicator, %.2fs in export order (by period)" %
                (build["sec"], build2["sec"]))


def bench_webhook(d):
    log("webhooks: %d POSTs x %d runs through lib/http, wrk -c%d x %d runs" %
        (WEBHOOKS, RUNS, HTTP_PER_HOST, RUNS))
    pf = os.path.join(TMP, "receiver.port")
    srv = start([PY, os.path.join(ROOT, "bench", "receiver.py"), "--port-file", pf])
    port = wait_file(pf, srv)
    url = "http://127.0.0.1:%d/hooks/traguardo" % port
    body = os.path.join(TMP, "webhook.json")
    with open(body, "w") as f:    # an Alertmanager-shaped body of ~1.5 kB
        json.dump({"version": "4", "status": "firing", "receiver": "chat",
                   "alerts": [{"status": "firing", "labels": {"alertname": "traguardo",
                               "indicator": "IND%06d" % i, "department": "Ragioneria"},
                               "annotations": {"summary": "Indicatore di prova %d fuori obiettivo" % i,
                                               "reason": "53.582,72 (dicembre 2025): sotto l'obiettivo"}}
                              for i in range(1, 6)]}, f)
    lua = os.path.join(TMP, "post.lua")
    with open(lua, "w") as f:
        f.write('wrk.method = "POST"\nwrk.body = io.open("%s"):read("*a")\n'
                'wrk.headers["Content-Type"] = "application/json"\n' % body)
    ours, conns, ref, bare = [], [], [], []
    have_wrk = shutil.which("wrk") is not None

    def run_ours():
        http_get(port, "/reset")
        r = jlines(run([BENCH, "webhook", url, str(WEBHOOKS), str(HTTP_PARALLEL),
                        str(HTTP_PER_HOST), body]).stdout)[0]
        s = http_get(port, "/stats")
        if r["ok"] != WEBHOOKS or s["requests"] != WEBHOOKS:
            raise RuntimeError("webhook: %s, receiver %s" % (r, s))
        ours.append(r["per_sec"])
        conns.append(s["connections"])

    def run_bare():
        # libcurl alone: the same POSTs from its own minimal multi loop
        r = jlines(run([BENCH, "curl-loop", url, str(WEBHOOKS), str(HTTP_PER_HOST),
                        body]).stdout)[0]
        if r["ok"] != WEBHOOKS:
            raise RuntimeError("curl-loop: %s" % r)
        bare.append(r["per_sec"])

    try:
        for i in range(RUNS):
            # the two take turns at going first
            for step in ((run_ours, run_bare) if i % 2 == 0 else (run_bare, run_ours)):
                step()
            if have_wrk:
                p = run(["wrk", "-t2", "-c%d" % HTTP_PER_HOST, "-d3s", "-s", lua, url])
                ref.append(float(re.search(r"Requests/sec:\s+([\d.]+)", p.stdout).group(1)))
            log("  run %d: traguardo %.0f/s on %d connections, libcurl loop %.0f/s%s" %
                (i + 1, ours[-1], conns[-1], bare[-1], ", wrk %.0f/s" % ref[-1] if ref else ""))
    finally:
        stop(srv)
    r = med(ours) / med(ref) if ref else None
    figure("webhook", "webhook fan-out: %d POSTs, messages/s" % WEBHOOKS, "msg/s", ours,
           ref or None, "wrk: -t2 -c%d -d3s against the same receiver (its ceiling)" % HTTP_PER_HOST
           if ref else None, r, ">= 80% of the ceiling; connections reused",
           (r >= 0.8 and max(conns) <= HTTP_PARALLEL) if r else None,
           note="connections used per run: %s (max_parallel %d, per host %d); a minimal "
                "libcurl multi loop sending the same POSTs (bench curl-loop, libcurl %s): "
                "median %.0f/s, traguardo at %.0f%% of it%s" %
                (sorted(set(conns)), HTTP_PARALLEL, HTTP_PER_HOST, MACHINE["libcurl"], med(bare),
                 100 * med(ours) / med(bare),
                 "" if have_wrk else "; wrk not installed (apt-get install wrk): no reference"),
           extra={"connections": conns, "libcurl_loop": stats(bare)})


def email_message(path):
    from email.message import EmailMessage
    m = EmailMessage()
    m["From"] = "Ufficio Qualità <qualita@comune.bancodiprova.example>"
    m["To"] = "responsabile@comune.bancodiprova.example"
    m["Subject"] = "[traguardo] Ragioneria: 3 indicatori critici, 9 in attenzione"
    m["Date"] = "Tue, 20 Jan 2026 09:00:00 +0100"
    m["Message-ID"] = "<bench.20260120@traguardo.comune.bancodiprova.example>"
    rows = [("IND%06d" % i, "Indicatore di prova %d" % i, "%d,%02d" % (1000 + i * 37, i % 100),
             "critico" if i % 4 == 0 else "attenzione") for i in range(1, 13)]
    m.set_content("Buongiorno,\n\nquesti indicatori sono fuori obiettivo:\n\n" +
                  "\n".join("- %s %s: %s (%s), obiettivo 1.000,00" % r for r in rows) +
                  "\n\n-- \ntraguardo, Ufficio Qualità\n")
    m.add_alternative("<!DOCTYPE html><html><body style=\"font-family:sans-serif\"><table>" +
                      "".join("<tr><td style=\"padding:4px\">%s</td><td style=\"padding:4px\">%s"
                              "</td><td style=\"padding:4px;text-align:right\">%s</td>"
                              "<td style=\"padding:4px\">%s</td></tr>" % r for r in rows) +
                      "</table></body></html>", subtype="html")
    data = bytes(m).replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    with open(path, "wb") as f:
        f.write(data)
    return len(data)


def smtp_connections(mdir):
    peers = set()
    for fn in os.listdir(mdir):
        if fn.endswith(".json"):
            with open(os.path.join(mdir, fn)) as f:
                peers.add(tuple(json.load(f)["peer"]))
    n = sum(1 for fn in os.listdir(mdir) if fn.endswith(".json"))
    for fn in os.listdir(mdir):
        os.unlink(os.path.join(mdir, fn))
    return n, len(peers)


def bench_email(d):
    log("e-mail: %d messages x %d runs through lib/notify_email, and with curl in a loop" %
        (EMAILS, RUNS))
    mdir, pf = os.path.join(TMP, "mail"), os.path.join(TMP, "smtp.port")
    msg = os.path.join(TMP, "digest.eml")
    size = email_message(msg)
    srv = start([PY, os.path.join(ROOT, "tests", "smtp_server.py"), "--dir", mdir,
                 "--port-file", pf])
    port = wait_file(pf, srv)
    url = "smtp://127.0.0.1:%d" % port
    loop = ('i=0; while [ $i -lt %d ]; do curl -s -S %s --mail-from %s --mail-rcpt %s '
            '--upload-file %s || exit 1; i=$((i+1)); done' %
            (EMAILS, url, "qualita@comune.bancodiprova.example",
             "responsabile@comune.bancodiprova.example", msg))
    ours, conns, ref = [], [], []
    try:
        for i in range(RUNS):
            r = jlines(run([BENCH, "email", url, str(EMAILS), msg]).stdout)[0]
            n, c = smtp_connections(mdir)
            if r["ok"] != EMAILS or n != EMAILS:
                raise RuntimeError("email: %s, server stored %d" % (r, n))
            ours.append(r["per_sec"])
            conns.append(c)
            t0 = time.monotonic()
            run(["sh", "-c", loop])
            ref.append(EMAILS / (time.monotonic() - t0))
            n, _ = smtp_connections(mdir)
            if n != EMAILS:
                raise RuntimeError("curl loop: server stored %d" % n)
            log("  run %d: traguardo %.0f/s on %d connections, curl loop %.0f/s" %
                (i + 1, ours[-1], c, ref[-1]))
    finally:
        stop(srv)
    r = med(ours) / med(ref)
    figure("email", "e-mail: %d digests (%d bytes), messages/s" % (EMAILS, size), "msg/s", ours,
           ref, "curl loop: curl --mail-rcpt in a shell loop", r, ">= 3x (connections reused)", r >= 3,
           note="SMTP connections per run: %s" % sorted(set(conns)), extra={"connections": conns})


def proc_kb(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return -1


def bench_idle():
    wait = float(os.environ.get("BENCH_IDLE_WAIT") or 3)
    log("idle daemon: demo config, VmRSS after %.0fs, %d runs" % (wait, RUNS))
    rss = []
    for i in range(RUNS):
        base = os.path.join(TMP, "idle")
        shutil.rmtree(base, ignore_errors=True)
        shutil.copytree(os.path.join(ROOT, "conf"), os.path.join(base, "conf"))
        os.makedirs(os.path.join(base, "build", "demo-state"))   # state_dir = ../build/demo-state
        p = start([TRAGUARDO, "-c", os.path.join(base, "conf", "demo.conf"), "run"],
                  env=dict(os.environ, TZ="Europe/Rome"))
        time.sleep(wait)
        if p.poll() is not None:
            raise RuntimeError("traguardo run exited: %s" % p.stderr.read()[-1000:])
        rss.append(proc_kb(p.pid, "VmRSS") / 1024)
        stop(p)
        log("  run %d: VmRSS %.1f MB" % (i + 1, rss[-1]))
    shutil.rmtree(os.path.join(TMP, "idle"), ignore_errors=True)
    figure("idle_rss", "idle daemon RSS, demo config", "MB", rss, None, None, None, "<= 16 MB",
           med(rss) <= 16, better="lower")


def bench_once(d):
    log("traguardo once: %d indicators, %d rows from CSV, fresh state, %d runs" % (N, N * M, RUNS))
    secs, rss, journal = [], [], 0
    for i in range(RUNS):
        shutil.rmtree(d["state"], ignore_errors=True)
        os.makedirs(d["state"])
        sec, kb, p = timed([TRAGUARDO, "-c", d["conf"], "once", "--now", NOW, "--json"],
                           env={"TZ": "Europe/Rome"}, check=False)
        if p.returncode != 0:
            raise RuntimeError("traguardo once: exit %d: %s" % (p.returncode, p.stderr[-1000:]))
        secs.append(sec)
        rss.append(kb / 1024)
        journal = os.path.getsize(os.path.join(d["state"], "journal"))
        log("  run %d: %.2fs, peak RSS %.0f MB" % (i + 1, sec, kb / 1024))
    shutil.rmtree(d["state"], ignore_errors=True)
    figure("once_sec", "traguardo once, %d indicators from CSV: time" % N, "s", secs, None, None,
           None, "report it", None, better="lower",
           note="config load + %d rows + evaluation + status.json + journal of %.0f MB" %
                (N * M, journal / 1e6))
    figure("once_rss", "traguardo once: peak RSS", "MB", rss, None, None, None, "report it", None,
           better="lower")


# ---------------------------------------------------------------- output

def fmt(v, unit):
    if v is None:
        return "-"
    if unit in ("rows/s", "msg/s"):
        return "%.3gM" % (v / 1e6) if v >= 1e6 else "%.3gk" % (v / 1e3) if v >= 1e4 else "%.0f" % v
    if unit == "ns":
        return "%.0f" % v
    return "%.3g" % v


def table():
    lines = ["traguardo bench: %d indicators x %d months (%s rows), %d runs; %s, %d cpus" %
             (N, M, format(N * M, ","), RUNS, MACHINE["cpu"], MACHINE["nproc"]), ""]
    hdr = ("figure", "unit", "min", "median", "max", "reference (median)", "ratio", "goal", "met")
    rows = []
    for f in FIGURES:
        t, r = f["traguardo"], f["reference"]
        ratio = f["ratio"]
        rows.append((f["figure"], f["unit"], fmt(t["min"], f["unit"]), fmt(t["median"], f["unit"]),
                     fmt(t["max"], f["unit"]),
                     "%s %s" % (fmt(r["median"], f["unit"]), f["reference_name"].split(":")[0]) if r
                     else "-",
                     ("%.1fx" % ratio if ratio >= 1 else "%.0f%%" % (ratio * 100)) if ratio else "-",
                     f["goal"] or "-",
                     {True: "yes", False: "NO", None: "-"}[f["met"]]))
    w = [max(len(str(x[i])) for x in rows + [hdr]) for i in range(len(hdr))]
    for i, x in enumerate([hdr] + rows):
        lines.append("  ".join(str(c).ljust(w[j]) if j in (0, 1, 5, 7) else str(c).rjust(w[j])
                               for j, c in enumerate(x)).rstrip())
        if i == 0:
            lines.append("  ".join("-" * n for n in w))
    refs = []
    for f in FIGURES:
        if f["reference_name"] and f["reference_name"] not in refs:
            refs.append(f["reference_name"])
    if refs:
        lines += ["", "references (measured in this run, same machine, same data):"]
        lines += ["  - " + r for r in refs]
    notes = [(f["figure"], f["note"]) for f in FIGURES if f.get("note")]
    if notes:
        lines += ["", "notes:"]
        lines += ["  * %s: %s" % n for n in notes]
    return "\n".join(lines)


README_BEGIN, README_END = "<!-- bench-results:begin -->", "<!-- bench-results:end -->"


def update_readme(text):
    """The "Last results" of bench/README.md, from a complete run at the
    issue's scale only (a quick or partial run does not replace them)."""
    path = os.path.join(ROOT, "bench", "README.md")
    if ONLY or RUNS < 5 or (N, M) != SCALES["full"] or opts.scale != "full":
        log("bench/README.md not updated: only a complete run at the full scale updates it")
        return
    try:
        with open(path) as f:
            doc = f.read()
    except OSError:
        return
    a, b = doc.find(README_BEGIN), doc.find(README_END)
    if a < 0 or b < a:
        return
    m = MACHINE
    block = ("%s\n%s, %s, commit %s, %d cpus: %s, %d MB RAM, Linux %s; %.0f s in all.\n\n```\n%s\n```\n" %
             (README_BEGIN, "Run of " + m["date"], "`make bench`", m["commit"], m["nproc"], m["cpu"],
              m["mem_mb"], m["kernel"], time.monotonic() - T0, text))
    with open(path + ".tmp", "w") as f:
        f.write(doc[:a] + block + doc[b:])
    os.replace(path + ".tmp", path)
    log("bench/README.md: last results updated")


# ---------------------------------------------------------------- main

TMP = None
MACHINE = machine()
BENCH = os.path.join(BUILD, "bench", "bench")
GEN = os.path.join(BUILD, "bench", "gen")
TRAGUARDO = os.path.join(BUILD, "traguardo")


def on_signal(sig, frame):
    raise SystemExit(128 + sig)


def main():
    global TMP
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, on_signal)
    for exe in (BENCH, GEN, TRAGUARDO):
        if not os.access(exe, os.X_OK):
            sys.exit("bench: %s missing: run `make bench`" % exe)
    if "san" in os.path.basename(BUILD):
        log("warning: %s is a sanitizer build: the figures mean little" % BUILD)
    if RUNS < 5:
        log("warning: BENCH_RUNS=%d: the issue asks for at least 5" % RUNS)
    TMP = tempfile.mkdtemp(prefix="tg-bench-", dir="/tmp")
    os.chmod(TMP, 0o755)           # the PostgreSQL cluster runs as postgres inside
    pgdir = os.path.join(TMP, "pg")
    pg_started = False
    try:
        d = {"csv": os.path.join(TMP, "data.csv"), "conf": os.path.join(TMP, "bench.conf"),
             "state": os.path.join(TMP, "state")}
        log("workload: %d indicators x %d months in %s" % (N, M, TMP))
        run([GEN, "csv", str(N), str(M), d["csv"]])
        run([GEN, "conf", str(N), d["csv"], d["state"], d["conf"]])
        # the same points from a file twice as big (a glob over two links)
        for k in (1, 2):
            os.link(d["csv"], os.path.join(TMP, "twice-%d.csv" % k))
        d["conf2"] = os.path.join(TMP, "twice.conf")
        run([GEN, "conf", str(N), os.path.join(TMP, "twice-*.csv"), d["state"], d["conf2"]])
        need_pg = want("csv") or want("pg") or want("eval")
        if need_pg and shutil.which("pg_config"):
            p = run(["sh", os.path.join(ROOT, "tests", "pg_cluster.sh"), "start", pgdir])
            pg_started = True
            d["pg"] = p.stdout.strip().splitlines()[-1]
            psql(d, "CREATE TABLE raw (codice text, periodo date, valore text) "
                    "WITH (autovacuum_enabled = off)")
            psql(d, "\\copy raw FROM '%s' WITH (FORMAT csv, DELIMITER ';', HEADER true)" % d["csv"],
                 env={"PGOPTIONS": "-c datestyle=ISO,DMY"})
            psql(d, "CREATE TABLE kpi AS SELECT codice, periodo, "
                    "replace(valore, ',', '.')::numeric(14,2) AS valore FROM raw")
            if want("eval"):
                tsv = os.path.join(TMP, "eval.tsv")
                run([GEN, "tsv", str(N), str(EVAL_POINTS), tsv])
                psql(d, "CREATE TABLE ev (codice text, periodo date, valore float8)")
                psql(d, "\\copy ev FROM '%s'" % tsv)
                os.unlink(tsv)
            psql(d, "VACUUM ANALYZE")
            psql(d, "CHECKPOINT")
            os.sync()
            log("PostgreSQL ready: %s" % d["pg"])
        elif need_pg:
            log("no PostgreSQL (pg_config missing): the psql references are skipped")
        if want("csv"):
            bench_csv(d)
        if want("pg") and d.get("pg"):
            bench_pg(d)
        if want("eval"):
            bench_eval(d)
        if want("webhook"):
            bench_webhook(d)
        if want("email"):
            bench_email(d)
        if want("idle"):
            bench_idle()
        if want("once"):
            bench_once(d)
        out = {"machine": MACHINE, "scale": {"name": opts.scale, "indicators": N, "months": M,
                                             "rows": N * M, "eval_points": EVAL_POINTS,
                                             "runs": RUNS},
               "seconds": round(time.monotonic() - T0, 1), "figures": FIGURES}
        with open(RESULTS + ".tmp", "w") as f:
            json.dump(out, f, indent=1)
            f.write("\n")
        os.replace(RESULTS + ".tmp", RESULTS)
        text = table()
        print(text)
        print("\nwritten: %s (%.0fs)" % (os.path.relpath(RESULTS), time.monotonic() - T0))
        update_readme(text)
    finally:
        for p in list(PROCS):
            stop(p)
        if pg_started or os.path.isdir(pgdir):
            subprocess.run(["sh", os.path.join(ROOT, "tests", "pg_cluster.sh"), "stop", pgdir],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if KEEP:
            log("kept %s" % TMP)
        else:
            shutil.rmtree(TMP, ignore_errors=True)


if __name__ == "__main__":
    main()
