package web

import (
	"net/http"

	"github.com/arus-platform/arus/internal/auth"
)

// routes lists every page of the console.
func (h *Handler) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("GET /static/", staticHandler())

	mux.HandleFunc("GET /login", h.loginForm)
	mux.HandleFunc("POST /login", h.login)
	mux.Handle("POST /logout", h.page("", h.logout))

	mux.Handle("GET /{$}", h.page("", h.home))
	mux.Handle("GET /system", h.page(auth.PermSystemRead, h.system))

	mux.Handle("GET /users", h.page(auth.PermUsersRead, h.users))
	mux.Handle("GET /users/new", h.page(auth.PermUsersWrite, h.newUserForm))
	mux.Handle("POST /users", h.page(auth.PermUsersWrite, h.createUser))
	mux.Handle("GET /users/{id}", h.page(auth.PermUsersRead, h.user))
	mux.Handle("POST /users/{id}", h.page(auth.PermUsersWrite, h.updateUser))
	mux.Handle("POST /users/{id}/password", h.page(auth.PermUsersWrite, h.resetPassword))
	mux.Handle("POST /users/{id}/disable", h.page(auth.PermUsersWrite, h.disableUser))
	mux.Handle("POST /users/{id}/enable", h.page(auth.PermUsersWrite, h.enableUser))

	mux.Handle("GET /keys", h.page(auth.PermKeysRead, h.keys))
	mux.Handle("POST /keys", h.page(auth.PermKeysWrite, h.createKey))
	mux.Handle("POST /keys/{id}/rotate", h.page(auth.PermKeysWrite, h.rotateKey))
	mux.Handle("POST /keys/{id}/revoke", h.page(auth.PermKeysWrite, h.revokeKey))

	mux.HandleFunc("/", h.notFound)
	return mux
}
