-- With AwaitAccess, an order's e-ticket waits here for both halves: the
-- tickets (TicketsIssued) and the gate's signed passes (AccessGranted),
-- which arrive on two topics in either order.
CREATE TABLE notify_etickets (
	order_id TEXT PRIMARY KEY,
	issued   TEXT NOT NULL DEFAULT '',
	access   TEXT NOT NULL DEFAULT '',
	mailed   INTEGER NOT NULL DEFAULT 0
);
