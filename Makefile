# leadfunnel — PGXS build.  `make test` and `make demo` are the two commands
# a user needs; everything else is the usual PGXS (all, install, installcheck).

EXTENSION   = leadfunnel
EXTVERSION  = $(shell sed -n "s/^default_version = '\(.*\)'/\1/p" $(EXTENSION).control)
MODULE_big  = leadfunnel
OBJS        = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c)))
PGFILEDESC  = "leadfunnel - B2B lead funnel in the database"

# The install script of the current version is assembled from one file per
# concern under src/sql/; upgrade scripts (leadfunnel--A--B.sql) and frozen
# install scripts of released versions live in sql/releases/.
DATA_built  = build/$(EXTENSION)--$(EXTVERSION).sql
DATA        = $(wildcard sql/releases/$(EXTENSION)--*.sql)
EXTRA_CLEAN = build

# pg_regress suite: sql/NN_name.sql, run in name order.
REGRESS      = $(sort $(basename $(notdir $(wildcard sql/*.sql))))
REGRESS_OPTS = --dbname=leadfunnel_regress

PG_CPPFLAGS = -I$(srcdir)/src

PG_CONFIG ?= $(firstword $(wildcard /usr/lib/postgresql/15/bin/pg_config) pg_config)
PGXS := $(shell $(PG_CONFIG) --pgxs 2>/dev/null)
ifneq ($(PGXS),)
include $(PGXS)
else
# A bare machine: `make test` and `make demo` install PostgreSQL first.
all install installcheck:
	@echo "PostgreSQL server headers not found: run 'make test' (it installs them) or install postgresql-server-dev-15" >&2; exit 1
endif

$(OBJS): src/leadfunnel.h

build/$(EXTENSION)--$(EXTVERSION).sql: $(sort $(wildcard src/sql/*.sql)) $(EXTENSION).control
	@mkdir -p build
	cat $(sort $(wildcard src/sql/*.sql)) > $@

.PHONY: test demo bench
test:
	PG_CONFIG=$(PG_CONFIG) tools/run-tests.sh
demo:
	PG_CONFIG=$(PG_CONFIG) tools/demo.sh
