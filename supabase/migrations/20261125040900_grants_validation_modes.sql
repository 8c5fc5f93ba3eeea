-- Who may do what for validation modes, the promotion gate and the ops webhook, in one place.
-- validation_modes is written only by fn_set_validation_mode (and fn_demote_validation_mode): the
-- direct write privileges service_role had are revoked, so the promotion gate cannot be gone around.

revoke insert, update, delete, truncate on table public.validation_modes from service_role;

do $$
declare
  v_table text;
begin
  foreach v_table in array array['validation_mode_settings', 'validation_mode_changes', 'unknown_inputs', 'ops_webhook_ids']
  loop
    execute format('alter table public.%I enable row level security', v_table);
    -- service_role too: default privileges would give it writes, and the audit must not be editable.
    execute format('revoke all on table public.%I from public, anon, authenticated, service_role', v_table);
    execute format('grant select on table public.%I to service_role', v_table);
  end loop;
end;
$$;
-- Tuning the gate is an operator's job, not an RPC's.
grant update on table public.validation_mode_settings to service_role;

revoke all on function
  public.tg_validation_modes__audit(),
  public.fn_check_mode_scope(text),
  public.fn_promotion_gate(text),
  public.fn_set_validation_mode(text, text, text, boolean),
  public.fn_demote_validation_mode(text, text),
  public.fn_record_unknown_input(text, text, text, text),
  public.fn_claim_webhook_id(text, timestamptz),
  public.fn_purge_webhook_ids()
from public, anon, authenticated, service_role;

grant execute on function
  public.fn_promotion_gate(text),
  public.fn_set_validation_mode(text, text, text, boolean),
  public.fn_demote_validation_mode(text, text),
  public.fn_record_unknown_input(text, text, text, text),
  public.fn_claim_webhook_id(text, timestamptz),
  public.fn_purge_webhook_ids()
to service_role;
