/*-------------------------------------------------------------------------
 *
 * invalidation.c
 *	  Owns the extension's one relcache callback and the list of the
 *	  concerns' handlers it calls (see invalidation.h).  It calls no other
 *	  file of src/: the concerns register themselves.
 *
 * One callback for the whole extension: PostgreSQL has room for only ten
 * (MAX_RELCACHE_CALLBACKS), shared by core and every loaded library; Citus
 * takes five, so a callback per leadfunnel concern would run out of slots
 * ("out of relcache_callback_list slots") on a Citus node.  The slot is
 * taken at load, as before the concerns registered themselves, so running
 * out shows when the library is loaded, not in the middle of a statement.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/inval.h"

#include "invalidation.h"

/* More than the concerns of src/ need; raise it when one more would not fit. */
#define LF_MAX_RELCACHE_HANDLERS 16

static LfRelcacheHandler handlers[LF_MAX_RELCACHE_HANDLERS];
static int	nhandlers = 0;
static bool callback_registered = false;

static void
relcache_invalidate(Datum arg, Oid relid)
{
	for (int i = 0; i < nhandlers; i++)
		handlers[i] (relid);
}

void
lf_invalidation_init(void)
{
	if (callback_registered)
		return;
	CacheRegisterRelcacheCallback(relcache_invalidate, (Datum) 0);
	callback_registered = true;
}

void
lf_on_relcache_invalidation(LfRelcacheHandler handler)
{
	for (int i = 0; i < nhandlers; i++)
		if (handlers[i] == handler)
			return;
	if (nhandlers >= LF_MAX_RELCACHE_HANDLERS)
		elog(ERROR, "out of leadfunnel relcache handler slots");
	lf_invalidation_init();
	handlers[nhandlers++] = handler;
}
