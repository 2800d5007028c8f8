#!/bin/sh
# End-to-end tests of `traguardo report` on a copy of the demo: the journal
# filled by `once`, then the report of October 2026 as text, CSV and HTML,
# read without a lock; bad arguments; hostile names in the configuration.
. "$(dirname "$0")/lib.sh"

cp -r "$TESTS_DIR/../conf" "$T/conf"
C="$T/conf/demo.conf"
# nothing listens on port 9 of the loopback: the messages stay in the outbox (exit 4)
sed -i -e 's|smtp://localhost:587"; starttls = true|smtp://127.0.0.1:9"; starttls = false|' \
	-e 's|https://example.invalid/webhook|http://127.0.0.1:9/webhook|' "$C"
run "once fills the journal" 4 "$TRAGUARDO" -c "$C" once --now 2026-11-20T09:00

# ---------------------------------------------------------------- text
run "report text" 0 "$TRAGUARDO" -c "$C" report --month 2026-10
contains "text: title" "$T/out" "riesame della direzione, ottobre 2026"
contains "text: RAG-01 and its status" "$T/out" "attenzione    RAG-01"
contains "text: RAG-01 forecast" "$T/out" "32,2 giorni (mancato)"
contains "text: twelve periods across the year" "$T/out" "11/2025 29,3"
# the alerts of `once` went on 20/11/2026 (sent.log): none in October
contains "text: no alert in October (row)" "$T/out" "                Avvisi inviati: 0"
if grep -qxF "Avvisi inviati: 0" "$T/out"; then ok "text: no alert in October (summary)"
else notok "text: no alert in October (summary)" "$(tail -n 3 "$T/out")"; fi
lacks "text: no 'no record' wording" "$T/out" "nessun registro"
lacks "text: no 'not tracked' wording" "$T/out" "non registrati"
run "report text, November" 0 "$TRAGUARDO" -c "$C" report --month 2026-11
contains "text: RAG-01 alerted on the 20th" "$T/out" "                Avvisi inviati: 1 (ultimo 20/11/2026)"
contains "text: LLPP-02 in three messages" "$T/out" "                Avvisi inviati: 3 (ultimo 20/11/2026)"
if grep -qxF "Avvisi inviati: 11 per 7 indicatori (ultimo 20/11/2026)" "$T/out"; then ok "text: November total"
else notok "text: November total" "$(tail -n 3 "$T/out")"; fi
contains "sent.log: one line per (event, message)" "$(dirname "$C")/../build/demo-state/sent.log" "	RAG-01	firing	warning	posta	"
run "report default format is text" 0 "$TRAGUARDO" -c "$C" report --month 2026-10 --format text
contains "text: explicit format" "$T/out" "RAG-01"

# ---------------------------------------------------------------- csv
run "report csv" 0 "$TRAGUARDO" -c "$C" report --month 2026-10 --format csv
cp "$T/out" "$T/report.csv"
if [ "$(head -c 3 "$T/report.csv" | od -An -tx1 | tr -d ' ')" = "efbbbf" ]; then
	ok "csv: UTF-8 BOM"; else notok "csv: UTF-8 BOM" "$(head -c 20 "$T/report.csv" | od -c)"; fi
contains "csv: ';' separator" "$T/report.csv" "reparto;id;indicatore;"
contains "csv: decimal comma" "$T/report.csv" ";29,3;31,9;"
if out=$($PY - "$T/report.csv" ';' <<'PY' 2>&1
import csv, sys
rows = list(csv.reader(open(sys.argv[1], encoding='utf-8-sig', newline=''), delimiter=sys.argv[2]))
assert len(rows) == 21, len(rows)
assert all(len(r) == len(rows[0]) for r in rows), [len(r) for r in rows]
bad = [c for r in rows for c in r if c[:1] in ('=', '+', '@', '\t', '\r')
       or (c[:1] == '-' and not c[1:2].isdigit())]
assert not bad, bad
r = {x[1]: x for x in rows[1:]}
assert r['RAG-01'][7] == 'attenzione', r['RAG-01']
assert rows[0][-2:] == ['avvisi inviati', 'ultimo avviso'], rows[0][-2:]
assert r['RAG-01'][-2:] == ['0', ''], r['RAG-01'][-2:]
PY
); then ok "csv: well formed, 21 rows, no formula cell"; else notok "csv: well formed" "$out"; fi

# ---------------------------------------------------------------- html
run "report html" 0 "$TRAGUARDO" -c "$C" report --month 2026-10 --format html
cp "$T/out" "$T/report.html"
if out=$($PY - "$T/report.html" <<'PY' 2>&1
import html.parser, sys
class P(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(); self.stack = []
    def handle_starttag(self, tag, a):
        if tag not in ('meta', 'br'): self.stack.append(tag)
    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, (tag, self.stack[-5:])
        self.stack.pop()
p = P(); p.feed(open(sys.argv[1], encoding='utf-8').read()); p.close()
assert p.stack == [], p.stack
PY
); then ok "html: parses, tags balanced"; else notok "html: parses" "$out"; fi
lacks "html: no script" "$T/report.html" "<script"
lacks "html: no http URL" "$T/report.html" "http://"
lacks "html: no https URL" "$T/report.html" "https://"
contains "html: A4 print stylesheet" "$T/report.html" "@page{size:A4"
contains "html: RAG-01" "$T/report.html" "RAG-01"
contains "html: alerts column" "$T/report.html" "<th>Avvisi inviati</th>"
contains "html: alerts, October" "$T/report.html" "<td class=\"n\">0</td></tr>"
lacks "html: no 'no record' wording" "$T/report.html" "nessun registro"
lacks "html: no 'not tracked' wording" "$T/report.html" "egistrati in questa versione"

# ---------------------------------------------------------------- English
sed 's/language = "it"/language = "en"/' "$C" >"$T/conf/demo-en.conf"
run "report csv en" 0 "$TRAGUARDO" -c "$T/conf/demo-en.conf" report --month 2026-10 --format csv
contains "csv en: ',' separator" "$T/out" "department,id,indicator,"
contains "csv en: decimal point" "$T/out" ",29.3,31.9,"
run "report csv en, November" 0 "$TRAGUARDO" -c "$T/conf/demo-en.conf" report --month 2026-11 --format csv
contains "csv en: alerts and the last day" "$T/out" ",3,2026-11-20"

# ---------------------------------------------------------------- usage
run "bad --month" 2 "$TRAGUARDO" -c "$C" report --month 2026-13
contains "bad --month says why" "$T/err" "'2026-13' is not a month"
run "bad --month form" 2 "$TRAGUARDO" -c "$C" report --month 10/2026
run "a month not begun" 2 "$TRAGUARDO" -c "$C" report --month 9999-12
contains "a month not begun: says so" "$T/err" "9999-12 has not begun"
run "bad --format" 2 "$TRAGUARDO" -c "$C" report --format pdf
contains "bad --format says why" "$T/err" "'pdf' is not one of text, csv, html"
run "stray argument" 2 "$TRAGUARDO" -c "$C" report extra
run "default month" 0 "$TRAGUARDO" -c "$C" report

# ---------------------------------------------------------------- hostile names
mkdir -p "$T/h"
cat >"$T/h/h.conf" <<'EOF2'
daemon = { state_dir = "state"; language = "it"; organization = "<script>x</script>"; };
sources = ( { name = "s"; type = "csv"; path = "h.csv"; } );
indicators = (
  { id = "H-1"; name = "=cmd|' /C calc'!A0"; department = "+Dip"; unit = "@u"; target = 1.0; },
  { id = "H-2"; name = "-1+1"; department = "<img src=x>"; process = "@proc"; target = 1.0; }
);
EOF2
printf 'Codice;Mese;Valore\r\nH-1;01/10/2026;-5\r\nH-2;01/10/2026;2\r\n' >"$T/h/h.csv"
run "hostile: once" 0 "$TRAGUARDO" -c "$T/h/h.conf" once --now 2026-11-02
run "hostile: csv" 0 "$TRAGUARDO" -c "$T/h/h.conf" report --month 2026-10 --format csv
if out=$($PY - "$T/out" <<'PY' 2>&1
import csv, sys
rows = list(csv.reader(open(sys.argv[1], encoding='utf-8-sig', newline=''), delimiter=';'))
cells = [c for r in rows for c in r]
bad = [c for c in cells if c[:1] in ('=', '+', '@', '\t', '\r')
       or (c[:1] == '-' and not c[1:2].isdigit())]
assert not bad, bad
assert "'=cmd|' /C calc'!A0" in cells and "'+Dip" in cells and "'@u" in cells, cells
assert "'-1+1" in cells and "'@proc" in cells and '-5' in cells, cells
PY
); then ok "hostile: csv cells defused, numbers kept"; else notok "hostile: csv" "$out" "$(cat "$T/out")"; fi
run "hostile: html" 0 "$TRAGUARDO" -c "$T/h/h.conf" report --month 2026-10 --format html
lacks "hostile: html has no injected script" "$T/out" "<script"
lacks "hostile: html has no injected img" "$T/out" "<img"
contains "hostile: html escaped" "$T/out" "&lt;img src=x&gt;"
