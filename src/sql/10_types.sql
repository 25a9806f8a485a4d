-- Types: the five enums of the contract, in contract order.

CREATE TYPE @extschema@.lead_stage AS ENUM (
    'visitor', 'lead', 'mql', 'tal', 'tql', 'sal', 'sql', 'opportunity',
    'won', 'recycled', 'disqualified', 'lost'
);
COMMENT ON TYPE @extschema@.lead_stage IS
'Stage of one lead (one buying process) in the demand waterfall: open stages visitor .. opportunity, closed-won won, closed-not-won recycled, disqualified, lost. Enum order is funnel order, so "reached stage X" is max_stage >= X.';

CREATE TYPE @extschema@.account_status AS ENUM (
    'prospect', 'new_customer', 'active_customer', 'advocate', 'former_customer'
);
COMMENT ON TYPE @extschema@.account_status IS
'Lifecycle of an account (company), separate from the funnel of its leads: prospect until a first win, new_customer during onboarding, active_customer, advocate (reference customer), former_customer after churn.';

CREATE TYPE @extschema@.lead_motion AS ENUM ('new_business', 'expansion', 'win_back');
COMMENT ON TYPE @extschema@.lead_motion IS
'Why a lead exists, fixed when it is created from the account''s status at that moment: new_business (prospect), expansion (customer or advocate: cross-/upsell), win_back (former customer).';

CREATE TYPE @extschema@.contact_status AS ENUM ('contact', 'subscriber', 'lead', 'customer');
COMMENT ON TYPE @extschema@.contact_status IS
'Marketing status of a contact (person): lead while it has an open lead, customer while its account is a customer, otherwise subscriber (opted in) or contact (no permission).';

CREATE TYPE @extschema@.attribution_model AS ENUM (
    'first_touch', 'last_touch', 'linear', 'u_shaped', 'w_shaped', 'full_path', 'time_decay',
    'j_shaped', 'inverse_j'
);
COMMENT ON TYPE @extschema@.attribution_model IS
'Weighted multi-touch attribution model, see leadfunnel.attribution_weights.';
