/*
 * cdf_control.h - the control dispatcher's internals shared with cdf_core.c. The dispatcher
 * itself (cdf_control_dispatch) is declared in cdf_core.h.
 */
#ifndef CDF_CONTROL_H
#define CDF_CONTROL_H

#include <stddef.h>

/* Bytes of scratch the core reserves at init for building control replies (the largest reply
 * struct, e.g. a 16-drive LedgerSnapshot), so that no reply struct lives on the kernel stack. */
size_t cdf_control_scratch_bytes(void);

#endif /* CDF_CONTROL_H */
