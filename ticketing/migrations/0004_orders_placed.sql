-- The console's and the API's order lists read the newest orders first.
CREATE INDEX orders_placed ON orders (placed_at DESC, id);
