# The simulated CD-ROM stack (driver/sim): build/libcdfsim.so for Node (koffi), and a check that
# the simulated cdrom.sys (sim/simcd.c, linked by the Wine kernel host too) compiles as kernel
# code with mingw-w64.
#
#   make host              builds $(BUILD)/libcdfsim.so (npm run build:c)
#   make sim-kernel-check  compiles sim/simcd.c in kernel mode (part of make check)
#
# CORE_SRCS and CORE_HOST_PLATFORM come from mk/core.mk (included before this file).

SIM_LIB        := $(BUILD)/libcdfsim.so
SIM_SRCS       := sim/simcd.c sim/cdfsim.c
SIM_HDRS       := sim/simcd.h sim/cdfsim.h $(wildcard core/*.h core/gen/*.h)
SIM_MINGW      ?= x86_64-w64-mingw32-gcc
SIM_DDK_INC    ?= /usr/x86_64-w64-mingw32/include/ddk
SIM_KERNEL_OBJ := $(BUILD)/sim-kernel/simcd.o

HOST_TARGETS  += $(SIM_LIB)
CHECK_TARGETS += sim-kernel-check

.PHONY: sim-kernel-check

$(SIM_LIB): $(SIM_SRCS) $(CORE_SRCS) $(CORE_HOST_PLATFORM) $(SIM_HDRS) | $(BUILD)
	$(CC) $(HOST_CFLAGS) -pthread -Isim -shared -o $@ $(SIM_SRCS) $(CORE_SRCS) $(CORE_HOST_PLATFORM)

# Kernel mode: C11, the DDK headers, _KERNEL_MODE, warnings as errors. A missing cross compiler is
# a failure (CI=true never skips).
$(SIM_KERNEL_OBJ): sim/simcd.c sim/simcd.h core/cdf_platform.h core/cdf_core.h core/cdf_nt.h
	@command -v $(SIM_MINGW) >/dev/null 2>&1 || { \
	  echo "sim-kernel-check: $(SIM_MINGW) not found (Debian: mingw-w64)" >&2; exit 1; }
	@mkdir -p $(@D)
	$(SIM_MINGW) -I$(SIM_DDK_INC) -D_KERNEL_MODE -std=c11 -Wall -Wextra -Werror -Wvla \
	  -Wstrict-prototypes -Wmissing-prototypes -Icore -Isim -c sim/simcd.c -o $@

sim-kernel-check: $(SIM_KERNEL_OBJ)
