-- Hand-written: default privileges, which a schema diff does not carry (issue #15, "Sequences open
-- to anon"). The bootstrap (stack/bootstrap.sql) and hosted Supabase grant ALL on new sequences in
-- public to anon and authenticated; earlier migrations revoked tables and functions one by one but
-- never the sequences, so `set role anon; select setval('public.gate_skip_rules_id_seq', 1)` worked.
-- supabase/schemas/15_grants_and_policies.sql revokes them from every existing sequence; this makes
-- sequences created by later migrations (run by the same role) start without them too.

revoke all on all sequences in schema public from public, anon, authenticated;
alter default privileges in schema public revoke all on sequences from public, anon, authenticated;
