#!/usr/bin/env python3
"""Generates the demo data of "Comune di Borgo Fittizio" (conf/demo/*.csv).

The files are written the way Italian Excel exports them: ';' separator,
decimal comma, '.' for thousands, dates dd/mm/yyyy (first day of the month),
CRLF line endings.  ragioneria.csv and urp.csv are "CSV (delimitato dal
separatore di elenco)", i.e. Windows-1252; anagrafe.csv is "CSV UTF-8" (with
a BOM); the other two are plain UTF-8.  urp.csv is a wide sheet (one row per
indicator, one column per month); the others are long (one row per value).

The data covers January 2025 to October 2026 and tells a story at the demo
date, 2026-11-20T09:00 (`make demo`): most indicators on target, four warnings
(one only because its yearly forecast misses), two critical, one late, one
waiting for a second month out of target before it alerts.  EXPECTED below
lists it; after writing the files this script reads them back, evaluates them
with the rules of lib/evaluate.h and stops with an error if the story does not
hold, so a change of numbers cannot silently break the demo.

It also carries the imperfections real exports have: "n.d." cells (missing,
not zero), a value with a typo ("82,5,3", reported as a bad row), and an
indicator the quality office does not monitor (ANA-05, counted and reported
once as unknown).

Standard library only, fixed seed: the output is the same on every run.
Usage: python3 conf/demo/generate.py [--check]   (--check: verify, write nothing)
"""

import csv
import datetime
import io
import os
import random
import sys

SEED = 20261120
HERE = os.path.dirname(os.path.abspath(__file__))
NOW = (2026, 11, 20, 9, 0)          # the evaluation "now" of the demo
MONTHS = [(y, m) for y in (2025, 2026) for m in range(1, 13)][:22]   # gen 2025 .. ott 2026
QUARTERS = [(y, m) for y in (2025, 2026) for m in (1, 4, 7, 10)][:7]  # Q1 2025 .. Q3 2026
MESI = ["Gen", "Feb", "Mar", "Apr", "Mag", "Giu", "Lug", "Ago", "Set", "Ott", "Nov", "Dic"]

# The indicators: the same thresholds as conf/demo.conf (which is the one the
# daemon reads; keep them in step).  "model" makes the series: a straight line
# from a (gen 2025) to b (ott 2026), an offset for some calendar months, gaussian
# noise of sd `noise`, then `pins` (exact values for given months), rounded to
# `dec` decimals and kept within `clip`.
INDICATORS = [
    # --- Ragioneria ------------------------------------------------------
    dict(id="RAG-01", file="ragioneria", unit="giorni", dec=1,
         name="Tempo medio di pagamento delle fatture",
         better="lower", target=30, critical=45, year=("mean", 30), late=20,
         # a bad 2025, slow start of 2026 (year-end closing), then better:
         # October on target, but the 2026 mean cannot get back to 30
         model=dict(a=34, b=29, noise=1.2, season={1: 6, 2: 4, 3: 2.5, 8: 1.5},
                    pins={(2026, 1): 41.2, (2026, 2): 39.6, (2026, 3): 37.9,
                          (2026, 4): 35.0, (2026, 5): 33.6, (2026, 6): 32.4,
                          (2026, 9): 29.1, (2026, 10): 27.6}, clip=(15, 60)),
         expect="warning"),
    dict(id="RAG-02", file="ragioneria", unit="giorni", dec=2, period="quarter",
         name="Indice di tempestività dei pagamenti (ITP)",
         better="lower", target=0, critical=10, late=45,
         values=[4.12, 1.35, -2.40, -3.85, -1.20, -4.33, -5.07],
         expect="ok"),
    dict(id="RAG-03", file="ragioneria", unit="%", dec=1,
         name="Fatture pagate entro la scadenza",
         better="higher", target=90, critical=80, late=20,
         model=dict(a=86, b=93, noise=1.3, season={1: -3, 8: -2},
                    pins={(2026, 10): 93.1}, clip=(0, 100)),
         expect="ok"),
    dict(id="RAG-04", file="ragioneria", unit="euro", dec=2,
         name="Incassi da recupero dell'evasione tributaria",
         better="higher", target=30000, critical=20000, year=("sum", 360000), late=30,
         model=dict(a=31000, b=37000, noise=2500, season={6: 6000, 8: -7000, 12: 9000},
                    pins={(2026, 10): 38412.50}, clip=(0, 200000)),
         expect="ok"),
    # --- Anagrafe --------------------------------------------------------
    dict(id="ANA-01", file="anagrafe", unit="giorni", dec=1,
         name="Tempo di rilascio della carta d'identità elettronica (CIE)",
         better="lower", target=10, critical=20, late=20, confirm=2,
         # October out of target for the first time: waits for confirmation
         model=dict(a=8.5, b=7.5, noise=0.7, season={7: 1, 8: 1.3},
                    pins={(2026, 9): 8.0, (2026, 10): 12.5}, clip=(2, 9.8)),
         expect="ok"),
    dict(id="ANA-02", file="anagrafe", unit="%", dec=1,
         name="Certificati anagrafici emessi online",
         better="higher", target=60, critical=40, year=("last", 70), late=20,
         model=dict(a=38, b=72, noise=1.5, season={},
                    pins={(2026, 10): 72.4}, clip=(0, 100)),
         expect="ok"),
    dict(id="ANA-03", file="anagrafe", unit="%", dec=1,
         name="Pratiche di residenza concluse entro 45 giorni",
         better="higher", target=95, late=30,          # no critical: any miss is critical
         model=dict(a=96.5, b=97.5, noise=0.8, season={},
                    pins={(2025, 8): None, (2026, 10): 97.2}, clip=(95.3, 100)),
         expect="ok"),
    dict(id="ANA-04", file="anagrafe", unit="n.", dec=0,
         name="Certificati anagrafici rilasciati",
         better="higher", target=1500, critical=1200, year=("sum", 18000), late=20,
         model=dict(a=1750, b=1900, noise=70, season={8: -420, 12: -150, 9: 80},
                    pins={(2026, 10): 1912}, clip=(0, 5000)),
         expect="ok"),
    # --- Servizi sociali -------------------------------------------------
    dict(id="SOC-01", file="servizi-sociali", unit="%", dec=1,
         name="Prese in carico entro 30 giorni dalla domanda",
         better="higher", target=90, critical=75, late=15,
         # the October figure never came: late since 16/11/2026
         model=dict(a=88, b=92, noise=1.5, season={8: -4},
                    pins={(2026, 9): 91.6, (2026, 10): None}, clip=(0, 100)),
         expect="late"),
    dict(id="SOC-02", file="servizi-sociali", unit="ore", dec=1,
         name="Ore di assistenza domiciliare erogate",
         better="higher", target=1200, critical=1000, year=("sum", 14400), late=30,
         model=dict(a=1260, b=1330, noise=35, season={8: -150, 12: -60},
                    pins={(2026, 10): 1318.5}, clip=(0, 5000)),
         expect="ok"),
    dict(id="SOC-03", file="servizi-sociali", unit="giorni", dec=1,
         name="Tempo di attesa per il primo colloquio con l'assistente sociale",
         better="lower", target=7, critical=14, late=20, confirm=2,
         # one isolated bad month (March 2026: not alerted), then two in a row
         model=dict(a=5.8, b=6.2, noise=0.5, season={},
                    pins={(2026, 3): 9.0, (2026, 9): 9.4, (2026, 10): 10.8}, clip=(3, 6.9)),
         expect="warning"),
    dict(id="SOC-04", file="servizi-sociali", unit="%", dec=1,
         name="Tasso di occupazione del centro diurno per anziani",
         better="range", min=80, max=95, critical_min=70, critical_max=100, late=20,
         model=dict(a=85, b=91, noise=1.8, season={8: -6},
                    pins={(2026, 10): 97.5}, clip=(71, 94.5)),
         expect="warning"),
    # --- Lavori pubblici -------------------------------------------------
    dict(id="LLPP-01", file="lavori-pubblici", unit="%", dec=1,
         name="Segnalazioni di guasti chiuse entro 7 giorni",
         better="higher", target=80, critical=60, year=("mean", 80), late=20,
         model=dict(a=84, b=74, noise=1.8, season={8: -4},
                    pins={(2026, 10): 73.4}, clip=(0, 100)),
         expect="warning"),
    dict(id="LLPP-02", file="lavori-pubblici", unit="giorni", dec=1,
         name="Tempo medio di intervento sulle buche stradali",
         better="lower", target=5, critical=10, late=20,
         model=dict(a=4.2, b=4.6, noise=0.5, season={11: 1.0, 12: 1.5, 1: 1.2, 2: 0.8},
                    pins={(2026, 9): 7.8, (2026, 10): 11.6}, clip=(1.5, 9.5)),
         expect="critical"),
    dict(id="LLPP-03", file="lavori-pubblici", unit="%", dec=1,
         name="Guasti dell'illuminazione pubblica riparati entro 48 ore",
         better="higher", target=90, critical=75, late=20,
         model=dict(a=92, b=95, noise=1.5, season={8: -3},
                    pins={(2026, 10): 94.0}, clip=(0, 100)),
         expect="ok"),
    dict(id="LLPP-04", file="lavori-pubblici", unit="n.", dec=0,
         name="Interventi di manutenzione programmata eseguiti",
         better="higher", target=40, critical=30, year=("sum", 480), late=20,
         model=dict(a=44, b=48, noise=2.5, season={8: -17, 12: -6},
                    pins={(2026, 10): 47}, clip=(0, 200)),
         expect="ok"),
    # --- URP (wide sheet) ------------------------------------------------
    dict(id="URP-01", file="urp", unit="scala 1-5", dec=2,
         name="Soddisfazione degli utenti dello sportello",
         desc="Qualità percepita dello sportello (scala 1-5)",
         better="higher", target=4.0, critical=3.5, year=("mean", 4.0),
         model=dict(a=4.12, b=4.28, noise=0.06, season={},
                    pins={(2025, 8): None, (2026, 10): 4.31}, clip=(1, 5)),
         expect="ok"),
    dict(id="URP-02", file="urp", unit="%", dec=1,
         name="Reclami gestiti entro 30 giorni",
         desc="Reclami con risposta entro 30 giorni",
         better="higher", target=95, critical=85, late=20,
         model=dict(a=97, b=96, noise=1.0, season={},
                    pins={(2026, 8): 93.5, (2026, 9): 88.0, (2026, 10): 81.3}, clip=(95.2, 100)),
         expect="critical"),
    dict(id="URP-03", file="urp", unit="giorni", dec=1,
         name="Tempo medio di risposta alle richieste di accesso agli atti",
         desc="Accesso documentale: giorni medi di risposta (termine di legge 30)",
         better="lower", target=30, late=20,           # no critical: the legal term
         model=dict(a=19, b=15, noise=2.0, season={8: 4},
                    pins={(2026, 10): 15.2}, clip=(5, 27)),
         expect="ok"),
    dict(id="URP-04", file="urp", unit="%", dec=1,
         name="Chiamate al centralino con risposta",
         desc="Qualità del servizio telefonico: chiamate con risposta",
         better="higher", target=90, critical=80, late=20,
         model=dict(a=91.5, b=94, noise=1.2, season={},
                    pins={(2026, 10): 93.7}, clip=(90.2, 100)),
         expect="ok"),
]

# Rows of an indicator nobody configured (the export has it, the config does not).
UNKNOWN = dict(id="ANA-05", file="anagrafe", dec=0, name="Matrimoni civili celebrati",
               model=dict(a=6, b=7, noise=2.5, season={5: 5, 6: 7, 7: 6, 9: 5, 1: -3},
                          pins={}, clip=(0, 40)))

# The typo: LLPP-01, March 2025, "82,5" typed as "82,5,3".
TYPO = ("LLPP-01", (2025, 3), "82,5,3")

EXPECTED = {ind["id"]: ind["expect"] for ind in INDICATORS}


# --- series -------------------------------------------------------------

def series(ind, rng):
    """{(y, m): value or None} for one indicator."""
    if "values" in ind:
        return {q: v for q, v in zip(QUARTERS, ind["values"])}
    mdl = ind["model"]
    out = {}
    n = len(MONTHS)
    for t, (y, m) in enumerate(MONTHS):
        v = mdl["a"] + (mdl["b"] - mdl["a"]) * t / (n - 1)
        v += mdl["season"].get(m, 0)
        v += rng.gauss(0, mdl["noise"])
        lo, hi = mdl["clip"]
        v = min(max(v, lo), hi)
        out[(y, m)] = round(v, ind["dec"])
    for k, v in mdl["pins"].items():
        out[k] = v
    return out


def it_number(v, dec):
    """1234.5 -> '1.234,50' (dec=2), as Excel writes it with an Italian locale."""
    s = f"{abs(v):,.{dec}f}".replace(",", "X").replace(".", ",").replace("X", ".")
    return ("-" + s) if v < 0 else s


def it_date(y, m):
    return f"01/{m:02d}/{y}"


def write_csv(name, rows, encoding):
    """CRLF, ';', quotes only where needed, like Excel."""
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=";", lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    w.writerows(rows)
    data = buf.getvalue().encode(encoding)
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)


def build(rng):
    data = {ind["id"]: series(ind, rng) for ind in INDICATORS}
    unknown = series(UNKNOWN, rng)
    return data, unknown


def cell(ind, v):
    if v is None:
        return "n.d."
    return it_number(v, ind["dec"])


def write_files(data, unknown):
    notes = {("LLPP-02", (2026, 10)): "Piogge intense; squadre ridotte",
             ("LLPP-02", (2026, 9)): "Maltempo",
             ("LLPP-04", (2025, 8)): "Ferie estive",
             ("LLPP-04", (2026, 8)): "Ferie estive",
             ("LLPP-01", (2026, 10)): "Due operai in meno da settembre"}

    # Ragioneria: Windows-1252, header with "Unità", period then code order.
    rows = [["Codice", "Indicatore", "Periodo", "Valore", "Unità"]]
    for (y, m) in MONTHS:
        for ind in INDICATORS:
            if ind["file"] != "ragioneria":
                continue
            s = data[ind["id"]]
            if (y, m) in s:
                rows.append([ind["id"], ind["name"], it_date(y, m), cell(ind, s[(y, m)]),
                             ind["unit"]])
    write_csv("ragioneria.csv", rows, "cp1252")

    # Anagrafe: "CSV UTF-8" (BOM), columns in another order, one unknown code.
    rows = [["Mese", "Codice", "Descrizione", "Valore"]]
    for (y, m) in MONTHS:
        for ind in INDICATORS:
            if ind["file"] == "anagrafe":
                rows.append([it_date(y, m), ind["id"], ind["name"],
                             cell(ind, data[ind["id"]][(y, m)])])
        rows.append([it_date(y, m), UNKNOWN["id"], UNKNOWN["name"],
                     cell(UNKNOWN, unknown[(y, m)])])
    write_csv("anagrafe.csv", rows, "utf-8-sig")

    # Servizi sociali: UTF-8, one block per indicator, percentages as "91,6%".
    rows = [["Codice", "Descrizione", "Mese", "Valore"]]
    for ind in INDICATORS:
        if ind["file"] != "servizi-sociali":
            continue
        for (y, m) in MONTHS:
            v = data[ind["id"]][(y, m)]
            if v is None and ind["id"] == "SOC-01":
                continue            # the October row was never sent
            c = cell(ind, v)
            if ind["unit"] == "%" and v is not None:
                c += "%"
            rows.append([ind["id"], ind["name"], it_date(y, m), c])
    write_csv("servizi-sociali.csv", rows, "utf-8")

    # Lavori pubblici: UTF-8, a Note column, the typo.
    rows = [["Codice", "Mese", "Valore", "Note"]]
    for (y, m) in MONTHS:
        for ind in INDICATORS:
            if ind["file"] != "lavori-pubblici":
                continue
            c = cell(ind, data[ind["id"]][(y, m)])
            if (ind["id"], (y, m)) == TYPO[:2]:
                c = TYPO[2]
            rows.append([ind["id"], it_date(y, m), c, notes.get((ind["id"], (y, m)), "")])
    write_csv("lavori-pubblici.csv", rows, "utf-8")

    # URP: wide, Windows-1252, month headers "Gen 2025" ... "Ott 2026".
    rows = [["Codice", "Descrizione"] + [f"{MESI[m - 1]} {y}" for (y, m) in MONTHS]]
    for ind in INDICATORS:
        if ind["file"] == "urp":
            rows.append([ind["id"], ind["desc"]]
                        + [cell(ind, data[ind["id"]][k]) for k in MONTHS])
    write_csv("urp.csv", rows, "cp1252")


# --- reading back, as traguardo would -----------------------------------

def parse_number(s):
    """Italian number -> float, None for a missing marker; ValueError if bad."""
    t = s.strip()
    if t.lower() in ("", "n.d.", "n/d", "nd", "-", "--", "n/a", "n.a."):
        return None
    if t.endswith("%"):
        t = t[:-1].strip()
    neg = t.startswith("-")
    if neg or t.startswith("+"):
        t = t[1:]
    intpart, _, frac = t.partition(",")
    if "," in frac or not frac.isdigit() and frac != "":
        raise ValueError(s)
    groups = intpart.split(".")
    if not groups[0].isdigit() or any(len(g) != 3 or not g.isdigit() for g in groups[1:]):
        raise ValueError(s)
    if len(groups) > 1 and len(groups[0]) > 3:
        raise ValueError(s)
    v = float("".join(groups) + ("." + frac if frac else ""))
    return -v if neg else v


def parse_month(s):
    s = s.strip()
    if "/" in s:
        d, m, y = s.split("/")
        assert d == "01"
        return int(y), int(m)
    mon, y = s.split()
    return int(y), MESI.index(mon.capitalize()) + 1


def read_back():
    """{id: {(y, m): value}}, plus counts of bad, missing and unknown rows."""
    known = {ind["id"] for ind in INDICATORS}
    out = {i: {} for i in known}
    stats = dict(bad=0, missing=0, unknown=0)

    def put(code, ym, text):
        if code not in known:
            stats["unknown"] += 1
            return
        try:
            v = parse_number(text)
        except ValueError:
            stats["bad"] += 1
            return
        if v is None:
            stats["missing"] += 1
        else:
            out[code][ym] = v

    files = {"ragioneria.csv": "cp1252", "anagrafe.csv": "utf-8-sig",
             "servizi-sociali.csv": "utf-8", "lavori-pubblici.csv": "utf-8",
             "urp.csv": "cp1252"}
    for name, enc in files.items():
        raw = open(os.path.join(HERE, name), "rb").read()
        assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b""), name
        assert raw.startswith(b"\xef\xbb\xbf") == (enc == "utf-8-sig"), name
        rows = list(csv.reader(io.StringIO(raw.decode(enc), newline=""), delimiter=";"))
        hdr = rows[0]
        if name == "urp.csv":
            for r in rows[1:]:
                for h, c in zip(hdr[2:], r[2:]):
                    put(r[0], parse_month(h), c)
            continue
        ic, pc = hdr.index("Codice"), hdr.index("Mese" if "Mese" in hdr else "Periodo")
        vc = hdr.index("Valore")
        for r in rows[1:]:
            put(r[ic], parse_month(r[pc]), r[vc])
    return out, stats


# --- evaluation, by the rules of lib/evaluate.h -------------------------

def _ordinal(y, m, d):
    """Civil day number (only differences matter)."""
    return datetime.date(y, m, d).toordinal()


def next_period(kind, ym):
    y, m = ym
    step = 3 if kind == "quarter" else 1
    m += step
    return (y + (m - 1) // 12, (m - 1) % 12 + 1)


def prev_period(kind, ym):
    y, m = ym
    step = 3 if kind == "quarter" else 1
    m -= step
    return (y + (m - 1) // 12, (m - 1) % 12 + 1)


def light(ind, v):
    b = ind["better"]
    if b == "higher":
        if v >= ind["target"]:
            return "ok"
        if "critical" in ind and v >= ind["critical"]:
            return "warning"
        return "critical"
    if b == "lower":
        if v <= ind["target"]:
            return "ok"
        if "critical" in ind and v <= ind["critical"]:
            return "warning"
        return "critical"
    if ind["min"] <= v <= ind["max"]:
        return "ok"
    if ind["critical_min"] <= v <= ind["critical_max"]:
        return "warning"
    return "critical"


def forecast(ind, s, year):
    kind = ind.get("period", "month")
    count = 4 if kind == "quarter" else 12
    step = 3 if kind == "quarter" else 1
    pts = [((m - 1) // step, v) for (y, m), v in s.items() if y == year]
    n = len(pts)
    if n == 1:
        a, b = pts[0][1], 0.0
    else:
        mx = sum(p[0] for p in pts) / n
        my = sum(p[1] for p in pts) / n
        sxx = sum((p[0] - mx) ** 2 for p in pts)
        b = sum((p[0] - mx) * (p[1] - my) for p in pts) / sxx
        a = my - b * mx
    have = {p[0] for p in pts}
    fill = [a + b * i for i in range(count) if i not in have]
    agg, _target = ind["year"]
    if agg == "sum":
        if all(p[1] >= 0 for p in pts):
            fill = [max(0.0, f) for f in fill]
        return sum(p[1] for p in pts) + sum(fill)
    if agg == "mean":
        return (sum(p[1] for p in pts) + sum(fill)) / count
    return a + b * (count - 1)


def evaluate(ind, s):
    """(status, light, latest period, value, forecast, note)"""
    kind = ind.get("period", "month")
    now_s = _ordinal(*NOW[:3]) * 86400 + NOW[3] * 3600 + NOW[4] * 60
    ny, nm = NOW[0], NOW[1]
    cur = (ny, (nm - 1) // 3 * 3 + 1) if kind == "quarter" else (ny, nm)
    note = ""
    if "late" in ind:
        p = cur
        while _ordinal(*next_period(kind, p), 1) * 86400 + ind["late"] * 86400 > now_s:
            p = prev_period(kind, p)
        if p not in s:
            return ("late", None, p, None, None, "no value for %d-%02d" % p)
    started = sorted(k for k in s if _ordinal(k[0], k[1], 1) * 86400 <= now_s)
    if not started:
        return ("unknown", None, None, None, None, "")
    last = started[-1]
    v = s[last]
    lt = light(ind, v)
    status = lt
    n = ind.get("confirm", 1)
    if n > 1 and lt != "ok":
        run = []
        p = last
        while p in s and light(ind, s[p]) != "ok" and len(run) < n:
            run.append(light(ind, s[p]))
            p = prev_period(kind, p)
        if len(run) < n:
            status = "ok"
            note = "waiting for confirmation (%d of %d)" % (len(run), n)
        else:
            status = "warning" if "warning" in run else "critical"
    fc = None
    if "year" in ind:
        fc = forecast(ind, s, last[0])
        agg, target = ind["year"]
        misses = fc < target if ind["better"] == "higher" else fc > target
        if misses:
            note = (note + "; " if note else "") + "forecast misses %s %g" % (agg, target)
            if status == "ok":
                status = "warning"
        else:
            note = (note + "; " if note else "") + "forecast meets %s %g" % (agg, target)
    return (status, lt, last, v, fc, note)


def check():
    data, stats = read_back()
    ok = True
    counts = {}
    print("%-8s %-9s %-9s %-8s %12s %12s  %s" % ("id", "expected", "status", "period",
                                                  "value", "forecast", "notes"))
    for ind in INDICATORS:
        st, lt, p, v, fc, note = evaluate(ind, data[ind["id"]])
        counts[st] = counts.get(st, 0) + 1
        mark = "" if st == ind["expect"] else "   <-- MISMATCH"
        ok = ok and not mark
        print("%-8s %-9s %-9s %-8s %12s %12s  light %s%s%s" % (
            ind["id"], ind["expect"], st, "%d-%02d" % p if p else "-",
            "-" if v is None else "%.2f" % v, "-" if fc is None else "%.2f" % fc,
            lt, "; " + note if note else "", mark))
    print("statuses:", ", ".join("%d %s" % (n, k) for k, n in sorted(counts.items())))
    print("rows: %d bad, %d missing (n.d.), %d for unknown indicators"
          % (stats["bad"], stats["missing"], stats["unknown"]))
    if stats["bad"] != 1 or stats["missing"] != 2 or stats["unknown"] != len(MONTHS):
        ok = False
        print("unexpected counts of imperfect rows")
    return ok


def main():
    if "--check" not in sys.argv[1:]:
        rng = random.Random(SEED)
        data, unknown = build(rng)
        write_files(data, unknown)
    if not check():
        sys.exit("generate.py: the demo data does not tell the intended story")


if __name__ == "__main__":
    main()
