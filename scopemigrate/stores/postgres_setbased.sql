-- PL/pgSQL helpers of scopemigrate's set-based PostgreSQL runs (stores/postgres_sql.py).
--
-- They mirror operations.py exactly (grant, revoke, rename and their undo), and
-- tests/test_postgres_set_based.py holds the two equal. Created in pg_temp at the
-- start of every set-based run, so nothing is left in the registry's schemas.
-- Scope lists are text[] inside the functions; NULL (or JSON null) is an absent list.
-- Comparisons use COLLATE "C": code-point order, as Python compares strings.

CREATE OR REPLACE FUNCTION pg_temp.sm_arr(j jsonb) RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN j IS NULL OR jsonb_typeof(j) = 'null' THEN NULL
    ELSE coalesce((SELECT array_agg(x ORDER BY n) FROM jsonb_array_elements_text(j)
                   WITH ORDINALITY AS t(x, n)), '{}'::text[]) END
$$;

CREATE OR REPLACE FUNCTION pg_temp.sm_roles(role text, roles jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
  SELECT coalesce(CASE WHEN jsonb_typeof(roles) = 'array' THEN roles END, '[]'::jsonb)
    || CASE WHEN role IS NULL OR role = '' THEN '[]'::jsonb ELSE jsonb_build_array(role) END
$$;

-- Python's bisect.insort (bisect_right), also on a list that is not sorted.
CREATE OR REPLACE FUNCTION pg_temp.sm_insort(a text[], s text) RETURNS text[]
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE lo int := 0; hi int := cardinality(a); mid int;
BEGIN
  WHILE lo < hi LOOP
    mid := (lo + hi) / 2;
    IF s COLLATE "C" < a[mid + 1] COLLATE "C" THEN hi := mid; ELSE lo := mid + 1; END IF;
  END LOOP;
  RETURN a[1:lo] || s || a[lo + 1:cardinality(a)];
END $$;

CREATE OR REPLACE FUNCTION pg_temp.sm_result(cur jsonb, v text[], edit jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN edit IS NULL THEN jsonb_build_object('v', cur, 'e', NULL)
    ELSE jsonb_build_object('v', to_jsonb(v), 'e', edit) END
$$;

CREATE OR REPLACE FUNCTION pg_temp.sm_edit(added text[], removed jsonb, created boolean,
                                           dropped boolean) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
  SELECT jsonb_build_object('added', to_jsonb(coalesce(added, '{}'::text[])),
                            'removed', coalesce(removed, '[]'::jsonb),
                            'created', created, 'dropped', dropped)
$$;

-- The hot path of a fleet upgrade, so written with jsonb operators only: a
-- plpgsql expression without a query runs without starting the executor.
CREATE OR REPLACE FUNCTION pg_temp.sm_grant(cur jsonb, scopes text[], sorted boolean)
RETURNS jsonb LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE r jsonb := CASE WHEN jsonb_typeof(cur) = 'array' THEN cur ELSE '[]'::jsonb END;
        added jsonb := '[]'; s text; lo int; hi int; mid int;
BEGIN
  FOREACH s IN ARRAY scopes LOOP
    IF NOT r ? s THEN
      IF sorted THEN  -- bisect.insort (bisect_right), as the engine keeps token lists
        lo := 0; hi := jsonb_array_length(r);
        WHILE lo < hi LOOP
          mid := (lo + hi) / 2;
          IF s COLLATE "C" < (r ->> mid) COLLATE "C" THEN hi := mid; ELSE lo := mid + 1; END IF;
        END LOOP;
        IF lo = jsonb_array_length(r) THEN r := r || to_jsonb(s);
        ELSE r := jsonb_insert(r, ARRAY[lo::text], to_jsonb(s)); END IF;
      ELSE
        r := r || to_jsonb(s);
      END IF;
      added := added || to_jsonb(s);
    END IF;
  END LOOP;
  IF jsonb_array_length(added) = 0 THEN
    RETURN jsonb_build_object('v', cur, 'e', NULL);
  END IF;
  RETURN jsonb_build_object('v', r, 'e', jsonb_build_object(
    'added', added, 'removed', '[]'::jsonb,
    'created', cur IS NULL OR jsonb_typeof(cur) = 'null', 'dropped', false));
END $$;

-- Revoke.revokes: an exact name, a prefix of a pattern, or (kept not NULL)
-- any scope without the role's own prefix.
CREATE OR REPLACE FUNCTION pg_temp.sm_revoke(cur jsonb, scopes text[], sorted boolean,
                                             prefixes text[], kept text)
RETURNS jsonb LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE old text[] := pg_temp.sm_arr(cur); r text[] := '{}'; removed jsonb := '[]';
        i int;
BEGIN
  IF old IS NULL OR cardinality(old) = 0 THEN RETURN pg_temp.sm_result(cur, NULL, NULL); END IF;
  FOR i IN 1 .. cardinality(old) LOOP
    IF old[i] = ANY (scopes)
       OR EXISTS (SELECT 1 FROM unnest(prefixes) p WHERE starts_with(old[i], p))
       OR (kept IS NOT NULL AND NOT starts_with(old[i], kept)) THEN
      removed := removed || jsonb_build_array(jsonb_build_array(i - 1, old[i]));
    ELSE r := r || old[i]; END IF;
  END LOOP;
  IF jsonb_array_length(removed) = 0 THEN RETURN pg_temp.sm_result(cur, NULL, NULL); END IF;
  IF cardinality(r) = 0 AND NOT sorted THEN
    RETURN jsonb_build_object('v', NULL, 'e', pg_temp.sm_edit(NULL, removed, false, true));
  END IF;
  RETURN pg_temp.sm_result(cur, r, pg_temp.sm_edit(NULL, removed, false, false));
END $$;

CREATE OR REPLACE FUNCTION pg_temp.sm_rename(cur jsonb, old_scope text, new_scope text,
                                             sorted boolean)
RETURNS jsonb LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE old text[] := pg_temp.sm_arr(cur); r text[] := '{}'; removed jsonb := '[]';
        added text[] := '{}'; i int; first int;
BEGIN
  IF old IS NULL OR NOT (old_scope = ANY (old)) THEN
    RETURN pg_temp.sm_result(cur, NULL, NULL);
  END IF;
  first := array_position(old, old_scope) - 1;
  FOR i IN 1 .. cardinality(old) LOOP
    IF old[i] = old_scope THEN
      removed := removed || jsonb_build_array(jsonb_build_array(i - 1, old[i]));
    ELSE r := r || old[i]; END IF;
  END LOOP;
  IF NOT (new_scope = ANY (r)) THEN
    added := ARRAY[new_scope];
    IF sorted THEN r := pg_temp.sm_insort(r, new_scope);
    ELSE r := r[1:first] || new_scope || r[first + 1:cardinality(r)]; END IF;
  END IF;
  RETURN pg_temp.sm_result(cur, r, pg_temp.sm_edit(added, removed, false, false));
END $$;

-- Ensure: an absent list becomes [], recorded as created.
CREATE OR REPLACE FUNCTION pg_temp.sm_ensure(cur jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN cur IS NULL OR jsonb_typeof(cur) = 'null'
    THEN jsonb_build_object('v', '[]'::jsonb, 'e', pg_temp.sm_edit(NULL, NULL, true, false))
    ELSE jsonb_build_object('v', cur, 'e', NULL) END
$$;

CREATE OR REPLACE FUNCTION pg_temp.sm_undo(cur jsonb, edit jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE old text[] := pg_temp.sm_arr(cur); r text[] := '{}'; s text; item jsonb;
        added text[] := pg_temp.sm_arr(edit -> 'added'); idx int; wanted int; have int;
BEGIN
  FOREACH s IN ARRAY coalesce(old, '{}') LOOP
    IF NOT (s = ANY (added)) THEN r := r || s; END IF;
  END LOOP;
  FOR item IN SELECT value FROM jsonb_array_elements(edit -> 'removed')
              ORDER BY (value ->> 0)::int, (value ->> 1) COLLATE "C" LOOP
    idx := (item ->> 0)::int; s := item ->> 1;
    SELECT count(*) INTO wanted FROM jsonb_array_elements(edit -> 'removed') e
      WHERE e.value ->> 1 = s;
    SELECT count(*) INTO have FROM unnest(r) x WHERE x = s;
    IF have < wanted THEN
      idx := least(idx, cardinality(r));
      r := r[1:idx] || s || r[idx + 1:cardinality(r)];
    END IF;
  END LOOP;
  IF (edit ->> 'created')::boolean AND cardinality(r) = 0 THEN RETURN NULL; END IF;
  IF old IS NULL AND NOT (edit ->> 'dropped')::boolean AND cardinality(r) = 0 THEN
    RETURN NULL;
  END IF;
  RETURN to_jsonb(r);
END $$;

-- Undoing every recorded edit of one field, and of each token's scopes (sm_undo above).
CREATE OR REPLACE FUNCTION pg_temp.sm_undo_all(cur jsonb, edits jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE e jsonb; r jsonb := cur;
BEGIN
  FOR e IN SELECT x FROM jsonb_array_elements(edits) WITH ORDINALITY AS t(x, n) ORDER BY n LOOP
    r := pg_temp.sm_undo(r, e);
  END LOOP;
  RETURN r;
END $$;

-- A token removed since the upgrade has nothing left to undo.
CREATE OR REPLACE FUNCTION pg_temp.sm_undo_tokens(tokens jsonb, per_role jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE role text; edits jsonb; v jsonb; r jsonb := tokens;
BEGIN
  FOR role, edits IN SELECT key, value FROM jsonb_each(per_role) LOOP
    IF jsonb_typeof(r -> role) = 'object' THEN
      v := pg_temp.sm_undo_all(r -> role -> 'scopes', edits);
      IF v IS NULL THEN r := r #- ARRAY[role, 'scopes'];
      ELSE r := jsonb_set(r, ARRAY[role, 'scopes'], v); END IF;
    END IF;
  END LOOP;
  RETURN r;
END $$;
