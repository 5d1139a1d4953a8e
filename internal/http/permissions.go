package http

import (
	"net/http"

	"github.com/latchkey/latchkey"
)

// This file holds the /v1/permissions routes: the account's catalogue.

// handleListPermissions is GET /v1/permissions.
func (s *Server) handleListPermissions(w http.ResponseWriter, r *http.Request) error {
	perms, err := s.Permissions.FindPermissions(r.Context(), accountOf(r))
	return reply(w, http.StatusOK, newPage(perms, ""), err)
}

// permissionRequest is the body of POST /v1/permissions.
type permissionRequest struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

// handleCreatePermission is POST /v1/permissions {name, description}: 201.
func (s *Server) handleCreatePermission(w http.ResponseWriter, r *http.Request) error {
	return serve(w, r, http.StatusCreated, jsonBody[permissionRequest](false), func(body permissionRequest) (any, error) {
		p := &latchkey.Permission{AccountID: accountOf(r), Name: body.Name, Description: body.Description}
		if err := p.Validate(); err != nil {
			return nil, err
		}
		return p, s.Permissions.CreatePermission(r.Context(), p)
	})
}

// handleDeletePermission is DELETE /v1/permissions/{name}: 204.
func (s *Server) handleDeletePermission(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	if err := latchkey.ValidatePermissionName("name", name); err != nil {
		return err
	}
	return noContent(w, s.Permissions.DeletePermission(r.Context(), accountOf(r), name))
}
