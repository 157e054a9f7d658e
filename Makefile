# MyriXen - top-level build.  `make` builds everything into build/;
# `make check` runs every test (plain, ASan+UBSan, TSan); `make demo` runs
# a backend, guests, messages and prints a result table.

CC      ?= cc
BUILD   ?= build
CFLAGS  ?= -O2 -g
override CFLAGS += -std=gnu11 -Wall -Wextra -Werror -fPIC -pthread -Iinclude -fvisibility=hidden
override LDFLAGS += -pthread
# gcc clears a request (300 bytes, req_new) with `rep stos` under generic
# tuning, whose start-up cost was 15% of a same-host message's software
# path (selfloop: 129 -> 112 ns per message with vector stores).
# (ANALYZE=1 leaves it out: clang's analyzer does not know the flag.)
ifneq ($(filter x86_64%,$(shell $(CC) -dumpmachine)),)
ifeq ($(findstring clang,$(shell $(CC) --version))$(ANALYZE),)
override CFLAGS += -mmemset-strategy=vector_loop:-1:noalign
endif
endif

COMMON_SRC  := $(wildcard src/common/*.c)
LIB_SRC     := $(wildcard src/lib/*.c) $(COMMON_SRC)
ENGINE_SRC  := $(wildcard src/engine/*.c) $(wildcard src/port/*.c) $(COMMON_SRC)
BACKEND_SRC := $(wildcard src/backend/*.c)
FI_SRC      := $(wildcard src/fi/*.c)
TOOL_SRC    := $(wildcard tools/*.c)
UNIT_SRC    := $(wildcard tests/unit/*.c)
ITEST_SRC   := $(wildcard tests/integration/*.c)
MXPROG_SRC  := $(wildcard tests/mx/*.c)
SOAK_SRC    := $(wildcard tests/soak/*.c)
VMPROG_SRC  := $(wildcard tests/vm/*.c)
FUZZ_SRC    := $(filter-out tests/fuzz/fuzz_common.c,$(wildcard tests/fuzz/fuzz_*.c))
HEADERS     := $(wildcard include/*.h src/*/*.h tests/*.h tests/mx/*.h tests/fuzz/*.h tests/vm/*.h)

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

# The package's version (include/myrixen.h) and the library's ABI: programs
# link against libmyrixen.so.$(SO_MAJOR); bump SO_MINOR when calls are
# added, SO_MAJOR (and start SO_MINOR again) when the ABI breaks.
VERSION  := $(shell sed -n 's/^\#define MYRIXEN_VERSION_STRING "\(.*\)"/\1/p' include/myrixen.h)
SO_MAJOR := 1
SO_MINOR := 0.0
LIB_A    := $(BUILD)/lib/libmyrixen.a
LIB_REAL := $(BUILD)/lib/libmyrixen.so.$(SO_MAJOR).$(SO_MINOR)
LIB_SO   := $(BUILD)/lib/libmyrixen.so
# The NIC engine as a library (engine/engine.h), for myrixend and the tests.
ENGINE_A := $(BUILD)/lib/libmyrixen-engine.a
# The libfabric provider `myrixen` (FI_PROVIDER_PATH=$(BUILD)/lib/libfabric),
# with libmyrixen inside it: Open MPI's processes need nothing else.
FI_PROV := $(BUILD)/lib/libfabric/libmyrixen-fi.so
BACKEND := $(BUILD)/bin/myrixend
TOOL    := $(BUILD)/bin/myrixen
UNITS   := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
ITESTS  := $(patsubst tests/integration/%.c,$(BUILD)/tests/%,$(ITEST_SRC))
MXPROGS := $(patsubst tests/mx/%.c,$(BUILD)/mx/%,$(MXPROG_SRC))
SOAKPROGS := $(patsubst tests/soak/%.c,$(BUILD)/soak/%,$(SOAK_SRC))

# What a VM guest image carries (myrixen vm image): the MX programs and the
# VM benches, linked statically (the image has no C library of its own).
STATICPROGS := $(patsubst tests/mx/%.c,$(BUILD)/static/%,$(MXPROG_SRC)) \
               $(patsubst tests/vm/%.c,$(BUILD)/static/%,$(VMPROG_SRC)) $(BUILD)/static/hostile

.SECONDARY:
.PHONY: vm-image check-vm check-vm-asan check-mpi check-mpi-long mpiprogs install uninstall
.PHONY: all check check-plain check-asan check-tsan analyze demo deps clean fuzz fuzzers soak
all: $(LIB_A) $(LIB_SO) $(ENGINE_A) $(BACKEND) $(TOOL) $(UNITS) $(ITESTS) $(MXPROGS) $(SOAKPROGS) \
     $(FI_PROV)

$(BUILD)/obj/%.o: %.c $(HEADERS) Makefile
	@mkdir -p $(dir $@)
	@echo "  CC  $<"
	@$(CC) $(CFLAGS) -c $< -o $@

$(LIB_A): $(call obj,$(LIB_SRC))
	@mkdir -p $(dir $@)
	@echo "  AR  $@"
	@rm -f $@ && ar rcs $@ $^

$(LIB_REAL): $(call obj,$(LIB_SRC))
	@mkdir -p $(dir $@)
	@echo "  LD  $@"
	@$(CC) -shared -Wl,-soname,libmyrixen.so.$(SO_MAJOR) -o $@ $^ $(LDFLAGS)

# libmyrixen.so (what -lmyrixen finds) and libmyrixen.so.1 (what programs
# load) name the real file, in the build as once installed.
$(LIB_SO): $(LIB_REAL)
	@ln -sf $(notdir $(LIB_REAL)) $(dir $@)libmyrixen.so.$(SO_MAJOR)
	@ln -sf libmyrixen.so.$(SO_MAJOR) $@

$(FI_PROV): $(call obj,$(FI_SRC)) $(call obj,$(LIB_SRC)) src/fi/exports.map
	@mkdir -p $(dir $@)
	@echo "  LD  $@"
	@$(CC) -shared -Wl,-z,defs -Wl,--version-script=src/fi/exports.map -o $@ \
	  $(call obj,$(FI_SRC)) $(call obj,$(LIB_SRC)) $(LDFLAGS) -lfabric

$(ENGINE_A): $(call obj,$(ENGINE_SRC))
	@mkdir -p $(dir $@)
	@echo "  AR  $@"
	@rm -f $@ && ar rcs $@ $^

# The engine's wire MAC (a cluster key) is OpenSSL's (libcrypto).
ENGINE_LIBS := -lcrypto

$(BACKEND): $(call obj,$(BACKEND_SRC)) $(ENGINE_A)
	@mkdir -p $(dir $@)
	@echo "  LD  $@"
	@$(CC) -o $@ $^ $(LDFLAGS) $(ENGINE_LIBS)

$(TOOL): $(call obj,$(TOOL_SRC)) $(LIB_A)
	@mkdir -p $(dir $@)
	@echo "  LD  $@"
	@$(CC) -o $@ $(call obj,$(TOOL_SRC)) $(LIB_A) $(LDFLAGS) -lm

HARNESS := $(BUILD)/obj/tests/harness.o $(BUILD)/obj/tools/spawn.o

# A unit test of the engine's receive path, with a backend in its process
# (the fuzz targets' tests/fuzz/fuzz.h).
INPROC := $(BUILD)/obj/tests/fuzz/fuzz_common.o $(call obj,$(filter-out src/backend/main.c,$(BACKEND_SRC)))
$(BUILD)/tests/test_wire_trust: $(BUILD)/obj/tests/unit/test_wire_trust.o $(INPROC) $(HARNESS) $(LIB_A) $(ENGINE_A)
	@mkdir -p $(dir $@)
	@echo "  LD  $@"
	@$(CC) -o $@ $^ $(LDFLAGS) $(ENGINE_LIBS)

# Unit tests may drive the engine's pieces alone (the reliable stream).
$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(HARNESS) $(LIB_A) $(ENGINE_A)
	@mkdir -p $(dir $@)
	@echo "  LD  $@"
	@$(CC) -o $@ $^ $(LDFLAGS) $(ENGINE_LIBS)

# The provider through libfabric, as an application uses it.
$(BUILD)/tests/test_fabric: $(BUILD)/obj/tests/integration/test_fabric.o $(HARNESS) $(LIB_A) | $(FI_PROV)
	@mkdir -p $(dir $@)
	@echo "  LD  $@"
	@$(CC) -o $@ $^ $(LDFLAGS) -lfabric

$(BUILD)/tests/%: $(BUILD)/obj/tests/integration/%.o $(HARNESS) $(LIB_A)
	@mkdir -p $(dir $@)
	@echo "  LD  $@"
	@$(CC) -o $@ $^ $(LDFLAGS)

# The soak's hostile guest (it writes into its rings through the library).
$(BUILD)/soak/%: $(BUILD)/obj/tests/soak/%.o $(LIB_A)
	@mkdir -p $(dir $@)
	@echo "  LD  $@"
	@$(CC) -o $@ $^ $(LDFLAGS)

# MX programs: public headers only, linked as an MX user links them.
$(BUILD)/mx/%: $(BUILD)/obj/tests/mx/%.o $(LIB_A)
	@mkdir -p $(dir $@)
	@echo "  LD  $@"
	@$(CC) -o $@ $^ $(LDFLAGS)

$(BUILD)/static/%: $(BUILD)/obj/tests/mx/%.o $(LIB_A)
	@mkdir -p $(dir $@)
	@echo "  LD  $@ (static)"
	@$(CC) -static -o $@ $^ $(LDFLAGS)

$(BUILD)/static/hostile: $(BUILD)/obj/tests/soak/hostile.o $(LIB_A)
	@mkdir -p $(dir $@)
	@echo "  LD  $@ (static)"
	@$(CC) -static -o $@ $^ $(LDFLAGS)

$(BUILD)/static/%: $(BUILD)/obj/tests/vm/%.o $(LIB_A)
	@mkdir -p $(dir $@)
	@echo "  LD  $@ (static)"
	@$(CC) -static -o $@ $^ $(LDFLAGS)

# Install (PREFIX, DESTDIR): the commands, the library (shared with its
# soname, and static) with its headers and a pkg-config file, the
# libfabric provider in $(PREFIX)/lib/libfabric (FI_PROVIDER_PATH;
# `myrixen mpirun` finds it there by itself) and the MPI bench program.
PREFIX ?= /usr/local
LIBDIR := $(PREFIX)/lib
# man/NAME.N goes to share/man/manN/NAME.N
MANPAGES := $(foreach p,$(wildcard man/*.[1-8]),man/man$(subst .,,$(suffix $(p)))/$(notdir $(p)))
INSTALLED := bin/myrixen sbin/myrixend lib/libmyrixen.so lib/libmyrixen.so.$(SO_MAJOR) \
             lib/libmyrixen.so.$(SO_MAJOR).$(SO_MINOR) lib/libmyrixen.a \
             lib/pkgconfig/myrixen.pc lib/libfabric/libmyrixen-fi.so lib/myrixen/mpi_bench \
             include/myriexpress.h include/mx_extensions.h include/myrixen.h \
             lib/systemd/system/myrixend.service share/doc/myrixen/myrixend.conf.example \
             $(MANPAGES:man/%=share/man/%)
install: all $(BUILD)/mpi/mpi_bench
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/include \
	  $(DESTDIR)$(LIBDIR)/libfabric $(DESTDIR)$(LIBDIR)/myrixen $(DESTDIR)$(LIBDIR)/pkgconfig
	install -m 755 $(TOOL) $(DESTDIR)$(PREFIX)/bin/myrixen
	install -m 755 $(BACKEND) $(DESTDIR)$(PREFIX)/sbin/myrixend
	install -m 755 $(LIB_REAL) $(DESTDIR)$(LIBDIR)/
	ln -sf libmyrixen.so.$(SO_MAJOR).$(SO_MINOR) $(DESTDIR)$(LIBDIR)/libmyrixen.so.$(SO_MAJOR)
	ln -sf libmyrixen.so.$(SO_MAJOR) $(DESTDIR)$(LIBDIR)/libmyrixen.so
	install -m 644 $(LIB_A) $(DESTDIR)$(LIBDIR)/libmyrixen.a
	sed -e 's|@PREFIX@|$(PREFIX)|; s|@LIBDIR@|$(LIBDIR)|; s|@VERSION@|$(VERSION)|' \
	  myrixen.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/myrixen.pc
	install -m 755 $(FI_PROV) $(DESTDIR)$(LIBDIR)/libfabric/libmyrixen-fi.so
	install -m 755 $(BUILD)/mpi/mpi_bench $(DESTDIR)$(LIBDIR)/myrixen/mpi_bench
	install -m 644 include/myriexpress.h include/mx_extensions.h include/myrixen.h \
	  $(DESTDIR)$(PREFIX)/include/
	install -d $(DESTDIR)$(PREFIX)/lib/systemd/system $(DESTDIR)$(PREFIX)/share/doc/myrixen
	sed -e 's|@SBINDIR@|$(PREFIX)/sbin|g' dist/myrixend.service.in \
	  > $(DESTDIR)$(PREFIX)/lib/systemd/system/myrixend.service
	install -m 644 dist/myrixend.conf $(DESTDIR)$(PREFIX)/share/doc/myrixen/myrixend.conf.example
	for p in $(MANPAGES); do \
	  install -D -m 644 man/$$(basename $$p) $(DESTDIR)$(PREFIX)/share/$$p || exit 1; done

uninstall:
	rm -f $(addprefix $(DESTDIR)$(PREFIX)/,$(INSTALLED))
	-rmdir $(DESTDIR)$(LIBDIR)/libfabric $(DESTDIR)$(LIBDIR)/myrixen \
	  $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(PREFIX)/lib/systemd/system \
	  $(DESTDIR)$(PREFIX)/lib/systemd $(DESTDIR)$(PREFIX)/share/doc/myrixen 2>/dev/null; true

# MPI programs (tests/mpi), built by Open MPI's mpicc: they run over the
# myrixen provider (make check-mpi).
MPI_SRC  := $(wildcard tests/mpi/*.c tools/mpi/*.c)
MPIPROGS := $(patsubst %.c,$(BUILD)/mpi/%,$(notdir $(MPI_SRC)))
mpiprogs: $(MPIPROGS)
$(BUILD)/mpi/%: tools/mpi/%.c Makefile
	@mkdir -p $(dir $@)
	@echo "  MPICC $<"
	@mpicc -O2 -g -Wall -Wextra -Werror -o $@ $<
$(BUILD)/mpi/%: tests/mpi/%.c Makefile
	@mkdir -p $(dir $@)
	@echo "  MPICC $<"
	@mpicc -O2 -g -Wall -Wextra -Werror -o $@ $<

# The guest image of `myrixen vm run` (kernel and busybox from Debian).
vm-image: deps all $(STATICPROGS)
	$(BUILD)/bin/myrixen vm image --out $(BUILD)/vm

# libFuzzer targets (tests/fuzz): the backend's handlers and the engine,
# in one process, built by clang with ASan and UBSan (make fuzz).
FUZZERS := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRC))
fuzzers: $(FUZZERS)

# (the lane's target drives the library: its archive too)
$(BUILD)/fuzz/fuzz_lane: $(BUILD)/obj/tests/fuzz/fuzz_lane.o $(INPROC) $(LIB_A) $(ENGINE_A)
	@mkdir -p $(dir $@)
	@echo "  LD  $@"
	@$(CC) -fsanitize=fuzzer -o $@ $^ $(LDFLAGS) $(ENGINE_LIBS)

$(BUILD)/fuzz/%: $(BUILD)/obj/tests/fuzz/%.o $(INPROC) $(ENGINE_A)
	@mkdir -p $(dir $@)
	@echo "  LD  $@"
	@$(CC) -fsanitize=fuzzer -o $@ $^ $(LDFLAGS) $(ENGINE_LIBS)

# Each target runs FUZZ_SECONDS from the seeds in tests/fuzz/corpus (read
# only) and what it found before (build/fuzz/corpus); a crash leaves its
# input in build/fuzz/crash-* and fails the run.  make check runs 20 s each.
FUZZ_SECONDS ?= 600
FUZZ_BUILD := build/fuzz
fuzz: deps
	$(MAKE) fuzzers BUILD=$(FUZZ_BUILD) CC=clang CFLAGS="-O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" LDFLAGS="-fsanitize=address,undefined"
	FUZZ_SECONDS=$(FUZZ_SECONDS) sh tests/fuzz/run.sh $(FUZZ_BUILD)

# The soak, long: 16 guests on two hosts under faults, hostile guests
# beside them (tests/scripts/soak.sh; make check runs it for 50 s).
SOAK_SECONDS ?= 600
soak: deps all
	SOAK_SECONDS=$(SOAK_SECONDS) bash tests/scripts/soak.sh $(BUILD)

# Set-up: what the build and the tests need on a fresh Debian 12.
deps:
	@sh tests/deps.sh

# All tests, three times: plain, with ASan+UBSan, with TSan (the backend
# and the library are threaded).  A sanitizer report stops the process that
# made it, so it fails its test.
check: deps
	$(MAKE) analyze
	$(MAKE) check-plain
	$(MAKE) check-mpi
	$(MAKE) check-vm
	$(MAKE) check-asan
	$(MAKE) check-vm-asan
	$(MAKE) check-tsan
	$(MAKE) fuzz FUZZ_SECONDS=15

check-plain: all
	sh tests/run.sh $(BUILD)

# libfabric's fi_info and fi_pingpong, and Open MPI, over the provider: on
# one host and across two namespace hosts (plain build: Open MPI's own
# processes are not built with sanitizers).
check-mpi: all mpiprogs
	bash tests/mpi/run.sh $(BUILD)

# The same, with two ranks on each of the two hosts as well.
check-mpi-long: all mpiprogs
	MPI_CROSS_NP="2 4" bash tests/mpi/run.sh $(BUILD)

# VMs as guests, under QEMU's TCG (about two minutes): once, on the plain
# build; the guests' programs are linked statically into the VM's image.
check-vm: all $(STATICPROGS)
	bash tests/vm/run.sh $(BUILD)

# The same with the ASan+UBSan backend and tools (after check-asan and
# check-vm: the VMs' programs are the plain build's, linked statically).
check-vm-asan:
	ASAN_OPTIONS=abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	  bash tests/vm/run.sh build/asan $(BUILD)

# The sanitizer builds soak for less time than the plain one (50 s): a
# sanitizer's report comes in the first rounds, and make check must stay
# within its 30 minutes (28-29 before this).
SANITIZER_SOAK_SECONDS ?= 25

check-asan:
	$(MAKE) all BUILD=build/asan CFLAGS="-O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" LDFLAGS="-fsanitize=address,undefined"
	ASAN_OPTIONS=abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	  SOAK_SECONDS=$(SANITIZER_SOAK_SECONDS) sh tests/run.sh build/asan

# -Wno-tsan: GCC warns that TSan does not model the seq_cst fences of
# ring.h; they order shared memory between processes, which TSan does not
# watch anyway, and the threads of one process synchronise with mutexes.
check-tsan:
	$(MAKE) all BUILD=build/tsan CFLAGS="-O1 -g -fsanitize=thread -Wno-tsan" LDFLAGS="-fsanitize=thread"
	TSAN_OPTIONS=halt_on_error=1 SOAK_SECONDS=$(SANITIZER_SOAK_SECONDS) sh tests/run.sh build/tsan

# clang's static analyzer over every source; any finding fails (it is part
# of make check).  The HTML reports stay in build/analyze/report.
analyze:
	@rm -rf build/analyze
	scan-build --status-bugs --use-cc=clang -o build/analyze/report \
	  $(MAKE) -j2 all BUILD=build/analyze ANALYZE=1 CFLAGS="-O1 -g"

demo: deps all
	sh tools/demo.sh $(BUILD)

clean:
	rm -rf build
