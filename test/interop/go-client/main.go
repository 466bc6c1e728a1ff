// Command go-client drives an MCP server over Streamable HTTP with the Go SDK's client, for
// Lookout's acceptance matrix. It reads a JSON list of tool calls on stdin, lists the tools
// (every page), makes the calls in order and prints one JSON object: the tool names and, per
// call, whether it was a tool error and its text content (or the protocol error). With --relay it
// runs a relay script instead (relay.go).
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

type call struct {
	Name      string         `json:"name"`
	Arguments map[string]any `json:"arguments"`
}

type outcome struct {
	IsError bool   `json:"isError"`
	Text    string `json:"text"`
	Error   string `json:"error,omitempty"`
}

type report struct {
	// The protocol version and session id the client negotiated ("" for none: 2026-07-28 has none).
	ProtocolVersion string    `json:"protocolVersion"`
	SessionID       string    `json:"sessionId"`
	Tools           []string  `json:"tools"`
	Calls           []outcome `json:"calls"`
	// The elicitation messages the client was asked, when it answers them (GO_CLIENT_ELICIT).
	Elicitations []string `json:"elicitations"`
}

func main() {
	var err error
	switch {
	case len(os.Args) == 2:
		err = run(os.Args[1])
	case len(os.Args) >= 3 && os.Args[1] == "--relay":
		// --relay <mcp-url> [protocol-version] < steps.json: a relay script, sessions answering back.
		version := ""
		if len(os.Args) == 4 {
			version = os.Args[3]
		}
		err = relay(os.Args[2], version)
	default:
		fmt.Fprintln(os.Stderr, "usage: go-client <mcp-url> < calls.json | go-client --relay <mcp-url> [protocol-version] < steps.json")
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "go-client:", err)
		os.Exit(1)
	}
}

// run lists the tools and makes the calls. GO_CLIENT_ELICIT='<json object>' declares elicitation and
// accepts every question with that content (without it, no elicitation is declared);
// GO_CLIENT_PROTOCOL asks for a protocol version other than the SDK's latest (a 2025 one makes it
// start with initialize).
func run(url string) error {
	var calls []call
	if err := json.NewDecoder(os.Stdin).Decode(&calls); err != nil {
		return fmt.Errorf("reading calls from stdin: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out := report{Tools: []string{}, Calls: []outcome{}, Elicitations: []string{}}
	options := &mcp.ClientOptions{}
	if elicit := os.Getenv("GO_CLIENT_ELICIT"); elicit != "" {
		var content map[string]any
		if err := json.Unmarshal([]byte(elicit), &content); err != nil {
			return fmt.Errorf("GO_CLIENT_ELICIT: %w", err)
		}
		// Several questions of one round are answered in parallel.
		var asked sync.Mutex
		options.ElicitationHandler = func(_ context.Context, req *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
			asked.Lock()
			defer asked.Unlock()
			out.Elicitations = append(out.Elicitations, req.Params.Message)
			return &mcp.ElicitResult{Action: "accept", Content: content}, nil
		}
	}
	client := mcp.NewClient(&mcp.Implementation{Name: "lookout-matrix-go", Version: "1.0.0"}, options)
	session, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: url},
		&mcp.ClientSessionOptions{ProtocolVersion: os.Getenv("GO_CLIENT_PROTOCOL")})
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer session.Close()
	out.ProtocolVersion = session.InitializeResult().ProtocolVersion
	out.SessionID = session.ID()
	for tool, err := range session.Tools(ctx, nil) {
		if err != nil {
			return fmt.Errorf("tools/list: %w", err)
		}
		out.Tools = append(out.Tools, tool.Name)
	}
	for _, c := range calls {
		res, err := session.CallTool(ctx, &mcp.CallToolParams{Name: c.Name, Arguments: c.Arguments})
		if err != nil {
			out.Calls = append(out.Calls, outcome{Error: err.Error()})
			continue
		}
		var text []string
		for _, content := range res.Content {
			if t, ok := content.(*mcp.TextContent); ok {
				text = append(text, t.Text)
			}
		}
		out.Calls = append(out.Calls, outcome{IsError: res.IsError, Text: strings.Join(text, "\n")})
	}
	return json.NewEncoder(os.Stdout).Encode(out)
}
