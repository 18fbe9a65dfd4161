# Codec verification: the malformed-input C test under ASan+UBSan (CHECK_TARGETS) and the codec
# libFuzzer targets (FUZZ_RUN_TARGETS). Sources are compiled here directly (not through
# libcdfcodec.so) so that the sanitizers instrument the codec itself.
#
#   make check                      runs codec-malformed-check (also with CDF_PB_MAX_DEPTH=2)
#   make fuzz-run FUZZ_SECONDS=60   runs every codec fuzz target for FUZZ_SECONDS / <targets> s
#   make codec-fuzz-build           builds the fuzz binaries only

CODECV_CLANG    := $(CLANG)
CODECV_SAN      := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
CODECV_CFLAGS   := $(CSTD) $(WARN) -g -O1 $(CORE_INC) -I../test/gen
CODECV_SRCS     := core/pb_wire.c core/gen/cdfilter.pb.c ../test/gen/conf.pb.c
CODECV_HDRS     := core/pb_wire.h core/gen/cdfilter.pb.h ../test/gen/conf.pb.h
CODECV_OUT      := $(BUILD)/codec-verify

# One fuzz target per top-level request message of the control protocol, plus conf.Choice /
# conf.Repeated in one target (the first input byte picks the type).
CODECV_FUZZ_TYPES := InfoRequest DrivesRequest LedgerRequest PolicyRequest SetPolicyRequest \
                     TraceConfigRequest TraceConfig TraceReadRequest ClearTraceRequest
CODECV_FUZZ_NAMES := $(addprefix codec_,$(CODECV_FUZZ_TYPES)) codec_conf
CODECV_FUZZ_BINS  := $(addprefix $(CODECV_OUT)/fuzz/,$(CODECV_FUZZ_NAMES))
CODECV_FUZZ_FLAGS := -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

CHECK_TARGETS    += codec-malformed-check
FUZZ_RUN_TARGETS += codec-fuzz-run

.PHONY: codec-malformed-check codec-fuzz-build codec-fuzz-run codec-verify-tools

codec-verify-tools:
	@command -v $(CODECV_CLANG) >/dev/null 2>&1 || { \
	  echo "codec_verify: $(CODECV_CLANG) not found (Debian: clang, libfuzzer-14-dev)" >&2; exit 1; }

$(CODECV_OUT)/codec_malformed: ../test/c/codec_malformed.c $(CODECV_SRCS) $(CODECV_HDRS) | codec-verify-tools
	@mkdir -p $(@D)
	$(CODECV_CLANG) $(CODECV_CFLAGS) $(CODECV_SAN) -o $@ ../test/c/codec_malformed.c $(CODECV_SRCS)

# The same test against a codec built with a nesting limit of 2 (conf Depth1->Depth2->Depth3
# must then fail with CDF_PB_ERR_DEPTH).
$(CODECV_OUT)/codec_malformed_depth2: ../test/c/codec_malformed.c $(CODECV_SRCS) $(CODECV_HDRS) | codec-verify-tools
	@mkdir -p $(@D)
	$(CODECV_CLANG) $(CODECV_CFLAGS) $(CODECV_SAN) -DCDF_PB_MAX_DEPTH=2 -o $@ ../test/c/codec_malformed.c $(CODECV_SRCS)

codec-malformed-check: $(CODECV_OUT)/codec_malformed $(CODECV_OUT)/codec_malformed_depth2
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 $(CODECV_OUT)/codec_malformed
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 $(CODECV_OUT)/codec_malformed_depth2

$(CODECV_OUT)/fuzz/codec_conf: ../test/fuzz/codec_fuzz.c $(CODECV_SRCS) $(CODECV_HDRS) | codec-verify-tools
	@mkdir -p $(@D)
	$(CODECV_CLANG) $(CODECV_CFLAGS) $(CODECV_FUZZ_FLAGS) -DCODEC_FUZZ_CONF=1 -o $@ ../test/fuzz/codec_fuzz.c $(CODECV_SRCS)

$(CODECV_OUT)/fuzz/codec_%: ../test/fuzz/codec_fuzz.c $(CODECV_SRCS) $(CODECV_HDRS) | codec-verify-tools
	@mkdir -p $(@D)
	$(CODECV_CLANG) $(CODECV_CFLAGS) $(CODECV_FUZZ_FLAGS) -DCODEC_FUZZ_TYPE=cdf_$* -o $@ ../test/fuzz/codec_fuzz.c $(CODECV_SRCS)

codec-fuzz-build: $(CODECV_FUZZ_BINS)

# FUZZ_SECONDS is the total for all codec targets; each runs for its share (at least 1 s).
# A crash, leak, sanitizer report or fixed-point violation fails the run (libFuzzer exits
# non-zero and leaves the input in $(CODECV_OUT)/fuzz-artifacts/).
codec-fuzz-run: $(CODECV_FUZZ_BINS)
	@per=$$(( $(FUZZ_SECONDS) / $(words $(CODECV_FUZZ_NAMES)) )); [ $$per -ge 1 ] || per=1; \
	mkdir -p $(CODECV_OUT)/fuzz-artifacts; fail=0; \
	for t in $(CODECV_FUZZ_NAMES); do \
	  work=$(CODECV_OUT)/fuzz-corpus/$$t; mkdir -p $$work; log=$(CODECV_OUT)/fuzz/$$t.log; \
	  if $(CODECV_OUT)/fuzz/$$t -max_total_time=$$per -print_final_stats=1 -timeout=10 -rss_limit_mb=1024 \
	       -artifact_prefix=$(CODECV_OUT)/fuzz-artifacts/$$t- $$work ../test/fuzz/corpus/$$t >$$log 2>&1; \
	  then st=ok; else st=FAILED; fail=1; fi; \
	  execs=$$(sed -n 's/^stat::number_of_executed_units: *//p' $$log | tail -n 1); \
	  cov=$$(grep -o 'cov: [0-9]*' $$log | tail -n 1 | cut -d' ' -f2); \
	  printf 'fuzz %-26s %-6s %3ss  %10s execs  cov %s\n' $$t $$st $$per "$${execs:-?}" "$${cov:-?}"; \
	  if [ $$st = FAILED ]; then tail -n 40 $$log; fi; \
	done; exit $$fail
