# The portable filter core (driver/core): sources for every host, its C tests, fuzz targets and
# benchmark binary.
#
#   CORE_SRCS           every portable core .c (incl. the codec runtime and generated codec)
#   CORE_HOST_PLATFORM  cdf_platform.h for user mode (pthreads), linked by host builds only
#
#   make check      core-unit-check (ASan+UBSan), core-stress-check (ThreadSanitizer),
#                   core-kernel-check (mingw-w64 kernel mode, x64 + x86 layout checks),
#                   core-warn-check (gcc and clang, warnings as errors, clang -Wpedantic)
#   make fuzz-run   core-fuzz-run: core_control, core_request and core_diff (the core against the
#                   simulated cdrom.sys), FUZZ_SECONDS / 3 each
#   make bench-c    $(BUILD)/core/core_bench (bench/core.ts runs it, with callgrind)
#
# A missing tool is an error, never a skip.

CORE_SRCS := core/cdf_core.c core/cdf_handles.c core/cdf_ledger.c core/cdf_classify.c \
             core/cdf_rules.c core/cdf_rules_file.c core/cdf_rules_lock.c core/cdf_rules_eject.c \
             core/cdf_rules_exclusive.c \
             core/cdf_scsi.c core/cdf_text.c core/cdf_trace.c core/cdf_control.c \
             core/pb_wire.c core/gen/cdfilter.pb.c
CORE_HOST_PLATFORM := core/platform_host.c
CORE_HDRS := $(wildcard core/*.h) core/gen/cdfilter.pb.h core/gen/cdfilter_ioctl.h

CORE_OUT     := $(BUILD)/core
CORE_CLANG   := $(CLANG)
CORE_MINGW64 ?= x86_64-w64-mingw32-gcc
CORE_MINGW32 ?= i686-w64-mingw32-gcc
CORE_DDK64   ?= /usr/x86_64-w64-mingw32/include/ddk
CORE_DDK32   ?= /usr/i686-w64-mingw32/include/ddk
CORE_ASAN    := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
CORE_TSAN    := -fsanitize=thread -fno-omit-frame-pointer
CORE_TEST_CFLAGS := $(CSTD) $(WARN) -g -O1 $(CORE_INC) -D_POSIX_C_SOURCE=200809L
CORE_FUZZ_NAMES  := core_control core_request core_diff
CORE_FUZZ_BINS   := $(addprefix $(CORE_OUT)/fuzz/,$(CORE_FUZZ_NAMES))
CORE_FUZZ_FLAGS  := -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

CHECK_TARGETS    += core-unit-check core-stress-check core-kernel-check core-warn-check
FUZZ_RUN_TARGETS += core-fuzz-run
BENCH_TARGETS    += $(CORE_OUT)/core_bench

.PHONY: core-tools core-unit-check core-stress-check core-kernel-check core-warn-check \
        core-fuzz-build core-fuzz-run

core-tools:
	@for t in $(CORE_CLANG) $(CC) $(CORE_MINGW64) $(CORE_MINGW32); do \
	  command -v $$t >/dev/null 2>&1 || { \
	    echo "core: $$t not found (Debian: clang libfuzzer-14-dev mingw-w64)" >&2; exit 1; }; \
	done

# ---- unit test (ASan + UBSan) ----
$(CORE_OUT)/core_unit: ../test/c/core_unit.c $(CORE_SRCS) $(CORE_HOST_PLATFORM) $(CORE_HDRS) | core-tools
	@mkdir -p $(@D)
	$(CORE_CLANG) $(CORE_TEST_CFLAGS) $(CORE_ASAN) -pthread -o $@ ../test/c/core_unit.c $(CORE_SRCS) $(CORE_HOST_PLATFORM)

core-unit-check: $(CORE_OUT)/core_unit
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 $(CORE_OUT)/core_unit

# ---- stress test (ThreadSanitizer) ----
$(CORE_OUT)/core_stress: ../test/c/core_stress.c $(CORE_SRCS) $(CORE_HOST_PLATFORM) $(CORE_HDRS) | core-tools
	@mkdir -p $(@D)
	$(CORE_CLANG) $(CORE_TEST_CFLAGS) $(CORE_TSAN) -pthread -o $@ ../test/c/core_stress.c $(CORE_SRCS) $(CORE_HOST_PLATFORM)

core-stress-check: $(CORE_OUT)/core_stress
	TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 $(CORE_OUT)/core_stress

# ---- kernel mode: every portable core .c with the mingw-w64 DDK, plus the layout check ----
CORE_KOBJS := $(patsubst core/%.c,$(CORE_OUT)/kernel/%.o,$(CORE_SRCS))
CORE_KFLAGS := -D_KERNEL_MODE -std=c11 -Wall -Wextra -Werror -Wvla -Wstrict-prototypes \
               -Wmissing-prototypes $(CORE_INC)

$(CORE_OUT)/kernel/%.o: core/%.c $(CORE_HDRS) | core-tools
	@mkdir -p $(@D)
	$(CORE_MINGW64) -I$(CORE_DDK64) $(CORE_KFLAGS) -c $< -o $@

$(CORE_OUT)/kernel/layout64.o: ../test/c/core_layout_check.c $(CORE_HDRS) | core-tools
	@mkdir -p $(@D)
	$(CORE_MINGW64) -I$(CORE_DDK64) $(CORE_KFLAGS) -c $< -o $@

$(CORE_OUT)/kernel/layout32.o: ../test/c/core_layout_check.c $(CORE_HDRS) | core-tools
	@mkdir -p $(@D)
	$(CORE_MINGW32) -I$(CORE_DDK32) $(CORE_KFLAGS) -c $< -o $@

core-kernel-check: $(CORE_KOBJS) $(CORE_OUT)/kernel/layout64.o $(CORE_OUT)/kernel/layout32.o

# ---- host compilers, warnings as errors ----
CORE_WARN_SRCS := $(CORE_SRCS) $(CORE_HOST_PLATFORM)
CORE_GCC_OBJS   := $(patsubst core/%.c,$(CORE_OUT)/warn-gcc/%.o,$(CORE_WARN_SRCS))
CORE_CLANG_OBJS := $(patsubst core/%.c,$(CORE_OUT)/warn-clang/%.o,$(CORE_WARN_SRCS))

$(CORE_OUT)/warn-gcc/%.o: core/%.c $(CORE_HDRS) | core-tools
	@mkdir -p $(@D)
	gcc $(HOST_CFLAGS) -c $< -o $@

$(CORE_OUT)/warn-clang/%.o: core/%.c $(CORE_HDRS) | core-tools
	@mkdir -p $(@D)
	$(CORE_CLANG) $(HOST_CFLAGS) -Wpedantic -c $< -o $@

core-warn-check: $(CORE_GCC_OBJS) $(CORE_CLANG_OBJS)

# ---- libFuzzer targets (ASan + UBSan) ----
$(CORE_OUT)/fuzz/%: ../test/fuzz/%.c $(CORE_SRCS) $(CORE_HOST_PLATFORM) $(CORE_HDRS) | core-tools
	@mkdir -p $(@D)
	$(CORE_CLANG) $(CORE_TEST_CFLAGS) $(CORE_FUZZ_FLAGS) -pthread -o $@ $< $(CORE_SRCS) $(CORE_HOST_PLATFORM)

# core_diff: the core over the simulated cdrom.sys (sim/simcd.c), the counts compared after every step
$(CORE_OUT)/fuzz/core_diff: ../test/fuzz/core_diff.c $(CORE_SRCS) $(CORE_HOST_PLATFORM) $(CORE_HDRS) \
                            sim/simcd.c sim/simcd.h | core-tools
	@mkdir -p $(@D)
	$(CORE_CLANG) $(CORE_TEST_CFLAGS) $(CORE_FUZZ_FLAGS) -Isim -pthread -o $@ $< sim/simcd.c $(CORE_SRCS) \
	  $(CORE_HOST_PLATFORM)

core-fuzz-build: $(CORE_FUZZ_BINS)

# FUZZ_SECONDS is the total for the core targets; each runs for its share (at least 1 s).
# New inputs go to $(CORE_OUT)/fuzz-corpus (the committed seeds are read only); a crash, leak,
# sanitizer report or failed assertion fails the run and leaves the input in fuzz-artifacts/.
core-fuzz-run: $(CORE_FUZZ_BINS)
	@per=$$(( $(FUZZ_SECONDS) / $(words $(CORE_FUZZ_NAMES)) )); [ $$per -ge 1 ] || per=1; \
	mkdir -p $(CORE_OUT)/fuzz-artifacts; fail=0; \
	for t in $(CORE_FUZZ_NAMES); do \
	  work=$(CORE_OUT)/fuzz-corpus/$$t; mkdir -p $$work; log=$(CORE_OUT)/fuzz/$$t.log; \
	  if $(CORE_OUT)/fuzz/$$t -max_total_time=$$per -print_final_stats=1 -timeout=10 -rss_limit_mb=1024 \
	       -artifact_prefix=$(CORE_OUT)/fuzz-artifacts/$$t- $$work ../test/fuzz/corpus/$$t >$$log 2>&1; \
	  then st=ok; else st=FAILED; fail=1; fi; \
	  execs=$$(sed -n 's/^stat::number_of_executed_units: *//p' $$log | tail -n 1); \
	  cov=$$(grep -ao 'cov: [0-9]*' $$log | tail -n 1 | cut -d' ' -f2); \
	  printf 'fuzz %-26s %-6s %3ss  %10s execs  cov %s\n' $$t $$st $$per "$${execs:-?}" "$${cov:-?}"; \
	  if [ $$st = FAILED ]; then tail -n 40 $$log; fi; \
	done; exit $$fail

# ---- benchmark binary (bench/core.ts runs it natively and under callgrind) ----
$(CORE_OUT)/core_bench: ../bench/c/core_bench.c $(CORE_SRCS) $(CORE_HOST_PLATFORM) $(CORE_HDRS) | $(BUILD)
	@mkdir -p $(@D)
	$(CC) $(CSTD) $(WARN) -O2 -g $(CORE_INC) -D_POSIX_C_SOURCE=200809L -pthread -o $@ \
	  ../bench/c/core_bench.c $(CORE_SRCS) $(CORE_HOST_PLATFORM)
