# The core's kernel platform layer (kernel/platform_nt.c, shared by the KMDF filter and the Wine
# WDM host) compiled as kernel code with mingw-w64's DDK headers, by gcc and by clang, warnings
# as errors. The core itself is compiled in kernel mode by core-kernel-check (mk/core.mk) and
# linked with this file, without any C runtime, by mk/wine.mk. The KMDF glue (kmdf/*.c) and this
# file against Microsoft's KMDF headers: mk/kmdf_harness.mk (kmdf-check, and the glue run
# against a model of the framework, docs/kmdf-harness.md); the real WDK build:
# .github/workflows/windows.yml.
#
#   make kernel-platform-check   (part of make check)

KERNEL_CC      ?= x86_64-w64-mingw32-gcc
KERNEL_CLANG   ?= $(CLANG)
KERNEL_DDK_INC ?= /usr/x86_64-w64-mingw32/include/ddk
KERNEL_OUT     := $(BUILD)/kernel
KERNEL_CFLAGS  := -I$(KERNEL_DDK_INC) -D_KERNEL_MODE $(CSTD) $(WARN) -O2 $(CORE_INC)

CHECK_TARGETS += kernel-platform-check

.PHONY: kernel-platform-check kernel-tools

kernel-tools:
	@for t in $(KERNEL_CC) $(KERNEL_CLANG); do command -v $$t >/dev/null 2>&1 || { \
	  echo "kernel-platform-check: $$t not found (Debian: mingw-w64 clang)" >&2; exit 1; }; done
	@test -f $(KERNEL_DDK_INC)/ntddk.h || { \
	  echo "kernel-platform-check: $(KERNEL_DDK_INC)/ntddk.h not found (Debian: mingw-w64)" >&2; exit 1; }

$(KERNEL_OUT)/platform_nt.gcc.o: kernel/platform_nt.c core/cdf_platform.h | kernel-tools
	@mkdir -p $(@D)
	$(KERNEL_CC) $(KERNEL_CFLAGS) -c $< -o $@

$(KERNEL_OUT)/platform_nt.clang.o: kernel/platform_nt.c core/cdf_platform.h | kernel-tools
	@mkdir -p $(@D)
	$(KERNEL_CLANG) --target=x86_64-w64-mingw32 -isystem $(KERNEL_DDK_INC) -D_KERNEL_MODE \
	  $(CSTD) $(WARN) -O2 $(CORE_INC) -c $< -o $@

kernel-platform-check: $(KERNEL_OUT)/platform_nt.gcc.o $(KERNEL_OUT)/platform_nt.clang.o
