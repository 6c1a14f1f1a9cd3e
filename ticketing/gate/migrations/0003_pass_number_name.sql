-- A ticket's order number and buyer's name, so a supervisor finds its pass
-- by them; search_words holds both lowercased, each word after a space.
-- Passes issued before keep them empty.
ALTER TABLE gate_passes ADD COLUMN order_number TEXT NOT NULL DEFAULT '';
ALTER TABLE gate_passes ADD COLUMN buyer_name TEXT NOT NULL DEFAULT '';
ALTER TABLE gate_passes ADD COLUMN search_words TEXT NOT NULL DEFAULT '';
