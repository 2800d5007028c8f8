# traguardo — build, test, demo, install.
#
#   make            build build/traguardo
#   make demo       install missing packages, build, run one cycle on the demo data
#   make check      install missing packages, build, run every test (normal + ASan/UBSan,
#                   the CSV reader thread's tests under TSan)
#   make SANITIZE=1 build with AddressSanitizer + UBSan (into build-san/)
#   make SANITIZE=thread thread-tests   the tests of the CSV reader thread
#                   under ThreadSanitizer (into build-tsan/)
#   make install [PREFIX=/usr/local DESTDIR=...]   /   make uninstall
#   make fuzz [FUZZ_SECONDS=N]   libFuzzer targets (clang)
#   make valgrind   end-to-end `traguardo once` under valgrind

PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
MANDIR     ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
UNITDIR    ?= /lib/systemd/system
SYSUSERSDIR ?= /usr/lib/sysusers.d
TMPFILESDIR ?= /usr/lib/tmpfiles.d
DESTDIR    ?=

VERSION    := 0.1.0
CC         ?= cc
PKGS       := libcurl libpq libconfig libsystemd jansson libcrypto
TEST_PKGS  := cmocka

SANITIZE   ?=
ifeq ($(SANITIZE),1)
BUILD      ?= build-san
SANFLAGS   := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
OPT        := -O1
else ifeq ($(SANITIZE),thread)
BUILD      ?= build-tsan
SANFLAGS   := -fsanitize=thread
OPT        := -O1
else
BUILD      ?= build
SANFLAGS   :=
OPT        := -O2
endif

WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wformat=2 -Wno-format-nonliteral -Wvla -Wpointer-arith -Wcast-align -Wwrite-strings
HARDEN   := -fstack-protector-strong -fPIE
ifeq ($(filter 1 thread,$(SANITIZE)),)
HARDEN   += -D_FORTIFY_SOURCE=2
endif
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
TEST_CFLAGS = $(shell pkg-config --cflags $(TEST_PKGS) 2>/dev/null)
TEST_LIBS   = $(shell pkg-config --libs $(TEST_PKGS) 2>/dev/null)

CPPFLAGS += -D_GNU_SOURCE -DTG_VERSION='"$(VERSION)"' -Ilib
CFLAGS   ?= $(OPT) -g
CFLAGS   += -std=c11 -pthread $(WARN) $(HARDEN) $(SANFLAGS) $(PKG_CFLAGS)
LDFLAGS  += -pthread -pie -Wl,-z,relro,-z,now $(SANFLAGS)

LIB_SRCS    := $(sort $(wildcard lib/*.c))
LIB_OBJS    := $(LIB_SRCS:%.c=$(BUILD)/%.o)
DAEMON_SRCS := $(sort $(wildcard daemon/*.c))
DAEMON_OBJS := $(DAEMON_SRCS:%.c=$(BUILD)/%.o)
UNIT_SRCS   := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS   := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
# the unit tests that run the CSV reader thread (lib/source_csv.c, the only
# code with a second thread): `make check` runs them under ThreadSanitizer
THREAD_TESTS := test_source_csv test_engine test_engine_reload test_output

FUZZ_SRCS   := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS   := $(FUZZ_SRCS:tests/fuzz/%.c=build-fuzz/%)
FUZZ_LIB_OBJS := $(LIB_SRCS:%.c=build-fuzz/%.o)
FUZZ_CC     ?= clang
FUZZ_CFLAGS := -std=c11 -g -O1 -D_GNU_SOURCE -Ilib -fsanitize=address,undefined \
               -fno-sanitize-recover=undefined -fno-omit-frame-pointer $(PKG_CFLAGS)
FUZZ_SECONDS ?= 60

.PHONY: all deps deps-check demo check unit-tests thread-tests install uninstall clean fuzz fuzz-build valgrind
.DELETE_ON_ERROR:

all: $(BUILD)/traguardo

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/libtraguardo.a: $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/traguardo: $(DAEMON_OBJS) $(BUILD)/libtraguardo.a
	$(CC) $(LDFLAGS) -o $@ $(DAEMON_OBJS) $(BUILD)/libtraguardo.a $(PKG_LIBS) -lm

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libtraguardo.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -DTG_TEST_DATA='"$(CURDIR)/tests/data"' $(CFLAGS) $(TEST_CFLAGS) -o $@ $< \
		$(LDFLAGS) $(BUILD)/libtraguardo.a $(PKG_LIBS) $(TEST_LIBS) -lm

unit-tests: $(UNIT_BINS) $(BUILD)/traguardo

thread-tests: $(THREAD_TESTS:%=$(BUILD)/tests/%)

deps:
	@sh scripts/deps.sh build

deps-check:
	@sh scripts/deps.sh check

demo: deps
	@$(MAKE) --no-print-directory all
	@sh scripts/demo.sh $(BUILD)/traguardo

# The builds of `make check` use every core (unless make was given a -j of
# its own): CI has ten minutes on two.
CHECK_JOBS = $(if $(filter -j%,$(MAKEFLAGS)),,-j$(shell nproc 2>/dev/null || echo 1))

check: deps-check
	@$(MAKE) --no-print-directory $(CHECK_JOBS) unit-tests
	@$(MAKE) --no-print-directory $(CHECK_JOBS) SANITIZE=1 unit-tests
	@$(MAKE) --no-print-directory $(CHECK_JOBS) SANITIZE=thread thread-tests
	@$(MAKE) --no-print-directory $(CHECK_JOBS) fuzz-build
	@sh tests/run.sh build build-tsan build-san

# libFuzzer: the library compiled with coverage hooks, one binary per target
build-fuzz/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -DTG_VERSION='"$(VERSION)"' -fsanitize=fuzzer-no-link -c -o $@ $<

build-fuzz/libtraguardo.a: $(FUZZ_LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

build-fuzz/fuzz_%: tests/fuzz/fuzz_%.c build-fuzz/libtraguardo.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< build-fuzz/libtraguardo.a $(PKG_LIBS) -lm

fuzz-build: $(FUZZ_BINS)

# make fuzz [FUZZ_SECONDS=N]: each target for N seconds on its corpus
fuzz: deps-check fuzz-build
	@for f in $(FUZZ_BINS); do \
		n=$${f#build-fuzz/fuzz_}; mkdir -p build-fuzz/corpus/$$n; \
		echo "fuzz $$n for $(FUZZ_SECONDS)s"; \
		$$f -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -artifact_prefix=tests/fuzz/ \
			build-fuzz/corpus/$$n tests/fuzz/corpus/$$n || exit 1; \
	done

valgrind: all
	@sh tests/valgrind.sh $(BUILD)/traguardo

# make bench [BENCH_SCALE=small|medium|full]: the speed and memory figures of
# bench/README.md against their references, written to bench/results.json.
# Never part of `make check`: nothing in it is asserted.
BENCH_SCALE ?= full
.PHONY: bench
bench: all
	@mkdir -p $(BUILD)/bench
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $(BUILD)/bench/gen bench/gen.c $(LDFLAGS)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $(BUILD)/bench/bench bench/bench.c \
		$(LDFLAGS) $(BUILD)/libtraguardo.a $(PKG_LIBS) -lm
	@BENCH_SCALE=$(BENCH_SCALE) /usr/bin/python3 bench/run.py --build $(BUILD)

# install: the binary, the unit (with @BINDIR@ replaced), the sysusers.d and
# tmpfiles.d snippets, the man pages, and the example configuration, which
# never replaces an existing /etc/traguardo/traguardo.conf.  Then follow
# "Install as a service, step by step" in README.md.
install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(MANDIR)/man5 \
		$(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(TMPFILESDIR)
	install -m 0755 $(BUILD)/traguardo $(DESTDIR)$(BINDIR)/traguardo
	sed 's|@BINDIR@|$(BINDIR)|g' systemd/traguardo.service.in >$(DESTDIR)$(UNITDIR)/traguardo.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/traguardo.service
	install -m 0644 systemd/traguardo.sysusers $(DESTDIR)$(SYSUSERSDIR)/traguardo.conf
	install -m 0644 systemd/traguardo.tmpfiles $(DESTDIR)$(TMPFILESDIR)/traguardo.conf
	install -m 0644 man/traguardo.8 $(DESTDIR)$(MANDIR)/man8/traguardo.8
	install -m 0644 man/traguardo.conf.5 $(DESTDIR)$(MANDIR)/man5/traguardo.conf.5
	rm -f $(DESTDIR)$(MANDIR)/man1/traguardo.1
	test -d $(DESTDIR)$(SYSCONFDIR)/traguardo || install -d -m 0750 $(DESTDIR)$(SYSCONFDIR)/traguardo
	install -d -m 0755 $(DESTDIR)$(SYSCONFDIR)/traguardo/templates
	install -m 0644 conf/templates/README conf/templates/*.example $(DESTDIR)$(SYSCONFDIR)/traguardo/templates/
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/traguardo/traguardo.conf ]; then \
		echo "kept the existing $(DESTDIR)$(SYSCONFDIR)/traguardo/traguardo.conf"; \
	else \
		echo "install -m 0640 conf/traguardo.conf $(DESTDIR)$(SYSCONFDIR)/traguardo/traguardo.conf"; \
		install -m 0640 conf/traguardo.conf $(DESTDIR)$(SYSCONFDIR)/traguardo/traguardo.conf; \
	fi

# uninstall: everything install put there except the configuration (and the
# state directory, which install does not create).
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/traguardo $(DESTDIR)$(UNITDIR)/traguardo.service \
		$(DESTDIR)$(MANDIR)/man8/traguardo.8 $(DESTDIR)$(MANDIR)/man1/traguardo.1 \
		$(DESTDIR)$(MANDIR)/man5/traguardo.conf.5 \
		$(DESTDIR)$(SYSUSERSDIR)/traguardo.conf $(DESTDIR)$(TMPFILESDIR)/traguardo.conf
	rm -f $(DESTDIR)$(SYSCONFDIR)/traguardo/templates/README \
		$(DESTDIR)$(SYSCONFDIR)/traguardo/templates/*.example
	@echo "kept $(DESTDIR)$(SYSCONFDIR)/traguardo (your configuration) and /var/lib/traguardo (the state); remove them by hand if unwanted"

clean:
	rm -rf build build-san build-tsan build-fuzz

-include $(LIB_OBJS:.o=.d) $(DAEMON_OBJS:.o=.d)
