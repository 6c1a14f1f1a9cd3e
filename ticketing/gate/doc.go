// Package gate is the e-ticketing suite's access-control service: one
// access-control server per event, with its gates, check-in lists, Ed25519
// signing keys and scanning devices.
//
// Tickets and staff passes carry signed QR payloads ([Sign], [Verify]) that
// a device checks with the event's public keys alone. The access list (who
// may enter, who is inside) is an event-sourced projection of the tickets
// issued, revoked and blocked and of every scan, kept in the service's own
// store and rebuilt from its log at any time. [Service.Redeem] decides a
// scan in the spirit of pretix's redeem API: a nonce makes retries safe,
// force records a scan that a device already let through offline. Devices
// follow changes from a position ([Service.Bundle], [Service.Changes]) and
// upload what they scanned offline ([Service.Upload]).
//
// The service talks to the others only through the topics of package
// messages; it uses the public SDK alone (store, stream, consume, outbox,
// eventsource, saga).
package gate
