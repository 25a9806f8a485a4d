-- Funnel rules: allowed_next for every stage of the built-in funnels, users'
-- funnels and rules, validation of definitions, and the rule cache.

SELECT f.name AS funnel, s AS from_stage, leadfunnel.allowed_next(f.name, s)
  FROM leadfunnel.funnel f CROSS JOIN unnest(enum_range(NULL::leadfunnel.lead_stage)) s
 ORDER BY f.name, s;

SELECT name, leadfunnel.entry_stages(name), leadfunnel.funnel_stages(name)
  FROM leadfunnel.funnel ORDER BY name;

-- Unknown funnels and stages.
SELECT try($$SELECT leadfunnel.allowed_next('nosuch', 'mql')$$);
SELECT try($$SELECT leadfunnel.allowed_next('enterprise', 'bogus')$$);
SELECT leadfunnel.allowed_next(NULL, 'mql') IS NULL AS strict;

-- A funnel of one's own, with skipping allowed and a custom entry stage.
INSERT INTO leadfunnel.funnel (name, stages, entry_stages, allow_skip, description)
VALUES ('partner', '{mql,sql,opportunity,won}', '{mql}', true, 'Partner-referred deals');
SELECT leadfunnel.allowed_next('partner', 'mql'), leadfunnel.allowed_next('partner', 'recycled'),
       leadfunnel.entry_stages('partner');

-- Extra rules: a backward move and leaving a closed stage; the cache sees them at once.
SELECT leadfunnel.allowed_next('partner', 'opportunity');
INSERT INTO leadfunnel.funnel_transition (funnel, from_stage, to_stage, description)
VALUES ('partner', 'opportunity', 'sql', 'deal re-qualified'),
       ('partner', 'lost', 'opportunity', 'lost deal revived');
SELECT leadfunnel.allowed_next('partner', 'opportunity'), leadfunnel.allowed_next('partner', 'lost');
DELETE FROM leadfunnel.funnel_transition WHERE funnel = 'partner' AND from_stage = 'lost';
SELECT leadfunnel.allowed_next('partner', 'lost');
-- A rule for a built-in funnel is the user's row, and allowed.
INSERT INTO leadfunnel.funnel_transition VALUES ('enterprise', 'sql', 'sal', 'back to field sales acceptance');
SELECT leadfunnel.allowed_next('enterprise', 'sql');
DELETE FROM leadfunnel.funnel_transition WHERE funnel = 'enterprise';
SELECT leadfunnel.allowed_next('enterprise', 'sql');

-- Renaming a funnel carries its rules along; the cache follows.
UPDATE leadfunnel.funnel SET name = 'partners' WHERE name = 'partner';
SELECT funnel, from_stage, to_stage FROM leadfunnel.funnel_transition;
SELECT try($$SELECT leadfunnel.allowed_next('partner', 'mql')$$);
SELECT leadfunnel.allowed_next('partners', 'opportunity');

-- Invalid definitions are refused with constraint funnel_definition.
SELECT try($$INSERT INTO leadfunnel.funnel (name, stages) VALUES ('bad', '{lead,mql}')$$);
SELECT try($$INSERT INTO leadfunnel.funnel (name, stages) VALUES ('bad', '{mql,lead,won}')$$);
SELECT try($$INSERT INTO leadfunnel.funnel (name, stages) VALUES ('bad', '{lead,lead,won}')$$);
SELECT try($$INSERT INTO leadfunnel.funnel (name, stages) VALUES ('bad', '{lead,lost,won}')$$);
SELECT try($$INSERT INTO leadfunnel.funnel (name, stages) VALUES ('bad', '{won}')$$);
SELECT try($$INSERT INTO leadfunnel.funnel (name, stages) VALUES ('bad', '{lead,NULL,won}')$$);
SELECT try($$INSERT INTO leadfunnel.funnel (name, stages) VALUES ('bad', '{mql,sql,won}')$$);
SELECT try($$INSERT INTO leadfunnel.funnel (name, stages, entry_stages) VALUES ('bad', '{lead,mql,won}', '{won}')$$);
SELECT try($$INSERT INTO leadfunnel.funnel (name, stages, reopen_stages) VALUES ('bad', '{lead,mql,won}', '{sal}')$$);
SELECT try($$INSERT INTO leadfunnel.funnel (name, stages) VALUES ('', '{lead,won}')$$);
SELECT try($$INSERT INTO leadfunnel.funnel (name, stages) VALUES (repeat('x', 64), '{lead,won}')$$);
SELECT try($$INSERT INTO leadfunnel.funnel (name, stages) VALUES ('bad', NULL)$$);
SELECT try($$INSERT INTO leadfunnel.funnel (name, stages, builtin) VALUES ('bad', '{lead,won}', true)$$);
SELECT try($$INSERT INTO leadfunnel.funnel_transition VALUES ('nosuch', 'mql', 'sql')$$);
SELECT try($$INSERT INTO leadfunnel.funnel_transition VALUES ('partners', 'mql', 'mql')$$);

-- Built-in funnels belong to the extension.
SELECT try($$UPDATE leadfunnel.funnel SET allow_skip = true WHERE name = 'enterprise'$$);
SELECT try($$DELETE FROM leadfunnel.funnel WHERE name = 'self_serve'$$);
SELECT count(*) AS builtins FROM leadfunnel.funnel WHERE builtin;

-- Only users' rows are dumped.
SELECT c.relname, e.cfg
  FROM pg_extension x, unnest(x.extconfig, x.extcondition) AS e(cfg_oid, cfg)
  JOIN pg_class c ON c.oid = e.cfg_oid
 WHERE x.extname = 'leadfunnel' ORDER BY 1;

DELETE FROM leadfunnel.funnel WHERE name = 'partners';
SELECT count(*) AS rules_left FROM leadfunnel.funnel_transition;
