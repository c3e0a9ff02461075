// Package querycheck proves, from the SQL text alone, that a statement stays inside
// one tenant. It enforces the ARCHITECTURE rule "every statement on a tenant table
// filters tenant_id = $n with a bound parameter, and every join between tenant tables
// equates their tenant_id", which is what keeps tenants apart in the shared tables
// today and what lets Citus route each statement to a single shard later.
//
// The statement is parsed by the real PostgreSQL parser (pg_query_go), so the checker
// sees exactly the tree the server would. It has no schema: it knows only which tables
// are tenant tables and their tenant column. Whenever it cannot prove a fact it assumes
// the fact does not hold, so an unusual but safe statement may be reported (rewrite it
// more plainly, or name it as an exception) while an unsafe one is never passed.
//
// The model: every query level (a SELECT, UPDATE or DELETE, at any depth) has FROM
// items. A column is "bound" to a set of parameters P when every row the level yields
// has that column equal to each $n in P. Bindings come from top-level AND conjuncts of
// WHERE and JOIN … ON of the form col = $n (a cast of the parameter is fine) and flow
// along col = col equalities, including equalities with a correlated outer query's
// already bound column. A tenant table's tenant column must end up bound, and all bound
// tenant columns in one statement must share a parameter.
package querycheck

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Problem is one violation of the tenant-scoping rule found in a statement.
type Problem struct {
	// Table is the tenant table the problem concerns.
	Table string
	// Message says what is wrong, in terms of the statement's own names.
	Message string
}

// String formats the problem for test failures and logs.
func (p Problem) String() string { return p.Table + ": " + p.Message }

// Check parses sql with the real PostgreSQL parser (pg_query_go/v6) and returns one
// Problem per violation. tenantTables maps each tenant table's name to its tenant
// column. sql may hold several statements; each is checked on its own. Statements that
// touch no tenant table, and utility statements such as SET or BEGIN, have no problems;
// a utility statement that names a tenant table (TRUNCATE, COPY, LOCK, MERGE, …) is
// reported, because nothing in it can prove tenant scoping.
func Check(sql string, tenantTables map[string]string) ([]Problem, error) {
	a, err := analyze(sql, tenantTables)
	if err != nil {
		return nil, err
	}
	return a.problems, nil
}

// Tables returns the sorted names of the tables sql references, CTE names excluded, so
// a caller can make sure every table a query uses has been classified.
func Tables(sql string) ([]string, error) {
	a, err := analyze(sql, nil)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(a.tables))
	for name := range a.tables {
		names = append(names, name)
	}
	sort.Strings(names)
	return names, nil
}

func analyze(sql string, tenantTables map[string]string) (*analyzer, error) {
	tree, err := pg.Parse(sql)
	if err != nil {
		return nil, fmt.Errorf("querycheck: parse: %w", err)
	}
	a := &analyzer{tenants: tenantTables, tables: map[string]bool{}}
	for _, raw := range tree.GetStmts() {
		// The one-tenant-per-statement rule is per statement, not per string.
		a.scoped = nil
		a.statement(raw.GetStmt(), env{})
		a.checkAcrossLevels()
	}
	return a, nil
}

// params is a set of bind-parameter numbers ($n).
type params map[int32]struct{}

func (p params) addAll(q params) (changed bool) {
	for n := range q {
		if _, ok := p[n]; !ok {
			p[n] = struct{}{}
			changed = true
		}
	}
	return changed
}

func (p params) intersects(q params) bool {
	for n := range p {
		if _, ok := q[n]; ok {
			return true
		}
	}
	return false
}

func (p params) String() string {
	nums := make([]int, 0, len(p))
	for n := range p {
		nums = append(nums, int(n))
	}
	sort.Ints(nums)
	parts := make([]string, len(nums))
	for i, n := range nums {
		parts[i] = "$" + strconv.Itoa(n)
	}
	return strings.Join(parts, ", ")
}

func intersect(a, b params) params {
	out := params{}
	for n := range a {
		if _, ok := b[n]; ok {
			out[n] = struct{}{}
		}
	}
	return out
}

func single(n int32) params { return params{n: {}} }

// itemKind says what a FROM item is, which decides what the checker knows of its columns.
type itemKind int

const (
	// tableItem is a base table: tenant or not.
	tableItem itemKind = iota
	// derivedItem is a subquery, CTE reference or VALUES list: its output names are
	// known, and so is which outputs carry a bound tenant value.
	derivedItem
	// opaqueItem is a function or other FROM item whose columns are unknown.
	opaqueItem
)

// item is one FROM item of a query level (or the target of INSERT/UPDATE/DELETE).
type item struct {
	kind      itemKind
	level     *level
	name      string // what columns are qualified with: the alias, else the table or CTE name
	aliased   bool
	schema    string
	relname   string // tableItem: the table
	tenantCol string // tableItem: the tenant column when it is a tenant table
	// derivedItem: every known output name, with the parameters it is bound to (maybe
	// none). complete is false when the item may have further columns (SELECT *).
	outputs  map[string]params
	complete bool
}

func (it *item) isTenantTable() bool { return it.kind == tableItem && it.tenantCol != "" }

func (it *item) describe() string {
	if it.aliased {
		return fmt.Sprintf("%s (as %s)", it.relname, it.name)
	}
	return it.relname
}

// hasColumn reports whether the item certainly has col (yes) or might have it (maybe);
// without a schema, a base table might have any column but its tenant column is certain.
func (it *item) hasColumn(col string) (yes, maybe bool) {
	switch it.kind {
	case tableItem:
		if it.tenantCol != "" && it.tenantCol == col {
			return true, false
		}
		return false, true
	case derivedItem:
		if _, ok := it.outputs[col]; ok {
			return true, false
		}
		return false, !it.complete
	default:
		return false, true
	}
}

// colKey names one column of one item: a node of the equality graph.
type colKey struct {
	it  *item
	col string
}

// level is one query level: the scope its column references resolve in first.
type level struct {
	id     int
	parent *level // the enclosing level, visible to correlated references
	items  []*item
	solved map[colKey]params // after solve: what each column is bound to
	// merged lists the JOIN … USING columns of top-level FROM entries: an unqualified
	// reference to one names the merged column, not the items' own.
	merged []mergedColumns
}

type mergedColumns struct {
	cols   map[string]colKey
	covers []*item
}

func (l *level) add(it *item) *item {
	it.level = l
	l.items = append(l.items, it)
	return it
}

// boundTo returns what a column of one of the level's items, or of an outer item, is
// bound to, as seen by the level that owns the item.
func boundTo(k colKey) params {
	if k.it.level == nil || k.it.level.solved == nil {
		return nil
	}
	return k.it.level.solved[k]
}

// cteScope chains the CTE names visible at a point of the statement.
type cteScope struct {
	parent  *cteScope
	name    string
	outputs []output // nil while a recursive CTE is being analysed: unknown
	known   bool
}

func (c *cteScope) lookup(name string) *cteScope {
	for s := c; s != nil; s = s.parent {
		if s.name == name {
			return s
		}
	}
	return nil
}

// env is where an expression or statement sits: the level whose columns it can see,
// and the CTEs it can name.
type env struct {
	lvl  *level
	ctes *cteScope
}

// output is one output column of a statement (target list, RETURNING or VALUES).
type output struct {
	name string
	p    params
	// star marks where a * was expanded: positions after it are unknown, and the
	// expansion lists only the tenant columns the checker knows of.
	star bool
}

// fact is one equality taken from a top-level AND conjunct. It holds on every row of the
// level in which the items in allowed are present; allowed == nil means all items (a
// WHERE conjunct). An outer join's ON condition does not filter its preserved side, so
// it may bind only the columns of the nullable side.
type fact struct {
	l, r    *pg.Node
	lk, rk  *colKey // already resolved sides (JOIN … USING), used instead of l and r
	allowed map[*item]bool
}

// scopedRef is a bound tenant table reference, kept for the statement-wide check that
// every tenant reference shares a parameter.
type scopedRef struct {
	it    *item
	level int
	p     params
}

type analyzer struct {
	tenants  map[string]string
	problems []Problem
	tables   map[string]bool
	levels   int
	scoped   []scopedRef
	reported map[string]bool
}

func (a *analyzer) problem(table, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if a.reported == nil {
		a.reported = map[string]bool{}
	}
	// The same sentence twice (a repeated subquery, say) tells the reader nothing new.
	if a.reported[table+"\x00"+msg] {
		return
	}
	a.reported[table+"\x00"+msg] = true
	a.problems = append(a.problems, Problem{Table: table, Message: msg})
}

func (a *analyzer) newLevel(parent *level) *level {
	a.levels++
	return &level{id: a.levels, parent: parent}
}

// statement analyses any statement node and returns its outputs when it has any.
func (a *analyzer) statement(n *pg.Node, e env) []output {
	switch {
	case n == nil:
		return nil
	case n.GetSelectStmt() != nil:
		return a.selectStmt(n.GetSelectStmt(), e)
	case n.GetInsertStmt() != nil:
		return a.insertStmt(n.GetInsertStmt(), e)
	case n.GetUpdateStmt() != nil:
		return a.updateStmt(n.GetUpdateStmt(), e)
	case n.GetDeleteStmt() != nil:
		return a.deleteStmt(n.GetDeleteStmt(), e)
	default:
		// Utility statements: walking them finds any query they carry (EXPLAIN,
		// COPY (SELECT …)) and any tenant table they name directly.
		a.walk(n.ProtoReflect(), e)
		return nil
	}
}

// withClause analyses the CTEs of a WITH and returns the CTE scope the statement's
// body sees.
func (a *analyzer) withClause(w *pg.WithClause, e env) *cteScope {
	scope := e.ctes
	if w == nil {
		return scope
	}
	ctes := make([]*pg.CommonTableExpr, 0, len(w.GetCtes()))
	for _, n := range w.GetCtes() {
		ctes = append(ctes, n.GetCommonTableExpr())
	}
	if w.GetRecursive() {
		// Every CTE of a recursive WITH can name every other, including itself; their
		// outputs are unknown while they are analysed.
		entries := make([]*cteScope, len(ctes))
		for i, c := range ctes {
			scope = &cteScope{parent: scope, name: c.GetCtename()}
			entries[i] = scope
		}
		for i, c := range ctes {
			outs := a.statement(c.GetCtequery(), env{lvl: e.lvl, ctes: scope})
			entries[i].outputs, entries[i].known = renameOutputs(outs, c.GetAliascolnames()), true
		}
		return scope
	}
	for _, c := range ctes {
		outs := a.statement(c.GetCtequery(), env{lvl: e.lvl, ctes: scope})
		scope = &cteScope{parent: scope, name: c.GetCtename(), outputs: renameOutputs(outs, c.GetAliascolnames()), known: true}
	}
	return scope
}

func (a *analyzer) selectStmt(s *pg.SelectStmt, e env) []output {
	ctes := a.withClause(s.GetWithClause(), e)
	body := env{lvl: e.lvl, ctes: ctes}

	if s.GetOp() != pg.SetOperation_SETOP_NONE && s.GetOp() != pg.SetOperation_SET_OPERATION_UNDEFINED {
		// Each arm is a query of its own and must be scoped on its own.
		left := a.selectStmt(s.GetLarg(), body)
		right := a.selectStmt(s.GetRarg(), body)
		a.walkExcept(s, env{lvl: a.newLevel(e.lvl), ctes: ctes}, "with_clause", "larg", "rarg")
		return mergeSetOutputs(left, right)
	}

	lvl := a.newLevel(e.lvl)
	inner := env{lvl: lvl, ctes: ctes}
	var facts []fact
	var deferred []func()
	for _, f := range s.GetFromClause() {
		a.topFromItem(f, lvl, body, inner, &facts, &deferred)
	}
	facts = append(facts, conjuncts(s.GetWhereClause(), nil)...)
	a.solve(lvl, facts)
	a.report(lvl)
	for _, d := range deferred {
		d()
	}
	a.walkExcept(s, inner, "with_clause", "from_clause", "larg", "rarg")

	if len(s.GetValuesLists()) > 0 {
		return valuesOutputs(s.GetValuesLists())
	}
	return a.outputs(s.GetTargetList(), lvl)
}

// topFromItem adds one top-level FROM entry to lvl, remembering its merged columns.
func (a *analyzer) topFromItem(n *pg.Node, lvl *level, outer, inner env, facts *[]fact, deferred *[]func()) {
	items, merged := a.fromItem(n, lvl, outer, inner, facts, deferred)
	if len(merged) > 0 {
		lvl.merged = append(lvl.merged, mergedColumns{cols: merged, covers: items})
	}
}

// fromItem adds the items of one FROM entry to lvl, collects its join conditions as
// facts, and queues what must wait until the level is solved (lateral subqueries,
// function arguments, subqueries inside ON). outer is the env of a non-lateral subquery
// (it cannot see its siblings); inner is the env of the level itself. It returns the
// items added and, for a JOIN … USING, the column each merged USING column stands for.
func (a *analyzer) fromItem(n *pg.Node, lvl *level, outer, inner env, facts *[]fact, deferred *[]func()) (items []*item, merged map[string]colKey) {
	switch {
	case n.GetRangeVar() != nil:
		return []*item{a.rangeVarItem(n.GetRangeVar(), lvl, outer.ctes)}, nil

	case n.GetRangeSubselect() != nil:
		rs := n.GetRangeSubselect()
		it := lvl.add(&item{kind: derivedItem, name: rs.GetAlias().GetAliasname(), aliased: true})
		if rs.GetLateral() {
			// A lateral subquery correlates with its siblings, which are bound only
			// once the level is solved; the level learns nothing from its outputs.
			*deferred = append(*deferred, func() { a.statement(rs.GetSubquery(), inner) })
			return []*item{it}, nil
		}
		outs := renameOutputs(a.statement(rs.GetSubquery(), outer), rs.GetAlias().GetColnames())
		it.outputs, it.complete = outputMap(outs)
		return []*item{it}, nil

	case n.GetJoinExpr() != nil:
		j := n.GetJoinExpr()
		left, leftMerged := a.fromItem(j.GetLarg(), lvl, outer, inner, facts, deferred)
		right, rightMerged := a.fromItem(j.GetRarg(), lvl, outer, inner, facts, deferred)
		allowed := map[*item]bool{}
		switch j.GetJointype() {
		case pg.JoinType_JOIN_INNER:
			markAll(allowed, left, right)
		case pg.JoinType_JOIN_LEFT:
			markAll(allowed, right)
		case pg.JoinType_JOIN_RIGHT:
			markAll(allowed, left)
		default:
			// FULL (or anything exotic): the ON filters neither side.
		}
		*facts = append(*facts, conjuncts(j.GetQuals(), allowed)...)
		for _, u := range j.GetUsingClause() {
			col := u.GetString_().GetSval()
			l, lok := mergedColumn(left, leftMerged, col)
			r, rok := mergedColumn(right, rightMerged, col)
			if !lok || !rok {
				continue
			}
			*facts = append(*facts, fact{lk: &l, rk: &r, allowed: allowed})
			if merged == nil {
				merged = map[string]colKey{}
			}
			switch j.GetJointype() {
			case pg.JoinType_JOIN_INNER, pg.JoinType_JOIN_LEFT:
				merged[col] = l
			case pg.JoinType_JOIN_RIGHT:
				merged[col] = r
			}
		}
		if q := j.GetQuals(); q != nil {
			*deferred = append(*deferred, func() { a.walk(q.ProtoReflect(), inner) })
		}
		return append(left, right...), merged

	case n.GetRangeTableSample() != nil:
		ts := n.GetRangeTableSample()
		items, merged = a.fromItem(ts.GetRelation(), lvl, outer, inner, facts, deferred)
		*deferred = append(*deferred, func() { a.walkExcept(ts, inner, "relation") })
		return items, merged

	default:
		// Functions and other table-producing expressions: their columns are unknown,
		// and their arguments may name earlier FROM items even without LATERAL.
		it := lvl.add(&item{kind: opaqueItem, name: aliasOf(n)})
		*deferred = append(*deferred, func() { a.walk(n.ProtoReflect(), inner) })
		return []*item{it}, nil
	}
}

func markAll(set map[*item]bool, groups ...[]*item) {
	for _, g := range groups {
		for _, it := range g {
			set[it] = true
		}
	}
}

// mergedColumn finds the column a USING column stands for on one side of a join.
func mergedColumn(side []*item, merged map[string]colKey, col string) (colKey, bool) {
	if k, ok := merged[col]; ok {
		return k, true
	}
	if len(side) == 1 {
		return colKey{side[0], col}, true
	}
	return colKey{}, false
}

func aliasOf(n *pg.Node) string {
	switch {
	case n.GetRangeFunction() != nil:
		return n.GetRangeFunction().GetAlias().GetAliasname()
	case n.GetRangeTableFunc() != nil:
		return n.GetRangeTableFunc().GetAlias().GetAliasname()
	case n.GetJsonTable() != nil:
		return n.GetJsonTable().GetAlias().GetAliasname()
	}
	return ""
}

// rangeVarItem turns a table name in FROM into an item: a CTE reference when a CTE of
// that name is in scope, else a base table.
func (a *analyzer) rangeVarItem(rv *pg.RangeVar, lvl *level, ctes *cteScope) *item {
	name, aliased := rv.GetRelname(), false
	if al := rv.GetAlias().GetAliasname(); al != "" {
		name, aliased = al, true
	}
	if rv.GetSchemaname() == "" {
		if c := ctes.lookup(rv.GetRelname()); c != nil {
			it := &item{kind: derivedItem, name: name, aliased: aliased}
			if c.known {
				it.outputs, it.complete = outputMap(c.outputs)
			}
			return lvl.add(it)
		}
	}
	a.tables[rv.GetRelname()] = true
	return lvl.add(&item{
		kind:      tableItem,
		name:      name,
		aliased:   aliased,
		schema:    rv.GetSchemaname(),
		relname:   rv.GetRelname(),
		tenantCol: a.tenants[rv.GetRelname()],
	})
}

func (a *analyzer) insertStmt(s *pg.InsertStmt, e env) []output {
	ctes := a.withClause(s.GetWithClause(), e)
	body := env{lvl: e.lvl, ctes: ctes}
	rv := s.GetRelation()
	a.tables[rv.GetRelname()] = true
	tenantCol := a.tenants[rv.GetRelname()]
	table := rv.GetRelname()

	col := -1
	for i, c := range s.GetCols() {
		if c.GetResTarget().GetName() == tenantCol {
			col = i
		}
	}
	if tenantCol != "" && col < 0 {
		a.problem(table, "INSERT into %s does not set its tenant column %s; list it and pass the tenant as a bound parameter", table, tenantCol)
	}

	var p params
	if sel := s.GetSelectStmt().GetSelectStmt(); sel != nil {
		outs := a.selectStmt(sel, body)
		isValues := len(sel.GetValuesLists()) > 0
		switch {
		case tenantCol == "" || col < 0:
		case isValues:
			p = a.checkValuesTenant(table, tenantCol, sel.GetValuesLists(), col)
		case col >= len(outs) || slices.ContainsFunc(outs[:col+1], func(o output) bool { return o.star }):
			a.problem(table, "INSERT … SELECT into %s: cannot tell which SELECT column supplies %s; list the SELECT columns explicitly", table, tenantCol)
		case len(outs[col].p) == 0:
			a.problem(table, "INSERT … SELECT into %s takes %s from neither a bound parameter nor a tenant column bound to one", table, tenantCol)
		default:
			p = outs[col].p
		}
	}

	// The target is visible to RETURNING and ON CONFLICT; the inserted rows are bound to
	// whatever the VALUES or SELECT bound the tenant column to.
	lvl := a.newLevel(e.lvl)
	target := lvl.add(&item{kind: tableItem, name: rv.GetRelname(), relname: table, tenantCol: tenantCol})
	if al := rv.GetAlias().GetAliasname(); al != "" {
		target.name, target.aliased = al, true
	}
	lvl.solved = map[colKey]params{}
	if tenantCol != "" {
		lvl.solved[colKey{target, tenantCol}] = p
		if len(p) > 0 {
			a.scoped = append(a.scoped, scopedRef{target, lvl.id, p})
		}
	}

	if oc := s.GetOnConflictClause(); oc != nil {
		if oc.GetAction() == pg.OnConflictAction_ONCONFLICT_UPDATE && tenantCol != "" {
			if !inferNames(oc.GetInfer(), tenantCol) {
				// A conflict on a key without the tenant column can be a conflict with
				// another tenant's row, which DO UPDATE would then overwrite.
				a.problem(table, "ON CONFLICT … DO UPDATE on %s must list %s in its conflict target (ON CONSTRAINT cannot be checked), or it may update another tenant's row", table, tenantCol)
			}
			for _, t := range oc.GetTargetList() {
				if t.GetResTarget().GetName() == tenantCol {
					a.problem(table, "ON CONFLICT … DO UPDATE sets the tenant column %s of %s; rows must never move between tenants", tenantCol, table)
				}
			}
		}
		ocl := a.newLevel(e.lvl)
		ocl.items = []*item{target}
		excluded := &item{kind: derivedItem, level: ocl, name: "excluded", aliased: true, outputs: map[string]params{}}
		if tenantCol != "" {
			excluded.outputs[tenantCol] = p
		}
		ocl.items = append(ocl.items, excluded)
		ocl.solved = map[colKey]params{{target, tenantCol}: p, {excluded, tenantCol}: p}
		a.walk(oc.ProtoReflect(), env{lvl: ocl, ctes: ctes})
	}

	a.walkExcept(s, env{lvl: lvl, ctes: ctes}, "relation", "cols", "select_stmt", "with_clause", "on_conflict_clause")
	return a.outputs(s.GetReturningList(), lvl)
}

// checkValuesTenant checks the tenant column of every VALUES row and returns the
// parameters all rows agree on.
func (a *analyzer) checkValuesTenant(table, tenantCol string, rows []*pg.Node, col int) params {
	var common params
	for i, row := range rows {
		exprs := row.GetList().GetItems()
		if col >= len(exprs) {
			a.problem(table, "INSERT into %s: VALUES row %d has no value for %s", table, i+1, tenantCol)
			return nil
		}
		n, ok := paramOf(exprs[col])
		if !ok {
			a.problem(table, "INSERT into %s: VALUES row %d sets %s to something other than a bound parameter", table, i+1, tenantCol)
			return nil
		}
		if common == nil {
			common = single(n)
		} else {
			common = intersect(common, single(n))
		}
	}
	if len(rows) > 0 && len(common) == 0 {
		a.problem(table, "INSERT into %s: VALUES rows set %s from different parameters, so one statement writes to several tenants", table, tenantCol)
	}
	return common
}

func inferNames(ic *pg.InferClause, col string) bool {
	if ic == nil || ic.GetConname() != "" {
		return false
	}
	for _, el := range ic.GetIndexElems() {
		if el.GetIndexElem().GetName() == col {
			return true
		}
	}
	return false
}

func (a *analyzer) updateStmt(s *pg.UpdateStmt, e env) []output {
	ctes := a.withClause(s.GetWithClause(), e)
	lvl := a.newLevel(e.lvl)
	target := a.rangeVarItem(s.GetRelation(), lvl, nil)
	if target.isTenantTable() {
		for _, t := range s.GetTargetList() {
			if t.GetResTarget().GetName() == target.tenantCol {
				a.problem(target.relname, "UPDATE sets the tenant column %s of %s; rows must never move between tenants", target.tenantCol, target.relname)
			}
		}
	}
	return a.modify(s, lvl, s.GetFromClause(), s.GetWhereClause(), s.GetReturningList(), e, ctes, "relation", "from_clause", "with_clause")
}

func (a *analyzer) deleteStmt(s *pg.DeleteStmt, e env) []output {
	ctes := a.withClause(s.GetWithClause(), e)
	lvl := a.newLevel(e.lvl)
	a.rangeVarItem(s.GetRelation(), lvl, nil)
	return a.modify(s, lvl, s.GetUsingClause(), s.GetWhereClause(), s.GetReturningList(), e, ctes, "relation", "using_clause", "with_clause")
}

// modify is the part UPDATE and DELETE share: a level made of the target and the
// FROM/USING items, scoped like a SELECT's.
func (a *analyzer) modify(s proto.Message, lvl *level, from []*pg.Node, where *pg.Node, returning []*pg.Node, e env, ctes *cteScope, skip ...string) []output {
	body := env{lvl: e.lvl, ctes: ctes}
	inner := env{lvl: lvl, ctes: ctes}
	var facts []fact
	var deferred []func()
	for _, f := range from {
		a.topFromItem(f, lvl, body, inner, &facts, &deferred)
	}
	facts = append(facts, conjuncts(where, nil)...)
	a.solve(lvl, facts)
	a.report(lvl)
	for _, d := range deferred {
		d()
	}
	a.walkExcept(s, inner, skip...)
	return a.outputs(returning, lvl)
}

// conjuncts returns the equalities among the top-level AND conjuncts of expr. A
// conjunct under OR or NOT proves nothing about every row, so it is not looked into.
func conjuncts(expr *pg.Node, allowed map[*item]bool) []fact {
	if expr == nil {
		return nil
	}
	if b := expr.GetBoolExpr(); b != nil {
		if b.GetBoolop() != pg.BoolExprType_AND_EXPR {
			return nil
		}
		var out []fact
		for _, arg := range b.GetArgs() {
			out = append(out, conjuncts(arg, allowed)...)
		}
		return out
	}
	ae := expr.GetAExpr()
	if ae == nil || ae.GetKind() != pg.A_Expr_Kind_AEXPR_OP || !isEquals(ae.GetName()) {
		return nil
	}
	// (a, b) = ($1, $2) is a = $1 AND b = $2.
	lr, rr := ae.GetLexpr().GetRowExpr(), ae.GetRexpr().GetRowExpr()
	if lr != nil && rr != nil && len(lr.GetArgs()) == len(rr.GetArgs()) {
		out := make([]fact, 0, len(lr.GetArgs()))
		for i := range lr.GetArgs() {
			out = append(out, fact{l: lr.GetArgs()[i], r: rr.GetArgs()[i], allowed: allowed})
		}
		return out
	}
	return []fact{{l: ae.GetLexpr(), r: ae.GetRexpr(), allowed: allowed}}
}

// isEquals accepts = and OPERATOR(pg_catalog.=); an = from another schema could be any
// user-defined function.
func isEquals(name []*pg.Node) bool {
	switch len(name) {
	case 1:
		return name[0].GetString_().GetSval() == "="
	case 2:
		return name[0].GetString_().GetSval() == "pg_catalog" && name[1].GetString_().GetSval() == "="
	}
	return false
}

// paramOf reports the parameter an expression is, looking through casts: $1::uuid is
// still exactly the caller's value.
func paramOf(n *pg.Node) (int32, bool) {
	for n.GetTypeCast() != nil {
		n = n.GetTypeCast().GetArg()
	}
	if p := n.GetParamRef(); p != nil && p.GetNumber() > 0 {
		return p.GetNumber(), true
	}
	return 0, false
}

// resolve finds the column a column reference names. Like PostgreSQL it searches the
// innermost level first; unlike PostgreSQL it has no schema, so an unqualified name is
// resolved only when exactly one item at a level certainly has the column and no other
// item might have it. Anything unresolved simply proves nothing.
func resolve(cr *pg.ColumnRef, lvl *level) (colKey, bool) {
	var names []string
	for _, f := range cr.GetFields() {
		s := f.GetString_()
		if s == nil {
			return colKey{}, false // t.* or *
		}
		names = append(names, s.GetSval())
	}
	switch len(names) {
	case 1:
		col := names[0]
		for l := lvl; l != nil; l = l.parent {
			var certain []colKey
			covered := map[*item]bool{}
			for _, m := range l.merged {
				if k, ok := m.cols[col]; ok {
					certain = append(certain, k)
					markAll(covered, m.covers)
				}
			}
			maybe := false
			for _, it := range l.items {
				if covered[it] {
					continue
				}
				yes, m := it.hasColumn(col)
				if yes {
					certain = append(certain, colKey{it, col})
				}
				maybe = maybe || m
			}
			switch {
			case len(certain) == 1 && !maybe:
				return certain[0], true
			case len(certain) == 0 && !maybe:
				continue // no item here has it: PostgreSQL looks outward too
			default:
				return colKey{}, false
			}
		}
	case 2, 3:
		qual, col := names[len(names)-2], names[len(names)-1]
		schema := ""
		if len(names) == 3 {
			schema = names[0]
		}
		for l := lvl; l != nil; l = l.parent {
			var found []*item
			for _, it := range l.items {
				switch {
				case schema == "" && it.name == qual:
					found = append(found, it)
				case schema != "" && it.kind == tableItem && !it.aliased && it.relname == qual && (it.schema == "" || it.schema == schema):
					found = append(found, it)
				}
			}
			if len(found) == 1 {
				return colKey{found[0], col}, true
			}
			if len(found) > 1 {
				return colKey{}, false
			}
		}
	}
	return colKey{}, false
}

// term is one side of an equality: a parameter or a resolved column.
type term struct {
	ok      bool
	isParam bool
	param   int32
	key     colKey
}

func side(n *pg.Node, k *colKey, lvl *level) term {
	if k != nil {
		return term{ok: true, key: *k}
	}
	if p, ok := paramOf(n); ok {
		return term{ok: true, isParam: true, param: p}
	}
	if cr := n.GetColumnRef(); cr != nil {
		if key, ok := resolve(cr, lvl); ok {
			return term{ok: true, key: key}
		}
	}
	return term{}
}

// solve works out what every column the level's facts mention is bound to: parameters
// flow into columns equated with them and on along column = column equalities, until
// nothing changes. Columns of outer items start with what their own level bound them to,
// outputs of subqueries with what the subquery bound them to.
func (a *analyzer) solve(lvl *level, facts []fact) {
	bound := map[colKey]params{}
	node := func(k colKey) params {
		if p, ok := bound[k]; ok {
			return p
		}
		p := params{}
		if k.it.level != lvl {
			p.addAll(boundTo(k))
		} else if k.it.kind == derivedItem {
			p.addAll(k.it.outputs[k.col])
		}
		bound[k] = p
		return p
	}
	for _, it := range lvl.items {
		if it.isTenantTable() {
			node(colKey{it, it.tenantCol})
		}
		for col := range it.outputs {
			node(colKey{it, col})
		}
	}
	canBind := func(k colKey, allowed map[*item]bool) bool {
		return allowed == nil || (k.it.level == lvl && allowed[k.it])
	}
	type edge struct{ from, to colKey }
	var edges []edge
	for _, f := range facts {
		l, r := side(f.l, f.lk, lvl), side(f.r, f.rk, lvl)
		switch {
		case !l.ok || !r.ok || (l.isParam && r.isParam):
		case l.isParam:
			if canBind(r.key, f.allowed) {
				node(r.key).addAll(single(l.param))
			}
		case r.isParam:
			if canBind(l.key, f.allowed) {
				node(l.key).addAll(single(r.param))
			}
		default:
			node(l.key)
			node(r.key)
			if canBind(r.key, f.allowed) {
				edges = append(edges, edge{l.key, r.key})
			}
			if canBind(l.key, f.allowed) {
				edges = append(edges, edge{r.key, l.key})
			}
		}
	}
	for changed := true; changed; {
		changed = false
		for _, e := range edges {
			if node(e.to).addAll(node(e.from)) {
				changed = true
			}
		}
	}
	lvl.solved = bound
}

// report checks the tenant tables of a solved level: each must be bound, and any two
// must share a parameter, since they are joined.
func (a *analyzer) report(lvl *level) {
	var bound []*item
	for _, it := range lvl.items {
		if !it.isTenantTable() {
			continue
		}
		p := lvl.solved[colKey{it, it.tenantCol}]
		if len(p) == 0 {
			a.problem(it.relname, "%s is not scoped to one tenant: add %s.%s = $n (a bound parameter) as a top-level AND of WHERE or JOIN … ON, or equate it with a tenant column that is", it.describe(), it.name, it.tenantCol)
			continue
		}
		for _, other := range bound {
			q := lvl.solved[colKey{other, other.tenantCol}]
			if !p.intersects(q) {
				a.problem(other.relname, "join between %s and %s does not equate tenant columns (%s.%s is bound to %s, %s.%s to %s)",
					other.describe(), it.describe(), other.name, other.tenantCol, q, it.name, it.tenantCol, p)
			}
		}
		bound = append(bound, it)
		a.scoped = append(a.scoped, scopedRef{it, lvl.id, p})
	}
}

// checkAcrossLevels catches tenant references in different parts of one statement
// (subquery and outer query, CTE and body, UNION arms, INSERT target and its SELECT)
// that are each bound, but to parameters that may hold different tenants.
func (a *analyzer) checkAcrossLevels() {
	for i, x := range a.scoped {
		for _, y := range a.scoped[i+1:] {
			if x.level != y.level && !x.p.intersects(y.p) {
				a.problem(x.it.relname, "%s (tenant bound to %s) and %s (tenant bound to %s) are scoped by different parameters, so the statement can span tenants; use one tenant parameter throughout",
					x.it.describe(), x.p, y.it.describe(), y.p)
			}
		}
	}
}

// outputs describes a target or RETURNING list: each column's name and what it is
// bound to, so an enclosing query can rely on a subquery's or CTE's tenant column.
func (a *analyzer) outputs(targets []*pg.Node, lvl *level) []output {
	var outs []output
	for _, t := range targets {
		rt := t.GetResTarget()
		if rt == nil {
			continue
		}
		v := rt.GetVal()
		if cr := v.GetColumnRef(); cr != nil && isStar(cr) {
			outs = append(outs, output{star: true})
			outs = append(outs, starOutputs(cr, lvl)...)
			continue
		}
		name := rt.GetName()
		if name == "" {
			name = defaultName(v)
		}
		outs = append(outs, output{name: name, p: valueParams(v, lvl)})
	}
	return outs
}

func isStar(cr *pg.ColumnRef) bool {
	f := cr.GetFields()
	return len(f) > 0 && f[len(f)-1].GetAStar() != nil
}

// starOutputs lists the columns of a * that the checker knows: tenant columns of tenant
// tables and the known outputs of subqueries.
func starOutputs(cr *pg.ColumnRef, lvl *level) []output {
	qual := ""
	if f := cr.GetFields(); len(f) >= 2 {
		qual = f[len(f)-2].GetString_().GetSval()
	}
	var outs []output
	for _, it := range lvl.items {
		if qual != "" && it.name != qual {
			continue
		}
		if it.isTenantTable() {
			outs = append(outs, output{name: it.tenantCol, p: lvl.solved[colKey{it, it.tenantCol}]})
		}
		if it.kind == derivedItem {
			names := make([]string, 0, len(it.outputs))
			for name := range it.outputs {
				names = append(names, name)
			}
			sort.Strings(names)
			for _, name := range names {
				outs = append(outs, output{name: name, p: it.outputs[name]})
			}
		}
	}
	return outs
}

func valueParams(v *pg.Node, lvl *level) params {
	if n, ok := paramOf(v); ok {
		return single(n)
	}
	if cr := v.GetColumnRef(); cr != nil {
		if k, ok := resolve(cr, lvl); ok {
			out := params{}
			out.addAll(boundTo(k))
			return out
		}
	}
	return nil
}

// defaultName approximates the name PostgreSQL gives an unnamed output column.
func defaultName(v *pg.Node) string {
	switch {
	case v.GetColumnRef() != nil:
		f := v.GetColumnRef().GetFields()
		if len(f) > 0 && f[len(f)-1].GetString_() != nil {
			return f[len(f)-1].GetString_().GetSval()
		}
	case v.GetTypeCast() != nil:
		if name := defaultName(v.GetTypeCast().GetArg()); name != "?column?" {
			return name
		}
		if names := v.GetTypeCast().GetTypeName().GetNames(); len(names) > 0 {
			return names[len(names)-1].GetString_().GetSval()
		}
	case v.GetFuncCall() != nil:
		if names := v.GetFuncCall().GetFuncname(); len(names) > 0 {
			return names[len(names)-1].GetString_().GetSval()
		}
	}
	return "?column?"
}

// valuesOutputs describes a VALUES list: a column is bound to a parameter only when
// every row puts that same parameter there.
func valuesOutputs(rows []*pg.Node) []output {
	width := len(rows[0].GetList().GetItems())
	outs := make([]output, width)
	for j := range outs {
		outs[j].name = fmt.Sprintf("column%d", j+1)
		var p params
		for i, row := range rows {
			exprs := row.GetList().GetItems()
			if j >= len(exprs) {
				p = nil
				break
			}
			n, ok := paramOf(exprs[j])
			if !ok {
				p = nil
				break
			}
			if i == 0 {
				p = single(n)
			} else {
				p = intersect(p, single(n))
			}
		}
		outs[j].p = p
	}
	return outs
}

// mergeSetOutputs describes a UNION/INTERSECT/EXCEPT: a column is bound to $n only when
// every arm binds it to $n. Names come from the first arm, as in PostgreSQL.
func mergeSetOutputs(left, right []output) []output {
	hasStar := func(o output) bool { return o.star }
	if len(left) != len(right) || slices.ContainsFunc(left, hasStar) || slices.ContainsFunc(right, hasStar) {
		out := make([]output, len(left))
		for i, o := range left {
			out[i] = output{name: o.name, star: o.star}
		}
		return out
	}
	out := make([]output, len(left))
	for i := range left {
		out[i] = output{name: left[i].name, p: intersect(left[i].p, right[i].p)}
	}
	return out
}

// renameOutputs applies column aliases, as in AS s(a, b) or WITH c(a, b) AS (…).
func renameOutputs(outs []output, colnames []*pg.Node) []output {
	if len(colnames) == 0 {
		return outs
	}
	out := slices.Clone(outs)
	for i, c := range colnames {
		if i >= len(out) {
			break
		}
		if out[i].star {
			// Positions behind a * are unknown, so the aliases cannot be placed.
			return []output{{star: true}}
		}
		out[i].name = c.GetString_().GetSval()
	}
	return out
}

// outputMap indexes outputs by name. A name that appears twice is ambiguous, so it
// proves nothing.
func outputMap(outs []output) (map[string]params, bool) {
	m := map[string]params{}
	complete := true
	for _, o := range outs {
		if o.star {
			complete = false
			continue
		}
		if _, dup := m[o.name]; dup {
			m[o.name] = nil
			continue
		}
		m[o.name] = o.p
	}
	return m, complete
}

// walk searches an expression (or any other part of the tree not handled structurally)
// for statements to analyse and for tables named where scoping cannot be proven. It
// visits every field through protobuf reflection, so no kind of node can hide a
// subquery from the checker.
func (a *analyzer) walk(m protoreflect.Message, e env) {
	switch x := m.Interface().(type) {
	case *pg.SelectStmt:
		a.selectStmt(x, e)
		return
	case *pg.InsertStmt:
		a.insertStmt(x, e)
		return
	case *pg.UpdateStmt:
		a.updateStmt(x, e)
		return
	case *pg.DeleteStmt:
		a.deleteStmt(x, e)
		return
	case *pg.RangeVar:
		a.unanalysable(x, e)
		return
	case *pg.LockingClause:
		return // FOR UPDATE OF names FROM items, which were analysed already
	}
	a.walkFields(m, e, nil)
}

// walkExcept walks every field of msg but those named in skip (protobuf field names),
// which the caller analyses itself.
func (a *analyzer) walkExcept(msg proto.Message, e env, skip ...string) {
	a.walkFields(msg.ProtoReflect(), e, skip)
}

func (a *analyzer) walkFields(m protoreflect.Message, e env, skip []string) {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Kind() != protoreflect.MessageKind || fd.IsMap() || slices.Contains(skip, string(fd.Name())) {
			return true
		}
		if fd.IsList() {
			list := v.List()
			for i := range list.Len() {
				a.walk(list.Get(i).Message(), e)
			}
			return true
		}
		a.walk(v.Message(), e)
		return true
	})
}

// unanalysable handles a table named outside the SELECT/INSERT/UPDATE/DELETE positions
// the checker understands: TRUNCATE, COPY, LOCK, MERGE, SELECT INTO and the like.
func (a *analyzer) unanalysable(rv *pg.RangeVar, e env) {
	if rv.GetSchemaname() == "" && e.ctes.lookup(rv.GetRelname()) != nil {
		return
	}
	a.tables[rv.GetRelname()] = true
	if col := a.tenants[rv.GetRelname()]; col != "" {
		a.problem(rv.GetRelname(), "%s is named where tenant scoping cannot be proven (TRUNCATE, COPY, LOCK, MERGE, SELECT INTO, …); use SELECT/INSERT/UPDATE/DELETE filtered on %s = $n", rv.GetRelname(), col)
	}
}
