package gate

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/arus-platform/arus/invalid"
)

// Device roles.
const (
	// RoleSteward scans.
	RoleSteward = "steward"
	// RoleSupervisor scans, searches the access list, and overrides a
	// refusal with a reason that is recorded.
	RoleSupervisor = "supervisor"
)

// Device is an enrolled scanner, bound to one event and gate.
type Device struct {
	DeviceID  string    `json:"device_id"`
	EventID   string    `json:"event_id"`
	GateID    string    `json:"gate_id"`
	Role      string    `json:"role"`
	Name      string    `json:"name"`
	KeyID     string    `json:"-"`
	Revoked   bool      `json:"revoked"`
	CreatedAt time.Time `json:"created_at"`
}

// Enrolment is a one-time code that turns a scanner into a device.
type Enrolment struct {
	EventID string `json:"event_id"`
	GateID  string `json:"gate_id"`
	Role    string `json:"role"`
	Name    string `json:"name"`
	// TTL is how long the code may be used. Default 24h, at most 30 days.
	TTL time.Duration `json:"-"`
}

// CreateEnrolment returns a one-time enrolment code (shown once; only its
// hash is kept).
func (s *Service) CreateEnrolment(ctx context.Context, e Enrolment) (code string, expires time.Time, err error) {
	if _, err := s.liveServer(ctx, e.EventID); err != nil {
		return "", time.Time{}, err
	}
	if _, err := s.GateOf(ctx, e.EventID, e.GateID); err != nil {
		return "", time.Time{}, invalid.New(ErrInvalid, "gate_id", "event %s has no gate %q", e.EventID, e.GateID)
	}
	if e.Role != RoleSteward && e.Role != RoleSupervisor {
		return "", time.Time{}, invalid.New(ErrInvalid, "role", "must be steward or supervisor")
	}
	if err := checkName("name", e.Name); err != nil {
		return "", time.Time{}, err
	}
	if e.TTL == 0 {
		e.TTL = 24 * time.Hour
	}
	if e.TTL < 0 || e.TTL > 30*24*time.Hour {
		return "", time.Time{}, invalid.New(ErrInvalid, "ttl", "must be up to 30 days")
	}
	b := make([]byte, 10)
	if _, err := rand.Read(b); err != nil {
		return "", time.Time{}, err
	}
	code = strings.ToLower(base32.StdEncoding.EncodeToString(b))
	expires = s.now().Add(e.TTL)
	if _, err := s.db.ExecContext(ctx, s.db.Rebind(`INSERT INTO gate_enrolments (code_hash, event_id, gate_id, role, name, expires_ns) VALUES (?, ?, ?, ?, ?, ?)`),
		codeHash(code), e.EventID, e.GateID, e.Role, e.Name, expires.UnixNano()); err != nil {
		return "", time.Time{}, fmt.Errorf("gate: enrolment: %w", err)
	}
	return code, expires, nil
}

func codeHash(code string) string {
	h := sha256.Sum256([]byte(strings.ToLower(strings.TrimSpace(code))))
	return hex.EncodeToString(h[:])
}

// ErrBadCode: the enrolment code is unknown, used or expired.
var ErrBadCode = errors.New("gate: enrolment code is unknown, already used or expired")

// Enrol spends a one-time code and creates its device. A code works once.
func (s *Service) Enrol(ctx context.Context, code string) (Device, error) {
	var d Device
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE gate_enrolments SET used = 1 WHERE code_hash = ? AND used = 0 AND expires_ns > ?`), codeHash(code), s.now().UnixNano())
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return ErrBadCode
		}
		if err := tx.QueryRowContext(ctx, s.db.Rebind(`SELECT event_id, gate_id, role, name FROM gate_enrolments WHERE code_hash = ?`), codeHash(code)).
			Scan(&d.EventID, &d.GateID, &d.Role, &d.Name); err != nil {
			return err
		}
		d.DeviceID, d.CreatedAt = newID(), s.now().UTC()
		_, err = tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO gate_devices (device_id, event_id, gate_id, role, name, created_ns) VALUES (?, ?, ?, ?, ?, ?)`),
			d.DeviceID, d.EventID, d.GateID, d.Role, d.Name, d.CreatedAt.UnixNano())
		return err
	})
	if err != nil {
		if errors.Is(err, ErrBadCode) {
			return Device{}, err
		}
		return Device{}, fmt.Errorf("gate: enrol: %w", err)
	}
	return d, nil
}

// SetDeviceKey records the id of the API key a device authenticates with.
func (s *Service) SetDeviceKey(ctx context.Context, deviceID, keyID string) error {
	_, err := s.db.ExecContext(ctx, s.db.Rebind(`UPDATE gate_devices SET key_id = ? WHERE device_id = ?`), keyID, deviceID)
	if err != nil {
		return fmt.Errorf("gate: device %s: %w", deviceID, err)
	}
	return nil
}

// RevokeDevice revokes a device at once: every later request of it fails.
func (s *Service) RevokeDevice(ctx context.Context, deviceID string) (Device, error) {
	if _, err := s.db.ExecContext(ctx, s.db.Rebind(`UPDATE gate_devices SET revoked = 1 WHERE device_id = ?`), deviceID); err != nil {
		return Device{}, fmt.Errorf("gate: revoke device %s: %w", deviceID, err)
	}
	return s.Device(ctx, deviceID)
}

// Device returns a device by id.
func (s *Service) Device(ctx context.Context, deviceID string) (Device, error) {
	return s.device(ctx, `device_id = ?`, deviceID)
}

// DeviceByKey returns the device that authenticates with an API key id.
func (s *Service) DeviceByKey(ctx context.Context, keyID string) (Device, error) {
	if keyID == "" {
		return Device{}, invalid.Refuse(ErrNotFound, "device_unknown", "no device")
	}
	return s.device(ctx, `key_id = ?`, keyID)
}

func (s *Service) device(ctx context.Context, where string, arg string) (Device, error) {
	ds, err := s.devices(ctx, where, arg)
	if err != nil {
		return Device{}, err
	}
	if len(ds) == 0 {
		return Device{}, invalid.Refuse(ErrNotFound, "device_unknown", "no such device")
	}
	return ds[0], nil
}

// Devices lists an event's devices.
func (s *Service) Devices(ctx context.Context, eventID string) ([]Device, error) {
	return s.devices(ctx, `event_id = ? ORDER BY created_ns, device_id`, eventID)
}

func (s *Service) devices(ctx context.Context, where string, arg string) ([]Device, error) {
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT device_id, event_id, gate_id, role, name, key_id, revoked, created_ns FROM gate_devices WHERE `+where), arg)
	if err != nil {
		return nil, fmt.Errorf("gate: devices: %w", err)
	}
	defer rows.Close()
	out := []Device{}
	for rows.Next() {
		var d Device
		var revoked int
		var created int64
		if err := rows.Scan(&d.DeviceID, &d.EventID, &d.GateID, &d.Role, &d.Name, &d.KeyID, &revoked, &created); err != nil {
			return nil, fmt.Errorf("gate: devices: %w", err)
		}
		d.Revoked, d.CreatedAt = revoked == 1, fromNanos(created)
		out = append(out, d)
	}
	return out, rows.Err()
}
