package web

import (
	"net/http"

	"github.com/arus-platform/arus/internal/auth"
)

// Register adds every page of the console to mux. The console owns "/"
// and every path not claimed by a more specific pattern (the API's).
func (h *Handler) Register(mux *http.ServeMux) {
	handle := func(pattern string, next http.Handler) { mux.Handle(pattern, secureHeaders(next)) }
	handleFunc := func(pattern string, next http.HandlerFunc) { handle(pattern, next) }
	handle("GET /static/", staticHandler())

	handleFunc("GET /login", h.loginForm)
	handleFunc("POST /login", h.login)
	handle("POST /logout", h.page("", h.logout))
	handle("GET "+changePasswordPath, h.page("", h.passwordForm))
	handle("POST "+changePasswordPath, h.page("", h.changePassword))

	handle("GET /{$}", h.page("", h.home))
	handle("GET /system", h.page(auth.PermSystemRead, h.system))

	if h.cfg.Broker != nil {
		handle("GET /overview", h.page(auth.PermSystemRead, h.overview))
		handle("GET /overview/events", h.page(auth.PermSystemRead, h.overviewEvents))
		handle("GET /topics", h.page(auth.PermTopicsRead, h.topics))
		handle("POST /topics", h.page(auth.PermTopicsWrite, h.createTopic))
		handle("GET /topics/{topic}", h.page(auth.PermTopicsRead, h.topic))
		handle("POST /topics/{topic}/delete", h.page(auth.PermTopicsWrite, h.deleteTopic))
		handle("GET /topics/{topic}/messages", h.page(auth.PermRecordsRead, h.messages))
		handle("POST /topics/{topic}/messages", h.page(auth.PermRecordsProduce, h.produceMessage))
		handle("GET /topics/{topic}/messages/live", h.page(auth.PermRecordsRead, h.messagesLive))
		handle("GET /groups", h.page(auth.PermGroupsRead, h.groups))
		handle("GET /groups/{group}", h.page(auth.PermGroupsRead, h.group))
		handle("POST /groups/{group}/reset", h.page(auth.PermGroupsReset, h.resetGroup))
	}

	if h.cfg.DLQ != nil {
		handle("GET /dlq", h.page(auth.PermDLQRead, h.deadLetters))
		handle("GET /dlq/{dlq}", h.page(auth.PermDLQRead, h.deadLetterQueue))
		handle("POST /dlq/{dlq}/replay", h.page(auth.PermDLQReplay, h.dlqAct("replay")))
		handle("POST /dlq/{dlq}/discard", h.page(auth.PermDLQReplay, h.dlqAct("discard")))
	}

	if h.cfg.Sagas != nil {
		handle("GET /sagas", h.page(auth.PermGroupsRead, h.sagas))
		handle("GET /sagas/{id}", h.page(auth.PermGroupsRead, h.sagaInstance))
	}

	if h.cfg.Schemas != nil {
		handle("GET /schemas", h.page(auth.PermSchemasRead, h.schemas))
		handle("GET /schemas/{subject}", h.page(auth.PermSchemasRead, h.subject))
		handle("POST /schemas/{subject}", h.page(auth.PermSchemasWrite, h.registerSchema))
	}

	if h.cfg.Relay != nil {
		for _, section := range []string{"applications", "datasets", "destinations", "routes", "deliveries"} {
			handle("GET /relay/"+section, h.page(auth.PermRelayRead, h.relayPage(section)))
		}
		read, write := auth.PermRelayRead, auth.PermRelayWrite
		handle("POST /relay/applications", h.page(write, h.createRelayApp))
		handle("POST /relay/applications/{id}/limits", h.page(write, h.relayAppLimits))
		handle("POST /relay/applications/{id}/rotate", h.page(write, h.rotateRelayApp))
		handle("POST /relay/applications/{id}/delete", h.page(write, h.deleteRelayApp))
		handle("POST /relay/datasets", h.page(write, h.createRelayDataset))
		handle("GET /relay/datasets/{name}", h.page(read, h.relayDataset))
		handle("POST /relay/datasets/{name}", h.page(write, h.updateRelayDataset))
		handle("POST /relay/datasets/{name}/delete", h.page(write, h.deleteRelayDataset))
		handle("GET /relay/destinations/new", h.page(write, h.newRelayDest))
		handle("POST /relay/destinations", h.page(write, h.saveRelayDest))
		handle("GET /relay/destinations/{id}", h.page(read, h.relayDest))
		handle("POST /relay/destinations/{id}", h.page(write, h.saveRelayDest))
		handle("POST /relay/destinations/{id}/delete", h.page(write, h.deleteRelayDest))
		handle("GET /relay/routes/new", h.page(write, h.newRelayRoute))
		handle("POST /relay/routes", h.page(write, h.saveRelayRoute))
		handle("GET /relay/routes/{id}", h.page(read, h.relayRoute))
		handle("POST /relay/routes/{id}", h.page(write, h.saveRelayRoute))
		handle("POST /relay/routes/{id}/delete", h.page(write, h.deleteRelayRoute))
	}

	if h.cfg.Ticketing != nil {
		h.registerTicketing(handle)
	}

	handle("GET /users", h.page(auth.PermUsersRead, h.users))
	handle("GET /users/new", h.page(auth.PermUsersWrite, h.newUserForm))
	handle("POST /users", h.page(auth.PermUsersWrite, h.createUser))
	handle("GET /users/{id}", h.page(auth.PermUsersRead, h.user))
	handle("POST /users/{id}", h.page(auth.PermUsersWrite, h.updateUser))
	handle("POST /users/{id}/password", h.page(auth.PermUsersWrite, h.resetPassword))
	handle("POST /users/{id}/disable", h.page(auth.PermUsersWrite, h.disableUser))
	handle("POST /users/{id}/enable", h.page(auth.PermUsersWrite, h.enableUser))

	if h.cfg.Audit != nil {
		handle("GET /audit", h.page(auth.PermAuditRead, h.auditLog))
	}
	handle("GET /keys", h.page(auth.PermKeysRead, h.keys))
	handle("POST /keys", h.page(auth.PermKeysWrite, h.createKey))
	handle("POST /keys/{id}/rotate", h.page(auth.PermKeysWrite, h.rotateKey))
	handle("POST /keys/{id}/revoke", h.page(auth.PermKeysWrite, h.revokeKey))

	if h.cfg.Scanner {
		h.registerScanner(handle)
	}
	if h.cfg.Ticketing != nil || h.cfg.Scanner {
		// The language of the ticketing pages and the scanner (lang.go).
		handle("GET /lang", http.HandlerFunc(h.setConsoleLang))
	}
	if h.shop != nil {
		h.registerShop(handle)
	}

	handleFunc("/", h.notFound)
}
