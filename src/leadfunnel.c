/*-------------------------------------------------------------------------
 *
 * leadfunnel.c
 *	  The module start, at the top of src/: PG_MODULE_MAGIC and _PG_init.
 *
 * Nothing below includes or calls this file.  Loading takes the extension's
 * one relcache callback slot (invalidation.c) and defines the one setting
 * that is a GUC (leadfunnel.tracking_batch_insert, tracking.c; the others are
 * rows of leadfunnel.setting); every concern registers its own cache
 * invalidation the first time it builds a cache, so a new concern is a new
 * file and no line here.  doc/architecture.md has the layers.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"

#include "invalidation.h"
#include "tracking.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	lf_invalidation_init();
	lf_tracking_init();
}
