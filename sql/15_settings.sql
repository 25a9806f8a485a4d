-- Settings: defaults, changes, the cache that C code reads, bad values.
SELECT name, value, default_value, is_default FROM leadfunnel.settings ORDER BY name;
SELECT leadfunnel.setting_value('customer_term');
SELECT leadfunnel.set_setting('customer_term', '2 years');
-- the cached value follows the change at once, in this backend and in others
SELECT leadfunnel.setting_value('customer_term');
SELECT name, value, is_default FROM leadfunnel.settings WHERE name = 'customer_term';
SELECT leadfunnel.set_setting('customer_term', '400 days');
SELECT leadfunnel.setting_value('customer_term');
DELETE FROM leadfunnel.setting WHERE name = 'customer_term';
SELECT leadfunnel.setting_value('customer_term');
-- a rolled-back change leaves the value in force unchanged
BEGIN;
SELECT leadfunnel.set_setting('new_customer_window', '30 days');
SELECT leadfunnel.setting_value('new_customer_window');
ROLLBACK;
SELECT leadfunnel.setting_value('new_customer_window');
-- bad names and values
SELECT try($$SELECT leadfunnel.setting_value('no_such_setting')$$);
SELECT try($$SELECT leadfunnel.set_setting('no_such_setting', '1 day')$$);
SELECT try($$SELECT leadfunnel.set_setting('customer_term', '-1 day')$$);
SELECT try($$SELECT leadfunnel.set_setting('customer_term', '0')$$);
SELECT try($$SELECT leadfunnel.set_setting('customer_term', NULL)$$);
SELECT leadfunnel.setting_value(NULL) IS NULL AS null_in_null_out;
SELECT count(*) AS overrides FROM leadfunnel.setting;
