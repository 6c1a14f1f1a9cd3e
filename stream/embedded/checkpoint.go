package embedded

// checkpointer copies the write-ahead log into the database in the
// background, on a connection of its own, so that the writer does not stop
// taking produce calls while a checkpoint runs. The writer kicks it after
// every walCheckpoint bytes it wrote. Checkpoints are passive: they copy
// what no reader still needs and never block the writer or the readers. The
// writer's own automatic checkpoint, at a multiple of that size, remains as
// a backstop.
type checkpointer struct {
	b    *Broker
	conn *dbConn
	kick chan struct{}
	quit chan struct{}
	done chan struct{}
}

func newCheckpointer(b *Broker, c *dbConn) *checkpointer {
	cp := &checkpointer{b: b, conn: c, kick: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
	go cp.run()
	return cp
}

// request asks for a checkpoint without waiting for it.
func (cp *checkpointer) request() {
	select {
	case cp.kick <- struct{}{}:
	default:
	}
}

func (cp *checkpointer) run() {
	defer close(cp.done)
	for {
		select {
		case <-cp.quit:
			return
		case <-cp.kick:
		}
		rs, err := cp.conn.query("PRAGMA wal_checkpoint(PASSIVE)")
		if err == nil {
			for rs.next() {
			}
			err = rs.close()
		}
		if err != nil {
			cp.b.cfg.Logger.Warn("embedded: checkpoint failed", "err", err)
		}
	}
}

// stop waits for a running checkpoint and closes the connection.
func (cp *checkpointer) stop() {
	close(cp.quit)
	<-cp.done
	cp.conn.close()
}
