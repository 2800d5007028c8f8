#!/bin/sh
# Header injection and markup: hostile text in every place an e-mail takes
# it from — indicator names, units, departments, processes, the
# organization, the From display name, subject and intro templates (CR/LF,
# "Bcc:" lines, a lone "." line for SMTP smuggling, U+2028), and a file name
# with CR/LF that ends up in the reason of a failing source (the admins'
# message).  Each .eml is parsed with Python's email package: no Bcc, no
# injected header, exactly the expected To, and the SMTP envelope (the
# server's rcpt_tos) holds exactly the expected recipients.  Control
# characters and malformed addresses in the configuration are refused by
# `check`.  "<script>" is escaped in the HTML part and in `report --format
# html`; CSV report cells starting with = + - @ are defused.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/helpers.sh"

have_aiosmtpd || { echo "ok - injection # SKIP /usr/bin/python3 has no aiosmtpd (apt-get install python3-aiosmtpd)"; exit 0; }
smtp mail; SP=$port

# ---------------------------------------------------------------- refused by check
# refused NAME SETTING: an indicator with SETTING must fail `check`, the message quoting it escaped
refused() {
	cat >"$T/r.conf" <<EOF
daemon = { state_dir = "state"; };
sources = ( { name = "d"; type = "csv"; path = "d.csv"; } );
indicators = ( { id = "A"; name = "a"; department = "d"; target = 90.0; $2 } );
channels = ( { name = "m"; type = "email"; url = "smtp://127.0.0.1:$SP"; starttls = false; from = "a@comune.test"; } );
routes = ( { channels = ["m"]; to = ["@owner"]; } );
EOF
	"$TRAGUARDO" -c "$T/r.conf" check >"$T/out" 2>"$T/err"; got=$?
	if [ "$got" -eq 1 ] && [ "$(tr -d '\n' <"$T/err" | tr -dc '\r\033' | wc -c)" -eq 0 ]; then ok "check refuses $1"
	else notok "check refuses $1" "exit $got" "$(head -c 1000 "$T/err")"; fi
}
refused "CR/LF in a name" 'name = "a\r\nBcc: evil@attacker.test";'
refused "LF in a unit" 'unit = "giorni\nBcc: evil@attacker.test";'
refused "ESC in a department" 'department = "d\x1b[2J";'
refused "NEL (U+0085) in a process" 'process = "p\xc2\x85Bcc: evil@attacker.test";'
refused "two addresses in an owner" 'owner = "ok@comune.test, evil@attacker.test";'
refused "CR/LF in an owner" 'owner = "ok@comune.test\r\nBcc: evil@attacker.test";'
refused "an address with angle brackets inside" 'owner = "ok@comune.test>evil@attacker.test";'

# ---------------------------------------------------------------- hostile but valid text
SCRIPT='<script>alert(\"x\")</script>'
mkdir -p "$T/in" "$T/templates"
printf 'Codice;Mese;Valore\r\nX-01;01/10/2026;50\r\nX-02;01/10/2026;40\r\nX-03;01/10/2026;30\r\nX-04;01/10/2026;20\r\n' >"$T/in/a.csv"
printf 'Codice;Mese;Valore\r\nY-01;01/10/2026;1\r\n' >"$T/y.csv"
# a second source read through a glob: an empty file whose name carries CR/LF
# makes it fail, and its reason (with the file name) goes to the admins
mkdir -p "$T/g"
printf 'Codice;Mese;Valore\r\nG-01;01/10/2026;95\r\n' >"$T/g/a.csv"
: >"$T/g/$(printf 'z\r\nBcc: evil@attacker.test\r\nX-Injected: 1\r\n.csv')"
printf 'Avviso {{count}} {{departments}}\r\nBcc: evil@attacker.test\r\nX-Injected: subject\n' >"$T/templates/subject.it.txt"
printf '%s\r\n.\r\nMAIL FROM:<evil@attacker.test>\r\nRCPT TO:<evil@attacker.test>\r\nDATA\r\n\n.\n{{departments}} {{organization}}\n' \
	'<script>alert(1)</script> {{subject}}' >"$T/templates/intro.it.txt"
cat >"$T/i.conf" <<EOF
daemon = { state_dir = "state"; templates = "templates"; admins = ["ced@comune.test"];
           organization = "Comune <b>di</b> Prova, Bcc: evil@attacker.test"; };
sources = ( { name = "a"; type = "csv"; path = "in/a.csv"; },
            { name = "g"; type = "csv"; path = "g/*.csv"; } );
indicators = (
  { id = "X-01"; name = "$SCRIPT & \"virgolette\" 'apici'"; unit = "<i>giorni</i>";
    department = "Ragioneria $SCRIPT"; process = "Bcc: evil@attacker.test"; owner = "own@comune.test";
    target = 90.0; source = "a"; },
  { id = "X-02"; name = "=HYPERLINK(\"http://attacker.test/\",\"clic\")"; department = "+SUM(1;2)";
    process = "-2+3"; target = 90.0; source = "a"; },
  { id = "X-03"; name = "@SUM(A1:A9)"; department = "Ragioneria $SCRIPT"; unit = "=1+1";
    target = 90.0; source = "a"; },
  { id = "X-04"; name = "riga\u2028separata e $(printf 'x%.0s' $(seq 1 150))"; department = "Ragioneria $SCRIPT";
    target = 90.0; source = "a"; },
  { id = "G-01"; name = "dal glob"; department = "Altro"; target = 90.0; source = "g"; }
);
channels = ( { name = "posta"; type = "email"; url = "smtp://127.0.0.1:$SP"; starttls = false;
    from = "\"Ufficio Qualità, Controllo\" <traguardo@comune.test>"; } );
routes = ( { name = "r"; channels = ["posta"]; to = ["qualita@comune.test", "@owner"]; } );
EOF
run "check accepts the hostile but valid text" 0 "$TRAGUARDO" -c "$T/i.conf" check
run "once with hostile text" 3 "$TRAGUARDO" -c "$T/i.conf" once --now 2026-11-10T09:00
sane "once with hostile text"
check "every message: no Bcc, no injected header, exactly the expected To and envelope" <<'PY'
ms = mails("mail")
assert len(ms) >= 2, len(ms)
seen = set()
for m, meta, raw in ms:
    names = [k.lower() for k in m.keys()]
    assert "bcc" not in names and "x-injected" not in names, names
    assert names.count("to") == 1 and names.count("subject") == 1 and names.count("from") == 1, names
    rc = sorted(a.addr_spec for a in m["To"].addresses)
    assert rc == sorted(meta["rcpt_tos"]), (rc, meta["rcpt_tos"])
    assert "evil@attacker.test" not in meta["rcpt_tos"] and "evil@attacker.test" not in rc
    assert meta["mail_from"] == "traguardo@comune.test", meta["mail_from"]
    assert len(m["From"].addresses) == 1 and m["From"].addresses[0].addr_spec == "traguardo@comune.test", m["From"]
    assert "\n" not in str(m["Subject"]) and "\r" not in str(m["Subject"]), repr(str(m["Subject"]))
    head = raw.split(b"\r\n\r\n", 1)[0]
    for line in head.split(b"\r\n"):
        assert line[:1] in (b" ", b"\t") or re.match(rb"^[A-Za-z0-9-]+:", line), line
        assert not line.lower().startswith((b"bcc", b"x-injected")), line
    assert all(len(l) <= 998 for l in raw.split(b"\r\n")), "line over 998"
    assert b"\n" not in raw.replace(b"\r\n", b""), "bare LF"
    assert b"\r" not in raw.replace(b"\r\n", b""), "bare CR"
    for part in m.walk():
        for k, v in part.items():
            assert not getattr(v, "defects", None), (k, v.defects)
    seen.add(tuple(rc))
assert ("ced@comune.test",) in seen, seen
assert ("own@comune.test", "qualita@comune.test") in seen or ("qualita@comune.test",) in seen, seen
PY
check "the admins' message: the file name with CR/LF is shown escaped, in the body only" <<'PY'
adm = [m for m, meta, raw in mails("mail") if meta["rcpt_tos"] == ["ced@comune.test"]]
assert len(adm) == 1, len(adm)
t = text(adm[0])
assert "empty file" in t and "Bcc: evil@attacker.test" in t, t[:1500]
assert not any(l.lstrip().startswith(("Bcc:", "X-Injected:")) for l in t.splitlines()), t[:1500]
PY
check "HTML part: <script> escaped, never raw" <<'PY'
assert mails("mail")
for m, meta, raw in mails("mail"):
    h = html(m)
    assert "<script" not in h.lower() and "<i>giorni" not in h and "<b>di</b>" not in h, h[:2000]
    if meta["rcpt_tos"] != ["ced@comune.test"]:
        assert "&lt;script&gt;" in h, h[:2000]
        assert "<script>" in text(m), text(m)[:1000]
PY
check "SMTP smuggling: the intro's lone '.' lines did not end the message early" <<'PY'
ms = [m for m, meta, raw in mails("mail") if meta["rcpt_tos"] != ["ced@comune.test"]]
assert ms and all("RCPT TO:<evil@attacker.test>" in text(m) for m in ms), [text(m)[:600] for m in ms]
assert all(m.get_content_type() == "multipart/alternative" and html(m) for m in ms)
PY

run "report --format html" 0 "$TRAGUARDO" -c "$T/i.conf" report --month 2026-10 --format html
check "report html: <script> escaped" <<'PY'
h = open(os.path.join(T, "out"), encoding="utf-8").read()
assert "<script" not in h.lower() and "&lt;script&gt;" in h and "<i>giorni" not in h, h[:3000]
PY
run "report --format csv" 0 "$TRAGUARDO" -c "$T/i.conf" report --month 2026-10 --format csv
check "report csv: cells starting with = + - @ defused" <<'PY'
import csv, io
rows = list(csv.reader(io.StringIO(open(os.path.join(T, "out"), encoding="utf-8-sig").read()), delimiter=";"))
cells = [c for r in rows for c in r]
bad = [c for c in cells if c[:1] in ("=", "+", "@", "\t", "\r") or (c[:1] == "-" and not re.fullmatch(r"-[0-9.,]+%?", c))]
assert not bad, bad
for want in ['=HYPERLINK("http://attacker.test/","clic")', "+SUM(1;2)", "-2+3", "@SUM(A1:A9)"]:
    assert "'" + want in cells, (want, [c for c in cells if want[1:5] in c])
PY

exit 0
