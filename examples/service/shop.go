package main

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/arus-platform/arus/consume"
	"github.com/arus-platform/arus/outbox"
	"github.com/arus-platform/arus/saga"
	"github.com/arus-platform/arus/schema"
	"github.com/arus-platform/arus/store"
	"github.com/arus-platform/arus/stream"
)

//go:embed migrations
var migrations embed.FS

// Topics of the shop.
const (
	topicPlaced   = "shop.orders.placed"
	topicStock    = "shop.stock"
	topicPayments = "shop.payments"
	topicReplies  = "shop.purchase.replies"
)

// Order is the value of a shop.orders.placed event and the data of its
// purchase saga.
type Order struct {
	ID     string `json:"id"`
	SKU    string `json:"sku"`
	Qty    int    `json:"qty"`
	Amount int64  `json:"amount"`
}

// orderSchema is the JSON Schema of shop.orders.placed values.
const orderSchema = `{
	"type": "object",
	"properties": {
		"id": {"type": "string", "minLength": 1},
		"sku": {"type": "string", "minLength": 1},
		"qty": {"type": "integer", "minimum": 1},
		"amount": {"type": "integer", "minimum": 0}
	},
	"required": ["id", "sku", "qty", "amount"]
}`

// purchaseSaga reserves the tickets, then charges the card; a declined card
// releases the reservation.
var purchaseSaga = saga.Definition{
	Name: "purchase",
	Steps: []saga.Step{
		{Name: "reserve", Command: saga.Command{Topic: topicStock}, Compensation: saga.Command{Topic: topicStock},
			ReplyTopic: topicReplies, Timeout: 30 * time.Second},
		{Name: "charge", Command: saga.Command{Topic: topicPayments}, ReplyTopic: topicReplies, Timeout: 30 * time.Second},
	},
}

// cardLimit is the largest amount the simulated card accepts.
const cardLimit = 1_000_000

// shop is the service: its store, the outbox its events and replies go
// through, the schema registry its events are checked against, and the
// saga orchestrator of its purchases.
type shop struct {
	db        *store.DB
	outbox    *outbox.Outbox
	forwarder *outbox.Forwarder
	validator *schema.Validator
	broker    stream.Broker
	sagas     *saga.Orchestrator
	log       *slog.Logger
}

func openShop(ctx context.Context, b stream.Broker, db, schemas *store.DB, log *slog.Logger) (*shop, error) {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx, sub); err != nil {
		return nil, err
	}
	registry, err := schema.Open(ctx, schemas, schema.Config{})
	if err != nil {
		return nil, err
	}
	if _, _, err := registry.Register(ctx, schema.TopicValue(topicPlaced), []byte(orderSchema)); err != nil {
		return nil, err
	}
	validator, err := schema.NewValidator(registry, schema.ValidatorConfig{})
	if err != nil {
		return nil, err
	}
	ob, err := outbox.Open(ctx, db, outbox.Config{})
	if err != nil {
		return nil, err
	}
	// The forwarder publishes through a schema producer, which stamps each
	// event with the id of the schema it matches.
	producer, err := schema.NewProducer(b, validator, schema.ProducerConfig{})
	if err != nil {
		return nil, err
	}
	fw, err := outbox.NewForwarder(ob, producer, outbox.ForwarderConfig{Logger: log})
	if err != nil {
		return nil, err
	}
	return &shop{db: db, outbox: ob, forwarder: fw, validator: validator, broker: b, log: log}, nil
}

// place records an order and its event in one transaction, after checking
// the event against its schema.
func (s *shop) place(ctx context.Context, o Order) error {
	value, err := json.Marshal(o)
	if err != nil {
		return err
	}
	if _, err := s.validator.Validate(ctx, schema.TopicValue(topicPlaced), schema.Latest, value); err != nil {
		return fmt.Errorf("place %s: %w", o.ID, err)
	}
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO orders (id, sku, qty, amount, status) VALUES (?, ?, ?, ?, 'placed')`),
			o.ID, o.SKU, o.Qty, o.Amount)
		if err != nil {
			return fmt.Errorf("place %s: %w", o.ID, err)
		}
		return s.outbox.Write(ctx, tx, &stream.Record{Topic: topicPlaced, Key: []byte(o.ID), Value: value})
	})
}

// run starts, in g, the forwarder and one consumer group per handler:
// checkout, stock and payments. Each group has its own inbox, and its
// handler runs in the inbox's transaction (outbox.TxFromContext).
func (s *shop) run(ctx context.Context, g *errgroup.Group) {
	g.Go(func() error { return s.forwarder.Run(ctx) })
	for _, c := range []struct {
		group, topic string
		handle       consume.Handler
	}{
		{"checkout", topicPlaced, s.checkout},
		{"stock", topicStock, s.stock},
		{"payments", topicPayments, s.charge},
	} {
		g.Go(func() error {
			inbox, err := outbox.OpenInbox(ctx, s.db, outbox.InboxConfig{Name: c.group, Logger: s.log})
			if err != nil {
				return err
			}
			chain, err := consume.Chain(consume.ChainConfig{Group: c.group, Producer: s.broker, Inbox: inbox, Logger: s.log})
			if err != nil {
				return err
			}
			rt, err := consume.New(s.broker, consume.Config{Group: c.group, Topics: []string{c.topic},
				RetryBackoff: 100 * time.Millisecond, Logger: s.log})
			if err != nil {
				return err
			}
			return rt.Run(ctx, chain(c.handle))
		})
	}
}

// checkout starts the purchase saga of a placed order. The order id is the
// saga id, so an event handled again cannot start a second purchase.
func (s *shop) checkout(ctx context.Context, r *stream.Record) error {
	if _, ok := r.Header(schema.HeaderSchemaID); !ok {
		return consume.Permanent(fmt.Errorf("order event %s carries no schema id", r.Key))
	}
	var o Order
	if err := json.Unmarshal(r.Value, &o); err != nil {
		return consume.Permanent(fmt.Errorf("order event %s: %w", r.Key, err))
	}
	if err := s.setStatus(ctx, o.ID, "processing"); err != nil {
		return err
	}
	_, err := s.sagas.Start(ctx, purchaseSaga.Name, o.ID, r.Value)
	if errors.Is(err, saga.ErrExists) {
		return nil
	}
	return err
}

// stock reserves an order's tickets, or releases them on a compensation,
// and replies through the outbox in the same transaction.
func (s *shop) stock(ctx context.Context, r *stream.Record) error {
	tx, o, err := s.command(ctx, r)
	if err != nil {
		return err
	}
	if saga.IsCompensation(r) {
		res, err := tx.ExecContext(ctx, s.db.Rebind(`DELETE FROM reservations WHERE saga_id = ?`), o.ID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 1 {
			if _, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE stock SET available = available + ? WHERE sku = ?`), o.Qty, o.SKU); err != nil {
				return err
			}
		}
		if err := s.setStatus(ctx, o.ID, "cancelled"); err != nil {
			return err
		}
		return s.outbox.Write(ctx, tx, saga.Success(r, nil))
	}
	res, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE stock SET available = available - ? WHERE sku = ? AND available >= ?`), o.Qty, o.SKU, o.Qty)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return s.outbox.Write(ctx, tx, saga.Failure(r, "sold out"))
	}
	if _, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO reservations (saga_id, sku, qty) VALUES (?, ?, ?)`), o.ID, o.SKU, o.Qty); err != nil {
		return err
	}
	return s.outbox.Write(ctx, tx, saga.Success(r, nil))
}

// charge charges the card of an order: amounts over the limit are
// declined.
func (s *shop) charge(ctx context.Context, r *stream.Record) error {
	tx, o, err := s.command(ctx, r)
	if err != nil {
		return err
	}
	if o.Amount > cardLimit {
		return s.outbox.Write(ctx, tx, saga.Failure(r, "card declined"))
	}
	if err := s.setStatus(ctx, o.ID, "paid"); err != nil {
		return err
	}
	return s.outbox.Write(ctx, tx, saga.Success(r, nil))
}

// command returns the inbox transaction a participant's handler runs in and
// the order a saga command carries.
func (s *shop) command(ctx context.Context, r *stream.Record) (*sql.Tx, Order, error) {
	tx, ok := outbox.TxFromContext(ctx)
	if !ok {
		return nil, Order{}, errors.New("handler called outside an inbox transaction")
	}
	var o Order
	if err := json.Unmarshal(r.Value, &o); err != nil {
		return nil, Order{}, consume.Permanent(fmt.Errorf("saga %s: %w", saga.ID(r), err))
	}
	return tx, o, nil
}

// setStatus sets an order's status in the handler's inbox transaction.
func (s *shop) setStatus(ctx context.Context, id, status string) error {
	tx, ok := outbox.TxFromContext(ctx)
	if !ok {
		return errors.New("handler called outside an inbox transaction")
	}
	_, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE orders SET status = ? WHERE id = ?`), status, id)
	return err
}

// waitEnded polls the purchase saga of an order until it is no longer
// active, or fails at deadline.
func (s *shop) waitEnded(ctx context.Context, id string, deadline time.Time) (*saga.Instance, error) {
	for {
		in, err := s.sagas.Get(ctx, id)
		if err != nil && !errors.Is(err, saga.ErrNotFound) {
			return nil, err
		}
		if in != nil && !in.State.Active() {
			return in, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("the purchase of %s did not end in time", id)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("the shop stopped before the purchase of %s ended: %w", id, context.Cause(ctx))
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (s *shop) status(ctx context.Context, id string) (string, error) {
	var status string
	err := s.db.QueryRowContext(ctx, s.db.Rebind(`SELECT status FROM orders WHERE id = ?`), id).Scan(&status)
	return status, err
}

func (s *shop) available(ctx context.Context, sku string) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, s.db.Rebind(`SELECT available FROM stock WHERE sku = ?`), sku).Scan(&n)
	return n, err
}
