#!/usr/bin/python3
"""The reference an IT office would script: Python 3's csv module reading the
Italian export (';', decimal comma, dd/mm/yyyy, Windows-1252) and summing each
indicator's values.  Prints one JSON line like bench.c's: rows, seconds (the
parse only, not the interpreter's start) and the peak RSS."""
import csv, json, sys, time

def kb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return -1

path = sys.argv[1]
t0 = time.monotonic()
sums, rows, bad = {}, 0, 0
with open(path, newline="", encoding="cp1252") as f:
    r = csv.reader(f, delimiter=";")
    next(r)                                   # Codice;Periodo;Valore
    for rec in r:
        try:
            ind, period, value = rec
            d, m, y = period.split("/")
            key = (int(y), int(m), int(d))    # the date parsed, as traguardo does
            v = float(value.replace(".", "").replace(",", "."))
        except ValueError:
            bad += 1
            continue
        rows += 1
        sums[ind] = sums.get(ind, 0.0) + v
sec = time.monotonic() - t0
print(json.dumps({"rows": rows, "bad_rows": bad, "indicators": len(sums), "sec": sec,
                  "hwm_kb": kb("VmHWM")}))
