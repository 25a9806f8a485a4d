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

# The upgrade script from the previous release to the current version,
# build/leadfunnel--$(UPGRADE_FROM)--$(EXTVERSION).sql, is assembled by
# tools/upgrade-script.sh from the hand-written part
# src/sql/upgrade/$(UPGRADE_FROM)--$(EXTVERSION).sql (DROPs, migrations), the
# files of src/sql that are wholly new since that release (UPGRADE_NEW) and the
# current definitions of the functions, aggregates and views of that release
# that changed since (UPGRADE_REPLACE, by name).  test/scripts/upgrade.sh fails
# when an object is missing.  On a release the assembled script is frozen into
# sql/releases/ and these lists start again (doc/releasing.md).
UPGRADE_FROM    = 0.2.0
UPGRADE_NEW     = src/sql/22_labels.sql src/sql/24_tracking.sql src/sql/35_history.sql src/sql/62_attribution_models.sql src/sql/64_datadriven.sql src/sql/95_pipeline.sql src/sql/97_rollups.sql
UPGRADE_REPLACE = citus_distributed create_model verify_model model_add_lifecycle lifecycle_refresh_batch generate_demo_lifecycle model_add_analytics model_add_attribution generate_demo lead_stage_record window_funnel_add window_funnel_combine window_funnel_final window_funnel attribution_totals
UPGRADE_SCRIPT  = build/$(EXTENSION)--$(UPGRADE_FROM)--$(EXTVERSION).sql
DATA_built     += $(UPGRADE_SCRIPT)

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

$(OBJS): $(wildcard src/*.h)

build/$(EXTENSION)--$(EXTVERSION).sql: $(sort $(wildcard src/sql/*.sql)) $(EXTENSION).control
	@mkdir -p build
	cat $(sort $(wildcard src/sql/*.sql)) > $@

$(UPGRADE_SCRIPT): src/sql/upgrade/$(UPGRADE_FROM)--$(EXTVERSION).sql $(UPGRADE_NEW) $(sort $(wildcard src/sql/*.sql)) tools/upgrade-script.sh
	@mkdir -p build
	sh tools/upgrade-script.sh $< "$(filter $(UPGRADE_NEW),$(sort $(wildcard src/sql/*.sql)))" "$(UPGRADE_REPLACE)" \
		$(sort $(wildcard src/sql/*.sql)) > $@.tmp
	mv $@.tmp $@

.PHONY: test test-matrix demo bench dist fuzz
# The PGXN release archive, leadfunnel-$(EXTVERSION).zip (doc/releasing.md).
dist:
	tools/dist.sh
# Coverage-guided fuzzing of the state types' input and receive functions; by
# hand, long, not in CI (doc/testing.md, "Fuzzing"). FUZZ_SECONDS per harness.
FUZZ_SECONDS ?= 300
fuzz:
	PG_CONFIG=$(PG_CONFIG) tools/fuzz.sh $(FUZZ_SECONDS)
test:
	PG_CONFIG=$(PG_CONFIG) tools/run-tests.sh
# The same suite on PostgreSQL 17 and 18, in Debian roots (root only; see doc/testing.md).
test-matrix:
	tools/test-matrix.sh
demo:
	PG_CONFIG=$(PG_CONFIG) tools/demo.sh
