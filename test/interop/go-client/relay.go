package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// A step of a relay script (test/support/matrix-relay.ts): one request of the named session.
type step struct {
	Session     string         `json:"session"`
	Call        string         `json:"call"`
	Arguments   map[string]any `json:"arguments"`
	Complete    *completion    `json:"complete"`
	Subscribe   string         `json:"subscribe"`
	AwaitUpdate string         `json:"awaitUpdate"`
	TimeoutMs   int            `json:"timeoutMs"`
	Read        string         `json:"read"`
	List        bool           `json:"listResources"`
}

type completion struct {
	Ref      mcp.CompleteReference      `json:"ref"`
	Argument mcp.CompleteParamsArgument `json:"argument"`
}

type stepOutcome struct {
	Text     *string  `json:"text,omitempty"`
	IsError  *bool    `json:"isError,omitempty"`
	Values   []string `json:"values,omitempty"`
	URIs     []string `json:"uris,omitempty"`
	Contents *int     `json:"contents,omitempty"`
	Updated  *bool    `json:"updated,omitempty"`
	Error    string   `json:"error,omitempty"`
}

// A session of the script: a client of its own that answers sampling, form elicitation and roots
// with its name, and keeps the resource updates it gets.
type relaySession struct {
	cs      *mcp.ClientSession
	mu      sync.Mutex
	updates []string
}

func (s *relaySession) updated(uri string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Contains(s.updates, uri)
}

func openRelaySession(ctx context.Context, url, name, version string) (*relaySession, error) {
	s := &relaySession{}
	client := mcp.NewClient(&mcp.Implementation{Name: "lookout-matrix-go-" + name, Version: "1.0.0"}, &mcp.ClientOptions{
		CreateMessageHandler: func(context.Context, *mcp.CreateMessageRequest) (*mcp.CreateMessageResult, error) {
			return &mcp.CreateMessageResult{Model: "matrix-model", Role: "assistant", Content: &mcp.TextContent{Text: "sampled by " + name}}, nil
		},
		ElicitationHandler: func(context.Context, *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
			return &mcp.ElicitResult{Action: "accept", Content: map[string]any{"name": "elicited from " + name, "check": true}}, nil
		},
		ResourceUpdatedHandler: func(_ context.Context, req *mcp.ResourceUpdatedNotificationRequest) {
			s.mu.Lock()
			s.updates = append(s.updates, req.Params.URI)
			s.mu.Unlock()
		},
	})
	client.AddRoots(&mcp.Root{URI: "file:///matrix/" + name, Name: "root of " + name})
	cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: url}, &mcp.ClientSessionOptions{ProtocolVersion: version})
	if err != nil {
		return nil, err
	}
	s.cs = cs
	return s, nil
}

func (s *relaySession) run(ctx context.Context, st step) (stepOutcome, error) {
	switch {
	case st.Call != "":
		args := st.Arguments
		if args == nil {
			args = map[string]any{}
		}
		res, err := s.cs.CallTool(ctx, &mcp.CallToolParams{Name: st.Call, Arguments: args})
		if err != nil {
			return stepOutcome{}, err
		}
		var text []string
		for _, content := range res.Content {
			if t, ok := content.(*mcp.TextContent); ok {
				text = append(text, t.Text)
			}
		}
		joined := strings.Join(text, "\n")
		return stepOutcome{Text: &joined, IsError: &res.IsError}, nil
	case st.Complete != nil:
		res, err := s.cs.Complete(ctx, &mcp.CompleteParams{Ref: &st.Complete.Ref, Argument: st.Complete.Argument})
		if err != nil {
			return stepOutcome{}, err
		}
		return stepOutcome{Values: append([]string{}, res.Completion.Values...)}, nil
	case st.Subscribe != "":
		return stepOutcome{}, s.cs.Subscribe(ctx, &mcp.SubscribeParams{URI: st.Subscribe})
	case st.AwaitUpdate != "":
		deadline := time.Now().Add(time.Duration(st.TimeoutMs) * time.Millisecond)
		for !s.updated(st.AwaitUpdate) && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		got := s.updated(st.AwaitUpdate)
		return stepOutcome{Updated: &got}, nil
	case st.Read != "":
		res, err := s.cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: st.Read})
		if err != nil {
			return stepOutcome{}, err
		}
		n := len(res.Contents)
		return stepOutcome{Contents: &n}, nil
	case st.List:
		uris := []string{}
		for resource, err := range s.cs.Resources(ctx, nil) {
			if err != nil {
				return stepOutcome{}, err
			}
			uris = append(uris, resource.URI)
		}
		return stepOutcome{URIs: uris}, nil
	}
	return stepOutcome{}, fmt.Errorf("a step with nothing to do")
}

// relay runs the script on stdin against url, with the protocol version given (empty: the SDK's
// latest), and prints the outcome of each step.
func relay(url, version string) error {
	var steps []step
	if err := json.NewDecoder(os.Stdin).Decode(&steps); err != nil {
		return fmt.Errorf("reading steps from stdin: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	sessions := map[string]*relaySession{}
	defer func() {
		for _, s := range sessions {
			s.cs.Close()
		}
	}()
	outcomes := []stepOutcome{}
	for _, st := range steps {
		name := st.Session
		if name == "" {
			name = "main"
		}
		s, ok := sessions[name]
		if !ok {
			var err error
			if s, err = openRelaySession(ctx, url, name, version); err != nil {
				return fmt.Errorf("connect %s: %w", name, err)
			}
			sessions[name] = s
		}
		outcome, err := s.run(ctx, st)
		if err != nil {
			outcome = stepOutcome{Error: err.Error()}
		}
		outcomes = append(outcomes, outcome)
	}
	return json.NewEncoder(os.Stdout).Encode(outcomes)
}
