/*
 * trace.h - debug output of the KMDF glue, without WPP.
 *
 * Messages go to the kernel debugger through DbgPrintEx under the IHV driver component, so
 * they are filtered like every third-party driver's output:
 *   kd> ed nt!Kd_IHVDRIVER_Mask 0xF        (or the registry key
 *   HKLM\SYSTEM\CurrentControlSet\Control\Session Manager\Debug Print Filter, value IHVDRIVER)
 * The request trace itself is not here: it is the core's ring, read through \\.\CdFilter.
 */
#ifndef CDF_KMDF_TRACE_H
#define CDF_KMDF_TRACE_H

#define CDF_DBG_ERROR   DPFLTR_ERROR_LEVEL    /* always shown when the component is enabled */
#define CDF_DBG_WARNING DPFLTR_WARNING_LEVEL
#define CDF_DBG_INFO    DPFLTR_INFO_LEVEL

/* CdfDbgPrint(CDF_DBG_ERROR, "WdfDeviceCreate failed 0x%08X\n", status); at any IRQL. */
#define CdfDbgPrint(Level, ...) \
    ((void)DbgPrintEx(DPFLTR_IHVDRIVER_ID, (Level), "cdfilter: " __VA_ARGS__))

#endif /* CDF_KMDF_TRACE_H */
