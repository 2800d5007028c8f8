#!/bin/sh
# The systemd side: the unit built from systemd/traguardo.service.in must pass
# `systemd-analyze verify` silently and rate 2.0 or lower in
# `systemd-analyze security`; `make install` / `make uninstall` into a
# DESTDIR (files, modes, a configuration never overwritten), the sysusers.d
# and tmpfiles.d snippets applied to that root, and the manual pages.
. "$(dirname "$0")/lib.sh"
REPO=$(cd "$TESTS_DIR/.." && pwd)
B=$(cd "$(dirname "$TRAGUARDO")" && pwd)

# ---------------------------------------------------------------- the unit
mkdir -p "$T/unit"
U="$T/unit/traguardo.service"
sed "s|@BINDIR@|$B|g" "$REPO/systemd/traguardo.service.in" >"$U"
if grep -q '@[A-Z_]*@' "$U"; then notok "template fully substituted" "$(grep '@[A-Z_]*@' "$U")"
else ok "template fully substituted"; fi

missing=""
for line in 'Type=notify' "ExecStartPre=$B/traguardo check" "ExecStart=$B/traguardo run" \
	'ExecReload=/bin/kill -HUP $MAINPID' 'WatchdogSec=60' 'Restart=on-failure' 'RestartSec=30s' \
	'User=traguardo' 'Group=traguardo' 'StateDirectory=traguardo' 'StateDirectoryMode=0750' \
	'ConfigurationDirectory=traguardo' 'NotifyAccess=main' 'UMask=0027' \
	'Environment=TRAGUARDO_CONFIG=/etc/traguardo/traguardo.conf' \
	'ProtectSystem=strict' 'ProtectHome=yes' 'PrivateTmp=yes' 'PrivateDevices=yes' \
	'NoNewPrivileges=yes' 'CapabilityBoundingSet=' 'AmbientCapabilities=' \
	'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6' 'SystemCallFilter=@system-service' \
	'SystemCallFilter=~@privileged @resources' 'SystemCallArchitectures=native' \
	'MemoryDenyWriteExecute=yes' 'PrivateUsers=yes' 'ProtectProc=invisible' 'ProcSubset=pid' \
	'DevicePolicy=closed' 'RemoveIPC=yes'; do
	grep -qxF -- "$line" "$U" || missing="$missing
$line"
done
if [ -z "$missing" ]; then ok "unit has the required settings"
else notok "unit has the required settings" "missing:$missing"; fi
if grep -q '^IPAddressDeny=\|^PrivateNetwork=yes' "$U"; then notok "network left open" "$(grep '^IPAddress\|^PrivateNetwork' "$U")"
else ok "network left open"; fi

# verify_unit FILE: systemd-analyze verify must exit 0 and print nothing,
# except (tolerated) remarks about the user traguardo when it does not exist;
# anything about keys, sections, parsing or executables always fails.
verify_unit() {
	systemd-analyze verify --man=no "$1" >"$T/vout" 2>"$T/verr"
	vrc=$?
	cat "$T/vout" >>"$T/verr"
	grep -vE "[Uu]ser 'traguardo'|[Gg]roup 'traguardo'" "$T/verr" >"$T/vbad"
	grep -E 'Unknown (key|section|lvalue)|Failed to parse|ignoring|not executable|[Ii]nvalid' "$T/verr" >>"$T/vbad"
	[ "$vrc" -eq 0 ] && [ ! -s "$T/vbad" ]
}
if ! command -v systemd-analyze >/dev/null 2>&1; then
	ok "systemd-analyze verify # SKIP systemd-analyze not installed"
	ok "systemd-analyze security # SKIP systemd-analyze not installed"
else
	if verify_unit "$U"; then ok "systemd-analyze verify is silent"
	else notok "systemd-analyze verify is silent" "exit $vrc" "$(cat "$T/verr")"; fi
	# control: the same check must notice a misspelt key
	mkdir -p "$T/bad"
	sed 's/^WatchdogSec=/WachdogSec=/' "$U" >"$T/bad/traguardo.service"
	if verify_unit "$T/bad/traguardo.service"; then notok "verify catches a misspelt key (control)" "$(cat "$T/verr")"
	elif grep -q "Unknown key 'WachdogSec'" "$T/verr"; then ok "verify catches a misspelt key (control)"
	else notok "verify catches a misspelt key (control)" "$(cat "$T/verr")"; fi

	systemd-analyze security --offline=true --no-pager "$U" >"$T/sec" 2>&1
	score=$(sed -n 's/.*Overall exposure level for [^:]*: *\([0-9][0-9.]*\).*/\1/p' "$T/sec" | tail -n 1)
	if [ -n "$score" ] && awk -v s="$score" 'BEGIN { exit !(s + 0 <= 2.0) }'; then
		ok "systemd-analyze security: exposure $score <= 2.0"
	else notok "systemd-analyze security: exposure '${score}' <= 2.0" "$(grep -E '✗|Overall' "$T/sec")"; fi
fi

# ---------------------------------------------------------------- manual pages
for page in traguardo.8 traguardo.conf.5; do
	if ! command -v groff >/dev/null 2>&1; then ok "groff $page # SKIP groff not installed"; continue; fi
	if out=$(groff -man -Tutf8 -ww -z "$REPO/man/$page" 2>&1) && [ -z "$out" ]; then ok "groff -ww is silent on $page"
	else notok "groff -ww is silent on $page" "$out"; fi
done
if [ -e "$REPO/man/traguardo.1" ]; then notok "the daemon's page is in section 8 only" "man/traguardo.1 exists"
else ok "the daemon's page is in section 8 only"; fi
refs=$(grep -nE 'traguardo ?\(1\)|traguardo\.1\b|man1' "$REPO/README.md" "$REPO/Makefile" "$REPO"/man/* "$REPO/conf/traguardo.conf" \
	| grep -v 'man1/traguardo\.1' )  # the Makefile removes the page of older installs
if [ -z "$refs" ]; then ok "no reference to traguardo(1) is left"
else notok "no reference to traguardo(1) is left" "$refs"; fi

# ---------------------------------------------------------------- make install / uninstall
# -o: install exactly the binary under test, never rebuild (the sources may be
# newer than the build, or BUILD may be build-san/).
R="$T/root"
if ! command -v make >/dev/null 2>&1 || [ ! -f "$B/libtraguardo.a" ]; then
	ok "make install # SKIP $B is not a build directory of this tree"
else
	mi() { make --no-print-directory -C "$REPO" -o "$B/traguardo" BUILD="$B" DESTDIR="$R" PREFIX=/usr "$@"; }
	before=$(stat -c %Y "$B/traguardo")
	run "make install DESTDIR" 0 mi install
	if grep -qE '(^| )(cc|gcc|clang) .* -c ' "$T/out" || [ "$(stat -c %Y "$B/traguardo")" != "$before" ]; then
		notok "make install rebuilt nothing" "$(cat "$T/out")"
	else ok "make install rebuilt nothing"; fi

	bad=""
	for spec in 755:usr/bin/traguardo 644:lib/systemd/system/traguardo.service \
		644:usr/lib/sysusers.d/traguardo.conf 644:usr/lib/tmpfiles.d/traguardo.conf \
		644:usr/share/man/man8/traguardo.8 644:usr/share/man/man5/traguardo.conf.5 \
		750:etc/traguardo 640:etc/traguardo/traguardo.conf 644:etc/traguardo/templates/README \
		644:etc/traguardo/templates/subject.it.txt.example 644:etc/traguardo/templates/intro.en.txt.example; do
		mode=${spec%%:*}; f=$R/${spec#*:}
		if [ ! -e "$f" ]; then bad="$bad
missing $f"
		elif [ "$(stat -c %a "$f")" != "$mode" ]; then bad="$bad
$f: mode $(stat -c %a "$f"), expected $mode"; fi
	done
	if [ -z "$bad" ]; then ok "installed files and modes"; else notok "installed files and modes" "$bad"; fi
	cmp -s "$B/traguardo" "$R/usr/bin/traguardo" && ok "installed binary is the one under test" \
		|| notok "installed binary is the one under test"
	cmp -s "$REPO/conf/traguardo.conf" "$R/etc/traguardo/traguardo.conf" && ok "example configuration installed" \
		|| notok "example configuration installed"
	contains "installed unit runs /usr/bin/traguardo" "$R/lib/systemd/system/traguardo.service" \
		"ExecStart=/usr/bin/traguardo run"
	contains "installed unit checks before starting" "$R/lib/systemd/system/traguardo.service" \
		"ExecStartPre=/usr/bin/traguardo check"
	lacks "installed unit has no placeholder" "$R/lib/systemd/system/traguardo.service" "@BINDIR@"
	run "installed binary runs" 0 "$R/usr/bin/traguardo" --version

	# the service user and the directories, applied to that root
	if [ "$(id -u)" -ne 0 ] || ! command -v systemd-sysusers >/dev/null 2>&1; then
		ok "sysusers.d and tmpfiles.d applied # SKIP needs root and systemd-sysusers"
	else
		run "systemd-sysusers --root" 0 systemd-sysusers --root="$R" "$R/usr/lib/sysusers.d/traguardo.conf"
		run "systemd-tmpfiles --create --root" 0 systemd-tmpfiles --create --root="$R" "$R/usr/lib/tmpfiles.d/traguardo.conf"
		uid=$(awk -F: '$1 == "traguardo" { print $3 }' "$R/etc/passwd")
		gid=$(awk -F: '$1 == "traguardo" { print $3 }' "$R/etc/group")
		bad=""
		[ -n "$uid" ] && [ -n "$gid" ] || bad="no user/group traguardo in $R/etc/passwd, $R/etc/group"
		for spec in "750:$uid:$gid:var/lib/traguardo" "750:0:$gid:etc/traguardo" \
			"640:0:$gid:etc/traguardo/traguardo.conf" "700:0:0:etc/traguardo/secrets"; do
			f=$R/${spec##*:}; want=${spec%:*}
			got=$(stat -c '%a:%u:%g' "$f" 2>&1)
			[ "$got" = "$want" ] || bad="$bad
$f: $got, expected $want (mode:uid:gid)"
		done
		if [ -z "$bad" ]; then ok "sysusers.d and tmpfiles.d: user, state, configuration, secrets"
		else notok "sysusers.d and tmpfiles.d: user, state, configuration, secrets" "$bad"; fi
	fi

	# a second install keeps a modified configuration
	echo '# modified by the administrator' >>"$R/etc/traguardo/traguardo.conf"
	cp "$R/etc/traguardo/traguardo.conf" "$T/conf.before"
	run "make install again" 0 mi install
	cmp -s "$T/conf.before" "$R/etc/traguardo/traguardo.conf" && ok "second install keeps the modified configuration" \
		|| notok "second install keeps the modified configuration" "$(diff "$T/conf.before" "$R/etc/traguardo/traguardo.conf" | head -20)"
	contains "second install says it kept the configuration" "$T/out" "kept the existing"

	run "make uninstall DESTDIR" 0 mi uninstall
	left=$(cd "$R" && find . ! -type d | grep -vE '^\./etc/(traguardo/|passwd|group|shadow|gshadow|\.pwd\.lock)' | sort)
	if [ -z "$left" ]; then ok "uninstall removes every installed file"
	else notok "uninstall removes every installed file" "left: $left"; fi
	cmp -s "$T/conf.before" "$R/etc/traguardo/traguardo.conf" && ok "uninstall keeps the configuration" \
		|| notok "uninstall keeps the configuration"
fi
