# The Wine kernel host (driver/wine): a WDM .sys built with mingw-w64 that hosts the core over
# simulated CD-ROM drives and loads into Wine's ntoskrnl (docs/wine.md, npm run test:wine).
#
#   make wine-sys   builds $(BUILD)/wine/cdfilter_wine.sys (also part of make check: the whole
#                   kernel host, core included, must compile and link as kernel code)
#
# CORE_SRCS comes from mk/core.mk (included before this file). A missing cross compiler is a
# failure, never a skip.

WINE_MINGW    ?= x86_64-w64-mingw32-gcc
WINE_DDK_INC  ?= /usr/x86_64-w64-mingw32/include/ddk
WINE_SYS      := $(BUILD)/wine/cdfilter_wine.sys
WINE_SRCS     := wine/wine_host.c wine/wine_process.c wine/wine_waits.c kernel/platform_nt.c \
                 sim/simcd.c $(CORE_SRCS)
WINE_HDRS     := $(wildcard wine/*.h sim/simcd.h core/*.h core/gen/*.h)
# Kernel code: no C runtime (not even libgcc: an undefined symbol is a call a kernel cannot
# satisfy), no stack protector, no red zone.
WINE_CFLAGS   := -I$(WINE_DDK_INC) -D_KERNEL_MODE $(CSTD) $(WARN) -O2 $(CORE_INC) -Isim -Iwine \
                 -fno-stack-protector -mno-red-zone -fno-asynchronous-unwind-tables
WINE_LDFLAGS  := -shared -nostdlib -Wl,--subsystem,native -Wl,--entry,DriverEntry \
                 -Wl,--dynamicbase -Wl,--nxcompat

CHECK_TARGETS += wine-sys

.PHONY: wine-sys
wine-sys: $(WINE_SYS)

$(WINE_SYS): $(WINE_SRCS) $(WINE_HDRS)
	@command -v $(WINE_MINGW) >/dev/null 2>&1 || { \
	  echo "wine-sys: $(WINE_MINGW) not found (Debian: mingw-w64)" >&2; exit 1; }
	@mkdir -p $(@D)
	$(WINE_MINGW) $(WINE_CFLAGS) $(WINE_LDFLAGS) -o $@ $(WINE_SRCS) -lntoskrnl -lhal
