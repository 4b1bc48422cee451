package keeper

import (
	"encoding/json"
	"reflect"
	"testing"
)

// The ping and pong written as fixed bytes must be what encoding/json makes
// of them: the wire stays JSON, and an end that reads them with JSON (or
// writes them with it) sees no difference.
func TestBareMessagesAreTheirJSON(t *testing.T) {
	for _, c := range []struct {
		m    *message
		want string
	}{{pingMessage, pingJSON}, {pongMessage, pongJSON}} {
		b, err := json.Marshal(c.m)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != c.want {
			t.Errorf("json.Marshal(%s) = %s, the fixed bytes are %s", c.m.Op, b, c.want)
		}
		got, files, err := decodeMessage([]byte(c.want), nil)
		if err != nil || len(files) != 0 {
			t.Fatalf("decode %s: %v, %d files", c.want, err, len(files))
		}
		var viaJSON message
		if err := json.Unmarshal([]byte(c.want), &viaJSON); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(*got, viaJSON) {
			t.Errorf("decode %s = %+v, JSON decodes %+v", c.want, *got, viaJSON)
		}
	}
}

// Anything but those exact bytes goes through JSON, fields and all.
func TestBareLookalikesDecodeAsJSON(t *testing.T) {
	for _, c := range []struct {
		in   string
		want message
	}{
		{`{"op":"ping","id":7}`, message{Op: opPing, ID: 7}},
		{`{"op": "ping"}`, message{Op: opPing}},
		{`{"id":9,"op":"pong"}`, message{Op: opPong, ID: 9}},
		{`{"op":"exit","name":"web"}`, message{Op: opExit, Name: "web"}},
	} {
		got, _, err := decodeMessage([]byte(c.in), nil)
		if err != nil {
			t.Fatalf("decode %s: %v", c.in, err)
		}
		if !reflect.DeepEqual(*got, c.want) {
			t.Errorf("decode %s = %+v, want %+v", c.in, *got, c.want)
		}
	}
	if _, _, err := decodeMessage([]byte(`{"op":"ping"`), nil); err == nil {
		t.Error("a ping cut short decoded without an error")
	}
}

// Over a real socket pair, in both framings: the fixed ping and pong arrive
// as themselves, and a ping that carries a field is sent through JSON with it.
func TestBareMessagesOverTheWire(t *testing.T) { bothFramings(t, testBareMessagesOverTheWire) }

func testBareMessagesOverTheWire(t *testing.T, stream bool) {
	a, b := socketPairOf(t, stream)
	for _, sent := range []*message{pingMessage, pongMessage, {Op: opPing, ID: 3}, pingMessage} {
		if err := a.send(sent); err != nil {
			t.Fatal(err)
		}
		got, files, err := b.recv()
		if err != nil {
			t.Fatal(err)
		}
		if len(files) != 0 {
			t.Errorf("%s: got %d files, sent none", sent.Op, len(files))
		}
		if !reflect.DeepEqual(*got, *sent) {
			t.Errorf("sent %+v, got %+v", *sent, *got)
		}
		if got == sent {
			t.Error("recv returned the sender's own message")
		}
	}
}
