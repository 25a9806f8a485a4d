/*-------------------------------------------------------------------------
 *
 * vocabulary.h
 *	  What the concerns of leadfunnel share: the stage and model enums as
 *	  small integers, and the mapping between them and the OIDs of the SQL
 *	  enum labels in schema leadfunnel.
 *
 * C code works with stage ordinals (0 = visitor ... 11 = lost), which follow
 * the contract order of leadfunnel.lead_stage, so "at or beyond" is a plain
 * integer comparison.
 *
 *-------------------------------------------------------------------------
 */
#ifndef LEADFUNNEL_VOCABULARY_H
#define LEADFUNNEL_VOCABULARY_H

#include "postgres.h"

#include "access/tupdesc.h"

#define LF_SCHEMA "leadfunnel"

typedef enum LfStage
{
	LF_STAGE_VISITOR = 0,
	LF_STAGE_LEAD,
	LF_STAGE_MQL,
	LF_STAGE_TAL,
	LF_STAGE_TQL,
	LF_STAGE_SAL,
	LF_STAGE_SQL,
	LF_STAGE_OPPORTUNITY,
	LF_STAGE_WON,
	LF_STAGE_RECYCLED,
	LF_STAGE_DISQUALIFIED,
	LF_STAGE_LOST
} LfStage;

#define LF_NUM_STAGES		12
#define LF_NUM_OPEN_STAGES	8	/* visitor .. opportunity */
#define LF_STAGE_IS_OPEN(s)		((s) <= LF_STAGE_OPPORTUNITY)
#define LF_STAGE_IS_CLOSED(s)	((s) >= LF_STAGE_WON)
#define LF_STAGE_IS_LOSS(s)		((s) >= LF_STAGE_RECYCLED)	/* closed, not won */

typedef enum LfAttributionModel
{
	LF_MODEL_FIRST_TOUCH = 0,
	LF_MODEL_LAST_TOUCH,
	LF_MODEL_LINEAR,
	LF_MODEL_U_SHAPED,
	LF_MODEL_W_SHAPED,
	LF_MODEL_FULL_PATH,
	LF_MODEL_TIME_DECAY,
	LF_MODEL_J_SHAPED,
	LF_MODEL_INVERSE_J
} LfAttributionModel;

#define LF_NUM_MODELS 9
#define LF_NUM_MODELS_0_2 7		/* models of 0.2.0 (attribution_totals_state v1) */

/* leadfunnel.account_status, in contract order (see lifecycle.c). */
typedef enum LfAccountStatus
{
	LF_STATUS_PROSPECT = 0,
	LF_STATUS_NEW_CUSTOMER,
	LF_STATUS_ACTIVE_CUSTOMER,
	LF_STATUS_ADVOCATE,
	LF_STATUS_FORMER_CUSTOMER
} LfAccountStatus;

#define LF_NUM_ACCOUNT_STATUSES 5
#define LF_STATUS_IS_CUSTOMER(s) ((s) >= LF_STATUS_NEW_CUSTOMER && (s) <= LF_STATUS_ADVOCATE)

/* leadfunnel.lead_motion, in contract order. */
typedef enum LfMotion
{
	LF_MOTION_NEW_BUSINESS = 0,
	LF_MOTION_EXPANSION,
	LF_MOTION_WIN_BACK
} LfMotion;

#define LF_NUM_MOTIONS 3

/* A set of stages, bit i standing for stage ordinal i. */
typedef uint16 LfStageSet;
#define LF_STAGE_BIT(s)		((LfStageSet) (1 << (s)))

/* The SQL enum types whose labels C code maps to ordinals. */
typedef enum LfEnumKind
{
	LF_ENUM_STAGE = 0,
	LF_ENUM_MODEL,
	LF_ENUM_ACCOUNT_STATUS,
	LF_ENUM_MOTION,
	LF_NUM_ENUM_KINDS
} LfEnumKind;

extern const char *const lf_stage_names[LF_NUM_STAGES];
extern const char *const lf_model_names[LF_NUM_MODELS];
extern const char *const lf_account_status_names[LF_NUM_ACCOUNT_STATUSES];
extern const char *const lf_motion_names[LF_NUM_MOTIONS];

/* Label OID <-> ordinal; an OID not of the type is a can't-happen error. */
extern int	lf_enum_ordinal(LfEnumKind kind, Oid label);
extern Oid	lf_enum_label(LfEnumKind kind, int ordinal);
extern Oid	lf_enum_type(LfEnumKind kind);

#define lf_stage_from_oid(o)	((LfStage) lf_enum_ordinal(LF_ENUM_STAGE, (o)))
#define lf_stage_to_oid(s)		lf_enum_label(LF_ENUM_STAGE, (s))

/* A lead_stage[] of the stages in a set, in enum order. */
extern struct ArrayType *lf_stage_set_to_array(LfStageSet set);
/* "mql", "tal", "lost" -- for messages; "(none)" for the empty set. */
extern char *lf_stage_set_to_text(LfStageSet set);

/* Whether a column differs between the old and new row of an UPDATE. */
struct HeapTupleData;
extern bool lf_column_changed(struct HeapTupleData *oldtup, struct HeapTupleData *newtup,
							  TupleDesc desc, AttrNumber attnum);

/* qsort() and bsearch() order of int64 keys (lead and account ids). */
static inline int
lf_int64_cmp(const void *a, const void *b)
{
	int64		x = *(const int64 *) a;
	int64		y = *(const int64 *) b;

	return (x > y) - (x < y);
}

#endif							/* LEADFUNNEL_VOCABULARY_H */
