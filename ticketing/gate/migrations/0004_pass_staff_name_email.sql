-- A staff pass's staff member's name, found by search as a buyer's name is
-- (search_words holds it too), and the e-mail address of a ticket's buyer
-- or a staff member, lowercased, which a search matches whole. Passes
-- issued before keep them empty.
ALTER TABLE gate_passes ADD COLUMN staff_name TEXT NOT NULL DEFAULT '';
ALTER TABLE gate_passes ADD COLUMN email TEXT NOT NULL DEFAULT '';
