/*
 * cdf_classify.c - cdrom.sys's NormalizeIoctl for hosts and tests (the classification itself is
 * inline in cdf_class.h: it runs on every request).
 */
#include "cdf_class.h"

uint32_t cdf_normalize_ioctl(uint32_t code)
{
    return cdf_class_normalize(code);
}
