# Trace analysis (output capture at completion, protocol version check): C unit test of the
# core's output capture (test/c/output_capture.c), ASan + UBSan.
#
#   make check   analysis-check

ANALYSIS_OUT := $(BUILD)/analysis

CHECK_TARGETS += analysis-check

.PHONY: analysis-check

$(ANALYSIS_OUT)/output_capture: ../test/c/output_capture.c $(CORE_SRCS) $(CORE_HOST_PLATFORM) $(CORE_HDRS) | core-tools
	@mkdir -p $(@D)
	$(CORE_CLANG) $(CORE_TEST_CFLAGS) $(CORE_ASAN) -pthread -o $@ ../test/c/output_capture.c $(CORE_SRCS) $(CORE_HOST_PLATFORM)

analysis-check: $(ANALYSIS_OUT)/output_capture
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 $(ANALYSIS_OUT)/output_capture
