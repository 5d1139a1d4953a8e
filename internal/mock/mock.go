// Package mock holds function-field mocks of the root package's service
// interfaces, for handler tests (WTF style): a test sets the Fn fields of
// the calls it expects; calling a method whose field is unset panics on
// the nil function, so an unexpected call fails the test loudly.
package mock
