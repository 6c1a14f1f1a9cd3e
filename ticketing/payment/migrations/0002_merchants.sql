-- The merchant whose order each payment is for (from OrderPlaced), so a
-- merchant's cashiers see their own payments only. Intents opened before
-- belong to no merchant ('').
ALTER TABLE payment_intents ADD COLUMN merchant_id TEXT NOT NULL DEFAULT '';
CREATE INDEX payment_intents_merchant ON payment_intents (merchant_id, created_ns);
ALTER TABLE payment_refunds ADD COLUMN merchant_id TEXT NOT NULL DEFAULT '';
CREATE INDEX payment_refunds_merchant ON payment_refunds (merchant_id, created_ns);
