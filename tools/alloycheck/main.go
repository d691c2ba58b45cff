// alloycheck parses Grafana Alloy configuration files with Alloy's own parser
// (github.com/grafana/alloy/syntax, the module Alloy itself uses; Alloy cannot be built here)
// and checks what a parser alone cannot:
//
//   - every top-level block is a configuration block Alloy knows or a component listed in
//     components.txt (components documented in the Alloy release the chart pins);
//   - every component has a label, and no two components share name and label;
//   - every reference to a component export (prometheus.relabel.runner.receiver) names a
//     component declared in the same file.
//
// Attribute names and types are not checked: their schemas live in Alloy's component
// packages, which cannot be built here.
//
// Usage: alloycheck -components components.txt FILE...   (exit 1 on any finding)
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/grafana/alloy/syntax/ast"
	"github.com/grafana/alloy/syntax/parser"
	"github.com/grafana/alloy/syntax/token"
)

// Configuration blocks of Alloy (not components): they take no label.
var configBlocks = map[string]bool{
	"logging": true, "tracing": true, "http": true, "remotecfg": true, "livedebugging": true,
	"foreach": true, "declare": true, "argument": true, "export": true,
	"import.file": true, "import.git": true, "import.http": true, "import.string": true,
}

func loadComponents(path string) (map[string]bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	known := map[string]bool{}
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		line := strings.TrimSpace(strings.SplitN(scanner.Text(), "#", 2)[0])
		if line != "" {
			known[line] = true
		}
	}
	return known, scanner.Err()
}

type refs struct {
	found []ref
}

type ref struct {
	path []string
	pos  token.Pos
}

// Visit collects the dotted access chains (a.b.c.d) of the file's expressions.
func (r *refs) Visit(node ast.Node) ast.Visitor {
	if access, ok := node.(*ast.AccessExpr); ok {
		var names []string
		var expr ast.Expr = access
		for {
			if a, ok := expr.(*ast.AccessExpr); ok {
				names = append([]string{a.Name.Name}, names...)
				expr = a.Value
				continue
			}
			break
		}
		if id, ok := expr.(*ast.IdentifierExpr); ok {
			r.found = append(r.found, ref{append([]string{id.Ident.Name}, names...), id.Ident.NamePos})
			return nil
		}
	}
	return r
}

func where(pos token.Pos) string {
	if pos.Valid() && pos.File() != nil {
		return pos.Position().String()
	}
	return "?"
}

func check(name string, data []byte, known map[string]bool) []string {
	file, err := parser.ParseFile(name, data)
	if err != nil {
		return []string{err.Error()}
	}
	var problems []string
	families := map[string]bool{}
	for c := range known {
		families[strings.SplitN(c, ".", 2)[0]] = true
	}
	declared := map[string]bool{}
	for _, stmt := range file.Body {
		block, ok := stmt.(*ast.BlockStmt)
		if !ok {
			continue
		}
		blockName := block.GetBlockName()
		switch {
		case configBlocks[blockName]:
		case !known[blockName]:
			problems = append(problems, fmt.Sprintf("%s: %q is not an Alloy component (tools/alloycheck/components.txt)", where(block.NamePos), blockName))
		case block.Label == "":
			problems = append(problems, fmt.Sprintf("%s: component %s has no label", where(block.NamePos), blockName))
		default:
			key := blockName + "." + block.Label
			if declared[key] {
				problems = append(problems, fmt.Sprintf("%s: component %s %q is declared twice", where(block.NamePos), blockName, block.Label))
			}
			declared[key] = true
		}
	}
	collector := &refs{}
	ast.Walk(collector, file)
	for _, r := range collector.found {
		if !families[r.path[0]] {
			continue // sys.env(...), constants.*, a local argument: not a component
		}
		resolved := false
		for i := 2; i <= len(r.path); i++ {
			if declared[strings.Join(r.path[:i], ".")] {
				resolved = true
				break
			}
		}
		if !resolved {
			problems = append(problems, fmt.Sprintf("%s: %s refers to a component that is not declared", where(r.pos), strings.Join(r.path, ".")))
		}
	}
	sort.Strings(problems)
	return problems
}

func main() {
	componentsPath := flag.String("components", "components.txt", "file listing the Alloy components that exist, one per line")
	flag.Parse()
	known, err := loadComponents(*componentsPath)
	if err != nil {
		fmt.Fprintf(os.Stderr, "alloycheck: -components %s: %v\n", *componentsPath, err)
		os.Exit(2)
	}
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: alloycheck -components components.txt FILE...")
		os.Exit(2)
	}
	failed := false
	for _, path := range flag.Args() {
		data, err := os.ReadFile(path)
		if err != nil {
			fmt.Fprintf(os.Stderr, "alloycheck: %v\n", err)
			failed = true
			continue
		}
		for _, p := range check(path, data, known) {
			fmt.Println(p)
			failed = true
		}
	}
	if failed {
		os.Exit(1)
	}
}
