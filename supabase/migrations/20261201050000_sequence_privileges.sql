-- Sequences are not for anon or authenticated (issue #15, "Sequences open to anon").
--
-- The bootstrap (stack/bootstrap.sql) and hosted Supabase grant ALL on new sequences in public to
-- anon and authenticated by default privileges. Earlier migrations revoked tables and functions
-- one by one but never the sequences, so `set role anon; select setval('public.gate_skip_rules_id_seq', 1)`
-- worked — and a sequence set back makes the next inserts fail on duplicate keys. Every sequence
-- here belongs to an identity or serial column written only by definer-rights RPCs or by
-- service_role, so neither API role needs any privilege on one.

revoke all on all sequences in schema public from public, anon, authenticated;

-- Sequences created by later migrations (run by the same role) start without them too.
alter default privileges in schema public revoke all on sequences from public, anon, authenticated;
