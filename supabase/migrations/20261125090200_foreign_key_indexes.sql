-- Indexes for two foreign keys with referential actions.
--
-- user_stories.prd_id references product_requirements_v2 with ON DELETE SET NULL and ON UPDATE
-- CASCADE, and had no index: every PRD deleted (directly, or with its SD: the runbook's smoke test
-- deletes one) or renamed ran `update user_stories ... where prd_id = $1` as a sequential scan of
-- every story. Found when the benchmark's cleanup of ~95 000 directives took minutes of CPU.
-- Partial: the referential actions only look for non-null keys, and stories without a PRD need no
-- entry. Plain CREATE INDEX (the table is locked against writes while it builds): on a large
-- hosted table, create it CONCURRENTLY by hand first and check it is valid (pg_index.indisvalid;
-- a failed concurrent build leaves an invalid index: drop it and build again), because IF NOT
-- EXISTS looks only at the name.
create index if not exists user_stories_prd_id_idx on public.user_stories (prd_id) where prd_id is not null;

-- The same for strategic_directives_v2.sd_type (ON UPDATE CASCADE from threshold_profiles):
-- renaming an SD type, or deleting a profile (the NO ACTION check), scanned every directive.
-- Transitions never change sd_type, so this index does not stop their updates being HOT.
create index if not exists strategic_directives_v2_sd_type_idx on public.strategic_directives_v2 (sd_type);
