-- Session claims: one session holds an SD for a lease; the holder renews by claiming again; an
-- expired lease is free for anyone. The upsert's WHERE makes take-over atomic (no read-then-write).

create function public.fn_claim_sd(p_sd_id text, p_session_id text, p_lease_seconds int default 900)
returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  v_sd public.strategic_directives_v2 := public.fn_resolve_sd(p_sd_id);
  v_claim public.sd_claims;
  v_prior public.sd_claims;
begin
  if p_session_id is null or btrim(p_session_id) = '' or length(p_session_id) > 200 then
    raise exception using errcode = 'SG001', message = 'INVALID_INPUT: p_session_id is required (1-200 chars)';
  end if;
  if p_lease_seconds is null or p_lease_seconds not between 1 and 86400 then
    raise exception using errcode = 'SG001',
      message = format('INVALID_INPUT: p_lease_seconds must be between 1 and 86400 (got %s)', p_lease_seconds);
  end if;

  select * into v_prior from public.sd_claims c where c.sd_id = v_sd.id;

  insert into public.sd_claims as c (sd_id, session_id, claimed_at, renewed_at, expires_at)
  values (v_sd.id, p_session_id, now(), now(), now() + make_interval(secs => p_lease_seconds))
  on conflict (sd_id) do update
    set session_id = excluded.session_id,
        claimed_at = case when c.session_id = excluded.session_id then c.claimed_at else excluded.claimed_at end,
        renewed_at = excluded.renewed_at,
        expires_at = excluded.expires_at
    where c.session_id = excluded.session_id or c.expires_at <= now()
  returning * into v_claim;

  if not found then
    select * into v_claim from public.sd_claims c where c.sd_id = v_sd.id;
    raise exception using errcode = 'SG005',
      message = format('CLAIMED_BY_OTHER_SESSION: strategic directive %L is held by session %L until %s',
                       v_sd.id, v_claim.session_id, v_claim.expires_at);
  end if;

  return jsonb_build_object(
    'sd_id', v_sd.id, 'sd_uuid', v_sd.uuid, 'session_id', v_claim.session_id,
    'claimed_at', v_claim.claimed_at, 'expires_at', v_claim.expires_at,
    'renewed', v_prior.session_id is not distinct from p_session_id and v_prior.expires_at > now(),
    'took_over_expired', v_prior.session_id is distinct from p_session_id and v_prior.sd_id is not null);
end;
$$;
comment on function public.fn_claim_sd(text, text, int) is
  'Claim (or renew) an SD for a session for p_lease_seconds (default 900). Raises SG005 CLAIMED_BY_OTHER_SESSION while another session holds an unexpired lease.';

create function public.fn_release_sd(p_sd_id text, p_session_id text) returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  v_sd public.strategic_directives_v2 := public.fn_resolve_sd(p_sd_id);
  v_held_by text;
begin
  delete from public.sd_claims c where c.sd_id = v_sd.id and c.session_id = p_session_id;
  if found then
    return jsonb_build_object('sd_id', v_sd.id, 'released', true, 'held_by', null);
  end if;
  select c.session_id into v_held_by from public.sd_claims c where c.sd_id = v_sd.id and c.expires_at > now();
  return jsonb_build_object('sd_id', v_sd.id, 'released', false, 'held_by', v_held_by);
end;
$$;
comment on function public.fn_release_sd(text, text) is
  'Release the SD if p_session_id holds it. Returns {released, held_by}; releasing a claim held by another session changes nothing.';
