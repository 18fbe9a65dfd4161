# The KMDF glue against the framework's rules (docs/kmdf-harness.md).
#
#   make kmdf-check           the glue (kmdf/*.c) and kernel/platform_nt.c compiled by
#                             ../shared/tools/kmdf-check against Microsoft's KMDF 1.15 and 1.33
#                             headers, warnings as errors
#   make kmdf-harness-check   the WDF-contract harness: the unmodified glue, the core and
#                             kernel/platform_nt.c built with clang for x86_64-w64-mingw32 against
#                             the KMDF 1.15 headers, linked with the framework model
#                             (kmdf_harness/model.c) and run as a console program under Wine;
#                             also the PAGED_CODE() / alloc_text(PAGE) consistency of the glue
#
# Both are part of make check. The headers are a test dependency outside the repository
# (KMDF_HEADERS, by default the shared third_party copy beside the project); they are copied
# into $(BUILD) for the two spelling fixes clang needs, never into the project. A missing tool
# or header directory is a failure, never a skip.
#
# KH_GLUE_DIR=<dir> builds the harness over another copy of the glue (e.g. an older revision
# exported with git show) into $(BUILD)/kmdf_harness-<name of dir>.

KMDF_HEADERS ?= ../../shared/third_party/kmdf-headers
# KMDF_CHECK is relative to the project root.
KMDF_CHECK   ?= ../shared/tools/kmdf-check
KH_GLUE_DIR  ?= kmdf
KH_CLANG     ?= $(CLANG)
KH_MINGW     ?= x86_64-w64-mingw32-gcc
KH_OBJCOPY   ?= x86_64-w64-mingw32-objcopy
KH_WINE      ?= wine
KH_WINESERVER ?= wineserver
KH_DDK       ?= /usr/x86_64-w64-mingw32/include/ddk

KH_OUT   := $(BUILD)/kmdf_harness$(if $(filter kmdf,$(KH_GLUE_DIR)),,-$(notdir $(abspath $(KH_GLUE_DIR))))
KH_INC   := $(KH_OUT)/inc/1.15
KH_EXE   := $(KH_OUT)/kmdf_harness.exe
KH_GLUE_SRCS := $(wildcard $(KH_GLUE_DIR)/*.c)
KH_GLUE_OBJS := $(patsubst $(KH_GLUE_DIR)/%.c,$(KH_OUT)/glue/%.o,$(KH_GLUE_SRCS))
KH_CORE_OBJS := $(patsubst %.c,$(KH_OUT)/core/%.o,$(notdir $(CORE_SRCS) kernel/platform_nt.c))
KH_MODEL_OBJS := $(KH_OUT)/model/model.o $(KH_OUT)/model/scenarios.o $(KH_OUT)/model/irql_table.o \
                 $(KH_OUT)/model/win32.o

KH_TARGET := --target=x86_64-w64-mingw32 -fms-extensions -std=gnu11
KH_WARN   := -Wall -Wextra -Werror -Wno-unknown-pragmas
# The glue as kernel code: no cross-function inlining (so each function's code stays in its own
# section), one section per function (so alloc_text(PAGE/INIT) can be applied by objcopy).
KH_KFLAGS := $(KH_TARGET) -isystem $(KH_DDK) -isystem $(KH_INC) -D_AMD64_ -DKMDF_VERSION_MAJOR=1 \
             -DKMDF_VERSION_MINOR=15 -DCDFILTER_KMDF=1 $(KH_WARN) -O1 -fno-inline -ffunction-sections \
             -fno-stack-protector $(CORE_INC)

CHECK_TARGETS += kmdf-check kmdf-harness-check

.PHONY: kmdf-check kmdf-harness-check kmdf-harness-tools kmdf-harness-build

kmdf-check:
	@cd .. && { test -x $(KMDF_CHECK) || { echo "kmdf-check: $(KMDF_CHECK) not found" >&2; exit 1; }; }
	@cd .. && KMDF_SOURCES="$(addprefix driver/,$(wildcard kmdf/*.c)) driver/kernel/platform_nt.c" \
	  $(KMDF_CHECK) 1.15 1.33

kmdf-harness-tools:
	@for t in $(KH_CLANG) $(KH_MINGW) $(KH_OBJCOPY) $(KH_WINE) $(KH_WINESERVER); do \
	  command -v $$t >/dev/null 2>&1 || { \
	  echo "kmdf-harness: $$t not found (Debian: clang mingw-w64 wine)" >&2; exit 1; }; done
	@test -f $(KMDF_HEADERS)/1.15/wdf.h || { \
	  echo "kmdf-harness: KMDF 1.15 headers not found in $(KMDF_HEADERS)" >&2; exit 1; }
	@test -f $(KH_DDK)/ntifs.h || { echo "kmdf-harness: $(KH_DDK)/ntifs.h not found (mingw-w64)" >&2; exit 1; }

# The headers were written for a case-insensitive file system and MSVC: add the include
# spellings they use and accept the one forward-declared enum parameter (same ABI), as
# ../shared/tools/kmdf-check does.
$(KH_INC)/wdf.h: | kmdf-harness-tools
	@rm -rf $(KH_INC) && mkdir -p $(dir $(KH_INC))
	@cp -r $(KMDF_HEADERS)/1.15 $(KH_INC) && chmod -R u+w $(KH_INC)
	@cd $(KH_INC) && grep -ho '#include *"[^"]*"' *.h | sed 's/#include *"//; s/"$$//' | sort -u | \
	  while read -r name; do lower=$$(echo "$$name" | tr 'A-Z' 'a-z'); \
	  if [ ! -e "$$name" ] && [ -e "$$lower" ]; then ln -s "$$lower" "$$name"; fi; done
	@sed -i 's/WDF_REQUEST_TYPE RequestType/ULONG RequestType/' $(KH_INC)/wdfdevice.h

$(KH_OUT)/model/irql_table.c: kmdf_harness/irql_table.awk $(KH_INC)/wdf.h
	@mkdir -p $(@D)
	awk -f kmdf_harness/irql_table.awk $(KH_INC)/wdf*.h > $@

# Each glue object: functions named in alloc_text(PAGE, f) / alloc_text(INIT, f) move from
# .text$f to the PAGE / INIT section (clang ignores the pragma), so the model can tell
# pageable code by address.
$(KH_OUT)/glue/%.o: $(KH_GLUE_DIR)/%.c $(wildcard $(KH_GLUE_DIR)/*.h) $(CORE_HDRS) $(KH_INC)/wdf.h
	@mkdir -p $(@D)
	$(KH_CLANG) $(KH_KFLAGS) -I$(KH_GLUE_DIR) -c $< -o $@.tmp
	@sections=$$(sed -n 's/^#pragma alloc_text(\(PAGE\|INIT\), *\([A-Za-z0-9_]*\)).*/\1 \2/p' $< | \
	  while read -r sec fn; do \
	    printf -- "--rename-section .text\$$%s=%s,alloc,load,readonly,code,contents " "$$fn" "$$sec"; \
	  done); \
	$(KH_OBJCOPY) $$sections $@.tmp $@ && rm -f $@.tmp
	@if x86_64-w64-mingw32-objdump -h $@ | grep -q ' \.text\$$Wdf'; then \
	  echo "kmdf-harness: a WDF inline wrapper was not inlined in $@" >&2; rm -f $@; exit 1; fi

$(KH_OUT)/core/%.o: core/%.c $(CORE_HDRS) $(KH_INC)/wdf.h
	@mkdir -p $(@D)
	$(KH_CLANG) $(KH_KFLAGS) -D_KERNEL_MODE -c $< -o $@

$(KH_OUT)/core/%.o: core/gen/%.c $(CORE_HDRS) $(KH_INC)/wdf.h
	@mkdir -p $(@D)
	$(KH_CLANG) $(KH_KFLAGS) -D_KERNEL_MODE -c $< -o $@

$(KH_OUT)/core/%.o: kernel/%.c core/cdf_platform.h $(KH_INC)/wdf.h
	@mkdir -p $(@D)
	$(KH_CLANG) $(KH_KFLAGS) -D_KERNEL_MODE -c $< -o $@

$(KH_OUT)/model/%.o: kmdf_harness/%.c kmdf_harness/model.h kmdf_harness/win32.h $(KH_INC)/wdf.h
	@mkdir -p $(@D)
	$(KH_CLANG) $(KH_TARGET) -isystem $(KH_DDK) -isystem $(KH_INC) -D_AMD64_ -DKMDF_VERSION_MAJOR=1 \
	  -DKMDF_VERSION_MINOR=15 $(KH_WARN) -O1 -g $(CORE_INC) -Ikmdf_harness -c $< -o $@

$(KH_OUT)/model/irql_table.o: $(KH_OUT)/model/irql_table.c kmdf_harness/model.h
	$(KH_CLANG) $(KH_TARGET) -isystem $(KH_DDK) -isystem $(KH_INC) -D_AMD64_ -DKMDF_VERSION_MAJOR=1 \
	  -DKMDF_VERSION_MINOR=15 $(KH_WARN) -Wno-initializer-overrides -O1 -Ikmdf_harness -c $< -o $@

$(KH_OUT)/model/win32.o: kmdf_harness/win32.c kmdf_harness/win32.h | kmdf-harness-tools
	@mkdir -p $(@D)
	$(KH_CLANG) $(KH_TARGET) $(KH_WARN) -O1 -c $< -o $@

# mingw-w64's wdm.h defines InterlockedBitTestAndSet/Reset out of line in every object that
# includes it (identical copies): let the linker keep one.
$(KH_EXE): $(KH_GLUE_OBJS) $(KH_CORE_OBJS) $(KH_MODEL_OBJS)
	$(KH_MINGW) -Wl,--allow-multiple-definition -o $@ $^

kmdf-harness-build: $(KH_EXE)

# stdout must be a file under Wine (docs/wine.md: a pipe gives EBADF to some programs); own prefix,
# its wineserver stopped afterwards.
kmdf-harness-check: $(KH_EXE)
	@awk -f kmdf_harness/paged_code_check.awk $(KH_GLUE_SRCS)
	@mkdir -p $(KH_OUT)/wineprefix
	@WINEPREFIX=$(abspath $(KH_OUT))/wineprefix WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml=" \
	  $(KH_WINE) $(KH_EXE) </dev/null >$(KH_OUT)/harness.log 2>&1; rc=$$?; \
	  WINEPREFIX=$(abspath $(KH_OUT))/wineprefix $(KH_WINESERVER) -k 2>/dev/null; \
	  grep -v '^wine: \|^[0-9a-f]*:err:\|^[0-9a-f]*:fixme:' $(KH_OUT)/harness.log; \
	  grep -q '^kmdf-harness: 0 of' $(KH_OUT)/harness.log || rc=1; exit $$rc
