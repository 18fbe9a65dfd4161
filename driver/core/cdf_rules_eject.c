/*
 * cdf_rules_eject.c - eject/load and SCSI pass-through under another owner's secure lock.
 *
 * cdrom.sys refuses IOCTL_STORAGE_EJECT_MEDIA (and LOAD) with STATUS_DEVICE_BUSY while any
 * secure lock is held (cdrom.sys sample, storage/class/cdrom/src/ioctl.c,
 * RequestHandleLoadEjectMedia, ProtectedLockCount != 0), but a SCSI pass-through START STOP
 * UNIT (LoEj) or PREVENT ALLOW MEDIUM REMOVAL (Prevent clear) goes to the drive untouched. The
 * filter's rule, under enforce: an eject, or a pass-through eject/allow, from anyone but the
 * handle holding every secure lock is completed with STATUS_DEVICE_BUSY; under observe it is
 * traced with reason WOULD_DENY. Loads pass: cdrom.sys decides them. Locks the core could not
 * attribute (orphans) never count against the eject.
 */
#include "cdf_rules.h"
#include "cdf_ledger.h"

/* Secure locks of file objects the core could not track (the drive's orphans) do not count
 * here: their owner is unknown, and cdrom.sys, which released them at those file objects'
 * close, refuses the eject by itself while they are held. */
static void refuse_under_lock(cdf_step *s, uint8_t why)
{
    if (s->d->secure_total == s->d->orphan_secure || cdf_ledger_sole_secure_owner(s->d, s->h)) return;
    if (s->enforce) cdf_rule_deny(s, CDF_STATUS_DEVICE_BUSY, why);
    else s->reason = CDF_RSN_WOULD_DENY;
}

void cdf_eject_dispatch(cdf_step *s)
{
    if (s->cls->ejects) refuse_under_lock(s, CDF_RSN_EJECT_UNDER_LOCK);
}

void cdf_passthrough_dispatch(cdf_step *s)
{
    if (s->cls->effect == CDF_SCSI_EJECT) refuse_under_lock(s, CDF_RSN_PASSTHROUGH_EJECT_UNDER_LOCK);
    else if (s->cls->effect == CDF_SCSI_ALLOW) refuse_under_lock(s, CDF_RSN_PASSTHROUGH_ALLOW_UNDER_LOCK);
}
