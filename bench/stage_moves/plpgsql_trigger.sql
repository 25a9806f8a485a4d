-- What teams write today: the same stage validation and history as
-- leadfunnel's C triggers, as PL/pgSQL triggers reading the funnel tables per
-- row, with the same append-only guard on the history (a trigger that lets
-- only the transition trigger's writes through, flagged by a transaction-local
-- setting).  Installed on schema bench_plpgsql by bench/stage_moves/run.sh.
CREATE FUNCTION bench_plpgsql.history_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('bench.writing_history', true) IS DISTINCT FROM 'on' THEN
        RAISE EXCEPTION 'stage history "%" is append-only', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END $$;

CREATE FUNCTION bench_plpgsql.lead_stage_transition() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    f leadfunnel.funnel;
    later leadfunnel.lead_stage[];
    allowed leadfunnel.lead_stage[];
    entered timestamptz;
    prev_seq int;
BEGIN
    IF NEW.stage IS NOT DISTINCT FROM OLD.stage THEN
        RETURN NEW;
    END IF;
    SELECT * INTO f FROM leadfunnel.funnel WHERE name = NEW.funnel;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'funnel "%" does not exist', NEW.funnel USING ERRCODE = 'undefined_object';
    END IF;
    IF OLD.stage < 'won' THEN
        later := ARRAY(SELECT s FROM unnest(f.stages) s WHERE s > OLD.stage ORDER BY s);
        allowed := CASE WHEN f.allow_skip THEN later ELSE later[1:1] END
                   || '{recycled,disqualified,lost}'::leadfunnel.lead_stage[];
    ELSIF OLD.stage = 'recycled' THEN
        allowed := coalesce(f.reopen_stages, f.entry_stages);
    ELSE
        allowed := '{}';
    END IF;
    allowed := allowed || ARRAY(SELECT t.to_stage FROM leadfunnel.funnel_transition t
                                 WHERE t.funnel = NEW.funnel AND t.from_stage = OLD.stage);
    IF NOT NEW.stage = ANY (allowed) THEN
        RAISE EXCEPTION 'lead % cannot move from stage "%" to stage "%" in funnel "%"',
                        NEW.lead_id, OLD.stage, NEW.stage, NEW.funnel
              USING ERRCODE = 'check_violation', CONSTRAINT = 'lead_stage_transition',
                    HINT = format('Allowed next stages: %s.', array_to_string(allowed, ', '));
    END IF;
    IF NEW.stage_entered_at IS DISTINCT FROM OLD.stage_entered_at AND NEW.stage_entered_at IS NOT NULL THEN
        entered := NEW.stage_entered_at;
        IF entered < OLD.stage_entered_at OR entered > clock_timestamp() THEN
            RAISE EXCEPTION 'lead % cannot enter stage "%" at %', NEW.lead_id, NEW.stage, entered
                  USING ERRCODE = 'check_violation', CONSTRAINT = 'lead_stage_chronology';
        END IF;
    ELSE
        entered := greatest(now(), OLD.stage_entered_at);
    END IF;
    NEW.stage_entered_at := entered;
    NEW.max_stage := CASE WHEN NEW.stage <= 'won' AND NEW.stage > OLD.max_stage THEN NEW.stage ELSE OLD.max_stage END;
    NEW.closed_at := CASE WHEN NEW.stage >= 'won' THEN entered END;
    PERFORM set_config('bench.writing_history', 'on', true);
    UPDATE bench_plpgsql.lead_stage_history SET left_at = entered
     WHERE account_id = NEW.account_id AND lead_id = NEW.lead_id AND left_at IS NULL
    RETURNING seq INTO prev_seq;
    INSERT INTO bench_plpgsql.lead_stage_history (lead_id, account_id, seq, from_stage, to_stage, entered_at, changed_by, reason)
    VALUES (NEW.lead_id, NEW.account_id, prev_seq + 1, OLD.stage, NEW.stage, entered, current_user,
            CASE WHEN NEW.stage >= 'won' THEN NEW.close_reason END);
    PERFORM set_config('bench.writing_history', 'off', true);
    RETURN NEW;
END $$;
