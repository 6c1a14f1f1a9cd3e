package kafkawire

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"reflect"
	"time"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-platform/arus/internal/auth"
)

// pipelineDepth is how many requests of one connection may be handled
// ahead of the response being written. Requests are handled in the order
// they arrive and answered in that order, as Kafka does; produce requests
// are queued to the log while the ones before them wait for their fsync.
const pipelineDepth = 16

// conn is one client connection.
type conn struct {
	l  *Listener
	nc net.Conn
	// ctx ends when the connection closes or the listener stops.
	ctx    context.Context
	cancel context.CancelFunc

	// Set by SASL: the key the client authenticated with.
	authed   bool
	key      *auth.APIKey
	user     string
	mechOK   bool
	clientID string
	// rawSASL is set after a version 0 SaslHandshake: the next frame is a
	// bare SASL token, not a request.
	rawSASL bool

	ahead aheads
}

// pending is a request being answered: wait returns the response, nil when
// none is sent (acks=0).
type pending struct {
	key   int16
	ver   int16
	corr  int32
	start time.Time
	wait  func() kmsg.Response
	// raw, when set, is written as it is instead of a response: the answer
	// to a SASL token sent after a version 0 handshake.
	raw []byte
}

func newConn(l *Listener, nc net.Conn) *conn {
	ctx, cancel := context.WithCancel(context.Background())
	return &conn{l: l, nc: nc, ctx: ctx, cancel: cancel}
}

func (c *conn) serve() {
	defer c.cancel()
	go func() {
		select {
		case <-c.l.stop:
			c.cancel()
		case <-c.ctx.Done():
		}
	}()
	out := make(chan pending, pipelineDepth)
	written := make(chan struct{})
	go func() {
		defer close(written)
		c.write(out)
	}()
	err := c.read(out)
	close(out)
	<-written
	c.cancel()
	c.ahead.wg.Wait()
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !isTimeout(err) {
		c.l.log.Debug("kafkawire: connection closed", "remote", c.nc.RemoteAddr().String(), "err", err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// read reads requests until the connection ends and hands each one, being
// handled, to the writer.
func (c *conn) read(out chan<- pending) error {
	r := bufio.NewReaderSize(c.nc, 64<<10)
	var size [4]byte
	for {
		if _, err := io.ReadFull(r, size[:]); err != nil {
			return err
		}
		n := int(binary.BigEndian.Uint32(size[:]))
		if n < 8 || n > c.l.cfg.MaxRequestBytes {
			return fmt.Errorf("request of %d bytes is outside 8 to %d", n, c.l.cfg.MaxRequestBytes)
		}
		body := make([]byte, n)
		if _, err := io.ReadFull(r, body); err != nil {
			return err
		}
		var p pending
		var err error
		if c.rawSASL {
			p, err = c.rawToken(body)
		} else {
			p, err = c.dispatch(body)
		}
		if err != nil {
			return err
		}
		select {
		case out <- p:
		case <-c.ctx.Done():
			return c.ctx.Err()
		}
	}
}

// dispatch parses one request and starts handling it.
func (c *conn) dispatch(body []byte) (pending, error) {
	rd := kbin.Reader{Src: body}
	key, ver, corr := rd.Int16(), rd.Int16(), rd.Int32()
	if cid := rd.NullableString(); cid != nil {
		c.clientID = *cid
	}
	p := pending{key: key, ver: ver, corr: corr, start: time.Now()}
	req := kmsg.RequestForKey(key)
	if req == nil {
		return p, fmt.Errorf("request key %d is unknown to this server", key)
	}
	lo, hi, ok := supported(key)
	if !ok || ver < lo || ver > hi {
		if key == kmsg.ApiVersions.Int16() {
			// KIP-511: answer with version 0 and the versions supported.
			p.ver = 0
			resp := c.apiVersions(0)
			resp.ErrorCode = kerr.UnsupportedVersion.Code
			p.wait = func() kmsg.Response { return resp }
			return p, nil
		}
		if ver < 0 || ver > req.MaxVersion() {
			return p, fmt.Errorf("%s version %d is unknown to this server", kmsg.NameForKey(key), ver)
		}
		req.SetVersion(ver)
		if req.IsFlexible() {
			kmsg.SkipTags(&rd)
		}
		if err := req.ReadFrom(rd.Src); err != nil {
			return p, fmt.Errorf("parse %s v%d: %w", kmsg.NameForKey(key), ver, err)
		}
		resp := unsupported(req)
		p.wait = func() kmsg.Response { return resp }
		return p, nil
	}
	req.SetVersion(ver)
	if req.IsFlexible() {
		kmsg.SkipTags(&rd)
	}
	if err := req.ReadFrom(rd.Src); err != nil {
		return p, fmt.Errorf("parse %s v%d: %w", kmsg.NameForKey(key), ver, err)
	}
	if c.l.cfg.Auth != nil && !c.authed {
		switch key {
		case kmsg.ApiVersions.Int16(), kmsg.SASLHandshake.Int16(), kmsg.SASLAuthenticate.Int16():
		default:
			return p, fmt.Errorf("%s before SASL authentication", kmsg.NameForKey(key))
		}
	}
	p.wait = c.handle(req)
	return p, nil
}

// unsupported answers a request the listener does not serve with the
// protocol's UNSUPPORTED_VERSION, in the response's top-level error code
// when it has one.
func unsupported(req kmsg.Request) kmsg.Response {
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	v := reflect.ValueOf(resp).Elem()
	if f := v.FieldByName("ErrorCode"); f.IsValid() && f.CanSet() && f.Kind() == reflect.Int16 {
		f.SetInt(int64(kerr.UnsupportedVersion.Code))
	}
	return resp
}

// write writes the responses in request order.
func (c *conn) write(in <-chan pending) {
	w := bufio.NewWriterSize(c.nc, 64<<10)
	var buf []byte
	failed := false
	for p := range in {
		if p.raw != nil {
			buf = append(buf[:0], p.raw...)
		} else {
			resp := p.wait()
			c.l.metrics.observe(p.key, time.Since(p.start))
			if resp == nil || failed {
				continue
			}
			resp.SetVersion(p.ver)
			buf = append(buf[:0], 0, 0, 0, 0)
			buf = binary.BigEndian.AppendUint32(buf, uint32(p.corr))
			if resp.IsFlexible() && p.key != kmsg.ApiVersions.Int16() {
				buf = append(buf, 0) // no tagged fields in the header
			}
			buf = resp.AppendTo(buf)
			binary.BigEndian.PutUint32(buf, uint32(len(buf)-4))
		}
		if failed {
			continue
		}
		_ = c.nc.SetWriteDeadline(time.Now().Add(time.Minute))
		_, err := w.Write(buf)
		if err == nil && len(in) == 0 {
			err = w.Flush()
		}
		if err != nil {
			failed = true
			c.cancel()
			c.nc.Close()
		}
		if cap(buf) > 4<<20 {
			buf = nil
		}
	}
	if !failed {
		_ = w.Flush()
	}
}

// done returns a response computed now.
func done(resp kmsg.Response) func() kmsg.Response {
	return func() kmsg.Response { return resp }
}

// handle starts handling a request and returns what waits for its response.
func (c *conn) handle(req kmsg.Request) func() kmsg.Response {
	switch r := req.(type) {
	case *kmsg.ApiVersionsRequest:
		return done(c.apiVersions(r.Version))
	case *kmsg.SASLHandshakeRequest:
		return done(c.saslHandshake(r))
	case *kmsg.SASLAuthenticateRequest:
		return done(c.saslAuthenticate(r))
	case *kmsg.MetadataRequest:
		return done(c.metadata(r))
	case *kmsg.ProduceRequest:
		return c.produce(r)
	case *kmsg.FetchRequest:
		return done(c.fetch(r))
	case *kmsg.ListOffsetsRequest:
		return done(c.listOffsets(r))
	case *kmsg.InitProducerIDRequest:
		return done(c.initProducerID(r))
	case *kmsg.CreateTopicsRequest:
		return done(c.createTopics(r))
	case *kmsg.DeleteTopicsRequest:
		return done(c.deleteTopics(r))
	case *kmsg.DescribeConfigsRequest:
		return done(c.describeConfigs(r))
	case *kmsg.DescribeLogDirsRequest:
		return done(c.describeLogDirs(r))
	case *kmsg.FindCoordinatorRequest:
		return done(c.findCoordinator(r))
	case *kmsg.JoinGroupRequest:
		return done(c.joinGroup(r))
	case *kmsg.SyncGroupRequest:
		return done(c.syncGroup(r))
	case *kmsg.HeartbeatRequest:
		return done(c.heartbeat(r))
	case *kmsg.LeaveGroupRequest:
		return done(c.leaveGroup(r))
	case *kmsg.OffsetCommitRequest:
		return done(c.offsetCommit(r))
	case *kmsg.OffsetFetchRequest:
		return done(c.offsetFetch(r))
	case *kmsg.DescribeGroupsRequest:
		return done(c.describeGroups(r))
	case *kmsg.ListGroupsRequest:
		return done(c.listGroups(r))
	case *kmsg.DeleteGroupsRequest:
		return done(c.deleteGroups(r))
	}
	return done(unsupported(req))
}
