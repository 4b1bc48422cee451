package health

import (
	"fmt"
	"net"
	"os"
	"testing"
)

// helperSendEnv, when set in the environment to a socket path, makes the test binary a
// sender of one notify datagram, helperMsgEnv, from a pid of its own.
const (
	helperSendEnv = "RESPAWN_HEALTH_TEST_SEND"
	helperMsgEnv  = "RESPAWN_HEALTH_TEST_MSG"
)

func TestMain(m *testing.M) {
	if v, ok := os.LookupEnv(helperSendEnv); ok {
		os.Exit(helperSend(v, os.Getenv(helperMsgEnv)))
	}
	os.Exit(m.Run())
}

func helperSend(path, msg string) int {
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(msg)); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	return 0
}
