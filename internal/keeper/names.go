package keeper

// CheckLine starts what `respawn __keeper-check SAMPLE` prints, before the
// digest of the sample handover it decoded (see Check): a binary that cannot
// answer so cannot take over the keeper, and an upgrade to it is refused.
const CheckLine = "respawn keeper protocol 1"

// EnvSocket tells a core where its keeper listens.
const EnvSocket = "RESPAWN_KEEPER_SOCKET"

// EnvStateDir tells a core the state dir its keeper holds, which is the
// supervisor's for its whole life whatever the config on disk says by now.
const EnvStateDir = "RESPAWN_STATE_DIR"
