package http

import (
	"net/http"

	"github.com/latchkey/latchkey"
)

func (s *Server) handleListPermissions(w http.ResponseWriter, r *http.Request) error {
	perms, err := s.Permissions.FindPermissions(r.Context(), principalFrom(r.Context()).AccountID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newPage(perms, ""))
	return nil
}

func (s *Server) handleCreatePermission(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Name        string `json:"name"`
		Description string `json:"description"`
	}
	if err := decodeJSON(w, r, &body, false); err != nil {
		return err
	}
	p := &latchkey.Permission{AccountID: principalFrom(r.Context()).AccountID, Name: body.Name, Description: body.Description}
	if err := p.Validate(); err != nil {
		return err
	}
	if err := s.Permissions.CreatePermission(r.Context(), p); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, p)
	return nil
}

func (s *Server) handleDeletePermission(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	if err := latchkey.ValidatePermissionName("name", name); err != nil {
		return err
	}
	if err := s.Permissions.DeletePermission(r.Context(), principalFrom(r.Context()).AccountID, name); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
