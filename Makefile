# SPDX-License-Identifier: GPL-2.0
#
# make            module/tcpstate.ko (against KDIR) and the tools
# make check      unit tests, then the VM suite on every test kernel
#                 (6.1, 6.12 and their PREEMPT_RT builds)
# make check-debug build the debug kernel unless cached, then the suite on it
# make demo       a throwaway VM with tcpstate loaded and real traffic
# make fuzz       the libFuzzer harnesses, FUZZ_SECONDS each
# make fuzz-diff  the core at REV (default HEAD) against the tree's, side by side
# make bench      instructions per segment (callgrind), VM rates
# make checkpatch the kernel's checkpatch.pl over module/ and tools/
# make analyze    gcc -fanalyzer over the tools and the shared core
# make install    the module (modules_install into extra/, then depmod),
#                 the tools and the man page under PREFIX, and a commented
#                 /etc/modprobe.d/tcpstate.conf; DESTDIR is honoured
# make uninstall  the same files removed (the .conf only if unchanged)
# make dkms-install / dkms-uninstall: the module through DKMS instead, so
#                 that every new kernel gets it rebuilt (scripts/dkms)
# make deb        Debian packages tcpstate-dkms and tcpstate-tools, in
#                 build/deb/ (scripts/deb, from scripts/debian/)
# make clean      remove everything the above produced
#
# WERROR=1 turns warnings into errors in both the module and the tools.

KVER	?= $(shell uname -r)
KDIR	?= /lib/modules/$(KVER)/build

CC	?= cc
CLANG	?= clang
CFLAGS	?= -O2 -g
WARN	:= -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	   -Wno-unused-parameter
ifneq ($(WERROR),)
WARN	+= -Werror
endif
TOOL_CFLAGS := -std=gnu11 $(WARN) -Imodule $(CPPFLAGS) $(CFLAGS) $(LDFLAGS)

# The version (scripts/version), kept in a file rewritten only when it
# changes, so that what embeds it is rebuilt then and only then.
VERSION_FILE := build/version
$(shell mkdir -p build; v=$$(scripts/version) && \
	{ [ "$$(cat $(VERSION_FILE) 2>/dev/null)" = "$$v" ] || \
	  echo "$$v" >$(VERSION_FILE); })
TCPSTATE_VERSION := $(shell cat $(VERSION_FILE))

PREFIX	?= /usr/local
BINDIR	?= $(PREFIX)/bin
MANDIR	?= $(PREFIX)/share/man
MODPROBE_DIR ?= /etc/modprobe.d
INSTALL_MOD_DIR ?= extra

TOOLS	:= tools/tcpstate tools/tcpstate-pcap
UNIT	:= tests/unit/test_fsm tests/unit/test_reader

FUZZ_SECONDS ?= 60
FUZZ_FLAGS := -std=gnu11 $(WARN) -g -O1 -Imodule -Itools \
	      -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all

.PHONY: all module tools unit check check-full check-debug demo fuzz fuzz-build fuzz-diff bench checkpatch clean \
	install install-module install-tools uninstall dkms-install dkms-uninstall analyze deb

all: module tools

module:
	@if [ ! -d "$(KDIR)" ]; then \
		echo "tcpstate: no kernel headers in $(KDIR):" \
		     "install linux-headers-$(KVER), or pass KDIR=" >&2; \
		exit 1; \
	fi
	$(MAKE) -C $(KDIR) M=$(CURDIR) WERROR=$(WERROR) \
		TCPSTATE_VERSION=$(TCPSTATE_VERSION) modules

tools: $(TOOLS)

# The reader: main.c, then what the unit test and the command-line fuzzer
# link too (every command, with the parsers, no main()).
READER_SRCS := tools/tcpstate.c tools/watch.c tools/ladder.c tools/list.c \
	       tools/stats.c tools/event_parse.c module/fsm.c
READER_DEPS := $(READER_SRCS) tools/reader.h tools/event_parse.h module/fsm.h

VERSION_DEF := -DTCPSTATE_VERSION='"$(TCPSTATE_VERSION)"'

tools/tcpstate: tools/main.c $(READER_DEPS) $(VERSION_FILE)
	$(CC) $(TOOL_CFLAGS) $(VERSION_DEF) -Itools -o $@ tools/main.c $(READER_SRCS)

# With the reader's sources (no main()) for --ladder: tools/ladder.c.
tools/tcpstate-pcap: tools/tcpstate-pcap.c $(READER_DEPS) module/fsm_types.h $(VERSION_FILE)
	$(CC) $(TOOL_CFLAGS) $(VERSION_DEF) -o $@ tools/tcpstate-pcap.c $(READER_SRCS) -lpcap

tests/unit/test_fsm: tests/unit/test_fsm.c tests/unit/unit.h module/fsm.c module/fsm.h
	$(CC) $(TOOL_CFLAGS) -Itests/unit -fsanitize=address,undefined \
		-o $@ tests/unit/test_fsm.c

tests/unit/test_reader: tests/unit/test_reader.c tests/unit/unit.h $(READER_DEPS)
	$(CC) $(TOOL_CFLAGS) -Itests/unit -Itools -fsanitize=address,undefined \
		-o $@ tests/unit/test_reader.c $(READER_SRCS)

unit: $(UNIT)

# The whole suite: unit tests, a short fuzz run, then each test kernel in
# a VM.  tests/run prints the closing "N passed, N failed" line.
check: tools unit
	tests/run

# The same with every scenario on the PREEMPT_RT kernels too (make check
# runs only their race scenarios there).
check-full: tools unit
	TCPSTATE_RT_FULL=1 tests/run

# The debug kernel (KASAN, UBSAN, lockdep, PROVE_RCU, DEBUG_OBJECTS,
# kmemleak): built once into /var/cache/tcpstate (long), then the suite.
check-debug: tools unit
	scripts/debug-kernel
	TCPSTATE_KERNELS=debug tests/run

demo: tools
	scripts/demo

FUZZERS := tests/fuzz/fuzz_fsm tests/fuzz/fuzz_event_parse tests/fuzz/fuzz_cmdline

fuzz-build: $(FUZZERS)

tests/fuzz/fuzz_fsm: tests/fuzz/fuzz_fsm.c tests/fuzz/fsm_input.h module/fsm.c module/fsm.h
	$(CLANG) $(FUZZ_FLAGS) -o $@ tests/fuzz/fuzz_fsm.c

tests/fuzz/fuzz_event_parse: tests/fuzz/fuzz_event_parse.c tools/event_parse.c tools/event_parse.h module/fsm.c module/fsm.h
	$(CLANG) $(FUZZ_FLAGS) -o $@ tests/fuzz/fuzz_event_parse.c tools/event_parse.c module/fsm.c

tests/fuzz/fuzz_cmdline: tests/fuzz/fuzz_cmdline.c $(READER_DEPS)
	$(CLANG) $(FUZZ_FLAGS) -o $@ tests/fuzz/fuzz_cmdline.c $(READER_SRCS)

fuzz: fuzz-build
	tests/fuzz/run $(FUZZ_SECONDS)

# The core at REV against the tree's, on the same inputs: for changes to
# the core meant to change nothing.
REV ?= HEAD
fuzz-diff:
	tests/fuzz/diff $(REV) $(FUZZ_SECONDS)

bench: tools
	tests/bench/run

checkpatch:
	scripts/checkpatch

# gcc's static analyzer (-fanalyzer) over the tools and the core they
# share with the module; any finding is an error.
ANALYZE_SRCS := $(sort $(READER_SRCS) tools/main.c tools/tcpstate-pcap.c)

analyze:
	@for f in $(ANALYZE_SRCS); do \
		$(CC) $(TOOL_CFLAGS) -Itools $(VERSION_DEF) -fanalyzer -Werror \
			-c $$f -o /dev/null || exit 1; \
	done; \
	echo "analyze: $(words $(ANALYZE_SRCS)) files, 0 findings"

# The kernel's modules_install puts the module in
# /lib/modules/$(KVER)/$(INSTALL_MOD_DIR)/module/.  It is not signed here
# (Debian's headers carry no signing key): on a kernel that enforces
# signatures use dkms-install, which signs with DKMS's machine key.
install: install-module install-tools

install-module: module
	$(MAKE) -C $(KDIR) M=$(CURDIR) INSTALL_MOD_PATH=$(DESTDIR) \
		INSTALL_MOD_DIR=$(INSTALL_MOD_DIR) CONFIG_MODULE_SIG_ALL= \
		modules_install
	if [ -z "$(DESTDIR)" ]; then depmod -a $(KVER); fi
	if [ ! -e "$(DESTDIR)$(MODPROBE_DIR)/tcpstate.conf" ]; then \
		install -D -m 0644 scripts/modprobe.conf \
			"$(DESTDIR)$(MODPROBE_DIR)/tcpstate.conf"; \
	fi

install-tools: tools
	install -D -m 0755 tools/tcpstate "$(DESTDIR)$(BINDIR)/tcpstate"
	install -D -m 0755 tools/tcpstate-pcap "$(DESTDIR)$(BINDIR)/tcpstate-pcap"
	install -D -m 0644 tools/tcpstate.8 "$(DESTDIR)$(MANDIR)/man8/tcpstate.8"

uninstall:
	rm -f $(DESTDIR)/lib/modules/$(KVER)/$(INSTALL_MOD_DIR)/module/tcpstate.ko*
	d=$(DESTDIR)/lib/modules/$(KVER)/$(INSTALL_MOD_DIR)/module; \
		[ ! -d $$d ] || rmdir --ignore-fail-on-non-empty $$d
	if [ -z "$(DESTDIR)" ]; then depmod -a $(KVER); fi
	c="$(DESTDIR)$(MODPROBE_DIR)/tcpstate.conf"; \
	if cmp -s scripts/modprobe.conf "$$c"; then rm -f "$$c"; \
	elif [ -e "$$c" ]; then echo "uninstall: $$c was changed: kept"; fi
	rm -f "$(DESTDIR)$(BINDIR)/tcpstate" "$(DESTDIR)$(BINDIR)/tcpstate-pcap" \
		"$(DESTDIR)$(MANDIR)/man8/tcpstate.8"

dkms-install:
	scripts/dkms install $(KVER)

dkms-uninstall:
	scripts/dkms uninstall

deb:
	scripts/deb

# Kbuild's own clean needs headers; the list below does not.
clean:
	-[ -d $(KDIR) ] && $(MAKE) -C $(KDIR) M=$(CURDIR) clean
	rm -f module/*.o module/*.ko module/*.mod module/*.mod.c \
		module/.*.cmd .*.cmd .*.o Module.symvers modules.order
	rm -f $(TOOLS) $(UNIT) $(FUZZERS)
	rm -rf build tests/fuzz/corpus-*/
