# Codec area: the protobuf wire runtime (core/pb_wire.c) and the generated codecs.
#   $(BUILD)/libcdfcodec.so   host library for koffi tests: runtime + cdfilter + conf codecs and
#                             their *_reflect.c entry points (cdf_codec_roundtrip, conf_codec_roundtrip)
#   codec-kernel-check        the kernel-side files compile as kernel code (mingw-w64 DDK,
#                             _KERNEL_MODE) and as strict pedantic C11 (clang)
# The generated files are checked in; `npm run codegen` regenerates them from proto/.

CODEC_CORE_SRCS := core/pb_wire.c core/gen/cdfilter.pb.c
CODEC_HOST_SRCS := $(CODEC_CORE_SRCS) core/gen/cdfilter_reflect.c \
                   ../test/gen/conf.pb.c ../test/gen/conf_reflect.c
CODEC_HDRS      := core/pb_wire.h core/gen/cdfilter.pb.h core/gen/cdfilter_ioctl.h ../test/gen/conf.pb.h

MINGW_CC        ?= x86_64-w64-mingw32-gcc
MINGW_DDK_INC   ?= /usr/x86_64-w64-mingw32/include/ddk
CODEC_KCHECK    := $(BUILD)/codec-kcheck

$(BUILD)/libcdfcodec.so: $(CODEC_HOST_SRCS) $(CODEC_HDRS) | $(BUILD)
	$(CC) $(HOST_CFLAGS) -I../test/gen -shared -o $@ $(CODEC_HOST_SRCS)

HOST_TARGETS += $(BUILD)/libcdfcodec.so

.PHONY: codec-kernel-check
codec-kernel-check: $(CODEC_CORE_SRCS) $(CODEC_HDRS) | $(BUILD)
	@command -v $(MINGW_CC) >/dev/null || { echo "codec-kernel-check: $(MINGW_CC) not found (apt-get install mingw-w64)"; exit 1; }
	@command -v $(CLANG) >/dev/null || { echo "codec-kernel-check: $(CLANG) not found (apt-get install clang)"; exit 1; }
	mkdir -p $(CODEC_KCHECK)
	for f in $(CODEC_CORE_SRCS); do \
	  $(MINGW_CC) -I$(MINGW_DDK_INC) -D_KERNEL_MODE -std=c11 -Wall -Wextra -Werror $(CORE_INC) \
	    -c $$f -o $(CODEC_KCHECK)/$$(basename $$f .c).kernel.o || exit 1; \
	  $(CLANG) -std=c11 -Wall -Wextra -Werror -Wpedantic -Wshadow -Wvla -Wstrict-prototypes \
	    -Wmissing-prototypes $(CORE_INC) -c $$f -o $(CODEC_KCHECK)/$$(basename $$f .c).clang.o || exit 1; \
	done
	@# The kernel objects may only call each other and memcpy/memset (no other libc, no heap).
	@bad=$$(x86_64-w64-mingw32-nm -u $(CODEC_KCHECK)/*.kernel.o | awk 'NF==2 {print $$2}' | \
	  grep -v -E '^(cdf_pb_[a-z0-9_]+|memcpy|memset)$$' | sort -u); \
	  if [ -n "$$bad" ]; then echo "codec-kernel-check: unexpected external symbols: $$bad"; exit 1; fi
	@echo "codec-kernel-check: pb_wire.c and cdfilter.pb.c compile in kernel mode and as pedantic C11"

CHECK_TARGETS += codec-kernel-check
