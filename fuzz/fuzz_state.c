/*-------------------------------------------------------------------------
 *
 * fuzz_state.c
 *	  libFuzzer harness for the input (text) or receive (binary) function of
 *	  one state type of leadfunnel, standalone: linked with leadfunnel's
 *	  objects and the backend object files of a PostgreSQL build tree, no
 *	  server or database (tools/fuzz.sh builds and runs it; doc/testing.md,
 *	  "Fuzzing").
 *
 * Compiled once per state type and form with
 *	  -DFUZZ_TYPE=<type>	the C functions are lf_<type>_in/_out/_recv/_send
 *	  -DFUZZ_RECV			fuzz the receive function (else the input function)
 *
 * Each input runs in a memory context that is reset afterwards.  An ERROR
 * raised by the function under test (caught with PG_TRY) with the documented
 * SQLSTATE (22P02 from an input function, 22P03 from a receive function) is
 * the expected way to refuse bad bytes, any other SQLSTATE is a find; so is a
 * receive function that leaves bytes unread (the server refuses that with
 * 22P03) the expected way.  A value that is accepted must survive
 * round trips: out(in(out(v))) = out(v), send(recv(send(v))) = send(v) and
 * out(recv(send(v))) = out(v), without an ERROR.  A crash, a sanitizer report
 * (ASan, UBSan), a WARNING or worse (with assertions, the memory-context
 * checks of a cassert build report a write past the end of a chunk as a
 * WARNING), or a failed round trip aborts: a find.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/memutils.h"

#ifndef FUZZ_TYPE
#error "FUZZ_TYPE must name the state type"
#endif

#define FUZZ_CAT3(a, b, c) a##b##c
#define FUZZ_FN(type, suffix) FUZZ_CAT3(lf_, type, suffix)
#define FUZZ_STR2(x) #x
#define FUZZ_STR(x) FUZZ_STR2(x)

extern Datum FUZZ_FN(FUZZ_TYPE, _in) (PG_FUNCTION_ARGS);
extern Datum FUZZ_FN(FUZZ_TYPE, _out) (PG_FUNCTION_ARGS);
extern Datum FUZZ_FN(FUZZ_TYPE, _recv) (PG_FUNCTION_ARGS);
extern Datum FUZZ_FN(FUZZ_TYPE, _send) (PG_FUNCTION_ARGS);

int			LLVMFuzzerInitialize(int *argc, char ***argv);
int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* main.o (which defines it) is not linked: libFuzzer has the main(). */
const char *progname = "fuzz_" FUZZ_STR(FUZZ_TYPE);

static MemoryContext fuzz_ctx;

static void
fuzz_abort(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz_%s: %s%s%s\n", FUZZ_STR(FUZZ_TYPE), what,
			detail ? ": " : "", detail ? detail : "");
	abort();
}

/* The SQLSTATE of a refusal: 22P03 from a receive function, 22P02 from an input function. */
#ifdef FUZZ_RECV
#define FUZZ_REFUSAL_CODE	ERRCODE_INVALID_BINARY_REPRESENTATION
#else
#define FUZZ_REFUSAL_CODE	ERRCODE_INVALID_TEXT_REPRESENTATION
#endif

/* A WARNING or worse that is not a caught ERROR is a find. */
static void
fuzz_log_hook(ErrorData *edata)
{
	if (edata->elevel >= WARNING)
		fuzz_abort("unexpected message", edata->message);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	MyProcPid = getpid();
	MemoryContextInit();
	(void) set_stack_base();
	emit_log_hook = fuzz_log_hook;
	fuzz_ctx = AllocSetContextCreate(TopMemoryContext, "fuzz", ALLOCSET_DEFAULT_SIZES);
	return 0;
}

static Datum
text_in(const char *str)
{
	return DirectFunctionCall3(FUZZ_FN(FUZZ_TYPE, _in), CStringGetDatum(str),
							   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
}

static char *
text_out(Datum v)
{
	return DatumGetCString(DirectFunctionCall1(FUZZ_FN(FUZZ_TYPE, _out), v));
}

/* The receive function over a message buffer; false when it left bytes unread. */
static bool
binary_recv_buf(StringInfo buf, Datum *result)
{
	*result = DirectFunctionCall3(FUZZ_FN(FUZZ_TYPE, _recv), PointerGetDatum(buf),
								  ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
	return buf->cursor == buf->len;
}

static bool
binary_recv(const char *data, int len, Datum *result)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendBinaryStringInfo(&buf, data, len);
	return binary_recv_buf(&buf, result);
}

static bytea *
binary_send(Datum v)
{
	return DatumGetByteaPP(DirectFunctionCall1(FUZZ_FN(FUZZ_TYPE, _send), v));
}

static bool
same_bytes(bytea *a, bytea *b)
{
	return VARSIZE_ANY_EXHDR(a) == VARSIZE_ANY_EXHDR(b)
		&& memcmp(VARDATA_ANY(a), VARDATA_ANY(b), VARSIZE_ANY_EXHDR(a)) == 0;
}

/* An accepted value's text and binary forms are stable; any ERROR here is a find. */
static void
round_trip(Datum v)
{
	PG_TRY();
	{
		char	   *out1 = text_out(v);
		bytea	   *send1 = binary_send(v);
		Datum		v2 = text_in(out1);
		Datum		v3;

		if (strcmp(text_out(v2), out1) != 0)
			fuzz_abort("out(in(out(v))) differs from out(v)", out1);
		if (!same_bytes(binary_send(v2), send1))
			fuzz_abort("send(in(out(v))) differs from send(v)", out1);
		if (!binary_recv(VARDATA_ANY(send1), VARSIZE_ANY_EXHDR(send1), &v3))
			fuzz_abort("recv(send(v)) left bytes unread", out1);
		if (!same_bytes(binary_send(v3), send1))
			fuzz_abort("send(recv(send(v))) differs from send(v)", out1);
		if (strcmp(text_out(v3), out1) != 0)
			fuzz_abort("out(recv(send(v))) differs from out(v)", out1);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(fuzz_ctx);
		edata = CopyErrorData();
		fuzz_abort("an accepted value does not round-trip", edata->message);
	}
	PG_END_TRY();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	volatile bool accepted = false;
	Datum		v = (Datum) 0;
	char	   *copy;

	if (size > 1024 * 1024)
		return -1;				/* larger than any state; not worth the time */
	/*
	 * The input in a malloc'ed buffer of exactly its size plus the
	 * terminating NUL a StringInfo (and a C string) has, so that ASan sees a
	 * read past it (a palloc'ed copy would sit inside a larger block).
	 */
	copy = malloc(size + 1);
	memcpy(copy, data, size);
	copy[size] = '\0';
	MemoryContextSwitchTo(fuzz_ctx);
	PG_TRY();
	{
#ifdef FUZZ_RECV
		StringInfoData buf;

		buf.data = copy;
		buf.len = (int) size;
		buf.maxlen = (int) size + 1;
		buf.cursor = 0;
		accepted = binary_recv_buf(&buf, &v);
#else
		/* a C string: the bytes up to the first NUL */
		v = text_in(copy);
		accepted = true;
#endif
	}
	PG_CATCH();
	{
		/*
		 * Refused with an ERROR: the expected outcome for bad bytes, but only
		 * with the documented SQLSTATE (as the SQL-level mutation run checks).
		 */
		ErrorData  *edata;

		MemoryContextSwitchTo(fuzz_ctx);
		edata = CopyErrorData();
		FlushErrorState();
		if (edata->sqlerrcode != FUZZ_REFUSAL_CODE)
		{
			/* unpack_sql_state() returns a static buffer */
			char	   *got = pstrdup(unpack_sql_state(edata->sqlerrcode));

			fuzz_abort(psprintf("refused with SQLSTATE %s, not %s", got, unpack_sql_state(FUZZ_REFUSAL_CODE)),
					   edata->message);
		}
	}
	PG_END_TRY();

	if (accepted)
		round_trip(v);
	free(copy);
	MemoryContextSwitchTo(TopMemoryContext);
	MemoryContextReset(fuzz_ctx);
	return 0;
}
