// Command lua-health runs Argo CD resource health scripts the way Argo CD runs those from argocd-cm: in
// gopher-lua (the Lua 5.1 VM Argo CD embeds) with only the base, package and table libraries open, the
// object as the global `obj`, and a one-second limit. It reads a JSON array of {script, object} from
// standard input and writes a JSON array of {status, message} or {error}, one per case.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	lua "github.com/yuin/gopher-lua"
)

type testCase struct {
	Script string `json:"script"`
	Object any    `json:"object"`
}

type result struct {
	Status  string `json:"status,omitempty"`
	Message string `json:"message,omitempty"`
	Error   string `json:"error,omitempty"`
}

var healthStatuses = map[string]bool{
	"Healthy": true, "Progressing": true, "Degraded": true, "Suspended": true, "Missing": true, "Unknown": true,
}

func main() {
	var cases []testCase
	if err := json.NewDecoder(os.Stdin).Decode(&cases); err != nil {
		fmt.Fprintln(os.Stderr, "lua-health: reading cases:", err)
		os.Exit(2)
	}
	results := make([]result, len(cases))
	for i, c := range cases {
		results[i] = run(c)
	}
	if err := json.NewEncoder(os.Stdout).Encode(results); err != nil {
		fmt.Fprintln(os.Stderr, "lua-health: writing results:", err)
		os.Exit(2)
	}
}

func run(c testCase) result {
	L := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer L.Close()
	for name, open := range map[string]lua.LGFunction{
		lua.LoadLibName: lua.OpenPackage,
		lua.BaseLibName: lua.OpenBase,
		lua.TabLibName:  lua.OpenTable,
	} {
		if err := L.CallByParam(lua.P{Fn: L.NewFunction(open), Protect: true}, lua.LString(name)); err != nil {
			return result{Error: err.Error()}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	L.SetContext(ctx)
	L.SetGlobal("obj", toLua(L, c.Object))
	if err := L.DoString(c.Script); err != nil {
		return result{Error: err.Error()}
	}
	table, ok := L.Get(-1).(*lua.LTable)
	if !ok {
		return result{Error: "the script returned " + L.Get(-1).Type().String() + ", not a table"}
	}
	status, _ := table.RawGetString("status").(lua.LString)
	if !healthStatuses[string(status)] {
		return result{Error: fmt.Sprintf("the script returned an invalid health status %q", string(status))}
	}
	out := result{Status: string(status)}
	switch message := table.RawGetString("message").(type) {
	case lua.LString:
		out.Message = string(message)
	case *lua.LNilType:
	default:
		return result{Error: "the script returned a message of type " + message.Type().String()}
	}
	return out
}

// toLua converts decoded JSON as Argo CD converts an unstructured object: maps to tables with string keys,
// arrays to sequences, numbers to Lua numbers, null to nil.
func toLua(L *lua.LState, value any) lua.LValue {
	switch v := value.(type) {
	case bool:
		return lua.LBool(v)
	case float64:
		return lua.LNumber(v)
	case string:
		return lua.LString(v)
	case []any:
		array := L.CreateTable(len(v), 0)
		for _, item := range v {
			array.Append(toLua(L, item))
		}
		return array
	case map[string]any:
		table := L.CreateTable(0, len(v))
		for key, item := range v {
			table.RawSetString(key, toLua(L, item))
		}
		return table
	}
	return lua.LNil
}
