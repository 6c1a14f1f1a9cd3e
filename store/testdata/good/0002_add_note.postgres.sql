ALTER TABLE items ADD COLUMN note TEXT NOT NULL DEFAULT '';
CREATE INDEX items_note ON items (note);
