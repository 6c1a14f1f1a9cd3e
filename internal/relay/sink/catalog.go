package sink

import (
	"context"
	"fmt"
	"slices"
)

// Catalog lists the tables the account sees, with columns and keys; the
// bookkeeping table is left out.
func (s *DB) Catalog(ctx context.Context) ([]TableInfo, error) {
	tables, err := s.d.catalog(ctx, s.db)
	if err != nil {
		return nil, fmt.Errorf("sink: catalogue of %s: %w", s.d.name(), s.d.classify(err))
	}
	return slices.DeleteFunc(tables, func(t TableInfo) bool {
		return t.Name == s.cfg.BookkeepingTable || t.Name == s.cfg.RecordsTable
	}), nil
}

// FindTable returns the table t as a route names it, its schema, when
// empty, the connection's own (main on SQLite, the search path's first on
// PostgreSQL, the database on MySQL), as Prepare resolves it. A table not
// in the catalogue is an error.
func (s *DB) FindTable(ctx context.Context, t Table) (TableInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.StatementTimeout)
	defer cancel()
	schema := t.Schema
	if schema == "" {
		var err error
		if schema, err = s.d.defaultSchema(ctx, s.db); err != nil {
			return TableInfo{}, fmt.Errorf("sink: default schema: %w", s.d.classify(err))
		}
	}
	tables, err := s.Catalog(ctx)
	if err != nil {
		return TableInfo{}, err
	}
	i := slices.IndexFunc(tables, func(ti TableInfo) bool { return ti.Schema == schema && ti.Name == t.Name })
	if i < 0 {
		return TableInfo{}, fmt.Errorf("sink: table %s.%s does not exist", schema, t.Name)
	}
	return tables[i], nil
}
