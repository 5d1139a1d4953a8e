package mock

import (
	"context"

	"github.com/latchkey/latchkey"
)

var _ latchkey.AuditService = (*AuditService)(nil)

// AuditService is a mock of latchkey.AuditService.
type AuditService struct {
	FindAuditEventsFn func(ctx context.Context, f latchkey.AuditFilter) ([]*latchkey.AuditEvent, string, error)
}

// FindAuditEvents calls FindAuditEventsFn.
func (s *AuditService) FindAuditEvents(ctx context.Context, f latchkey.AuditFilter) ([]*latchkey.AuditEvent, string, error) {
	return s.FindAuditEventsFn(ctx, f)
}
