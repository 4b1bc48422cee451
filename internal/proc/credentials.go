package proc

import (
	"errors"
	"os/user"
	"strconv"
	"syscall"
)

// creds are the identities a child takes on.
type creds struct {
	// set says the child changes identity; false means it inherits ours.
	set    bool
	uid    uint32
	gid    uint32
	groups []uint32
	// env holds HOME, USER and LOGNAME of the user, added when Spec.Env lacks them.
	env []string
}

// identity is who the supervisor runs as.
type identity struct {
	uid, gid int
}

// resolveCreds turns Spec.User and Spec.Group into ids. A numeric user without
// an account entry is accepted with its number as group and no supplementary
// groups. A supervisor that is not root may only "switch" to itself.
func resolveCreds(userSpec, groupSpec string, self identity) (creds, error) {
	var c creds
	if userSpec == "" && groupSpec == "" {
		return c, nil
	}
	c.uid, c.gid = uint32(self.uid), uint32(self.gid)
	groupOp, groupPath := "group", groupSpec
	if userSpec != "" {
		u, uid, err := lookupUser(userSpec)
		if err != nil {
			return c, &SpawnError{Op: "user", Path: userSpec, Err: err}
		}
		c.uid, c.gid = uid, uid
		if u != nil {
			if c.gid, err = parseID(u.Gid); err != nil {
				return c, &SpawnError{Op: "user", Path: userSpec, Err: err}
			}
			if c.groups, err = supplementaryGroups(u); err != nil {
				return c, &SpawnError{Op: "user", Path: userSpec, Err: err}
			}
			c.env = []string{"HOME=" + u.HomeDir, "USER=" + u.Username, "LOGNAME=" + u.Username}
		}
		groupOp, groupPath = "user", userSpec
	}
	if groupSpec != "" {
		gid, err := lookupGroup(groupSpec)
		if err != nil {
			return c, &SpawnError{Op: "group", Path: groupSpec, Err: err}
		}
		c.gid = gid
		groupOp, groupPath = "group", groupSpec
	}
	if self.uid != 0 {
		// Without privilege the kernel would refuse in the child; say so before forking.
		if c.uid != uint32(self.uid) {
			return c, &SpawnError{Op: "user", Path: userSpec, Err: syscall.EPERM}
		}
		if c.gid != uint32(self.gid) {
			return c, &SpawnError{Op: groupOp, Path: groupPath, Err: syscall.EPERM}
		}
		c.groups = nil
		return c, nil
	}
	c.set = true
	return c, nil
}

// lookupUser resolves a name or number. The *user.User is nil for a number
// without an account entry.
func lookupUser(spec string) (*user.User, uint32, error) {
	if id, err := parseID(spec); err == nil {
		u, err := user.LookupId(spec)
		var unknown user.UnknownUserIdError
		if errors.As(err, &unknown) {
			return nil, id, nil
		}
		if err != nil {
			return nil, 0, err
		}
		return u, id, nil
	}
	u, err := user.Lookup(spec)
	var unknown user.UnknownUserError
	if errors.As(err, &unknown) {
		return nil, 0, &unknownIDError{kind: "user", err: err}
	}
	if err != nil {
		return nil, 0, err
	}
	id, err := parseID(u.Uid)
	return u, id, err
}

func lookupGroup(spec string) (uint32, error) {
	if id, err := parseID(spec); err == nil {
		return id, nil
	}
	g, err := user.LookupGroup(spec)
	var unknown user.UnknownGroupError
	if errors.As(err, &unknown) {
		return 0, &unknownIDError{kind: "group", err: err}
	}
	if err != nil {
		return 0, err
	}
	return parseID(g.Gid)
}

func supplementaryGroups(u *user.User) ([]uint32, error) {
	ids, err := u.GroupIds()
	if err != nil {
		return nil, err
	}
	groups := make([]uint32, 0, len(ids))
	for _, s := range ids {
		id, err := parseID(s)
		if err != nil {
			return nil, err
		}
		groups = append(groups, id)
	}
	return groups, nil
}

func parseID(s string) (uint32, error) {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, err
	}
	return uint32(n), nil
}
