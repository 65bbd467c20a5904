// Package open picks a store backend from a data source name:
//
//	sqlite:PATH, sqlite://PATH    an SQLite file (sqlite:///var/lib/weir/weir.db)
//	PATH ending in .db            an SQLite file
//	postgres://…, postgresql://…  a PostgreSQL database
//
// DSNs may carry passwords, so errors never quote them; Redact gives a form
// that is safe to log.
package open
